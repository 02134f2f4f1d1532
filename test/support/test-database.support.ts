import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { ADMIN_DATABASE_URL, TEMPLATE_DATABASE, databaseUrl } from './test-env.support';

export interface TestDatabase {
  name: string;
  url: string;
  /** Runs SQL in the test database (assertions on rows, fault injection). */
  query<T extends Record<string, unknown> = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  drop(): Promise<void>;
}

/** Runs `fn` on a fresh connection to `url`, closed afterwards (setup, fault injection, assertions). */
export async function withClient<T>(url: string, fn: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url });
  // A fault test may kill every backend of its database (pg_terminate_backend) while this client is
  // idle: without a listener that 'error' would crash the test process. A failure that matters
  // surfaces in the query that meets it.
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

const admin = <T>(fn: (client: Client) => Promise<T>): Promise<T> => withClient(ADMIN_DATABASE_URL, fn);

/**
 * A database name of this run that does not exist yet: `ra_t_<run>_<random>`, which the global
 * teardown drops if a test leaves it behind. For a test whose subject creates the database itself.
 */
export function testDatabaseName(): string {
  return `ra_t_${TEMPLATE_DATABASE().replace('ra_test_tpl_', '')}_${randomBytes(4).toString('hex')}`;
}

/** A fresh, migrated database of its own for one test file: no test sees another's rows. */
export async function createTestDatabase(options: { migrated?: boolean } = {}): Promise<TestDatabase> {
  const template = TEMPLATE_DATABASE();
  const name = testDatabaseName();
  await admin((c) =>
    c.query(options.migrated === false ? `CREATE DATABASE ${name}` : `CREATE DATABASE ${name} TEMPLATE ${template}`),
  );
  return databaseHandle(databaseUrl(name), () =>
    admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => undefined),
  );
}

/** A {@link TestDatabase} for a database at `url` (the shared server's, or a private server's). */
export function databaseHandle(url: string, drop: () => Promise<void>): TestDatabase {
  return {
    name: decodeURIComponent(new URL(url).pathname.slice(1)),
    url,
    query: (sql, params) => withClient(url, async (c) => (await c.query(sql, params)).rows),
    drop,
  };
}
