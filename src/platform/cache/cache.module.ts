import { Global, Inject, Module, OnApplicationShutdown } from '@nestjs/common';
import Redis from 'ioredis';
import type { Logger } from 'pino';
import { APP_CONFIG } from '../../config/config.module';
import type { AppConfig } from '../../config/config.schemas';
import { ROOT_LOGGER } from '../logging/logging.module';
import { CacheService } from './cache.service';
import { REDIS, createRedisClient } from './redis.client';

@Global()
@Module({
  providers: [
    {
      provide: REDIS,
      inject: [APP_CONFIG, ROOT_LOGGER],
      useFactory: (config: AppConfig, logger: Logger) => createRedisClient(config, logger),
    },
    CacheService,
  ],
  exports: [REDIS, CacheService],
})
export class CacheModule implements OnApplicationShutdown {
  constructor(@Inject(REDIS) private readonly redis: Redis) {}

  async onApplicationShutdown(): Promise<void> {
    // quit() waits for pending replies; disconnect() if Redis is already gone.
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}
