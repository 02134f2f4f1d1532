import { DynamicModule, Module } from '@nestjs/common';
import type { Logger } from 'pino';
import type { AppConfig } from './config/config.schemas';
import { CoreModule } from './core.module';
import { OrdersModule } from './orders/orders.module';
import { PaymentsReconciliationService } from './orders/payments-reconciliation.service';
import { QueueWorkerModule } from './platform/adapters/queue/queue-worker.module';
import { HealthModule } from './platform/edge/health/health.module';
import {
  ReconciliationWorkerModule,
  type ReconciliationWorkerOptions,
} from './reconciliation/reconciliation-worker.module';
import { ReportsWorkerModule } from './reports/reports-worker.module';

/** The scheduled reconciliation settles orders: the orders feature implements the port. */
const DEFAULT_RECONCILIATION: ReconciliationWorkerOptions = {
  imports: [OrdersModule],
  reconciler: PaymentsReconciliationService,
};

export interface WorkerModuleOptions {
  /**
   * The payments reconciliation port. Default: the orders feature's
   * PaymentsReconciliationService (settles `payment_pending` orders with the provider).
   */
  reconciliation?: ReconciliationWorkerOptions;
}

/**
 * The worker process: the core (config, logging, Postgres, Redis, domain modules) plus the
 * queue workers and each feature's processors. No controllers, no Fastify: its probes (HealthModule)
 * and metrics are served by platform/edge/health/worker-http.server.ts.
 */
@Module({})
export class WorkerModule {
  static forRoot(config: AppConfig, logger: Logger, options: WorkerModuleOptions = {}): DynamicModule {
    return {
      module: WorkerModule,
      imports: [
        CoreModule.forRoot(config, logger),
        QueueWorkerModule,
        // The API's probes (the same checks and answers; Redis hard), served on WORKER_PORT.
        HealthModule.forWorker(),
        ReportsWorkerModule,
        ReconciliationWorkerModule.forRoot(options.reconciliation ?? DEFAULT_RECONCILIATION),
      ],
    };
  }
}
