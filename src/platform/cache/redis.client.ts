import Redis from 'ioredis';
import type { Logger } from 'pino';
import type { AppConfig } from '../../config/config.schemas';

/** Injection token of the shared ioredis client. */
export const REDIS = Symbol('REDIS');

/**
 * The cache connection fails fast: while Redis is down a command errors at once
 * (no offline queue) and a hung one gives up after `commandTimeout`, so the
 * request falls back to Postgres instead of waiting over a minute (ioredis defaults).
 * Reconnection goes on in the background with capped, jittered backoff.
 */
export function createRedisClient(config: AppConfig, logger: Logger): Redis {
  const client = new Redis(config.redis.url, {
    keyPrefix: config.redis.keyPrefix,
    enableOfflineQueue: false,
    commandTimeout: config.redis.commandTimeoutMs,
    maxRetriesPerRequest: 1,
    connectTimeout: 2_000,
    retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 6), 5_000) + Math.floor(Math.random() * 100),
    lazyConnect: false,
  });
  let lastError = '';
  // Without a listener ioredis prints every failed reconnect with a stack; one line per kind of failure is enough.
  client.on('error', (error: Error & { code?: string }) => {
    const reason = error.code ?? error.message;
    if (reason !== lastError) logger.warn({ reason }, 'redis connection error; reconnecting with backoff');
    lastError = reason;
  });
  client.on('ready', () => {
    if (lastError) logger.info('redis connection restored');
    lastError = '';
  });
  return client;
}
