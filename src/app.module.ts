import { DynamicModule, Module, type Type } from '@nestjs/common';
import type { Logger } from 'pino';
import { AccountsHttpModule } from './accounts/accounts-http.module';
import { AuthHttpModule } from './auth/auth-http.module';
import type { AppConfig } from './config/config.schemas';
import { CoreModule } from './core.module';
import { ClientPageModule } from './platform/edge/docs/client-page.module';
import { ErrorsModule } from './platform/edge/errors/errors.module';
import { HealthModule } from './platform/edge/health/health.module';
import { RateLimitModule } from './platform/edge/rate-limit/rate-limit.module';
import { MetricsHttpModule } from './platform/edge/http/metrics-http.module';
import type { MetricsService } from './platform/kernel/metrics/metrics.service';
import { OrdersHttpModule } from './orders/orders-http.module';
import { ProductsHttpModule } from './products/products-http.module';
import { ReportsHttpModule } from './reports/reports-http.module';

/** The HTTP API: the core plus controllers, the global problem filter, /problems, health and /metrics. */
@Module({})
export class AppModule {
  /**
   * @param metrics the instance's metrics, made by createApp (its HTTP hooks record into it).
   * @param extraModules test-only modules (the fault fixtures that throw from every layer).
   */
  static forRoot(config: AppConfig, logger: Logger, metrics: MetricsService, extraModules: Type[] = []): DynamicModule {
    return {
      module: AppModule,
      imports: [
        CoreModule.forRoot(config, logger, metrics),
        ErrorsModule,
        RateLimitModule,
        HealthModule.forApi(),
        MetricsHttpModule,
        AccountsHttpModule,
        AuthHttpModule,
        ProductsHttpModule,
        OrdersHttpModule,
        ReportsHttpModule,
        // The page built on the typed client (/demo): a development aid, never served in production.
        ...(config.env === 'production' ? [] : [ClientPageModule]),
        ...extraModules,
      ],
    };
  }
}
