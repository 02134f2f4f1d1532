import Redis, { type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import type { AppConfig } from '../../config/config.schemas';
import { RECONNECT_BACKOFF, backoffDelayMs } from '../resilience/backoff.policy';

/**
 * The named Redis connections of a process. Each has the options its job needs, and
 * they conflict, so they are never shared:
 * - `cache`: fails fast. No offline queue (a command while Redis is down errors at once),
 *   `commandTimeout` (a hung command gives up), one retry per request, so a request falls
 *   back to Postgres instead of waiting over a minute (ioredis defaults). Keys carry the
 *   instance's `REDIS_KEY_PREFIX`.
 * - `queue-producer`: enqueueing while Redis is down fails fast (no offline queue, one
 *   retry) so the caller can answer 503. No ioredis `keyPrefix`: BullMQ refuses it and
 *   prefixes keys itself.
 * - `queue-worker`: `maxRetriesPerRequest: null`, as BullMQ workers require (their blocking
 *   commands wait indefinitely); the offline queue stays on so a worker rides out a restart.
 * Every connection reconnects in the background with capped, jittered backoff.
 */
export const REDIS_CONNECTION_NAMES = ['cache', 'queue-producer', 'queue-worker'] as const;
export type RedisConnectionName = (typeof REDIS_CONNECTION_NAMES)[number];

/** How long one connection attempt may take before it counts as failed. */
const CONNECT_TIMEOUT_MS = 2_000;

export function redisConnectionOptions(name: RedisConnectionName, config: AppConfig): RedisOptions {
  const common: RedisOptions = {
    connectionName: `resilient-api:${name}`,
    connectTimeout: CONNECT_TIMEOUT_MS,
    retryStrategy: (times) => backoffDelayMs(times, RECONNECT_BACKOFF),
    lazyConnect: false,
  };
  switch (name) {
    case 'cache':
      return {
        ...common,
        keyPrefix: config.redis.keyPrefix,
        enableOfflineQueue: false,
        commandTimeout: config.redis.commandTimeoutMs,
        maxRetriesPerRequest: 1,
      };
    case 'queue-producer':
      return { ...common, enableOfflineQueue: false, maxRetriesPerRequest: 1 };
    case 'queue-worker':
      return { ...common, maxRetriesPerRequest: null };
  }
}

/** Opens the named connection; its errors are logged once per kind of failure, not once per reconnect. */
export function createRedisConnection(name: RedisConnectionName, config: AppConfig, logger: Logger): Redis {
  const client = new Redis(config.redis.url, redisConnectionOptions(name, config));
  let lastError = '';
  // Without a listener ioredis prints every failed reconnect with a stack; one line per kind of failure is enough.
  client.on('error', (error: Error & { code?: string }) => {
    const reason = error.code ?? error.message;
    if (reason !== lastError) {
      logger.warn({ connection: name, reason }, 'redis connection error; reconnecting with backoff');
    }
    lastError = reason;
  });
  client.on('ready', () => {
    if (lastError) logger.info({ connection: name }, 'redis connection restored');
    lastError = '';
  });
  return client;
}
