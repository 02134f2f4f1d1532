import { Inject, Injectable } from '@nestjs/common';
import type { Queue } from 'bullmq';
import type { Logger } from 'pino';
import { ROOT_LOGGER } from '../logging/logging.module';
import { MetricsService } from '../metrics/metrics.service';

export type JobOutcome = 'completed' | 'retried' | 'failed' | 'handed_back';

/**
 * The worker's queue metrics, in the process's MetricsService (catalog names):
 * `queue_jobs_completed_total{queue,outcome}` counted as jobs finish, and
 * `queue_jobs_waiting{queue}` and `queue_oldest_job_age_seconds{queue}` read from Redis at
 * scrape time. Only the worker watches queues, so a queue's depth is one series per worker
 * process, not one per API instance too. A queue Redis cannot answer is left out of that scrape.
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
    metrics.gauge('queue_jobs_waiting', async (gauge) => {
      for (const queue of this.watched) {
        const count = await this.read(queue, () => queue.getWaitingCount());
        if (count === undefined) gauge.remove({ queue: queue.name });
        else gauge.set({ queue: queue.name }, count);
      }
    });
    metrics.gauge('queue_oldest_job_age_seconds', async (gauge) => {
      for (const queue of this.watched) {
        const jobs = await this.read(queue, () => queue.getJobs(['wait'], 0, 0, true));
        if (jobs === undefined) gauge.remove({ queue: queue.name });
        else gauge.set({ queue: queue.name }, jobs[0] ? Math.max(0, (Date.now() - jobs[0].timestamp) / 1000) : 0);
      }
    });
  }

  finished(queue: string, outcome: JobOutcome): void {
    this.completed.inc({ queue, outcome });
  }

  watch(queue: Queue): void {
    if (!this.watched.includes(queue)) this.watched.push(queue);
  }

  private async read<T>(queue: Queue, read: () => Promise<T>): Promise<T | undefined> {
    try {
      return await read();
    } catch (error) {
      this.logger.debug({ queue: queue.name, err: error }, 'queue metrics unavailable');
      return undefined;
    }
  }
}
