import { Injectable, type OnModuleInit } from '@nestjs/common';
import type { Job } from 'bullmq';
import type { Logger } from 'pino';
import { QueueWorkersService } from '../platform/adapters/queue/queue-workers.service';
import type { JobContext } from '../platform/adapters/queue/queue.types';
import { REPORT_FAILURE_REASONS, failureReasonOf } from './reports.errors';
import { ReportsRepository } from './reports.repository';
import { SalesSummaryService } from './sales-summary.service';
import { REPORTS_QUEUE, type ReportJobData } from './reports.types';

/** How long claiming a report waits for its row lock before the attempt fails as transient (55P03). */
const CLAIM_LOCK_TIMEOUT_MS = 1_000;

/**
 * Runs report jobs in the worker. Idempotent: the report's state is in Postgres, a job only
 * names the report; a second run of the same job (a stalled job taken over, a re-enqueue)
 * finds it finished and does nothing, or recomputes the same result and stores it once.
 * Retries and their limits are the queue platform's (QueueWorkersService): transient
 * dependency failures retry with backoff, anything else fails the report with a safe reason.
 */
@Injectable()
export class ReportsProcessor implements OnModuleInit {
  constructor(
    private readonly workers: QueueWorkersService,
    private readonly reports: ReportsRepository,
    private readonly salesSummary: SalesSummaryService,
  ) {}

  onModuleInit(): void {
    this.workers.register<ReportJobData>({
      queue: REPORTS_QUEUE,
      process: (context) => this.process(context),
      onFailedForGood: (job, error, logger) => this.recordFailure(job, error, logger),
    });
  }

  async process({ job, logger, signal }: JobContext<ReportJobData>): Promise<{ reportId: string; outcome: string }> {
    const { reportId } = job.data;
    const report = await this.reports.claim(reportId, CLAIM_LOCK_TIMEOUT_MS);
    if (!report) {
      logger.info({ reportId }, 'report already finished or gone; nothing to do');
      return { reportId, outcome: 'skipped' };
    }
    logger.info({ reportId, type: report.type, reportAttempt: report.attempts }, 'report started');
    const result = await this.salesSummary.build(report.accountId, report.params, {
      signal,
      onProgress: async (percent) => {
        await this.reports.setProgress(reportId, percent);
        await job.updateProgress(percent);
      },
    });
    const stored = await this.reports.complete(reportId, result);
    logger.info({ reportId, orders: result.orders, stored }, 'report completed');
    return { reportId, outcome: stored ? 'completed' : 'already-completed' };
  }

  private async recordFailure(job: Job<ReportJobData>, error: Error, logger: Logger): Promise<void> {
    const reason = failureReasonOf(error);
    const failed = await this.reports.fail(job.data.reportId, REPORT_FAILURE_REASONS[reason]);
    logger.warn({ reportId: job.data.reportId, reason, recorded: failed }, 'report failed');
  }
}
