import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import type { Logger } from 'pino';
import { APP_CONFIG } from '../../config/config.module';
import type { AppConfig } from '../../config/config.schemas';
import { ROOT_LOGGER } from '../logging/logging.module';
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

  /** The state of every connection opened so far, by name. */
  states(): Partial<Record<RedisConnectionName, RedisConnectionState>> {
    return Object.fromEntries([...this.open].map(([name, client]) => [name, client.status]));
  }

  async closeAll(): Promise<void> {
    const clients = [...this.open.values()];
    this.open.clear();
    // quit() waits for pending replies; disconnect() if Redis is already gone.
    await Promise.all(clients.map((client) => client.quit().catch(() => client.disconnect())));
  }

  onApplicationShutdown(): Promise<void> {
    return this.closeAll();
  }
}
