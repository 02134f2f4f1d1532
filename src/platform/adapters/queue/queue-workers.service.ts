import { randomUUID } from 'node:crypto';
import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { UnrecoverableError, WaitingError, Worker, type Job } from 'bullmq';
import { PinoLogger } from 'nestjs-pino';
import type { Logger } from 'pino';
import { APP_CONFIG } from '../../../config/config.module';
import type { AppConfig } from '../../../config/config.schemas';
import { correlationOf, runWithCorrelation, type Correlation } from '../../kernel/correlation/correlation.context';
import { recordFailure, samples, SpanKind, startSpanFrom } from '../../kernel/tracing/tracing.context';
import { WorkDeadline } from '../../kernel/resilience/deadline.policy';
import { classifyFailure } from '../failures/failure.classifier';
import { ROOT_LOGGER } from '../../kernel/logging/logging.module';
import { RedisConnectionsService } from '../redis/redis-connections.service';
import { QueueProducerService } from './queue-producer.service';
import { QueueMetrics } from './queue.metrics';
import type { JobEnvelope, QueueConsumer } from './queue.types';

/** How the worker stopped: every job finished, or the bound ran out and running jobs went back to the queue. */
export type WorkerStopOutcome = 'drained' | 'handed-back';

/** Extra time after the hand-back for BullMQ to move the aborted jobs back and close. */
const HAND_BACK_GRACE_MS = 2_000;

/**
 * Runs the BullMQ workers of this process (the worker entry point only; the API never
 * consumes). Features register a {@link QueueConsumer} in `onModuleInit`; `start()` creates
 * one BullMQ Worker per queue on the `queue-worker` connection (`maxRetriesPerRequest: null`),
 * with the lock and stall settings of the config. Around every attempt it:
 * - runs the processor inside the job's correlation ({@link jobCorrelationOf}: the request id and
 *   `traceparent` the producer stored, re-validated), so every outbound call the job makes
 *   through a client that reads `currentCorrelation()` (the payments provider) carries the
 *   caller's `X-Request-Id` and `traceparent` (with tracing on: the job's consumer span, a child of
 *   the producer span, when the sampler takes it; a job of a request it left out stays left out);
 * - gives the attempt a deadline in that context (the consumer's `budgetMs`, else
 *   `WORKER_JOB_DEADLINE_MS`): the SQL seam caps every statement's `statement_timeout` by what is
 *   left, as it does for an HTTP request's budget;
 * - binds a child logger (queue, jobId, job name, attempt, requestId, traceparent) and runs the
 *   processor in nestjs-pino's logging context, so every line the job writes, even from a service
 *   using PinoLogger, carries the request id (and trace) of the request that enqueued it;
 * - decides retries with the shared classifier: a transient dependency failure is rethrown (BullMQ
 *   retries it with the job's backoff; for a scheduled job whose attempts are spent, the next tick
 *   is the retry: logged at warn and counted `retried` too); anything else (a domain error, a
 *   timeout, a bug) becomes an UnrecoverableError and fails the job for good; on the last attempt
 *   the consumer's `onFailedForGood` runs, so the feature can record a safe reason;
 * - keeps retries in one layer: on an attempt the queue will re-run (not the job's last) the
 *   context says `retriedOutside`, and every resilience pipeline inside (the SQL seam, the payments
 *   client) makes one attempt; on the last attempt they retry and the queue re-runs nothing. A
 *   statement in a job runs at most (job attempts − 1) + DB_RETRY_MAX_ATTEMPTS times, not their product;
 * - counts outcomes for `queue_jobs_completed_total` (queue.metrics.ts).
 *
 * Shutdown is bounded (BullMQ's `worker.close()` has none): `stop()` stops taking jobs and waits
 * for running ones up to `WORKER_SHUTDOWN_TIMEOUT_MS`; then it aborts them (their `signal`) and
 * moves each back to waiting, without spending an attempt, for another worker to run.
 * A worker killed outright (SIGKILL, OOM) leaves its jobs locked: once the lock
 * (`QUEUE_LOCK_DURATION_MS`) expires, another worker's stalled-job check
 * (`QUEUE_STALLED_INTERVAL_MS`) moves them back to waiting.
 */
@Injectable()
export class QueueWorkersService implements OnApplicationShutdown {
  private readonly consumers = new Map<string, QueueConsumer>();
  private readonly workers: Worker[] = [];
  private readonly shutdown = new AbortController();
  private stopping?: Promise<WorkerStopOutcome>;
  private readonly timers: NodeJS.Timeout[] = [];

  constructor(
    private readonly redis: RedisConnectionsService,
    private readonly producer: QueueProducerService,
    private readonly metrics: QueueMetrics,
    private readonly pino: PinoLogger,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(ROOT_LOGGER) private readonly logger: Logger,
  ) {}

  /** Declares a queue this process consumes; call from a processor's `onModuleInit`. */
  register<T extends JobEnvelope>(consumer: QueueConsumer<T>): void {
    if (this.consumers.has(consumer.queue)) throw new Error(`queue ${consumer.queue} has two consumers`);
    this.consumers.set(consumer.queue, consumer as unknown as QueueConsumer);
  }

  /** The queues this process consumes (readiness, metrics). */
  get queueNames(): string[] {
    return [...this.consumers.keys()];
  }

  async start(): Promise<void> {
    // Scheduler upserts and settings go out on the producer connection (no offline queue): it must be ready first.
    await this.redis.whenReady('queue-producer', this.config.boot.retryWindowMs);
    for (const consumer of this.consumers.values()) {
      if (consumer.globalConcurrency !== undefined) {
        await this.producer.queue(consumer.queue).setGlobalConcurrency(consumer.globalConcurrency);
      }
      const worker = new Worker(consumer.queue, (job, token) => this.runAttempt(consumer, job, token), {
        connection: this.redis.get('queue-worker'),
        prefix: this.config.queue.prefix,
        concurrency: consumer.concurrency ?? this.config.worker.concurrency,
        lockDuration: this.config.queue.lockDurationMs,
        stalledInterval: this.config.queue.stalledIntervalMs,
        maxStalledCount: this.config.queue.maxStalledCount,
        removeOnComplete: { count: this.config.queue.keepCompleted },
        removeOnFail: { count: this.config.queue.keepFailed },
      });
      // A lost connection is logged once per kind by platform/adapters/redis; this covers BullMQ's own errors.
      worker.on('error', (error) => this.logger.warn({ queue: consumer.queue, err: error }, 'queue worker error'));
      worker.on('stalled', (jobId) =>
        this.logger.warn({ queue: consumer.queue, jobId }, 'stalled job moved back to waiting (its worker died)'),
      );
      this.workers.push(worker);
      this.metrics.watch(this.producer.queue(consumer.queue));
      if (consumer.schedule) await this.keepScheduled(consumer);
    }
    this.logger.info({ queues: this.queueNames, concurrency: this.config.worker.concurrency }, 'queue workers started');
  }

  private async keepScheduled(consumer: QueueConsumer): Promise<void> {
    const { schedulerId, jobName, everyMs } = consumer.schedule!;
    const upsert = () =>
      this.producer.queue(consumer.queue).upsertJobScheduler(
        schedulerId,
        { every: everyMs },
        {
          name: jobName,
          // Scheduled jobs have no request: their logs carry the scheduler's id instead.
          data: { requestId: `scheduler-${schedulerId}` },
          opts: {
            removeOnComplete: { count: this.config.queue.keepCompleted },
            removeOnFail: { count: this.config.queue.keepFailed },
          },
        },
      );
    await upsert();
    const timer = setInterval(() => {
      upsert().catch((error: unknown) =>
        this.logger.warn({ queue: consumer.queue, schedulerId, err: error }, 'could not refresh a job scheduler'),
      );
    }, everyMs);
    timer.unref();
    this.timers.push(timer);
    this.logger.info({ queue: consumer.queue, schedulerId, everyMs }, 'job scheduler upserted');
  }

  /** Stops taking jobs and finishes or hands back the running ones within WORKER_SHUTDOWN_TIMEOUT_MS. */
  stop(): Promise<WorkerStopOutcome> {
    this.stopping ??= this.stopWithin(this.config.worker.shutdownTimeoutMs);
    return this.stopping;
  }

  async onApplicationShutdown(): Promise<void> {
    await this.stop();
  }

  private async stopWithin(timeoutMs: number): Promise<WorkerStopOutcome> {
    this.timers.forEach((timer) => clearInterval(timer));
    const closing = Promise.all(this.workers.map((worker) => worker.close())).then(() => 'closed' as const);
    const first = await Promise.race([closing, delay(timeoutMs, 'timeout' as const)]);
    if (first === 'closed') {
      this.logger.info('queue workers stopped: every running job finished');
      return 'drained';
    }
    this.logger.warn({ timeoutMs }, 'queue workers still busy at the shutdown bound: handing running jobs back');
    this.shutdown.abort(new Error('worker shutting down'));
    const handedBack = await Promise.race([closing, delay(HAND_BACK_GRACE_MS, 'timeout' as const)]);
    if (handedBack === 'timeout') {
      // A job ignoring its signal: leave it locked; the lock expires and another worker takes it over.
      this.logger.warn('a job ignored the hand-back; its lock will expire and another worker will run it');
    }
    return 'handed-back';
  }

  private async runAttempt(
    consumer: QueueConsumer,
    job: Job<JobEnvelope>,
    token: string | undefined,
  ): Promise<unknown> {
    const attempt = job.attemptsMade + 1;
    const correlation = jobCorrelationOf(job);
    // The attempt's request context carries its deadline: its statements and provider calls get at
    // most what is left of the job budget (read by the SQL seam and the clients, never passed by hand).
    correlation.deadline = new WorkDeadline(Date.now() + (consumer.budgetMs ?? this.config.worker.jobDeadlineMs));
    // Tracing: the job's consumer span, a child of the producer span whose traceparent the job carries.
    // Sampled first (a job of a request the sampler left out carries a not-sampled traceparent: no span).
    const consumerSpan = samples(correlation.traceparent)
      ? startSpanFrom(correlation.traceparent, `process ${consumer.queue}`, SpanKind.CONSUMER, {
          'messaging.system': 'bullmq',
          'messaging.destination.name': consumer.queue,
          'messaging.operation.type': 'process',
          'messaging.message.id': String(job.id),
          'messaging.bullmq.job.name': job.name,
          'messaging.bullmq.job.attempt': attempt,
        })
      : undefined;
    // Its lines get trace_id and span_id from the root logger's mixin, which reads this correlation.
    if (consumerSpan) correlation.trace = consumerSpan.context;
    const bindings = {
      queue: consumer.queue,
      jobId: job.id,
      jobName: job.name,
      attempt,
      requestId: correlation.requestId,
      ...(correlation.traceparent && { traceparent: correlation.traceparent }),
    };
    const logger = this.logger.child(bindings);
    const isLastAttempt = attempt >= (job.opts.attempts ?? 1);
    // One retry layer: an attempt the queue re-runs on a transient fault (not the job's last) is
    // retried by the queue alone, so the SQL seam and the clients make one attempt each inside it.
    // On the last attempt (a scheduled job's only one) nothing re-runs the job: they retry as usual.
    correlation.retriedOutside = !isLastAttempt;
    const started = Date.now();
    // Two contexts: the correlation (outbound calls, enqueues) and nestjs-pino's (PinoLogger lines).
    return runWithCorrelation(correlation, () =>
      this.pino.runInContext(
        async () => {
          try {
            const result = await consumer.process({
              job,
              logger,
              signal: this.shutdown.signal,
              attempt,
              isLastAttempt,
            });
            this.metrics.finished(consumer.queue, 'completed');
            logger.info({ durationMs: Date.now() - started }, 'job completed');
            return result;
          } catch (error) {
            if (consumerSpan) recordFailure(consumerSpan.span, error);
            if (this.shutdown.signal.aborted && token !== undefined) {
              // Handed back, not failed: no attempt spent, another worker runs it from the start.
              await job.moveToWait(token);
              this.metrics.finished(consumer.queue, 'handed_back');
              logger.warn({ durationMs: Date.now() - started, err: error }, 'job handed back to the queue at shutdown');
              throw new WaitingError();
            }
            const failure = classifyFailure(error);
            const transient = failure?.transient === true && !(error instanceof UnrecoverableError);
            // A scheduled job's retry is its next tick: a transient fault on its last attempt is not failed for good.
            if (transient && (!isLastAttempt || consumer.schedule)) {
              this.metrics.finished(consumer.queue, 'retried');
              logger.warn(
                { failure: { dependency: failure.dependency, kind: failure.kind, code: failure.code } },
                isLastAttempt
                  ? 'job failed on a transient fault; the next scheduled run retries it'
                  : 'job failed on a transient fault; retrying with backoff',
              );
              throw error;
            }
            this.metrics.finished(consumer.queue, 'failed');
            logger.error({ err: error, durationMs: Date.now() - started }, 'job failed for good');
            // Recording the failure gets a budget of its own: the attempt's may be what ran out.
            correlation.deadline = new WorkDeadline(Date.now() + RECORD_FAILURE_BUDGET_MS);
            correlation.retriedOutside = false; // nothing re-runs the recording: the seam retries it
            await consumer.onFailedForGood?.(job, error as Error, logger).catch((recordError: unknown) =>
              // The feature's sweeper finds the job failed in the queue and records it later.
              logger.error({ err: recordError }, 'could not record the failure of a job'),
            );
            throw error instanceof UnrecoverableError ? error : new UnrecoverableError((error as Error)?.message);
          } finally {
            consumerSpan?.span.end();
          }
        },
        { bindings },
      ),
    );
  }
}

/**
 * The correlation a job runs under: the request id and `traceparent` the producer stored in its
 * data. Job data is input (anything that can write to Redis can write it), so it is held to the
 * HTTP edge's rules by `correlationOf()`: an invalid traceparent is dropped, never logged or
 * forwarded; an invalid or missing request id is replaced by the scheduler's id for a scheduled
 * job (`scheduler-<schedulerId>`, as the scheduler's own job data says), else by a fresh UUID, so
 * the job's lines and outbound calls still share one id.
 */
export function jobCorrelationOf(job: Pick<Job<JobEnvelope>, 'data' | 'repeatJobKey'>): Correlation {
  return correlationOf(job.data ?? {}, () => (job.repeatJobKey ? `scheduler-${job.repeatJobKey}` : randomUUID()));
}

/** The budget of a consumer's `onFailedForGood` (a short write), run after the attempt's own deadline. */
const RECORD_FAILURE_BUDGET_MS = 5_000;

const delay = <T>(ms: number, value: T): Promise<T> =>
  new Promise((resolve) => setTimeout(() => resolve(value), ms).unref());
