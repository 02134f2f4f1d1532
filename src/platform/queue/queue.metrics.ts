import { Inject, Injectable } from '@nestjs/common';
import type { Queue } from 'bullmq';
import type { Logger } from 'pino';
import { ROOT_LOGGER } from '../logging/logging.module';

export type JobOutcome = 'completed' | 'retried' | 'failed' | 'handed_back';

/**
 * The worker's queue metrics, with the names of the shared catalog (notes/team.md):
 * `queue_jobs_waiting{queue}`, `queue_oldest_job_age_seconds{queue}` (read from Redis at
 * scrape time) and `queue_jobs_completed_total{queue,outcome}`.
 *
 * INTEGRATION POINT (metrics module, src/platform/metrics, on its own branch): once
 * MetricsService is on main, replace the body of this class with
 * `metrics.counter('queue_jobs_completed_total')` and two `metrics.gauge(name, collect)` calls,
 * and let the worker's `/metrics` answer `metrics.render()`; the names and labels stay.
 * Until then it renders the Prometheus text format itself.
 */
@Injectable()
export class QueueMetrics {
  private readonly finishedCounts = new Map<string, number>();
  private readonly watched: Queue[] = [];

  constructor(@Inject(ROOT_LOGGER) private readonly logger: Logger) {}

  finished(queue: string, outcome: JobOutcome): void {
    const key = `queue="${queue}",outcome="${outcome}"`;
    this.finishedCounts.set(key, (this.finishedCounts.get(key) ?? 0) + 1);
  }

  watch(queue: Queue): void {
    if (!this.watched.includes(queue)) this.watched.push(queue);
  }

  /** Prometheus text exposition (version 0.0.4). A queue Redis cannot answer is left out, not an error. */
  async render(): Promise<string> {
    const waiting: string[] = [];
    const oldest: string[] = [];
    await Promise.all(
      this.watched.map(async (queue) => {
        try {
          const [count, [job]] = await Promise.all([queue.getWaitingCount(), queue.getJobs(['wait'], 0, 0, true)]);
          waiting.push(`queue_jobs_waiting{queue="${queue.name}"} ${count}`);
          const age = job ? Math.max(0, (Date.now() - job.timestamp) / 1000) : 0;
          oldest.push(`queue_oldest_job_age_seconds{queue="${queue.name}"} ${age}`);
        } catch (error) {
          this.logger.debug({ queue: queue.name, err: error }, 'queue metrics unavailable');
        }
      }),
    );
    return [
      '# HELP queue_jobs_waiting Jobs waiting in a queue.',
      '# TYPE queue_jobs_waiting gauge',
      ...waiting,
      '# HELP queue_oldest_job_age_seconds Age of the oldest waiting job of a queue.',
      '# TYPE queue_oldest_job_age_seconds gauge',
      ...oldest,
      '# HELP queue_jobs_completed_total Jobs finished by the worker, by queue and outcome.',
      '# TYPE queue_jobs_completed_total counter',
      ...[...this.finishedCounts].map(([labels, n]) => `queue_jobs_completed_total{${labels}} ${n}`),
      '',
    ].join('\n');
  }
}
