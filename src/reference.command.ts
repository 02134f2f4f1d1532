import 'reflect-metadata';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { createOpenApiDocument } from './app.factory';
import { envSchema, loadConfig } from './config/config.schemas';
import { errorTableIn, renderErrorTable, withErrorTable } from './platform/edge/docs/error-table.factory';
import { renderErrorsDocument } from './platform/edge/docs/problem-doc.factory';
import { registerProblemCatalog } from './problem-types.catalog';
import {
  renderConfigurationReference,
  renderEndpointsReference,
  renderMetricsReference,
} from './platform/edge/docs/reference.factory';

/** docs/errors.md: the full page of every problem type (meaning, cause, first check, next step). */
export const ERRORS_DOCUMENT = 'docs/errors.md';
/** The errors guide, whose "Error codes" table sits between the error-table markers. */
export const ERRORS_GUIDE = 'docs/error-handling.md';

/**
 * `npm run docs:reference` (alias `npm run docs:errors`): rewrites every page that restates code,
 * from that code: the problem types (docs/errors.md and the errors guide's table, from the
 * problem-type registry), the configuration (the config schema), the metrics (the catalog) and the
 * endpoints (the OpenAPI document, built without a server or a database). `--check` only compares
 * and exits 1 naming each stale page (test/meta/reference.meta-spec.ts runs it).
 */
async function main(): Promise<void> {
  // Every owner's problem types, from the one list (docs/errors.md and the table are built from them).
  registerProblemCatalog();
  const root = process.cwd();
  // The document does not depend on the environment: fixed settings, so every machine writes the same page.
  const document = await createOpenApiDocument(loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent' }));
  const guidePath = resolve(root, ERRORS_GUIDE);
  const guide = readIfExists(guidePath);
  if (guide === undefined || errorTableIn(guide) === undefined)
    throw new Error(`${ERRORS_GUIDE} lacks the error-table markers`);
  const pages: Record<string, string> = {
    [ERRORS_DOCUMENT]: renderErrorsDocument(),
    [ERRORS_GUIDE]: withErrorTable(guide, renderErrorTable()),
    'docs/reference/configuration.md': renderConfigurationReference(envSchema),
    'docs/reference/metrics.md': renderMetricsReference(),
    'docs/reference/endpoints.md': renderEndpointsReference(document as never),
  };
  if (process.argv.includes('--check')) {
    const stale = Object.keys(pages).filter((path) => readIfExists(resolve(root, path)) !== pages[path]);
    if (stale.length === 0) return;
    process.stderr.write(`stale: ${stale.join(', ')}: run npm run docs:reference\n`);
    process.exitCode = 1;
    return;
  }
  for (const [path, content] of Object.entries(pages)) {
    mkdirSync(dirname(resolve(root, path)), { recursive: true });
    writeFileSync(resolve(root, path), content);
  }
  process.stdout.write(`docs:reference: ${Object.keys(pages).join(', ')} written\n`);
}

function readIfExists(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`docs:reference failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
