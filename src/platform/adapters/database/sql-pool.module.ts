import { Inject, Module, type OnApplicationShutdown } from '@nestjs/common';
import type { Pool } from 'pg';
import type { Logger } from 'pino';
import { APP_CONFIG } from '../../../config/config.module';
import type { AppConfig } from '../../../config/config.schemas';
import { ROOT_LOGGER } from '../../kernel/logging/logging.module';
import { definePipeline } from '../../kernel/resilience/resilience.policy';
import { RETRYABLE } from '../../kernel/resilience/retry.policy';
import { createPool } from './data-source.factory';

/** The token of the SQL seam's pg pool (a `pg.Pool`, created by {@link SqlPoolModule}). */
export const SQL_POOL = 'SQL_POOL';

/**
 * The first connection's retry at boot, on the shared pipeline (resilience.policy.ts): three
 * attempts, about half a second apart. The entry point already waited for Postgres with backoff
 * (database.bootstrap.ts); this covers a blip in between.
 */
const firstConnection = definePipeline({
  name: 'database',
  retry: { attempts: 3, backoff: { baseMs: 500, capMs: 500, jitter: 'equal' }, minAttemptMs: 0 },
  classify: () => RETRYABLE,
});

/**
 * The pool, with one connection opened before the app boots (as TypeORM's own boot did): a database
 * that cannot be reached fails the boot, and the first request finds a warm connection.
 */
async function openPool(config: AppConfig, logger: Logger): Promise<Pool> {
  const pool = createPool(config, logger);
  try {
    await firstConnection.execute(async () => (await pool.connect()).release());
    return pool;
  } catch (error) {
    await pool.end().catch(() => undefined);
    throw error;
  }
}

/**
 * Owns the SQL seam's pg pool: creates it (data-source.factory.ts, pg's public API) and ends it when
 * the application shuts down. A module of its own, imported only by DatabaseModule, so Nest ends the
 * pool after every module that may still run statements in its own shutdown hook (hooks run from
 * the root down; this module sits below every user of the seam), as TypeORM's own module did.
 */
@Module({
  providers: [
    {
      provide: SQL_POOL,
      inject: [APP_CONFIG, ROOT_LOGGER],
      useFactory: openPool,
    },
  ],
  exports: [SQL_POOL],
})
export class SqlPoolModule implements OnApplicationShutdown {
  constructor(@Inject(SQL_POOL) private readonly pool: Pool) {}

  async onApplicationShutdown(): Promise<void> {
    await this.pool.end();
  }
}
