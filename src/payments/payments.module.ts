import { Module } from '@nestjs/common';
import type { Logger } from 'pino';
import { APP_CONFIG } from '../config/config.module';
import type { AppConfig } from '../config/config.schemas';
import { ROOT_LOGGER } from '../platform/logging/logging.module';
import { PaymentsProviderClient } from './payments-provider.client';
import { PAYMENTS_DEPENDENCY } from './payments.errors';

/**
 * Provides the one {@link PaymentsProviderClient} of the process (one breaker per process:
 * every request shares what the breaker learned about the provider). Import it where orders
 * are paid or reconciled; metrics hooks plug in through the client's observer.
 */
@Module({
  providers: [
    {
      provide: PaymentsProviderClient,
      inject: [APP_CONFIG, ROOT_LOGGER],
      useFactory: (config: AppConfig, logger: Logger) =>
        new PaymentsProviderClient(config.payments, { logger: logger.child({ dependency: PAYMENTS_DEPENDENCY }) }),
    },
  ],
  exports: [PaymentsProviderClient],
})
export class PaymentsModule {}
