import { DynamicModule, Module } from '@nestjs/common';
import type { Logger } from 'pino';
import { AccountsModule } from './accounts/accounts.module';
import { AccountsService } from './accounts/accounts.service';
import { AuthModule } from './auth/auth.module';
import { ConfigModule } from './config/config.module';
import type { AppConfig } from './config/config.schemas';
import { CacheModule } from './platform/adapters/cache/cache.module';
import { prepareDatabase } from './platform/adapters/database/database.bootstrap';
import { DatabaseModule } from './platform/adapters/database/database.module';
import { LifecycleModule } from './platform/kernel/lifecycle/lifecycle.module';
import { LoggingModule } from './platform/kernel/logging/logging.module';
import { MetricsModule } from './platform/kernel/metrics/metrics.module';
import { MetricsService } from './platform/kernel/metrics/metrics.service';
import { QueueModule } from './platform/adapters/queue/queue.module';
import { RedisModule } from './platform/adapters/redis/redis.module';
import { OrdersModule } from './orders/orders.module';
import { IdempotencyModule } from './platform/edge/idempotency/idempotency.module';
import { ProductsModule } from './products/products.module';
import { ReportsModule } from './reports/reports.module';
import { registerProblemCatalog } from './problem-types.catalog';

/**
 * What every process boots: config, logging, metrics, lifecycle, Postgres (the SQL seam), the named
 * Redis connections, the job queue (producer side), the cache, and each feature's domain module (services, repositories;
 * no controllers). The HTTP API (app.module.ts) adds controllers, the error filter and
 * health on top; the worker (src/worker.ts) adds its processors, without Fastify.
 * It is also where ports between features are wired (accounts → auth's CredentialsVerifier).
 */
/**
 * What every long-running process does before it builds its core: the problem-type registry from
 * its one list (before anything can answer or fail with a problem), then Postgres: wait with
 * backoff, create the database outside production, migrate under the advisory lock (whichever
 * process starts first migrates).
 */
export async function prepareCore(config: AppConfig, logger: Logger): Promise<void> {
  registerProblemCatalog();
  await prepareDatabase(config, logger);
}

@Module({})
export class CoreModule {
  /**
   * @param metrics the process's registry; the HTTP entry point passes the one its hooks record
   *   into, a process without HTTP (the worker) can let the core make it and serve
   *   `app.get(MetricsService).render()` itself.
   */
  static forRoot(config: AppConfig, logger: Logger, metrics = new MetricsService()): DynamicModule {
    // Every process built on the core answers with problem types: the registry is built here at the latest.
    registerProblemCatalog();
    return {
      module: CoreModule,
      imports: [
        ConfigModule.forRoot(config),
        LoggingModule.forRoot(logger),
        MetricsModule.forRoot(metrics),
        LifecycleModule,
        DatabaseModule,
        RedisModule,
        QueueModule,
        CacheModule,
        AccountsModule,
        AuthModule.forRoot({ imports: [AccountsModule], credentialsVerifier: AccountsService }),
        ProductsModule,
        IdempotencyModule,
        OrdersModule,
        ReportsModule,
      ],
    };
  }
}
