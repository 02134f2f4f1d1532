import { DynamicModule, Module, type Type } from '@nestjs/common';
import type { Logger } from 'pino';
import { AccountsModule } from './accounts/accounts.module';
import { AuthModule } from './auth/auth.module';
import { ConfigModule } from './config/config.module';
import type { AppConfig } from './config/config.schemas';
import { CacheModule } from './platform/cache/cache.module';
import { DatabaseModule } from './platform/database/database.module';
import { ErrorsModule } from './platform/errors/errors.module';
import { HealthModule } from './platform/health/health.module';
import { LifecycleModule } from './platform/lifecycle/lifecycle.module';
import { LoggingModule } from './platform/logging/logging.module';
import { MetricsModule } from './platform/metrics/metrics.module';
import type { MetricsService } from './platform/metrics/metrics.service';
import { ProductsModule } from './products/products.module';

@Module({})
export class AppModule {
  /**
   * @param extraModules test-only modules (the fault fixtures that throw from every layer).
   */
  static forRoot(config: AppConfig, logger: Logger, metrics: MetricsService, extraModules: Type[] = []): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        LoggingModule.forRoot(logger),
        MetricsModule.forRoot(metrics),
        LifecycleModule,
        ErrorsModule,
        DatabaseModule,
        CacheModule,
        HealthModule,
        AccountsModule,
        AuthModule,
        ProductsModule,
        ...extraModules,
      ],
    };
  }
}
