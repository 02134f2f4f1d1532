#!/usr/bin/env node
// `npm run new:feature <name> [-- --singular <item>] [--no-regenerate]`: a feature built the way this codebase
// builds one (docs/make-it-yours.md). <name> is the plural folder and route, in kebab-case: `notes` →
// src/notes/, /v1/notes. What it writes and edits is listed on stdout; the templates are in
// scripts/feature-templates/. Afterwards `npm run build`, `npm run lint` and the generated tests pass.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const TEMPLATES = join(ROOT, 'scripts', 'feature-templates');
const KEBAB = /^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/;
/** Folders under src/ that are not features, and names the codebase already uses. */
const RESERVED = new Set(['platform', 'config', 'dist', 'test', 'problems', 'health', 'metrics', 'docs', 'demo']);

function fail(message) {
  process.stderr.write(`new:feature: ${message}\n`);
  process.exit(1);
}

function parseArgs(argv) {
  const args = { regenerate: true };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--singular') args.singular = argv[++i];
    else if (argv[i] === '--no-regenerate') args.regenerate = false;
    else if (argv[i].startsWith('-')) fail(`unknown option ${argv[i]}`);
    else if (args.name) fail('one name only');
    else args.name = argv[i];
  }
  if (!args.name) fail('usage: npm run new:feature <plural-kebab-name> [-- --singular <kebab-name>]');
  return args;
}

/** `wish-lists` → `wish-list`; `categories` → `category`; `boxes` → `box`. `--singular` overrides. */
function singularOf(name) {
  if (/ies$/.test(name)) return name.replace(/ies$/, 'y');
  if (/(s|x|z|ch|sh)es$/.test(name)) return name.replace(/es$/, '');
  if (/s$/.test(name) && !/ss$/.test(name)) return name.replace(/s$/, '');
  return name;
}

const words = (kebab) => kebab.split('-');
const pascal = (kebab) =>
  words(kebab)
    .map((w) => w[0].toUpperCase() + w.slice(1))
    .join('');
const camel = (kebab) => pascal(kebab)[0].toLowerCase() + pascal(kebab).slice(1);

export function tokensFor(name, singular = singularOf(name), timestamp = Date.now()) {
  if (!KEBAB.test(name)) fail(`"${name}" is not a kebab-case name (like notes or wish-lists)`);
  if (!KEBAB.test(singular)) fail(`"${singular}" is not a kebab-case singular`);
  if (singular === name) fail(`"${name}" must be a plural (pass the singular with --singular)`);
  const title = words(singular).join(' ');
  return {
    name,
    names: words(name).join(' '),
    Names: pascal(name),
    nameCamel: camel(name),
    item: singular,
    Item: pascal(singular),
    itemCamel: camel(singular),
    title,
    Title: title[0].toUpperCase() + title.slice(1),
    titles: words(name).join(' '),
    table: name.replaceAll('-', '_'),
    CODE: singular.replaceAll('-', '_').toUpperCase(),
    CODES: name.replaceAll('-', '_').toUpperCase(),
    timestamp: String(timestamp),
  };
}

const render = (template, tokens) =>
  readFileSync(join(TEMPLATES, template), 'utf8').replace(/\{\{(\w+)\}\}/g, (_, key) => {
    if (!(key in tokens)) fail(`template ${template} uses an unknown token {{${key}}}`);
    return tokens[key];
  });

/** Inserts `text` after the last line matching `pattern` (a RegExp with the m flag) in `file`. */
function insertAfterLast(file, pattern, text) {
  const path = join(ROOT, file);
  const source = readFileSync(path, 'utf8');
  const matches = [...source.matchAll(new RegExp(pattern.source, 'gm'))];
  if (matches.length === 0) fail(`${file}: found no line matching ${pattern} to insert after`);
  const last = matches.at(-1);
  const end = source.indexOf('\n', last.index) + 1;
  writeFileSync(path, source.slice(0, end) + text + source.slice(end));
}

function main() {
  const args = parseArgs(process.argv.slice(2));
  const t = tokensFor(args.name, args.singular);
  if (RESERVED.has(t.name)) fail(`"${t.name}" is reserved`);
  if (existsSync(join(ROOT, 'src', t.name))) fail(`src/${t.name}/ exists already`);
  const migrations = readdirSync(join(ROOT, 'src/platform/adapters/database/migrations'));
  const latest = Math.max(...migrations.map((file) => Number(/^(\d{13})-/.exec(file)?.[1] ?? 0)));
  if (Number(t.timestamp) <= latest) t.timestamp = String(latest + 1);

  const written = [];
  const write = (file, template) => {
    const path = join(ROOT, file);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, render(template, t));
    written.push(file);
  };
  const dir = `src/${t.name}`;
  write(`${dir}/${t.name}.module.ts`, 'module.ts.tmpl');
  write(`${dir}/${t.name}-http.module.ts`, 'http-module.ts.tmpl');
  write(`${dir}/${t.name}.controller.ts`, 'controller.ts.tmpl');
  write(`${dir}/${t.name}.service.ts`, 'service.ts.tmpl');
  write(`${dir}/${t.name}.service.spec.ts`, 'service.spec.ts.tmpl');
  write(`${dir}/${t.name}.repository.ts`, 'repository.ts.tmpl');
  write(`${dir}/${t.name}.schemas.ts`, 'schemas.ts.tmpl');
  write(`${dir}/${t.name}.errors.ts`, 'errors.ts.tmpl');
  write(`${dir}/${t.name}.problems.json`, 'problems.json.tmpl');
  const migration = `${t.timestamp}-create-${t.name}.migration`;
  write(`src/platform/adapters/database/migrations/${migration}.ts`, 'migration.ts.tmpl');
  write(`test/e2e/${t.name}.e2e-spec.ts`, 'e2e-spec.ts.tmpl');

  // The composition roots: the domain module in what every process boots, the HTTP module in the API.
  const edited = [
    'src/core.module.ts',
    'src/app.module.ts',
    'src/platform/adapters/database/migrations/all.migrations.ts',
    'src/problem-types.catalog.ts',
  ];
  insertAfterLast(
    'src/core.module.ts',
    /^import .*;$/,
    `import { ${t.Names}Module } from './${t.name}/${t.name}.module';\n`,
  );
  insertAfterLast('src/core.module.ts', /^ {8}\w+Module,$/, `        ${t.Names}Module,\n`);
  insertAfterLast(
    'src/app.module.ts',
    /^import .*;$/,
    `import { ${t.Names}HttpModule } from './${t.name}/${t.name}-http.module';\n`,
  );
  insertAfterLast('src/app.module.ts', /^ {8}\w+HttpModule,$/, `        ${t.Names}HttpModule,\n`);
  // Its problem types, in the one list the registry is built from at boot.
  insertAfterLast(
    'src/problem-types.catalog.ts',
    /^import .*;$/,
    `import { ${t.CODES}_PROBLEM_TYPES } from './${t.name}/${t.name}.errors';\n`,
  );
  insertAfterLast('src/problem-types.catalog.ts', /^ {2}[A-Z_]+_PROBLEM_TYPES,$/, `  ${t.CODES}_PROBLEM_TYPES,\n`);
  insertAfterLast(
    'src/platform/adapters/database/migrations/all.migrations.ts',
    /^import .*;$/,
    `import { Create${t.Names}${t.timestamp} } from './${migration}';\n`,
  );
  insertAfterLast(
    'src/platform/adapters/database/migrations/all.migrations.ts',
    /^ {2}\w+\d{13},$/,
    `  Create${t.Names}${t.timestamp},\n`,
  );
  // Its tag in the OpenAPI document (every operation's tag is declared, with a description).
  insertAfterLast(
    'src/platform/edge/docs/openapi.factory.ts',
    /^const TAGS: Record<string, string> = \{$/,
    `  '${t.name}': '${t.Names.replace(/([a-z])([A-Z])/g, '$1 $2')}, owned by an account (404 for anyone else).',\n`,
  );
  edited.push('src/platform/edge/docs/openapi.factory.ts');
  // The object-level authorization check: a route with an id must name its two-account test.
  const hardening = 'test/e2e/hardening.e2e-spec.ts';
  if (existsSync(join(ROOT, hardening))) {
    insertAfterLast(
      hardening,
      /^ {6}const OWNED: Record<string, \{ file: string; test: string \}> = \{$/,
      `        '/v1/${t.name}/{id}': {\n          file: 'test/e2e/${t.name}.e2e-spec.ts',\n` +
        `          test: "answers 404 ${t.CODE}_NOT_FOUND for another account's ${t.title}, exactly as for a missing one",\n        },\n`,
    );
    edited.push(hardening);
  }

  const bin = (tool) => join(ROOT, 'node_modules', '.bin', tool);
  execFileSync(bin('prettier'), ['--write', '--log-level', 'warn', ...written, ...edited], {
    cwd: ROOT,
    stdio: 'inherit',
  });

  // What is generated from the code (the problem types page, the reference, the typed client's types).
  const scripts = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).scripts ?? {};
  const regenerate = [scripts['docs:reference'] ? 'docs:reference' : 'docs:errors', 'client:types'].filter(
    (s) => scripts[s],
  );
  if (args.regenerate) {
    for (const script of regenerate) {
      process.stdout.write(`new:feature: npm run ${script}\n`);
      execFileSync('npm', ['run', '--silent', script], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
    }
  }

  process.stdout.write(
    [
      `new:feature: ${t.name} (${t.title}: POST/GET /v1/${t.name}, GET/DELETE /v1/${t.name}/{id})`,
      'wrote:',
      ...written.map((file) => `  ${file}`),
      'edited:',
      ...edited.map((file) => `  ${file}`),
      args.regenerate
        ? `regenerated: ${regenerate.map((s) => `npm run ${s}`).join(', ')}`
        : `skipped: ${regenerate.join(', ')} (--no-regenerate)`,
      'next:',
      `  npx jest --maxWorkers=1 test/e2e/${t.name}.e2e-spec.ts ${relative(ROOT, join(ROOT, dir))}`,
      '  npm run lint',
      `  then make it yours: columns in the migration, fields in ${t.name}.schemas.ts, rules in ${t.name}.service.ts`,
      '',
    ].join('\n'),
  );
}

main();
