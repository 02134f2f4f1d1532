import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { REDIS_URL } from './test-env.support';

/**
 * This test run's id: the template database's suffix (set by the global setup, inherited by every
 * Jest worker), so runs sharing one Redis (helpers, CI jobs) never sweep each other's keys.
 */
const runId = (): string => (process.env.RA_TEST_TEMPLATE_DB ?? 'ra_test_tpl_adhoc').replace('ra_test_tpl_', '');

/**
 * A fresh `REDIS_KEY_PREFIX` for one app, worker or child process of this run:
 * `ra-test:<run>:<tag><random>:`. Whoever starts the process deletes its keys when it stops
 * ({@link deleteRedisKeys}); the global teardown sweeps the run's whole namespace for what a late
 * writer left (a worker stopped after its app, a child killed mid-write).
 */
export const testKeyPrefix = (tag = ''): string => `ra-test:${runId()}:${tag}${randomBytes(4).toString('hex')}:`;

/** Everything this run wrote to Redis, whatever the process that wrote it. */
export const runKeyPattern = (): string => `ra-test:${runId()}:*`;

/** Deletes every key under `prefix` (SCAN, never KEYS); quiet when Redis is the thing a test took down. */
export async function deleteRedisKeys(prefix: string, url = REDIS_URL): Promise<void> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      if (keys.length) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } catch {
    // Redis may be the thing a fault test took down; nothing to clean then.
  } finally {
    redis.disconnect();
  }
}
