import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { APP_CONFIG } from '../config/config.module';
import type { AppConfig } from '../config/config.schemas';
import { QueueWorkersService } from '../platform/queue/queue-workers.service';
import type { JobContext } from '../platform/queue/queue.types';
import { PaymentsReconciler, type ReconciliationOutcome } from './reconciliation.types';

export const RECONCILIATION_QUEUE = 'payments-reconciliation';
export const RECONCILIATION_SCHEDULER = 'payments-reconciliation-every';

/**
 * Runs the payments reconciliation on a BullMQ job scheduler: one job every
 * `RECONCILIATION_INTERVAL_MS` for the whole fleet (not one per worker), and the queue's
 * global concurrency of 1 keeps a slow run from overlapping the next one on another worker.
 * A failed run is not retried: the next tick is the retry.
 */
@Injectable()
export class ReconciliationProcessor implements OnModuleInit {
  constructor(
    private readonly workers: QueueWorkersService,
    private readonly reconciler: PaymentsReconciler,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  onModuleInit(): void {
    this.workers.register({
      queue: RECONCILIATION_QUEUE,
      concurrency: 1,
      globalConcurrency: 1,
      schedule: {
        schedulerId: RECONCILIATION_SCHEDULER,
        jobName: 'reconcile-payments',
        everyMs: this.config.reconciliation.intervalMs,
      },
      process: (context) => this.process(context),
    });
  }

  async process({ logger, signal }: JobContext): Promise<ReconciliationOutcome> {
    const outcome = await this.reconciler.reconcile(signal);
    logger.info(outcome, 'payments reconciliation run');
    return outcome;
  }
}
