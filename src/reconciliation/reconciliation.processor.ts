import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { APP_CONFIG } from '../config/config.module';
import type { AppConfig } from '../config/config.schemas';
import { MetricsService } from '../platform/kernel/metrics/metrics.service';
import { QueueWorkersService } from '../platform/adapters/queue/queue-workers.service';
import type { JobContext } from '../platform/adapters/queue/queue.types';
import { PaymentsReconciler, type ReconciliationBacklog, type ReconciliationOutcome } from './reconciliation.types';

export const RECONCILIATION_QUEUE = 'payments-reconciliation';
export const RECONCILIATION_SCHEDULER = 'payments-reconciliation-every';

/**
 * Runs the payments reconciliation on a BullMQ job scheduler: one job every
 * `RECONCILIATION_INTERVAL_MS` for the whole fleet (not one per worker), and the queue's
 * global concurrency of 1 keeps a slow run from overlapping the next one on another worker.
 * A failed run is not retried: the next tick is the retry.
 *
 * It also exports the backlog the runs work on, read from the reconciler at every scrape of
 * the worker's /metrics: `payments_pending_orders` and `payments_oldest_pending_age_seconds`
 * (worker only: the API does not run the query on its own pool).
 */
@Injectable()
export class ReconciliationProcessor implements OnModuleInit {
  constructor(
    private readonly workers: QueueWorkersService,
    private readonly reconciler: PaymentsReconciler,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly metrics: MetricsService,
  ) {}

  onModuleInit(): void {
    // One query per scrape feeds both gauges (Prometheus scrapes them together). A failed or slow
    // read (Postgres down) keeps the last values, marked metrics_collect_stale (MetricsService);
    // the database error is already counted in db_client_errors_total.
    let read: Promise<ReconciliationBacklog> | undefined;
    const backlog = () => (read ??= this.reconciler.backlog().finally(() => (read = undefined)));
    this.metrics.gauge('payments_pending_orders', async (gauge) => gauge.set((await backlog()).pending));
    this.metrics.gauge('payments_oldest_pending_age_seconds', async (gauge) =>
      gauge.set((await backlog()).oldestAgeSeconds),
    );
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
