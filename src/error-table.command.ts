import 'reflect-metadata';
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
// Loads every feature the API serves, so each one's *.errors.ts has registered its problem types.
import './app.module';
import { errorTableIn, renderErrorTable, withErrorTable } from './platform/docs/error-table.factory';

/**
 * `npm run docs:errors`: rewrites the README's "Error codes" table from the problem-type
 * registry. `--check` only compares, and exits 1 when the README is stale (the parity test,
 * test/e2e/problem-catalog.e2e-spec.ts, fails in that case too).
 */
function main(): void {
  const path = resolve(process.cwd(), 'README.md');
  const readme = readFileSync(path, 'utf8');
  const table = renderErrorTable();
  if (process.argv.includes('--check')) {
    if (errorTableIn(readme) === table) return;
    process.stderr.write('README.md error table is stale: run npm run docs:errors\n');
    process.exitCode = 1;
    return;
  }
  writeFileSync(path, withErrorTable(readme, table));
  process.stdout.write(`docs:errors: README.md error table written\n`);
}

main();
