import { Pool, type PoolConfig } from 'pg';
import type { Logger } from 'pino';
import type { DataSourceOptions } from 'typeorm';
import type { AppConfig } from '../../../config/config.schemas';
import { adoptSessionLimits, defaultStatementLimits } from './limited-query.factory';
import { MIGRATIONS } from './migrations/all.migrations';

type PostgresConnectionOptions = Extract<DataSourceOptions, { type: 'postgres' }>;

export const MIGRATIONS_TABLE = 'migrations';

/**
 * Which pool a DataSource is for: `request` (the API and the worker, through `DATABASE_URL`,
 * which may be a transaction-pooling PgBouncer) or `maintenance` (migrations and the seed,
 * through `DATABASE_MIGRATION_URL`: Postgres itself when a pooler sits in front; the boot
 * connect timeout to open connections).
 */
export type SessionProfile = 'request' | 'maintenance';

/**
 * One place for every Postgres setting: the SQL seam's pool ({@link createPool}), the migrations'
 * TypeORM DataSource ({@link dataSourceOptions}), `npm run db:migrate`, the seed and the tests
 * all build theirs here.
 *
 * Pooler-safe by construction: nothing relies on session state a transaction pooler would lose
 * or leak. No startup parameter but `application_name` (which PgBouncer tracks; stock PgBouncer
 * refuses `statement_timeout` and the like with 08P01 `unsupported startup parameter`), no
 * session advisory lock. The limits travel with each unit of work (sql.client.ts): a transaction
 * sets its own with `SET LOCAL` in its BEGIN's round trip, and a single statement outside one
 * carries them with `set_config(…, true)` in the same packet (limited-query.factory.ts); a
 * deadline or a caller leaving cancels it on the server with the protocol's cancel request
 * (docs/fleet-harness.md, "The pooler-safe seam"). The one session `SET` is the seam's default
 * limits, sent only on a connection that is provably a server process's own for its whole life
 * (`adoptSessionLimits`): there a statement with exactly those limits goes without its prefix.
 *
 * Every wait is bounded (docs/data-stores.md "Every wait is bounded"): waiting for a pooled
 * connection (`DB_ACQUIRE_TIMEOUT_MS`, pool exhaustion answers 503), the statement on the server
 * (`statement_timeout`, Postgres cancels it), a row or table lock (`lock_timeout`), and
 * the client's own read timeout a margin later, which is what ends a request whose
 * network to Postgres went silent (the server cannot cancel what it never sees).
 */
export function poolConfig(config: AppConfig, profile: SessionProfile = 'request'): PoolConfig {
  const { poolMax, connectTimeoutMs, acquireTimeoutMs, clientTimeoutMarginMs } = config.database;
  const statementTimeoutMs =
    profile === 'request' ? config.database.statementTimeoutMs : config.database.reportStatementTimeoutMs;
  return {
    connectionString: profile === 'request' ? config.database.url : config.database.migrationUrl,
    application_name: 'resilient-api',
    max: poolMax,
    // pg-pool uses one timeout for both waits: a free slot in a full pool, and opening a new connection.
    connectionTimeoutMillis: profile === 'request' ? acquireTimeoutMs : connectTimeoutMs,
    // Client side only (pg reads it, nothing is sent): gives up when the server has not answered
    // a margin after the statement's limit (network black-holed, server frozen); pg then drops
    // the connection. The seam sets a tighter one per statement.
    query_timeout: statementTimeoutMs + clientTimeoutMarginMs,
    idleTimeoutMillis: 30_000,
    keepAlive: true,
  };
}

/**
 * The pg pool of the SQL seam, created and owned here through pg's public API (database.module.ts
 * ends it at shutdown): TypeORM is used for the migrations only, never for the pool.
 * @param overrides e.g. `{ max: 1 }` for a one-connection tool or test.
 */
export function createPool(
  config: AppConfig,
  logger?: Logger,
  profile: SessionProfile = 'request',
  overrides: PoolConfig = {},
): Pool {
  // The limits the seam gives a statement outside a deadline (sql.client.ts) become the session's
  // own on a connection to Postgres itself, so such a statement needs no prefix; behind a pooler
  // the connection is left as it is (limited-query.factory.ts).
  const limits = defaultStatementLimits(config.database);
  const pool = new Pool({
    ...poolConfig(config, profile),
    onConnect: (client) => adoptSessionLimits(client, limits),
    ...overrides,
  });
  // A pool error with no listener kills the process; this one also logs which backend error it
  // was (e.g. 57P01 when an admin killed an idle connection). pg-pool attaches the whole client
  // to the error: log the code and first line only.
  pool.on('error', (error: Error & { code?: string }) =>
    logger?.warn(
      { sqlState: error.code, reason: String(error.message).split('\n')[0].slice(0, 200) },
      'postgres pool: idle connection failed and was discarded',
    ),
  );
  return pool;
}

/**
 * The TypeORM DataSource options of a profile, for what TypeORM still does here: run the
 * migrations (database.bootstrap.ts). The same settings as {@link poolConfig}. Never
 * `synchronize`: the schema changes only through reviewed migrations.
 */
export function dataSourceOptions(
  config: AppConfig,
  logger?: Logger,
  profile: SessionProfile = 'request',
): PostgresConnectionOptions {
  const { connectionString, application_name, max, connectionTimeoutMillis, ...extra } = poolConfig(config, profile);
  return {
    type: 'postgres',
    url: connectionString,
    synchronize: false,
    migrationsRun: false,
    migrations: MIGRATIONS,
    migrationsTableName: MIGRATIONS_TABLE,
    migrationsTransactionMode: 'each',
    applicationName: application_name,
    poolSize: max,
    connectTimeoutMS: connectionTimeoutMillis,
    poolErrorHandler: (error: Error & { code?: string }) =>
      logger?.warn(
        { sqlState: error.code, reason: String(error.message).split('\n')[0].slice(0, 200) },
        'postgres pool: idle connection failed and was discarded',
      ),
    extra,
  };
}
