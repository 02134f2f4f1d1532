import { Inject, Injectable } from '@nestjs/common';
import type { Queue } from 'bullmq';
import type { Logger } from 'pino';
import { ROOT_LOGGER } from '../../kernel/logging/logging.module';
import { MetricsService } from '../../kernel/metrics/metrics.service';

export type JobOutcome = 'completed' | 'retried' | 'failed' | 'handed_back';

/**
 * The worker's queue metrics, in the process's MetricsService (catalog names):
 * `queue_jobs_completed_total{queue,outcome}` counted as jobs finish, and
 * `queue_jobs_waiting{queue}` and `queue_oldest_job_age_seconds{queue}` read from Redis at
 * scrape time. Only the worker watches queues, so a queue's depth is one series per worker
 * process, not one per API instance too. While Redis cannot answer, a scrape shows the last
 * values read, marked `metrics_collect_stale{metric}` = 1 (MetricsService bounds every read).
 */
@Injectable()
export class QueueMetrics {
  private readonly watched: Queue[] = [];
  private readonly completed;

  constructor(
    metrics: MetricsService,
    @Inject(ROOT_LOGGER) private readonly logger: Logger,
  ) {
    this.completed = metrics.counter('queue_jobs_completed_total');
    metrics.gauge('queue_jobs_waiting', (gauge) =>
      this.readAll(
        (queue) => queue.getWaitingCount(),
        (queue, count) => gauge.set({ queue: queue.name }, count),
      ),
    );
    metrics.gauge('queue_oldest_job_age_seconds', (gauge) =>
      this.readAll(
        (queue) => queue.getJobs(['wait'], 0, 0, true),
        (queue, jobs) =>
          gauge.set({ queue: queue.name }, jobs[0] ? Math.max(0, (Date.now() - jobs[0].timestamp) / 1000) : 0),
      ),
    );
  }

  finished(queue: string, outcome: JobOutcome): void {
    this.completed.inc({ queue, outcome });
  }

  watch(queue: Queue): void {
    if (!this.watched.includes(queue)) this.watched.push(queue);
  }

  /** Reads every watched queue; sets what could be read, then throws if any read failed (stale). */
  private async readAll<T>(read: (queue: Queue) => Promise<T>, set: (queue: Queue, value: T) => void): Promise<void> {
    const results = await Promise.allSettled(this.watched.map(read));
    let failure: unknown;
    results.forEach((result, i) => {
      if (result.status === 'fulfilled') set(this.watched[i], result.value);
      else failure ??= result.reason;
    });
    if (failure !== undefined) {
      this.logger.debug({ err: failure }, 'queue metrics unavailable; the scrape shows the last values, marked stale');
      throw failure;
    }
  }
}
