import { Client } from 'pg';
import { deleteRedisKeys, runKeyPattern } from './redis-keys.support';
import { ADMIN_DATABASE_URL } from './test-env.support';

/**
 * Drops the template and any test database a crashed test file left behind, and sweeps this
 * run's Redis namespace (every test prefix comes from `testKeyPrefix()`): a worker stopped
 * after its app, or a killed child, can write a key (`bull:<queue>:meta`) after its owner cleaned.
 */
export default async function globalTeardown(): Promise<void> {
  const template = process.env.RA_TEST_TEMPLATE_DB;
  if (!template) return;
  await deleteRedisKeys(runKeyPattern().slice(0, -1));
  const suffix = template.replace('ra_test_tpl_', '');
  const admin = new Client({ connectionString: ADMIN_DATABASE_URL });
  await admin.connect();
  try {
    const { rows } = await admin.query<{ datname: string }>(
      `SELECT datname FROM pg_database WHERE datname = $1 OR datname LIKE $2`,
      [template, `ra_t_${suffix}_%`],
    );
    for (const { datname } of rows) await admin.query(`DROP DATABASE IF EXISTS ${datname} WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}
