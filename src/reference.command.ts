import 'reflect-metadata';
import { createOpenApiDocument } from './app.factory';
import { loadConfig } from './config/config.schemas';
import { referencePages, stalePages, writePages } from './platform/edge/docs/reference.factory';
import { runEntrypoint } from './platform/kernel/lifecycle/entrypoint.bootstrap';
import { registerProblemCatalog } from './problem-types.catalog';

/**
 * `npm run docs:reference` (alias `npm run docs:errors`): rewrites every page that restates code,
 * from that code (platform/edge/docs/reference.factory.ts), the OpenAPI document built without a
 * server or a database. `--check` only compares and exits 1 naming each stale page
 * (test/meta/reference.meta-spec.ts runs it).
 */
void runEntrypoint({
  failurePrefix: 'docs:reference failed',
  failureLog: 'docs:reference failed',
  // The pages do not depend on the environment: fixed settings, so every machine writes the same ones.
  config: () => loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent' }),
  async run({ config }) {
    registerProblemCatalog();
    const root = process.cwd();
    const pages = referencePages(root, (await createOpenApiDocument(config)) as never);
    if (process.argv.includes('--check')) {
      const stale = stalePages(root, pages);
      if (stale.length > 0) process.stderr.write(`stale: ${stale.join(', ')}: run npm run docs:reference\n`);
      return stale.length > 0 ? 1 : 0;
    }
    writePages(root, pages);
    process.stdout.write(`docs:reference: ${Object.keys(pages).join(', ')} written\n`);
  },
});
