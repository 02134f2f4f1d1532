import { Module } from '@nestjs/common';
import type { Logger } from 'pino';
import { APP_CONFIG } from '../config/config.module';
import type { AppConfig } from '../config/config.schemas';
import { ROOT_LOGGER } from '../platform/kernel/logging/logging.module';
import { MetricsService } from '../platform/kernel/metrics/metrics.service';
import { CIRCUIT_STATE_VALUE } from '../platform/kernel/resilience/circuit.breaker';
import { PaymentsProviderClient } from './payments-provider.client';
import { PAYMENTS_DEPENDENCY } from './payments.errors';

/**
 * Provides the one {@link PaymentsProviderClient} of the process (one breaker per process:
 * every request shares what the breaker learned about the provider). Import it where orders
 * are paid or reconciled. Its observer feeds `resilience_retries_total{dependency="payments"}`
 * and `resilience_circuit_state{dependency="payments"}` (0 closed from the start, then every
 * transition) in the process's MetricsService: the API's and the worker's each.
 */
@Module({
  providers: [
    {
      provide: PaymentsProviderClient,
      inject: [APP_CONFIG, ROOT_LOGGER, MetricsService],
      useFactory: (config: AppConfig, logger: Logger, metrics: MetricsService) => {
        const labels = { dependency: PAYMENTS_DEPENDENCY };
        const retriesTotal = metrics.counter('resilience_retries_total');
        retriesTotal.inc(labels, 0); // the series exists from the start: rate() needs its zero
        const retries = retriesTotal.labels(labels);
        const circuit = metrics.gauge('resilience_circuit_state');
        circuit.set(labels, CIRCUIT_STATE_VALUE.closed);
        return new PaymentsProviderClient(config.payments, {
          // Not a child bound to `dependency`: every line of the client names it already (a bound
          // copy repeated the key, and strict log consumers drop such lines).
          logger,
          onRetry: () => retries.inc(),
          onCircuitStateChange: (_dependency, state) => circuit.set(labels, CIRCUIT_STATE_VALUE[state]),
        });
      },
    },
  ],
  exports: [PaymentsProviderClient],
})
export class PaymentsModule {}
