import 'reflect-metadata';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
// Loads every feature the API serves, so each one's *.errors.ts has registered its problem types.
import './app.module';
import { errorTableIn, renderErrorTable, withErrorTable } from './platform/docs/error-table.factory';
import { renderErrorsDocument } from './platform/docs/problem-doc.factory';

/** docs/errors.md: the full page of every problem type (meaning, cause, first check, next step). */
export const ERRORS_DOCUMENT = 'docs/errors.md';

/**
 * `npm run docs:errors`: rewrites the README's "Error codes" table and docs/errors.md from the
 * problem-type registry. `--check` only compares, and exits 1 when either is stale (the parity
 * test, test/e2e/problem-catalog.e2e-spec.ts, fails in that case too).
 */
function main(): void {
  const readmePath = resolve(process.cwd(), 'README.md');
  const errorsPath = resolve(process.cwd(), ERRORS_DOCUMENT);
  const readme = readFileSync(readmePath, 'utf8');
  const table = renderErrorTable();
  const errors = renderErrorsDocument();
  if (process.argv.includes('--check')) {
    const stale = [
      ...(errorTableIn(readme) === table ? [] : ['README.md error table']),
      ...(readIfExists(errorsPath) === errors ? [] : [ERRORS_DOCUMENT]),
    ];
    if (stale.length === 0) return;
    process.stderr.write(`${stale.join(' and ')} stale: run npm run docs:errors\n`);
    process.exitCode = 1;
    return;
  }
  writeFileSync(readmePath, withErrorTable(readme, table));
  mkdirSync(dirname(errorsPath), { recursive: true });
  writeFileSync(errorsPath, errors);
  process.stdout.write(`docs:errors: README.md error table and ${ERRORS_DOCUMENT} written\n`);
}

function readIfExists(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

main();
