import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { PinoLogger } from 'nestjs-pino';
import { APP_CONFIG } from '../config/config.module';
import type { AppConfig } from '../config/config.schemas';
import { QueueProducerService } from '../platform/adapters/queue/queue-producer.service';
import { REPORT_FAILURE_REASONS } from './reports.errors';
import { ReportsRepository } from './reports.repository';
import { ReportsService, reportJobId } from './reports.service';
import { REPORTS_QUEUE, type ReportRecord } from './reports.types';

/** Reports looked at per sweep: a bounded amount of work per tick. */
const SWEEP_BATCH = 100;

export type SweepAction = 'alive' | 'requeued' | 'failed-lost' | 'failed' | 'error';

/**
 * Makes sure no report stays `queued` or `running` forever (worker process only). Every
 * `REPORTS_SWEEP_INTERVAL_MS` it takes the unfinished reports with no sign of life for
 * `REPORTS_STALE_AFTER_MS` and asks the queue about each one's job:
 * - still there (waiting, delayed, active): alive, its `updated_at` is refreshed;
 * - gone (Redis flushed or restarted empty, the enqueue after the insert never happened):
 *   enqueued again (same job id, so at most one job), up to `REPORTS_MAX_REQUEUES` times,
 *   then failed with a reason;
 * - failed for good but the report not marked (Postgres was down at that moment): marked failed;
 * - completed but the report not (cannot normally happen: the result is stored first): run again.
 * Several workers may sweep at once: every step is idempotent (a job id at most once, guarded
 * UPDATEs), at worst a requeue is counted twice.
 */
@Injectable()
export class ReportsSweeper implements OnApplicationBootstrap, OnApplicationShutdown {
  private timer?: NodeJS.Timeout;
  private running?: Promise<unknown>;

  constructor(
    private readonly reports: ReportsRepository,
    private readonly service: ReportsService,
    private readonly producer: QueueProducerService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly logger: PinoLogger,
  ) {
    this.logger.setContext(ReportsSweeper.name);
  }

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => {
      // One sweep at a time in this process.
      this.running ??= this.sweep()
        .catch((error: unknown) => this.logger.warn({ err: error }, 'report sweep failed; next tick retries'))
        .finally(() => (this.running = undefined));
    }, this.config.reports.sweepIntervalMs);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  /** One pass; returns what it did per report id (for logs and tests). */
  async sweep(): Promise<Record<string, SweepAction>> {
    const stale = await this.reports.findStale(this.config.reports.staleAfterMs, SWEEP_BATCH);
    const actions: Record<string, SweepAction> = {};
    for (const report of stale) {
      actions[report.id] = await this.sweepOne(report).catch((error: unknown) => {
        this.logger.warn({ reportId: report.id, err: error }, 'could not sweep a report');
        return 'error' as const;
      });
    }
    if (stale.length) this.logger.info({ actions }, 'report sweep done');
    return actions;
  }

  private async sweepOne(report: ReportRecord): Promise<SweepAction> {
    const queue = this.producer.queue(REPORTS_QUEUE);
    const job = await queue.getJob(reportJobId(report.id));
    const state = job ? await job.getState() : 'unknown';
    if (state === 'failed') {
      await this.reports.fail(report.id, REPORT_FAILURE_REASONS.internal);
      return 'failed';
    }
    if (job && state !== 'completed' && state !== 'unknown') {
      await this.reports.touch(report.id);
      return 'alive';
    }
    if (report.requeues >= this.config.reports.maxRequeues) {
      await this.reports.fail(report.id, REPORT_FAILURE_REASONS.lost);
      this.logger.warn({ reportId: report.id, requeues: report.requeues }, 'report lost too many times; failed');
      return 'failed-lost';
    }
    if (job) await job.remove();
    await this.reports.markRequeued(report.id);
    await this.service.enqueue(report.id, report.requestId ?? undefined);
    this.logger.warn(
      { reportId: report.id, requestId: report.requestId, previousState: state },
      'report job vanished; enqueued again',
    );
    return 'requeued';
  }
}
