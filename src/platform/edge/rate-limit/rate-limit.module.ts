import { Global, Module } from '@nestjs/common';
import { RateLimiter } from './rate.limiter';
import { RateLimitGuard } from './rate-limit.guard';

/** Global, so any feature's controller can use `@RateLimit()`. */
@Global()
@Module({ providers: [RateLimiter, RateLimitGuard], exports: [RateLimiter, RateLimitGuard] })
export class RateLimitModule {}
