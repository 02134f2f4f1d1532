import type { Logger } from 'pino';
import type { DataSourceOptions } from 'typeorm';

type PostgresConnectionOptions = Extract<DataSourceOptions, { type: 'postgres' }>;
import type { AppConfig } from '../../config/config.schemas';
import { MIGRATIONS } from './migrations/all.migrations';

export const MIGRATIONS_TABLE = 'migrations';

/**
 * Which session defaults a pool's connections get: `request` (the API and the worker's
 * request-like work: short statement and lock timeouts) or `maintenance` (migrations and
 * the seed: the long `report` timeouts, and the boot connect timeout to open connections).
 */
export type SessionProfile = 'request' | 'maintenance';

/**
 * One place for every Postgres setting: the app, `npm run db:migrate` and the tests
 * all build their DataSource here. Never `synchronize`: the schema changes only
 * through reviewed migrations.
 *
 * Every wait is bounded (docs/data-stores.md "Every wait is bounded"): waiting for a pooled connection
 * (`DB_ACQUIRE_TIMEOUT_MS`, pool exhaustion answers 503), the statement on the server
 * (`statement_timeout`, Postgres cancels it), a row or table lock (`lock_timeout`), and
 * the client's own read timeout a margin later, which is what ends a request whose
 * network to Postgres went silent (the server cannot cancel what it never sees).
 */
export function dataSourceOptions(
  config: AppConfig,
  logger?: Logger,
  profile: SessionProfile = 'request',
): PostgresConnectionOptions {
  const { url, poolMax, connectTimeoutMs, acquireTimeoutMs, lockTimeoutMs, clientTimeoutMarginMs } = config.database;
  const statementTimeoutMs =
    profile === 'request' ? config.database.statementTimeoutMs : config.database.reportStatementTimeoutMs;
  return {
    type: 'postgres',
    url,
    synchronize: false,
    migrationsRun: false,
    migrations: MIGRATIONS,
    migrationsTableName: MIGRATIONS_TABLE,
    migrationsTransactionMode: 'each',
    applicationName: 'resilient-api',
    poolSize: poolMax,
    // pg-pool uses one timeout for both waits: a free slot in a full pool, and opening a new connection.
    connectTimeoutMS: profile === 'request' ? acquireTimeoutMs : connectTimeoutMs,
    // A pool error with no listener kills the process. TypeORM attaches one; ours
    // also logs which backend error it was (e.g. 57P01 when an admin killed it).
    // pg-pool attaches the whole client to the error: log the code and first line only.
    poolErrorHandler: (error: Error & { code?: string }) =>
      logger?.warn(
        { sqlState: error.code, reason: String(error.message).split('\n')[0].slice(0, 200) },
        'postgres pool: idle connection failed and was discarded',
      ),
    extra: {
      // Session defaults sent in the startup packet (no extra round trip): a runaway
      // query is cancelled by Postgres itself, so a timeout never answers the client
      // while the query keeps running. Transactions also SET LOCAL their class's values.
      statement_timeout: statementTimeoutMs,
      idle_in_transaction_session_timeout: statementTimeoutMs * 2,
      lock_timeout: Math.min(lockTimeoutMs, statementTimeoutMs),
      // Client side: gives up when the server has not answered a margin after it should
      // have cancelled the statement (network black-holed, server frozen); pg then drops the connection.
      query_timeout: statementTimeoutMs + clientTimeoutMarginMs,
      idleTimeoutMillis: 30_000,
      keepAlive: true,
    },
  };
}
