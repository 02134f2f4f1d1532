import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import type { Logger } from 'pino';
import { APP_CONFIG } from '../../../config/config.module';
import type { AppConfig } from '../../../config/config.schemas';
import { ROOT_LOGGER } from '../../kernel/logging/logging.module';
import { createRedisConnection, type RedisClient, type RedisConnectionName } from './redis-connection.factory';

/** ioredis's own status words (a Redis's or a Cluster's): `ready` is the only one that serves commands. */
export type RedisConnectionState = RedisClient['status'];

/**
 * The one owner of the process's Redis connections: opens each named connection on first
 * use (an API process never opens the queue worker's), reports their states (readiness)
 * and closes them all at shutdown.
 *
 * @example this.redis = connections.get('cache');
 */
@Injectable()
export class RedisConnectionsService implements OnApplicationShutdown {
  private readonly open = new Map<RedisConnectionName, RedisClient>();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(ROOT_LOGGER) private readonly logger: Logger,
  ) {}

  get(name: RedisConnectionName): RedisClient {
    let client = this.open.get(name);
    if (!client) {
      client = createRedisConnection(name, this.config, this.logger);
      this.open.set(name, client);
    }
    return client;
  }

  /**
   * Opens the named connection if needed and waits until it serves commands, at most `timeoutMs`.
   * For boot steps on a connection without an offline queue: BullMQ waits for `ready` itself on one
   * Redis but takes a Cluster's `connect` (before its slot table is loaded) for ready, and the
   * first command then fails ("Cluster isn't ready").
   * @throws Error naming the connection when it is not ready in time
   */
  async whenReady(name: RedisConnectionName, timeoutMs: number): Promise<RedisClient> {
    const client = this.get(name);
    if (client.status === 'ready') return client;
    let timer: NodeJS.Timeout | undefined;
    let onReady: (() => void) | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        onReady = resolve;
        client.once('ready', onReady);
        timer = setTimeout(
          () => reject(new Error(`Redis connection ${name} not ready after ${timeoutMs} ms`)),
          timeoutMs,
        );
      });
      return client;
    } finally {
      clearTimeout(timer);
      if (onReady) client.off('ready', onReady);
    }
  }

  /** The state of every connection opened so far, by name. */
  states(): Partial<Record<RedisConnectionName, RedisConnectionState>> {
    return Object.fromEntries([...this.open].map(([name, client]) => [name, client.status]));
  }

  async closeAll(): Promise<void> {
    const clients = [...this.open.values()];
    this.open.clear();
    // quit() lets pending replies arrive; disconnect() if Redis is gone, or if it does not answer
    // the QUIT within two command timeouts (a hung or black-holed Redis): a shutdown must not wait
    // for a reply that never comes, or the process ends in SHUTDOWN_CLOSE_TIMEOUT_MS's forced exit.
    const quitWithinMs = 2 * this.config.redis.commandTimeoutMs;
    await Promise.all(clients.map((client) => quitWithin(client, quitWithinMs)));
  }

  onApplicationShutdown(): Promise<void> {
    return this.closeAll();
  }
}

/** QUIT, and a hard disconnect if that fails or gets no answer within `ms`. */
async function quitWithin(client: RedisClient, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const unanswered = new Promise<'unanswered'>((resolve) => {
    timer = setTimeout(() => resolve('unanswered'), ms);
  });
  try {
    const outcome = await Promise.race([client.quit(), unanswered]);
    if (outcome === 'unanswered') client.disconnect();
  } catch {
    client.disconnect();
  } finally {
    clearTimeout(timer);
  }
}
