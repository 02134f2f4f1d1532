import type { Job } from 'bullmq';
import type { Logger } from 'pino';
import type { ClassifiedError, Failure } from '../../kernel/errors/failure.types';

/**
 * What every job carries besides its own payload: the correlation of the work that enqueued
 * it, so the job's log lines join the request's and its outbound calls continue the caller's
 * trace. QueueProducerService stamps both from `currentCorrelation()`; the worker reads them
 * back as input (re-validated by `correlationOf()`) and runs the job inside that correlation.
 * Flat fields, as jobs already in Redis have them: a worker of either version reads a job of either.
 */
export interface JobEnvelope {
  /**
   * The id of the request that enqueued the job (`X-Request-Id`). Stamped by the producer; a
   * caller outside any request (a sweeper re-enqueueing a report) may pass the id it stored.
   * Scheduled jobs carry `scheduler-<schedulerId>`.
   */
  requestId?: string;
  /**
   * That request's W3C `traceparent`, unchanged, when it sent a valid one. The worker creates
   * no spans, so it forwards the caller's trace context as is, like the HTTP side does.
   */
  traceparent?: string;
}

/** What a processor gets for one attempt of one job. */
export interface JobContext<T extends JobEnvelope = JobEnvelope> {
  job: Job<T>;
  /** A child of the root logger bound to queue, job id, job name, attempt, requestId and traceparent: log through it. */
  logger: Logger;
  /** Aborted when the worker's shutdown bound runs out: stop waiting, the job will run again elsewhere. */
  signal: AbortSignal;
  /** 1 on the first run of the job, 2 on its first retry, … */
  attempt: number;
  /** True when this attempt is the last the job's `attempts` allow: a transient failure now fails for good. */
  isLastAttempt: boolean;
}

export type JobProcessor<T extends JobEnvelope = JobEnvelope, R = unknown> = (context: JobContext<T>) => Promise<R>;

/** One queue a worker process consumes, as a feature declares it (see QueueWorkersService.register). */
export interface QueueConsumer<T extends JobEnvelope = JobEnvelope> {
  queue: string;
  process: JobProcessor<T>;
  /**
   * Each attempt's time budget (its deadline in the request context); default `WORKER_JOB_DEADLINE_MS`.
   * Every statement and provider call of the attempt gets at most what is left of it.
   */
  budgetMs?: number;
  /** Jobs of this queue run at once in this process; default WORKER_CONCURRENCY. */
  concurrency?: number;
  /**
   * At most this many jobs of the queue run at once across every worker process (BullMQ's global
   * concurrency, kept in Redis). 1 makes a scheduled task run one at a time however many workers run.
   */
  globalConcurrency?: number;
  /**
   * Run a job on this queue every `everyMs`, from a BullMQ job scheduler (`upsertJobScheduler`;
   * BullMQ 6 has no `repeat`): one job per tick across every worker process. Upserted at start
   * and again every tick, so a Redis that was flushed or restarted empty gets it back.
   */
  schedule?: { schedulerId: string; jobName: string; everyMs: number };
  /**
   * Called once when a job failed for good (its attempts spent, or an UnrecoverableError). Not for a
   * transient fault of a scheduled job: its next tick retries it.
   */
  onFailedForGood?: (job: Job<T>, error: Error, logger: Logger) => Promise<void>;
}

/**
 * The queue's Redis cannot take the job right now (down, or slower than the enqueue timeout).
 * Carries its failure, so classifyFailure() and the HTTP mapping answer 503 DEPENDENCY_UNAVAILABLE
 * with Retry-After without knowing the queue.
 */
export class QueueUnavailableError extends Error implements ClassifiedError {
  readonly failure: Failure;
  constructor(queue: string, reason: 'not_connected' | 'enqueue_timeout', cause?: unknown) {
    super(`queue ${queue} unavailable (${reason})`, cause === undefined ? undefined : { cause });
    this.name = 'QueueUnavailableError';
    // An enqueue that timed out may still land: the outcome is unknown (the job id makes a repeat harmless).
    this.failure = {
      dependency: 'redis',
      kind: 'unavailable',
      transient: true,
      outcome: reason === 'not_connected' ? 'known' : 'unknown',
      code: reason,
    };
  }
}

const JOB_ID = /^[A-Za-z0-9_.-]{1,200}$/;

/**
 * A BullMQ job id from a business key: the same key always gives the same id, so enqueueing
 * it again (a retried request, a re-enqueue by a sweeper) adds nothing while the job exists.
 * BullMQ forbids `:` (its key separator) and all-digit ids (its own generated ids).
 * @example jobIdOf('report', '3f0c2a4e-8a55-4d36-9a8e-6f1d0f4b7c21') // 'report-3f0c2a4e-…'
 */
export function jobIdOf(kind: string, key: string): string {
  const id = `${kind}-${key}`;
  if (!JOB_ID.test(id) || /^\d+$/.test(id)) throw new Error(`invalid job id ${JSON.stringify(id)}`);
  return id;
}
