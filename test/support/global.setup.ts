import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import pino from 'pino';
import { loadConfig } from '../../src/config/config.schemas';
import { runMigrations } from '../../src/platform/adapters/database/database.bootstrap';
import { ADMIN_DATABASE_URL, databaseUrl } from './test-env.support';

/**
 * Once per `npm test`: build dist/ (the boot and config tests run the real entry
 * point as a child process) and create one migrated template database that each
 * test file clones in milliseconds with CREATE DATABASE ... TEMPLATE.
 */
export default async function globalSetup(): Promise<void> {
  // RA_TEST_NO_BUILD=1 skips the build while iterating on tests that spawn nothing.
  if (process.env.RA_TEST_NO_BUILD !== '1') {
    // As `npm run build`: the app into dist/, then the development-only programs (the fake payments
    // provider) into dist-dev/, which the production image never copies.
    for (const project of ['tsconfig.build.json', 'tsconfig.dev.json'].filter((file) => existsSync(file)))
      execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', project], { stdio: 'inherit' });
    // The typed client (dist/client/), as `npm run build` makes it: the page the browser tests load runs it.
    execFileSync(process.execPath, ['scripts/build-client.mjs'], { stdio: 'inherit' });
  }

  const name = `ra_test_tpl_${randomBytes(4).toString('hex')}`;
  const admin = new Client({ connectionString: ADMIN_DATABASE_URL });
  await admin.connect();
  try {
    await dropAbandonedDatabases(admin);
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const config = loadConfig({ NODE_ENV: 'test', DATABASE_URL: databaseUrl(name) });
  await runMigrations(config, pino({ level: 'silent' }));
  process.env.RA_TEST_TEMPLATE_DB = name;
}

/**
 * A run that was killed (Ctrl-C, a CI timeout) never reaches the global teardown. Its
 * databases are dropped here by the next run, once they are over two hours old and
 * nobody is connected (so a run going on in parallel keeps its own).
 */
async function dropAbandonedDatabases(admin: Client): Promise<void> {
  const { rows } = await admin
    .query<{ datname: string }>(
      `SELECT d.datname FROM pg_database d
        WHERE (d.datname LIKE 'ra\\_test\\_tpl\\_%' OR d.datname LIKE 'ra\\_t\\_%' OR d.datname LIKE 'ra\\_fresh\\_%')
          AND (pg_stat_file('base/' || d.oid || '/PG_VERSION')).modification < now() - interval '2 hours'
          AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.datname = d.datname)`,
    )
    .catch(() => ({ rows: [] as { datname: string }[] })); // pg_stat_file needs superuser: skip the clean-up without it
  for (const { datname } of rows) await admin.query(`DROP DATABASE IF EXISTS "${datname}"`).catch(() => undefined);
}
