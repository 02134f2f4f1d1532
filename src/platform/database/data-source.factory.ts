import type { Logger } from 'pino';
import type { DataSourceOptions } from 'typeorm';

type PostgresConnectionOptions = Extract<DataSourceOptions, { type: 'postgres' }>;
import type { AppConfig } from '../../config/config.schemas';
import { MIGRATIONS } from './migrations/all.migrations';

export const MIGRATIONS_TABLE = 'migrations';

/**
 * One place for every Postgres setting: the app, `npm run db:migrate` and the tests
 * all build their DataSource here. Never `synchronize`: the schema changes only
 * through reviewed migrations.
 */
export function dataSourceOptions(config: AppConfig, logger?: Logger): PostgresConnectionOptions {
  const { url, poolMax, connectTimeoutMs, statementTimeoutMs } = config.database;
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
    connectTimeoutMS: connectTimeoutMs,
    // A pool error with no listener kills the process. TypeORM attaches one; ours
    // also logs which backend error it was (e.g. 57P01 when an admin killed it).
    poolErrorHandler: (error: Error & { code?: string }) =>
      logger?.warn({ err: error, sqlState: error.code }, 'postgres pool: idle connection failed and was discarded'),
    extra: {
      // Server-side limit: a runaway query is cancelled by Postgres itself, so a
      // timeout never answers the client while the query keeps running.
      statement_timeout: statementTimeoutMs,
      idle_in_transaction_session_timeout: statementTimeoutMs * 2,
      lock_timeout: Math.min(statementTimeoutMs, 2_000),
      idleTimeoutMillis: 30_000,
      keepAlive: true,
    },
  };
}
