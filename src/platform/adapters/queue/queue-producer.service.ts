import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { Queue, type JobsOptions, type QueueOptions } from 'bullmq';
import { APP_CONFIG } from '../../../config/config.module';
import type { AppConfig } from '../../../config/config.schemas';
import {
  currentCorrelation,
  outgoingTraceparent,
  type Correlation,
} from '../../kernel/correlation/correlation.context';
import { inSpan, SpanKind, tracingOn, type SpanSpec } from '../../kernel/tracing/tracing.context';
import { RedisConnectionsService } from '../redis/redis-connections.service';
import { QueueUnavailableError, type JobEnvelope } from './queue.types';

/** Job states that are still to run: what counts towards a queue's backlog. */
const BACKLOG_STATES = ['waiting', 'delayed', 'prioritized', 'active', 'waiting-children'] as const;

/**
 * The queue handle every process gets from {@link QueueProducerService.queue}. BullMQ prints each
 * error a queue emits with console.error when nobody listens (every reconnect attempt while Redis
 * is down, on stderr, with a stack). Those connection errors are already logged once per kind by
 * platform/adapters/redis, and a failed command still rejects for its caller; so the queue gets its
 * listener the moment it exists (a listener added later misses the first refused connection).
 */
class ListenedQueue<T> extends Queue<T> {
  constructor(name: string, options?: QueueOptions) {
    super(name, options);
    this.on('error', () => undefined);
  }
}

/**
 * The one way to obtain a queue handle ({@link queue}) and the one way a request puts work on a queue. BullMQ itself waits for a connection that is
 * down (its init waits for `ready`), so a request would hang for as long as Redis is away;
 * here an enqueue fails fast instead:
 * - the `queue-producer` connection is not ready → QueueUnavailableError at once (no round trip);
 * - Redis hangs → QueueUnavailableError after `QUEUE_ENQUEUE_TIMEOUT_MS`.
 * Both classify as `redis`/`unavailable`, which the HTTP mapping answers with
 * 503 DEPENDENCY_UNAVAILABLE and `Retry-After`.
 *
 * Every job gets the correlation of the work that enqueues it (`currentCorrelation()`: the
 * request id and the outgoing `traceparent`: the caller's unchanged, or with tracing on the
 * producer span's, so the job's consumer span continues the request's trace) in its data ({@link JobEnvelope}), so
 * callers never pass ids by hand; the worker runs the job inside it (queue-workers.service.ts).
 *
 * @example
 * await producer.enqueue(this.queue, 'sales-summary', { reportId }, { jobId: jobIdOf('report', reportId) });
 */
@Injectable()
export class QueueProducerService implements OnApplicationShutdown {
  private readonly queues = new Map<string, Queue>();

  constructor(
    private readonly redis: RedisConnectionsService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    // The queues' connection opens with the process, not with the first handle: by the time the
    // process serves (and readiness pings every connection) it has had the whole boot to connect.
    redis.get('queue-producer');
  }

  /**
   * The handle of queue `name`, one per process and name: on the `queue-producer` connection (fails
   * fast: no offline queue), under the BullMQ prefix that follows `REDIS_KEY_PREFIX`
   * (`<prefix>{bull}:<queue>:…`, one cluster slot), with bounded history (`QUEUE_KEEP_COMPLETED`,
   * `QUEUE_KEEP_FAILED`) so Redis memory cannot grow without limit. Enqueue through {@link enqueue};
   * a worker process reads jobs and upserts schedulers on the same handle. Made at any time, even
   * before the connection is ready: it sends nothing until its first use. Closed at shutdown.
   */
  queue<T = unknown>(name: string): Queue<T> {
    let queue = this.queues.get(name);
    if (!queue) {
      queue = new ListenedQueue(name, {
        connection: this.redis.get('queue-producer'),
        // A handle sends no command of its own when it is made (BullMQ's version check is an INFO):
        // BullMQ sends it as soon as it thinks the connection ready, and a Cluster still loading its
        // state ('connect') refuses it (no offline queue); BullMQ keeps that failure for the handle's
        // life, so every enqueue of the process would fail while readiness says ok. The worker's own
        // connection still checks the version (queue-workers.service.ts).
        skipVersionCheck: true,
        prefix: this.config.queue.prefix,
        defaultJobOptions: {
          removeOnComplete: { count: this.config.queue.keepCompleted },
          removeOnFail: { count: this.config.queue.keepFailed },
        },
      });
      this.queues.set(name, queue);
    }
    return queue as Queue<T>;
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all([...this.queues.values()].map((queue) => queue.close().catch(() => undefined)));
  }

  /**
   * Adds a job. `jobId` is required: derive it from a business key ({@link jobIdOf}) so a
   * repeated enqueue of the same work is a no-op while the job exists. The current
   * correlation is stamped into `data`; a caller outside any request (a sweeper) may pass the
   * `requestId` it stored instead.
   */
  async enqueue<T extends object>(
    queue: Queue,
    name: string,
    // `T & JobEnvelope`, not `T extends JobEnvelope`: a payload without a requestId (the usual
    // case now) shares no field with the all-optional envelope and would fail that constraint.
    data: T & JobEnvelope,
    options: JobsOptions & { jobId: string },
  ): Promise<void> {
    if (tracingOn()) {
      // The producer span: the job data's traceparent is its own, so the worker's consumer span is its child.
      const spec = (): SpanSpec => [
        `send ${queue.name}`,
        {
          kind: SpanKind.PRODUCER,
          attributes: {
            'messaging.system': 'bullmq',
            'messaging.destination.name': queue.name,
            'messaging.operation.type': 'send',
          },
        },
      ];
      return inSpan(spec, () => this.add(queue, name, data, options));
    }
    return this.add(queue, name, data, options);
  }

  private async add<T extends object>(
    queue: Queue,
    name: string,
    data: T & JobEnvelope,
    options: JobsOptions & { jobId: string },
  ): Promise<void> {
    const stamped = withCorrelation(data, currentCorrelation());
    await this.withinBudget(queue.name, () => queue.add(name, stamped, options));
  }

  /** Jobs of the queue still to run (waiting, delayed, active, …): what a backlog cap compares. */
  async backlog(queue: Queue): Promise<number> {
    const counts = await this.withinBudget(queue.name, () => queue.getJobCounts(...BACKLOG_STATES));
    return Object.values(counts).reduce((sum, n) => sum + n, 0);
  }

  private async withinBudget<R>(queueName: string, work: () => Promise<R>): Promise<R> {
    if (this.redis.get('queue-producer').status !== 'ready')
      throw new QueueUnavailableError(queueName, 'not_connected');
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new QueueUnavailableError(queueName, 'enqueue_timeout')),
        this.config.queue.enqueueTimeoutMs,
      );
    });
    try {
      return await Promise.race([work(), timeout]);
    } catch (error) {
      // A connection that dropped mid-command: still an outage of the queue, never a 500.
      if (error instanceof QueueUnavailableError) throw error;
      if (this.redis.get('queue-producer').status !== 'ready')
        throw new QueueUnavailableError(queueName, 'not_connected', error);
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }
}

/**
 * `data` with the correlation's request id and traceparent; fields the caller set win. A
 * `requestId` the caller set that differs from the current one names other work: the data is
 * kept as it is, and the current traceparent, which belongs to another trace, is not mixed in.
 */
function withCorrelation<T extends JobEnvelope>(data: T, correlation: Correlation | undefined): T {
  if (!correlation) return data;
  if (data.requestId !== undefined && data.requestId !== correlation.requestId) return data;
  const traceparent = data.traceparent ?? outgoingTraceparent(correlation);
  return { ...data, requestId: data.requestId ?? correlation.requestId, ...(traceparent && { traceparent }) };
}
