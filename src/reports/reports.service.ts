import { Inject, Injectable } from '@nestjs/common';
import type { Queue } from 'bullmq';
import { PinoLogger } from 'nestjs-pino';
import { APP_CONFIG } from '../config/config.module';
import type { AppConfig } from '../config/config.schemas';
import { OverloadedError } from '../platform/kernel/errors/app.errors';
import { MetricsService } from '../platform/kernel/metrics/metrics.service';
import { QueueProducerService } from '../platform/adapters/queue/queue-producer.service';
import { jobIdOf } from '../platform/adapters/queue/queue.types';
import { REPORT_RETRY_AFTER_SECONDS, ReportNotFoundError, TooManyUnfinishedReportsError } from './reports.errors';
import type { CreateReportInput, ReportAccepted, ReportView } from './reports.schemas';
import { ReportsRepository } from './reports.repository';
import { REPORTS_QUEUE, type ReportJobData, type ReportRecord } from './reports.types';

/**
 * Reports: a request only records the report (Postgres) and enqueues its job; the worker
 * (reports.processor.ts) does the heavy part. The state lives in Postgres, the queue only
 * says "work on report X": a lost job loses no report (the sweeper re-enqueues it).
 */
@Injectable()
export class ReportsService {
  /** `http_server_requests_rate_limited_total{policy="reports-unfinished"}`, beside the guard's policies. */
  private readonly limitedUnfinished: { inc(): void };
  private readonly queue: Queue<ReportJobData>;

  constructor(
    private readonly reports: ReportsRepository,
    private readonly producer: QueueProducerService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly logger: PinoLogger,
    metrics: MetricsService,
  ) {
    this.logger.setContext(ReportsService.name);
    this.queue = producer.queue<ReportJobData>(REPORTS_QUEUE);
    this.limitedUnfinished = metrics
      .counter('http_server_requests_rate_limited_total')
      .labels({ policy: 'reports-unfinished' });
  }

  /**
   * Accepts a report: 503 OVERLOADED when the backlog is at `REPORTS_MAX_BACKLOG`, 429
   * RATE_LIMITED when the account has `REPORTS_MAX_UNFINISHED_PER_ACCOUNT` reports unfinished
   * (well before one account could fill the backlog), 404 ACCOUNT_NOT_FOUND for an erased
   * account, 503 DEPENDENCY_UNAVAILABLE (fast) when the queue's Redis is down. A retried request with the
   * same parameters while the first is unfinished gets the same report, and its job id (from
   * the report id) makes the second enqueue a no-op.
   */
  async create(accountId: string, input: CreateReportInput, requestId: string): Promise<ReportAccepted> {
    const backlog = await this.producer.backlog(this.queue);
    if (backlog >= this.config.reports.maxBacklog) {
      this.logger.warn({ backlog, maxBacklog: this.config.reports.maxBacklog }, 'report refused: backlog at its cap');
      throw new OverloadedError({ reason: 'report backlog full' }, REPORT_RETRY_AFTER_SECONDS);
    }
    const params = { from: input.from, to: input.to };
    const report = await this.reports
      .createOrFindUnfinished(accountId, input.type, params, requestId, this.config.reports.maxUnfinishedPerAccount)
      .catch((error: unknown) => {
        // Counted beside the guard's policies; the problem filter writes the one warn line.
        if (error instanceof TooManyUnfinishedReportsError) this.limitedUnfinished.inc();
        throw error;
      });
    try {
      // The producer stamps this request's id and traceparent into the job.
      await this.enqueue(report.id);
    } catch (error) {
      // The caller gets a 503 and retries: leave no report behind that nobody will run.
      // If this clean-up fails too, the sweeper re-enqueues the report later.
      if (report.created) await this.reports.deleteQueued(report.id).catch(() => undefined);
      throw error;
    }
    this.logger.info({ reportId: report.id, type: input.type, created: report.created }, 'report accepted');
    return { id: report.id, status: report.status };
  }

  async get(id: string, accountId: string): Promise<ReportView> {
    const report = await this.reports.findOwned(id, accountId);
    if (!report) throw new ReportNotFoundError(id);
    return toView(report);
  }

  /**
   * Puts the report's job on the queue; a no-op while a job for this report exists. Inside a
   * request the job gets the request's correlation; the sweeper, outside any, passes the
   * request id stored with the report.
   */
  enqueue(reportId: string, requestId?: string): Promise<void> {
    return this.producer.enqueue(
      this.queue,
      'sales-summary',
      { reportId, ...(requestId && { requestId }) },
      {
        jobId: reportJobId(reportId),
        attempts: this.config.reports.attempts,
        backoff: { type: 'exponential', delay: this.config.reports.retryBaseMs, jitter: 0.5 },
      },
    );
  }
}

export const reportJobId = (reportId: string): string => jobIdOf('report', reportId);

function toView(report: ReportRecord): ReportView {
  return {
    id: report.id,
    type: report.type,
    status: report.status,
    ...(report.status === 'running' && { progress: report.progress }),
    ...(report.status === 'completed' && report.result && { result: report.result }),
    ...(report.status === 'failed' && report.error && { error: report.error }),
    createdAt: report.createdAt.toISOString(),
    ...(report.completedAt && { completedAt: report.completedAt.toISOString() }),
  };
}
