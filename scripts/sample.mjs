#!/usr/bin/env node
// Making the template your own service (docs/make-it-yours.md):
//   npm run sample:remove     removes the sample features orders, payments (and the fake provider), reports and
//                             the payments reconciliation, with their migrations, routes, worker jobs and tests;
//                             keeps accounts, auth, the product catalog and the whole platform/.
//   npm run rename <name>     renames the service (package, logs, spans, compose, Kubernetes, default database).
// Run it on a clean git tree: `git diff` then shows exactly what changed, and `git checkout .` undoes it.
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SAMPLE_FEATURES = ['orders', 'payments', 'reports', 'reconciliation'];
const SAMPLE_MIGRATIONS = ['create-orders', 'create-reports', 'order-settlement-guard'];
const SAMPLE_ROUTE = /\/v1\/(orders|reports)\b/;
const SAMPLE_IMPORT = new RegExp(`from '[./]*(?:src/)?(?:${SAMPLE_FEATURES.join('|')})/`);

function fail(message) {
  process.stderr.write(`sample: ${message}\n`);
  process.exit(1);
}

const read = (file) => readFileSync(join(ROOT, file), 'utf8');
const write = (file, text) => writeFileSync(join(ROOT, file), text);
/** Keeps the lines of `file` for which `keep(line)` is true. */
const filterLines = (file, keep) => write(file, read(file).split('\n').filter(keep).join('\n'));

function filesUnder(dir) {
  const out = [];
  for (const entry of readdirSync(join(ROOT, dir))) {
    const path = join(dir, entry);
    if (statSync(join(ROOT, path)).isDirectory()) out.push(...filesUnder(path));
    else out.push(path);
  }
  return out;
}

function remove() {
  if (!existsSync(join(ROOT, 'src/orders'))) fail('the sample features are gone already');
  const removed = [];
  for (const feature of SAMPLE_FEATURES) {
    rmSync(join(ROOT, 'src', feature), { recursive: true, force: true });
    removed.push(`src/${feature}/`);
  }
  // The /demo page built on the typed client orders and requests reports: it goes with them.
  for (const path of [
    'client/page',
    'src/platform/edge/docs/client-page.module.ts',
    'src/platform/edge/docs/client-page.controller.ts',
    'test/e2e/client-page.e2e-spec.ts',
    'test/support/browser.support.ts',
    // The invariant soak's customers order and request reports through the typed client.
    'test/soak',
    'scripts/soak.mjs',
    // The sample's own command (npm run payments:reconcile): an entry point at the root of src/.
    'src/reconcile.command.ts',
  ]) {
    if (!existsSync(join(ROOT, path))) continue;
    rmSync(join(ROOT, path), { recursive: true, force: true });
    removed.push(path);
  }
  filterLines('src/app.module.ts', (line) => !/ClientPageModule|The page built on the typed client/.test(line));
  filterLines('scripts/build-client.mjs', (line) => !/client\/page|The page served at \/demo/.test(line));
  write(
    'scripts/build-client.mjs',
    read('scripts/build-client.mjs').replace('copyFileSync, mkdirSync }', 'copyFileSync }'),
  );
  const migrationsDir = 'src/platform/adapters/database/migrations';
  for (const file of readdirSync(join(ROOT, migrationsDir))) {
    if (SAMPLE_MIGRATIONS.some((name) => file.includes(`-${name}.migration.ts`))) {
      rmSync(join(ROOT, migrationsDir, file));
      removed.push(`${migrationsDir}/${file}`);
    }
  }
  // The composition roots and the lists that name the sample features.
  const sampleName = /\b(Orders|Reports|OrderSettlementGuard\d+|CreateOrders\d+|CreateReports\d+)\w*\b/;
  filterLines('src/core.module.ts', (line) => !SAMPLE_IMPORT.test(line) && !/^\s+(Orders|Reports)Module,$/.test(line));
  filterLines(
    'src/problem-types.catalog.ts',
    (line) => !SAMPLE_IMPORT.test(line) && !/^\s+(ORDERS|REPORTS|PAYMENTS)_PROBLEM_TYPES,$/.test(line),
  );
  filterLines(
    'src/app.module.ts',
    (line) => !SAMPLE_IMPORT.test(line) && !/^\s+(Orders|Reports)HttpModule,$/.test(line),
  );
  filterLines(`${migrationsDir}/all.migrations.ts`, (line) => !sampleName.test(line));
  filterLines('src/platform/edge/docs/openapi.factory.ts', (line) => !/^\s+(orders|reports): '/.test(line));
  write('src/worker.module.ts', readFileSync(join(ROOT, 'scripts/feature-templates/worker.module.ts.tmpl'), 'utf8'));
  // npm start runs the API and the worker; without payments there is no provider to fake.
  const start = read('src/development-stack.bootstrap.ts');
  write('src/development-stack.bootstrap.ts', start.replace(/\n {2}\{\n {4}name: 'payments',[\s\S]*?\n {2}\},/, ''));
  const manifest = JSON.parse(read('package.json'));
  for (const script of ['start:fake-payments', 'payments:reconcile', 'docs:client-page', 'soak'])
    delete manifest.scripts[script];
  write('package.json', `${JSON.stringify(manifest, null, 2)}\n`);
  // The two-account check: the sample routes leave its list.
  const hardening = 'test/e2e/hardening.e2e-spec.ts';
  if (existsSync(join(ROOT, hardening))) {
    write(hardening, read(hardening).replace(/\n {8}'\/v1\/(orders|reports)\/\{id\}': \{[\s\S]*?\n {8}\},/g, ''));
  }
  // Tests that use a sample route only in a list of examples keep the others.
  const products = 'test/e2e/products.e2e-spec.ts';
  if (existsSync(join(ROOT, products)))
    write(products, read(products).replace("['/v1/products', '/v1/orders']", "['/v1/products']"));
  // No route is @Idempotent() any more: its two problem codes are in the catalog but in no operation.
  const catalog = 'test/e2e/problem-catalog.e2e-spec.ts';
  if (existsSync(join(ROOT, catalog))) {
    write(
      catalog,
      read(catalog).replace(
        "const undocumented = ['ROUTE_NOT_FOUND', 'METHOD_NOT_ALLOWED', 'FORBIDDEN'];",
        "const undocumented = ['ROUTE_NOT_FOUND', 'METHOD_NOT_ALLOWED', 'FORBIDDEN', 'IDEMPOTENCY_KEY_REUSED', 'IDEMPOTENCY_KEY_IN_USE'];",
      ),
    );
  }
  // Tests and support files that import the sample features, then those importing a removed one, until none.
  const candidates = [...filesUnder('test'), ...filesUnder('bench'), ...filesUnder('client')].filter((file) =>
    /\.(ts|mjs|js)$/.test(file),
  );
  const gone = new Set();
  for (let changed = true; changed;) {
    changed = false;
    for (const file of candidates) {
      if (gone.has(file) || !existsSync(join(ROOT, file))) continue;
      const text = read(file);
      const importsGone = [...gone].some((g) =>
        text.includes(
          `/${g
            .split('/')
            .pop()
            .replace(/\.(ts|mjs|js)$/, '')}'`,
        ),
      );
      if (
        SAMPLE_IMPORT.test(text) ||
        importsGone ||
        (SAMPLE_ROUTE.test(text) && file !== hardening && isAboutSample(file))
      ) {
        gone.add(file);
        changed = true;
      }
    }
  }
  for (const file of gone) {
    rmSync(join(ROOT, file));
    removed.push(file);
  }
  prettier(['src', 'test', 'package.json']);
  regenerate();
  process.stdout.write(
    [
      'sample:remove: removed',
      ...removed.map((file) => `  ${file}`),
      'edited: src/core.module.ts, src/problem-types.catalog.ts, src/app.module.ts, src/worker.module.ts, src/development-stack.bootstrap.ts, scripts/build-client.mjs,',
      `  ${migrationsDir}/all.migrations.ts, src/platform/edge/docs/openapi.factory.ts, ${hardening}, package.json`,
      'A database migrated by the sample still holds its tables: recreate it (dropdb resilient_api; npm start creates it).',
      'Still to review by hand (docs/make-it-yours.md): the sample variables in src/config (PAYMENTS_*, ORDERS_*,',
      '  REPORTS_*, RECONCILE_*), docker-compose.yml and deploy/ (the fake-payments service), README and docs/.',
      '',
    ].join('\n'),
  );
}

/** A test whose subject is a sample route (its file name says so), not one that mentions one in passing. */
const isAboutSample = (file) =>
  /(orders|payments|reports|reconciliation|job-correlation|idempotency|start-command)/.test(file) ||
  /^client\/.*\.spec\.ts$/.test(file);

function rename(name) {
  if (!/^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/.test(name ?? '')) fail('usage: npm run rename <kebab-case-name>');
  const tracked = execFileSync('git', ['ls-files'], { cwd: ROOT, encoding: 'utf8' }).split('\n').filter(Boolean);
  const snake = name.replaceAll('-', '_');
  const changed = [];
  for (const file of tracked) {
    // Regular files only (node_modules may be a tracked symlink in a scratch copy); no images.
    if (!existsSync(join(ROOT, file)) || !lstatSync(join(ROOT, file)).isFile() || /\.(png|ico|jpg)$/.test(file))
      continue;
    const text = read(file);
    if (text.includes('\u0000')) continue;
    const next = text.replaceAll('resilient-api', name).replaceAll('resilient_api', snake);
    if (next !== text) {
      write(file, next);
      changed.push(file);
    }
  }
  // A longer or shorter name can move a line past the print width.
  if (changed.length > 0) {
    execFileSync(
      join(ROOT, 'node_modules/.bin/prettier'),
      ['--write', '--ignore-unknown', '--log-level', 'warn', ...changed],
      {
        cwd: ROOT,
        stdio: 'inherit',
      },
    );
  }
  process.stdout.write(
    `rename: resilient-api → ${name}, resilient_api → ${snake} in ${changed.length} files:\n` +
      changed.map((file) => `  ${file}`).join('\n') +
      `\nThe default database is now ${snake}: npm start creates it.\n`,
  );
}

function prettier(paths) {
  execFileSync(join(ROOT, 'node_modules/.bin/prettier'), ['--write', '--log-level', 'warn', ...paths], {
    cwd: ROOT,
    stdio: 'inherit',
  });
}

/** What is generated from the code: the problem types (and reference) pages, the typed client's types. */
function regenerate() {
  const scripts = JSON.parse(read('package.json')).scripts ?? {};
  for (const script of [scripts['docs:reference'] ? 'docs:reference' : 'docs:errors', 'client:types']) {
    if (!scripts[script]) continue;
    process.stdout.write(`sample: npm run ${script}\n`);
    execFileSync('npm', ['run', '--silent', script], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  }
}

const [command, ...rest] = process.argv.slice(2);
if (command === 'remove') remove();
else if (command === 'rename') rename(rest[0]);
else
  fail(`usage: node scripts/sample.mjs remove | rename <name> (relative to ${relative(process.cwd(), ROOT) || '.'})`);
