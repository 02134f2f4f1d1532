import type { BackoffPolicy } from './backoff.policy';
import { CircuitBreaker, type CircuitBreakerSettings } from './circuit.breaker';
import { Deadline, DeadlineExceededError, type AbortCause, type WorkDeadline } from './deadline.policy';
import { RetryBudget } from './retry.budget';
import { retryAfterFailure, type RetryDecision, type RetryInfo, type RetryLoop, type RetryScope } from './retry.policy';

/**
 * What a pipeline reads of the request context (the correlation of the request or job being
 * served, platform/kernel/correlation): its deadline, and whether an outer layer re-runs the whole
 * work. Structural, so the kernel's resilience folder does not import the correlation folder (which
 * imports it).
 */
export interface WorkContext {
  readonly deadline?: WorkDeadline;
  /**
   * True while a layer outside the work re-runs all of it on a transient failure: the queue, for a
   * job attempt that is not the job's last (platform/adapters/queue/queue-workers.service.ts). Then
   * every pipeline makes ONE attempt and leaves the retry to that layer: one retry layer, never
   * attempts × attempts.
   */
  readonly retriedOutside?: boolean;
}

export interface PipelineSettings<S extends RetryScope = RetryScope> {
  /** The dependency (`database`, `payments`): the breaker's name, the metric label. */
  name: string;
  /** Whether a failure may be retried, with its `Retry-After` and code. Pure and cheap. */
  classify: (error: unknown, scope: S) => RetryDecision;
  retry: {
    /** Attempts in all, the first one included (1 = never retry). */
    attempts: number;
    /** Exponential backoff, full jitter unless it says `equal` (backoff.policy.ts). */
    backoff: BackoffPolicy;
    /** Shared by every call of this dependency: retries stay a share of the traffic (retry.budget.ts). */
    budget?: RetryBudget;
    /** The longest `Retry-After` waited inside one call; a longer one ends the retries. Default: no limit. */
    maxRetryAfterMs?: number;
    /** No attempt starts with less than this left of the deadline. */
    minAttemptMs: number;
    /** No attempt starts with less left than the last one took, either. */
    paceByLastAttempt?: boolean;
  };
  /** The request context of the work running now (`currentCorrelation`), or none (boot). */
  context?: () => WorkContext | undefined;
  /** The budget of a call: at most this much of the context's deadline; all of it outside a request or job. */
  deadlineMs?: number;
  /** Each attempt's own timeout: its signal fires then (or at the deadline, if sooner). */
  attemptTimeoutMs?: number;
  /** A circuit breaker around each attempt (circuit.breaker.ts). */
  breaker?: Omit<CircuitBreakerSettings, 'dependency'>;
  /** Before each retry (metrics, a log line). */
  onRetry?: (info: RetryInfo) => void;
  /** A retry the budget refused: the failure surfaces at once. */
  onRetryRefused?: (decision: RetryDecision) => void;
  /** Injectable for tests; `Math.random` otherwise. */
  random?: () => number;
}

/** What one attempt gets: its number, its signal (attempt timeout, deadline, caller gone) and why that fired. */
export interface Attempt {
  readonly number: number;
  readonly signal: AbortSignal;
  abortCause(): AbortCause | undefined;
}

export interface ExecuteOptions {
  /** The call's own budget (replaces the context's). */
  deadline?: Deadline;
  /** Per call, beside the pipeline's `onRetry`: a log line with the call's ids. */
  onRetry?: (info: RetryInfo) => void;
  /** Each attempt, before the breaker lets it through or refuses it. */
  onAttempt?: (attempt: number) => void;
}

/** No deadline of its own and none in the context: the longest a timer can wait (about 24 days). */
const NO_DEADLINE_MS = 2 ** 31 - 1;

/**
 * One resilience pipeline, composed once per dependency from the kernel's primitives, outermost
 * first: deadline (the request context's, or the call's; no attempt starts that cannot finish in
 * it) → retry (bounded attempts, full-jitter backoff, `Retry-After` honoured, a shared budget, one
 * attempt when an outer layer retries the work) → circuit breaker → attempt timeout → the call,
 * which classifies its own failure. A new outbound client is this configuration plus its call
 * (dotnet/eShop's ServiceDefaults, cockatiel's `wrap`), never a copy of another client's loop.
 *
 * Two ways in: {@link execute} for a client (every step above), and {@link recordAttempt} +
 * {@link retryAfter} for a hot path that makes its first attempt itself (the SQL seam: no closure
 * and no signal per statement; it enters the pipeline only after a failure).
 *
 * @example
 * const payments = definePipeline({
 *   name: 'payments', context: currentCorrelation, deadlineMs: 8_000, attemptTimeoutMs: 2_000,
 *   retry: { attempts: 3, backoff: { baseMs: 100, capMs: 1_000 }, minAttemptMs: 100 },
 *   breaker: { consecutiveFailures: 5, halfOpenAfterMs: 10_000, isFailure: isProviderFault },
 *   classify: (error) => (isTransient(error) ? { retryable: true } : NOT_RETRYABLE),
 * });
 * const charge = await payments.execute(({ signal }) => fetch(url, { signal }));
 */
export class ResiliencePipeline<S extends RetryScope = RetryScope> {
  /** The breaker, when the settings have one (its state for health and metrics). */
  readonly breaker: CircuitBreaker | undefined;
  private readonly loop: RetryLoop<S>;
  /** The same loop with one attempt: inside work an outer layer retries. */
  private readonly single: RetryLoop<S>;

  constructor(private readonly settings: PipelineSettings<S>) {
    const { retry } = settings;
    this.loop = {
      maxAttempts: retry.attempts,
      backoff: retry.backoff,
      maxRetryAfterMs: retry.maxRetryAfterMs ?? Infinity,
      minAttemptMs: retry.minAttemptMs,
      paceByLastAttempt: retry.paceByLastAttempt ?? false,
      classify: settings.classify,
      budget: retry.budget,
      onRetry: settings.onRetry,
      onRetryRefused: settings.onRetryRefused,
      random: settings.random ?? Math.random,
    };
    this.single = { ...this.loop, maxAttempts: 1 };
    this.breaker = settings.breaker && new CircuitBreaker({ ...settings.breaker, dependency: settings.name });
  }

  get name(): string {
    return this.settings.name;
  }

  /** Deposits one unit of work in the retry budget (every first attempt; {@link execute} does it itself). */
  recordAttempt(): void {
    this.settings.retry.budget?.recordAttempt();
  }

  /**
   * The pipeline after a first attempt failed with `error` (started at `startedAt`,
   * `performance.now()`): retries `again` as the settings allow within `scope`, else rethrows the
   * last failure. Reads the request context only now, on the failure path. `onRetry`: a per-call
   * hook beside the pipeline's (a log line with the call's ids).
   */
  retryAfter<T>(
    error: unknown,
    startedAt: number,
    scope: S,
    again: (attempt: number, decision: RetryDecision) => Promise<T>,
    onRetry?: (info: RetryInfo) => void,
  ): Promise<T> {
    let loop = this.settings.context?.()?.retriedOutside === true ? this.single : this.loop;
    if (onRetry !== undefined) {
      const own = loop.onRetry;
      loop = {
        ...loop,
        onRetry: (info) => {
          own?.(info);
          onRetry(info);
        },
      };
    }
    return retryAfterFailure(error, startedAt, again, loop, scope);
  }

  /**
   * Runs `work` through every step of the pipeline. `work` makes one attempt with the signal it is
   * given and throws a failure `classify` understands.
   * @throws whatever the last attempt threw (or the breaker's CircuitOpenError); DeadlineExceededError
   * when not even the first attempt can start.
   */
  async execute<T>(work: (attempt: Attempt) => Promise<T>, options: ExecuteOptions = {}): Promise<T> {
    const { settings } = this;
    const limit = settings.deadlineMs ?? NO_DEADLINE_MS;
    const deadline =
      options.deadline ?? settings.context?.()?.deadline?.deadline().within(limit) ?? Deadline.after(limit);
    if (deadline.expired || deadline.remainingMs() < settings.retry.minAttemptMs) throw new DeadlineExceededError();
    this.recordAttempt();
    const once = (number: number): Promise<T> => {
      options.onAttempt?.(number);
      // The attempt's timer starts when the breaker lets it through.
      const run = () => work(attemptOf(number, deadline, settings.attemptTimeoutMs));
      return this.breaker ? this.breaker.execute(run) : run();
    };
    const startedAt = performance.now();
    try {
      return await once(1);
    } catch (error) {
      const scope = { deadline: deadline.expiresAt, signal: deadline.signal } as S;
      return this.retryAfter(error, startedAt, scope, once, options.onRetry);
    }
  }
}

/** One attempt's budget: its own timeout within the deadline (Deadline.attempt), or the deadline alone. */
function attemptOf(number: number, deadline: Deadline, timeoutMs: number | undefined): Attempt {
  if (timeoutMs !== undefined) {
    const { signal, abortCause } = deadline.attempt(timeoutMs);
    return { number, signal, abortCause };
  }
  const abortCause = (): AbortCause | undefined =>
    deadline.signal.aborted ? (deadline.cancelled ? 'cancelled' : 'deadline') : undefined;
  return { number, signal: deadline.signal, abortCause };
}

/** Builds a {@link ResiliencePipeline}: one per dependency, at construction, never per call. */
export function definePipeline<S extends RetryScope = RetryScope>(
  settings: PipelineSettings<S>,
): ResiliencePipeline<S> {
  return new ResiliencePipeline(settings);
}
