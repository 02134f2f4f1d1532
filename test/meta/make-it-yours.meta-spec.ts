import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { hostEnvironment, ROOT } from '../support/process.support';

/**
 * docs/make-it-yours.md, proven on a scratch copy of this repository (tracked and new files, node_modules
 * symlinked): `npm run new:feature`, then `npm run sample:remove` and `npm run rename`, each followed by the
 * checks a user runs. The slowest meta test: the generator and the removal each rebuild dist/ twice (generated
 * docs, client types), and lint, tsc and a nested Jest run twice; measured 217 s + 318 s on the shared
 * two-core machine at a load average of 11.
 */

const STEP_TIMEOUT_MS = 600_000;
let scratch: string;

/** Runs `command` in the scratch copy; fails the test with its output when it exits non-zero. */
function run(command: string, args: string[], env: NodeJS.ProcessEnv = {}): string {
  const result = spawnSync(command, args, {
    cwd: scratch,
    encoding: 'utf8',
    timeout: STEP_TIMEOUT_MS,
    // A clean environment for a nested Jest: its own template database and Redis namespace.
    env: { ...withoutJest(hostEnvironment()), ...env },
  });
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}`;
  if (result.status !== 0)
    throw new Error(`${command} ${args.join(' ')} exited ${result.status}:\n${output.slice(-6_000)}`);
  return output;
}

const withoutJest = (env: NodeJS.ProcessEnv): NodeJS.ProcessEnv =>
  Object.fromEntries(Object.entries(env).filter(([key]) => !/^(JEST_|RA_TEST_)/.test(key)));

const npm = (...args: string[]) => run('npm', ['run', '--silent', ...args]);
const runJest = (...paths: string[]) =>
  run(process.execPath, [join(scratch, 'node_modules/jest/bin/jest.js'), '--maxWorkers=2', '--verbose', ...paths], {
    RA_TEST_NO_BUILD: '1',
  });
/** ESLint and Prettier on the files changed since the scratch clone's commit, dependency-cruiser on src/. */
function lintChanged(): void {
  const changed = execFileSync('git', ['ls-files', '-z', '--modified', '--others', '--exclude-standard'], {
    cwd: scratch,
    encoding: 'utf8',
  })
    .split('\0')
    .filter((file) => file && existsSync(join(scratch, file)));
  const code = changed.filter((file) => /\.(ts|js|cjs|mjs)$/.test(file));
  const bin = (name: string) => join(scratch, 'node_modules/.bin', name);
  if (code.length > 0) run(bin('eslint'), code);
  run(bin('prettier'), ['--check', ...changed]);
  run(bin('depcruise'), ['src', '--config', '.dependency-cruiser.cjs']);
}
const tsc = () =>
  run(process.execPath, [join(scratch, 'node_modules/typescript/bin/tsc'), '--noEmit', '-p', 'tsconfig.json']);

beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'ra-make-it-yours-'));
  const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    cwd: ROOT,
    encoding: 'utf8',
  })
    .split('\0')
    .filter((file) => file && existsSync(join(ROOT, file)));
  for (const file of files) {
    mkdirSync(dirname(join(scratch, file)), { recursive: true });
    cpSync(join(ROOT, file), join(scratch, file));
  }
  symlinkSync(join(ROOT, 'node_modules'), join(scratch, 'node_modules'));
  // A clone, as a user has one: the scripts list the tracked files with git.
  const git = (...args: string[]) => execFileSync('git', args, { cwd: scratch, stdio: 'ignore' });
  git('init', '-q');
  git('add', '-A');
  git('-c', 'user.name=test', '-c', 'user.email=test@example.com', 'commit', '-qm', 'clone');
});

afterAll(() => {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describe('make it yours (issue 20, item 5): the generator, the sample removal and the rename, on a scratch copy', () => {
  it(
    'npm run new:feature notes writes a feature whose build, lint, type check and tests pass at once',
    () => {
      const output = run('npm', ['run', 'new:feature', 'notes']);
      expect(output).toContain('src/notes/notes.repository.ts');
      for (const file of [
        'src/notes/notes.module.ts',
        'src/notes/notes-http.module.ts',
        'src/notes/notes.controller.ts',
        'src/notes/notes.service.ts',
        'src/notes/notes.service.spec.ts',
        'src/notes/notes.schemas.ts',
        'src/notes/notes.errors.ts',
        'test/e2e/notes.e2e-spec.ts',
      ]) {
        expect({ file, exists: existsSync(join(scratch, file)) }).toEqual({ file, exists: true });
      }
      // Wired in and documented: the composition roots, the migration list, the generated problem docs.
      expect(readFileSync(join(scratch, 'src/app.module.ts'), 'utf8')).toContain('NotesHttpModule,');
      expect(readFileSync(join(scratch, 'src/core.module.ts'), 'utf8')).toContain('NotesModule,');
      expect(
        readFileSync(join(scratch, 'src/platform/adapters/database/migrations/all.migrations.ts'), 'utf8'),
      ).toMatch(/CreateNotes\d{13},/);
      expect(readFileSync(join(scratch, 'docs/errors.md'), 'utf8')).toContain('NOTE_NOT_FOUND');
      // The project's lint on what the generator wrote or changed (the whole tree is linted once,
      // after the removal below: it still holds the feature), and the layer rules on all of src/.
      lintChanged();
      tsc();
      // The generated tests, the two-account check (which now lists /v1/notes/{id}) and the problem catalog.
      const tests = runJest(
        'src/notes',
        'test/e2e/notes.e2e-spec.ts',
        'test/e2e/hardening.e2e-spec.ts',
        'test/e2e/problem-catalog.e2e-spec.ts',
        'test/e2e/openapi-drift.e2e-spec.ts',
      );
      expect(tests).toMatch(/Tests: +\d+ passed, \d+ total/);
      expect(tests).toContain("answers 404 NOTE_NOT_FOUND for another account's note, exactly as for a missing one");
    },
    STEP_TIMEOUT_MS * 2,
  );

  it(
    'npm run sample:remove, then npm run rename my-shop: build, lint, type check and the remaining tests pass',
    () => {
      const removed = run('npm', ['run', 'sample:remove']);
      for (const gone of [
        'src/orders',
        'src/payments',
        'src/reports',
        'src/reconciliation',
        'test/e2e/orders.e2e-spec.ts',
      ]) {
        expect(removed).toContain(gone);
        expect({ gone, exists: existsSync(join(scratch, gone)) }).toEqual({ gone, exists: false });
      }
      const renamed = run('npm', ['run', 'rename', 'my-shop']);
      expect(renamed).toMatch(/resilient-api → my-shop/);
      expect(JSON.parse(readFileSync(join(scratch, 'package.json'), 'utf8')).name).toBe('my-shop');
      npm('build');
      npm('lint');
      tsc();
      const tests = runJest(
        '/src/',
        '/client/',
        'test/e2e/accounts.e2e-spec.ts',
        'test/e2e/auth.e2e-spec.ts',
        'test/e2e/products.e2e-spec.ts',
        'test/e2e/errors.e2e-spec.ts',
        'test/e2e/hardening.e2e-spec.ts',
        'test/e2e/problem-catalog.e2e-spec.ts',
        'test/e2e/openapi-drift.e2e-spec.ts',
        'test/e2e/notes.e2e-spec.ts',
      );
      expect(tests).toMatch(/Tests: +\d+ passed, \d+ total/);
      // The API no longer serves the sample routes.
      const document = readFileSync(join(scratch, 'client/openapi.types.ts'), 'utf8');
      expect(document).not.toContain("'/v1/orders'");
      expect(document).toContain("'/v1/notes/{id}'");
    },
    STEP_TIMEOUT_MS * 2,
  );
});
