import 'reflect-metadata';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { createOpenApiDocument } from './app.factory';
import { loadConfig } from './config/config.schemas';
import { runEntrypoint } from './platform/kernel/lifecycle/entrypoint.bootstrap';
import { registerProblemCatalog } from './problem-types.catalog';

/**
 * `npm run docs:openapi [-- <file>]`: writes the OpenAPI document the API serves at
 * /openapi.json to a file (default `dist/openapi.json`) without listening or connecting to
 * anything. `npm run lint:openapi` lints that file with Spectral.
 */
void runEntrypoint({
  failurePrefix: 'docs:openapi failed',
  failureLog: 'docs:openapi failed',
  // The document does not depend on the environment: fixed settings, so every machine writes the same file.
  config: () => loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent' }),
  async run({ config }) {
    registerProblemCatalog();
    const document = await createOpenApiDocument(config);
    const out = resolve(process.cwd(), process.argv[2] ?? 'dist/openapi.json');
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, `${JSON.stringify(document, null, 2)}\n`);
    process.stdout.write(`docs:openapi: ${out} written\n`);
  },
});
