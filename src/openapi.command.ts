import 'reflect-metadata';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { createOpenApiDocument } from './app.factory';
import { loadConfig } from './config/config.schemas';
import { registerProblemCatalog } from './problem-types.catalog';

/**
 * `npm run docs:openapi [-- <file>]`: writes the OpenAPI document the API serves at
 * /openapi.json to a file (default `dist/openapi.json`) without listening or connecting to
 * anything. `npm run lint:openapi` lints that file with Spectral.
 */
async function main(): Promise<void> {
  registerProblemCatalog();
  // The document does not depend on the environment: fixed settings, so every machine writes the same file.
  const config = loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent' });
  const document = await createOpenApiDocument(config);
  const out = resolve(process.cwd(), process.argv[2] ?? 'dist/openapi.json');
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(document, null, 2)}\n`);
  process.stdout.write(`docs:openapi: ${out} written\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`docs:openapi failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
