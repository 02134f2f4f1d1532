import { Injectable } from '@nestjs/common';
import type Redis from 'ioredis';
import { PinoLogger } from 'nestjs-pino';
import { RedisConnectionsService } from '../redis/redis-connections.service';

/**
 * A fail-open JSON cache: Redis being down, slow or full is never the caller's
 * problem. A failed read is a miss, a failed write is skipped; both are logged.
 */
@Injectable()
export class CacheService {
  private readonly redis: Redis;

  constructor(
    connections: RedisConnectionsService,
    private readonly logger: PinoLogger,
  ) {
    this.redis = connections.get('cache');
    this.logger.setContext(CacheService.name);
  }

  async get<T>(key: string): Promise<T | undefined> {
    try {
      const raw = await this.redis.get(key);
      return raw === null ? undefined : (JSON.parse(raw) as T);
    } catch (error) {
      this.logger.warn({ key, reason: reasonOf(error) }, 'cache read failed; falling back to the source');
      return undefined;
    }
  }

  async set(key: string, value: unknown, ttlSeconds: number): Promise<void> {
    try {
      await this.redis.set(key, JSON.stringify(value), 'EX', ttlSeconds);
    } catch (error) {
      this.logger.warn({ key, reason: reasonOf(error) }, 'cache write failed; skipped');
    }
  }

  async delete(key: string): Promise<void> {
    try {
      await this.redis.del(key);
    } catch (error) {
      this.logger.warn({ key, reason: reasonOf(error) }, 'cache delete failed');
    }
  }
}

const reasonOf = (error: unknown): string => {
  const e = error as { code?: string; message?: string };
  return e?.code ?? String(e?.message ?? error).split('\n')[0];
};
