import { DynamicModule, Module } from '@nestjs/common';
import type { Logger } from 'pino';
import { AccountsModule } from './accounts/accounts.module';
import { AccountsService } from './accounts/accounts.service';
import { AuthModule } from './auth/auth.module';
import { ConfigModule } from './config/config.module';
import type { AppConfig } from './config/config.schemas';
import { CacheModule } from './platform/cache/cache.module';
import { DatabaseModule } from './platform/database/database.module';
import { LifecycleModule } from './platform/lifecycle/lifecycle.module';
import { LoggingModule } from './platform/logging/logging.module';
import { RedisModule } from './platform/redis/redis.module';
import { OrdersModule } from './orders/orders.module';
import { IdempotencyModule } from './platform/idempotency/idempotency.module';
import { ProductsModule } from './products/products.module';

/**
 * What every process boots: config, logging, lifecycle, Postgres (the SQL seam), the named
 * Redis connections, the cache, and each feature's domain module (services, repositories;
 * no controllers). The HTTP API (app.module.ts) adds controllers, the error filter and
 * health on top; the worker (src/worker.ts) adds its processors, without Fastify.
 * It is also where ports between features are wired (accounts → auth's CredentialsVerifier).
 */
@Module({})
export class CoreModule {
  static forRoot(config: AppConfig, logger: Logger): DynamicModule {
    return {
      module: CoreModule,
      imports: [
        ConfigModule.forRoot(config),
        LoggingModule.forRoot(logger),
        LifecycleModule,
        DatabaseModule,
        RedisModule,
        CacheModule,
        AccountsModule,
        AuthModule.forRoot({ imports: [AccountsModule], credentialsVerifier: AccountsService }),
        ProductsModule,
        IdempotencyModule,
        OrdersModule,
      ],
    };
  }
}
