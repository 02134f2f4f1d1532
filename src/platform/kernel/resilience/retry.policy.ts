import { backoffDelayMs, type BackoffPolicy } from './backoff.policy';
import { Deadline, DeadlineExceededError } from './deadline.policy';

/**
 * Parses a `Retry-After` header (RFC 9110 §10.2.3): delay-seconds or an HTTP-date.
 * @returns the wait in ms (0 for a date in the past), or `undefined` when absent or unparseable.
 * @example parseRetryAfterMs('3') // 3000
 */
export function parseRetryAfterMs(value: string | null | undefined, now = Date.now()): number | undefined {
  if (value == null) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1_000;
  if (!/[a-z]/i.test(trimmed)) return undefined;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** What the retry loop needs to know about a failure. */
export interface RetryDecision {
  /** Whether the same call may be made again (idempotent and transient). */
  retryable: boolean;
  /** A server-requested wait (`Retry-After`), honoured as the minimum delay. */
  retryAfterMs?: number;
}

export interface RetryInfo {
  /** The attempt that failed (1-based). */
  attempt: number;
  delayMs: number;
  error: unknown;
}

export interface RetrySettings {
  /** Attempts in all, the first one included (1 = never retry). */
  maxAttempts: number;
  /** The wait before each retry: {@link backoffDelayMs} (full jitter unless the policy says `equal`). */
  backoff: BackoffPolicy;
  /** The longest `Retry-After` waited inside one call; a longer one ends the retries. */
  maxRetryAfterMs: number;
  /**
   * No attempt starts with less than this left of the deadline: an attempt that cannot finish
   * in time only adds load to a struggling dependency.
   */
  minAttemptMs: number;
}

export interface RetryOptions extends RetrySettings {
  deadline: Deadline;
  classify: (error: unknown) => RetryDecision;
  onRetry?: (info: RetryInfo) => void;
  /** Injectable for tests; `Math.random` otherwise. */
  random?: () => number;
}

/**
 * Runs `attempt` until it succeeds, the failure is not retryable, the attempts are used up,
 * the server asks to wait longer than `maxRetryAfterMs`, or the next attempt could not start
 * (after its backoff, the one backoff of backoff.policy.ts, at least the server's
 * `Retry-After`) with `minAttemptMs` left of the deadline. Then the LAST failure is
 * rethrown unchanged, so the caller maps one failure, not a wrapper.
 *
 * Only for idempotent work (a read, or a write that carries an idempotency key): a retry
 * repeats the call. Retry in one layer only.
 *
 * @throws whatever the last attempt threw; {@link DeadlineExceededError} when not even the
 * first attempt can start.
 */
export async function retryWithBackoff<T>(attempt: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  const { deadline, classify, random = Math.random } = options;
  if (deadline.expired || deadline.remainingMs() < options.minAttemptMs) {
    throw new DeadlineExceededError();
  }
  for (let n = 1; ; n++) {
    try {
      return await attempt(n);
    } catch (error) {
      const decision = classify(error);
      if (!decision.retryable || n >= options.maxAttempts || deadline.expired) throw error;
      const retryAfterMs = decision.retryAfterMs ?? 0;
      if (retryAfterMs > options.maxRetryAfterMs) throw error;
      const delayMs = Math.max(backoffDelayMs(n, options.backoff, random), retryAfterMs);
      if (delayMs + options.minAttemptMs > deadline.remainingMs()) throw error;
      options.onRetry?.({ attempt: n, delayMs, error });
      try {
        await deadline.sleep(delayMs);
      } catch {
        throw error; // cancelled while waiting: the caller learns what actually failed
      }
    }
  }
}
