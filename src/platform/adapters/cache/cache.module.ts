import { Global, Module } from '@nestjs/common';
import { CacheService } from './cache.service';

/** The fail-open JSON cache, on the `cache` Redis connection (platform/adapters/redis). */
@Global()
@Module({ providers: [CacheService], exports: [CacheService] })
export class CacheModule {}
