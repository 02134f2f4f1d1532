import Redis from 'ioredis';
import type { AppConfig } from '../../../config/config.schemas';

/** How long the one attempt may take: a local Redis answers in milliseconds. */
const PROBE_TIMEOUT_MS = 2_000;

/**
 * One connection attempt and a PING, no retry: `undefined` when Redis answers, else the
 * reason (`ECONNREFUSED`, `NOAUTH`, …). For the development start, which says at once what
 * is missing instead of reconnecting in a loop (the long-running connections keep their backoff).
 */
export async function redisUnreachableReason(config: AppConfig): Promise<string | undefined> {
  const client = new Redis(config.redis.url, {
    connectionName: 'resilient-api:probe',
    connectTimeout: PROBE_TIMEOUT_MS,
    commandTimeout: PROBE_TIMEOUT_MS,
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  // The socket's error (ECONNREFUSED) says more than connect()'s "Connection is closed.".
  let socketError: string | undefined;
  client.on('error', (error: Error & { code?: string }) => (socketError ??= error.code ?? error.message));
  try {
    await client.connect();
    await client.ping();
    return undefined;
  } catch (error) {
    const e = error as { code?: string; message?: string };
    return (
      socketError ??
      e.code ??
      String(e.message ?? error)
        .split('\n')[0]
        .slice(0, 80)
    );
  } finally {
    client.disconnect();
  }
}
