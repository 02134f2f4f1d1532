import { DynamicModule, Module, type Type } from '@nestjs/common';
import type { Logger } from 'pino';
import { AccountsHttpModule } from './accounts/accounts-http.module';
import { AuthHttpModule } from './auth/auth-http.module';
import type { AppConfig } from './config/config.schemas';
import { CoreModule } from './core.module';
import { ErrorsModule } from './platform/errors/errors.module';
import { HealthModule } from './platform/health/health.module';
import { OrdersHttpModule } from './orders/orders-http.module';
import { ProductsHttpModule } from './products/products-http.module';

/** The HTTP API: the core plus controllers, the global problem filter, /problems and health. */
@Module({})
export class AppModule {
  /**
   * @param extraModules test-only modules (the fault fixtures that throw from every layer).
   */
  static forRoot(config: AppConfig, logger: Logger, extraModules: Type[] = []): DynamicModule {
    return {
      module: AppModule,
      imports: [
        CoreModule.forRoot(config, logger),
        ErrorsModule,
        HealthModule,
        AccountsHttpModule,
        AuthHttpModule,
        ProductsHttpModule,
        OrdersHttpModule,
        ...extraModules,
      ],
    };
  }
}
