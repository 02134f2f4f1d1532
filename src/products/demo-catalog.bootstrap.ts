import type { Logger } from 'pino';
import { once } from 'node:events';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import type { AppConfig } from '../config/config.schemas';
import { prepareDatabase } from '../platform/adapters/database/database.bootstrap';
import { dataSourceOptions } from '../platform/adapters/database/data-source.factory';
import { SqlClient } from '../platform/adapters/database/sql.client';
import { MetricsService } from '../platform/kernel/metrics/metrics.service';
import { createRedisConnection, keysBySlot } from '../platform/adapters/redis/redis-connection.factory';
import { sleep } from '../platform/kernel/resilience/backoff.policy';
import { Product } from './product.entity';
import { DEMO_PRODUCTS } from './products.fixtures';
import { ProductsRepository } from './products.repository';
import { productCacheKey } from './products.service';

/**
 * `npm run db:seed` (src/seed.command.ts): loads the demo catalog. Safe to run any number of times: products
 * are upserted by sku. Like `npm start`, it first waits for Postgres, creates the
 * database outside production and applies pending migrations, so it works on a fresh clone.
 *
 * The cached entries of the products it wrote are deleted, so the API serves the new values
 * at once; with Redis unreachable it says so and they expire within their 60 s TTL.
 */
export async function seedProducts(config: AppConfig, logger: Logger): Promise<{ inserted: number; updated: number }> {
  await prepareDatabase(config, logger);
  return upsertDemoCatalog(config, logger);
}

/** An arbitrary constant: the advisory lock that makes "seed when empty" one decision across processes. */
const SEED_LOCK_KEY = 7_301_925_519;

/**
 * `npm start` in development: loads the demo catalog when the catalog is empty (a fresh
 * database), and leaves a catalog that has products alone. The check and the load happen under
 * one advisory lock, so two processes starting together seed once; the load itself is the
 * idempotent upsert of `npm run db:seed`. Expects migrations applied.
 * @returns whether it seeded.
 */
export async function seedDemoCatalogIfEmpty(config: AppConfig, logger: Logger): Promise<boolean> {
  const lock = new Client({
    connectionString: config.database.url,
    connectionTimeoutMillis: config.database.connectTimeoutMs,
  });
  lock.on('error', () => undefined); // a failure surfaces in the query that meets it
  await lock.connect();
  try {
    await lock.query('SELECT pg_advisory_lock($1)', [SEED_LOCK_KEY]);
    const { rows } = await lock.query<{ present: boolean }>('SELECT EXISTS (SELECT 1 FROM products) AS present');
    if (rows[0].present) return false;
    const { inserted } = await upsertDemoCatalog(config, logger);
    logger.info({ inserted }, 'demo catalog seeded on first start (npm run db:seed reloads it)');
    return true;
  } finally {
    await lock.end().catch(() => undefined); // ending the session releases the lock
  }
}

async function upsertDemoCatalog(config: AppConfig, logger: Logger): Promise<{ inserted: number; updated: number }> {
  const dataSource = new DataSource({
    ...dataSourceOptions(config, logger, 'maintenance'),
    entities: [Product],
    poolSize: 1,
  });
  await dataSource.initialize();
  try {
    const repository = new ProductsRepository(new SqlClient(dataSource, config, new MetricsService()));
    const { inserted, updated, ids } = await repository.upsertMany([...DEMO_PRODUCTS]);
    await forgetCachedProducts(config, logger, ids);
    return { inserted, updated };
  } finally {
    await dataSource.destroy();
  }
}

/** Deletes the product cache entries of `ids` (the changed products), on the API's `cache` connection settings. */
async function forgetCachedProducts(config: AppConfig, logger: Logger, ids: string[]): Promise<void> {
  const redis = createRedisConnection('cache', config, logger);
  try {
    // The cache connection has no offline queue: wait until it is ready (bounded) before the command.
    await Promise.race([
      once(redis, 'ready'),
      sleep(REDIS_READY_TIMEOUT_MS).then(() => Promise.reject(new Error('Redis not ready'))),
    ]);
    // One DEL per Redis Cluster slot (a single DEL across slots is refused: CROSSSLOT).
    await Promise.all(keysBySlot(redis, ids.map(productCacheKey)).map((keys) => redis.del(...keys)));
  } catch (error) {
    logger.warn(
      { reason: (error as Error).message },
      'could not invalidate cached products; they expire within their TTL',
    );
  } finally {
    redis.disconnect();
  }
}

const REDIS_READY_TIMEOUT_MS = 2_000;
