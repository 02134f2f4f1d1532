import { backoffDelayMs, sleep, type BackoffPolicy } from './backoff.policy';
import type { RetryBudget } from './retry.budget';

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
  /** A short code for metrics, logs and spans (`40001`, `server_error`); never a message. */
  code?: string;
  /** The failure's kind, when it has no code (`unavailable`). */
  kind?: string;
}

/** The one "never retry" answer (shared: the failure path allocates nothing for it). */
export const NOT_RETRYABLE: RetryDecision = Object.freeze({ retryable: false });

/** "Retry", with nothing more to say (no code, no server-requested wait). */
export const RETRYABLE: RetryDecision = Object.freeze({ retryable: true });

export interface RetryInfo {
  /** The attempt that failed (1-based). */
  attempt: number;
  delayMs: number;
  /** How long the failed attempt took. */
  attemptMs: number;
  error: unknown;
  decision: RetryDecision;
}

/** How the retry loop behaves: what resilience.policy.ts builds from a pipeline's settings. */
export interface RetryLoop<W> {
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
  /** The next attempt needs at least as long as the last one took, too (the SQL seam's rule). */
  paceByLastAttempt: boolean;
  classify: (error: unknown, scope: W) => RetryDecision;
  /** Shared by every call of the pipeline: retries stay a share of the traffic. */
  budget?: RetryBudget;
  onRetry?: (info: RetryInfo) => void;
  onRetryRefused?: (decision: RetryDecision) => void;
  random: () => number;
}

/**
 * Where a unit of work may still retry: its deadline (`Date.now()` ms), the signal that cancels
 * it, and the request context's cancellation (read without a signal). The SQL seam passes its
 * resolved statement options as they are.
 */
export interface RetryScope {
  deadline?: number;
  signal?: AbortSignal;
  ambient?: { readonly cancelled: boolean };
}

/**
 * The one retry loop of the codebase, entered only after a first attempt failed (the happy path
 * pays nothing for it): retries `again` until it succeeds, the failure is not retryable, the
 * attempts are used up, the server asks to wait longer than `maxRetryAfterMs`, the budget refuses,
 * or the next attempt could not start (after its backoff, at least the server's `Retry-After`)
 * with `minAttemptMs` left of the deadline. Then the LAST failure is rethrown unchanged, so the
 * caller maps one failure, not a wrapper.
 *
 * Only for idempotent work (a read, a whole transaction, a call that carries an idempotency
 * key): a retry repeats it. Retry in one layer only (resilience.policy.ts says which).
 */
export async function retryAfterFailure<T, W extends RetryScope>(
  error: unknown,
  startedAt: number,
  again: (attempt: number, decision: RetryDecision) => Promise<T>,
  loop: RetryLoop<W>,
  scope: W,
): Promise<T> {
  let last = error;
  let attemptStartedAt = startedAt;
  for (let attempt = 1; ; attempt++) {
    const decision = loop.classify(last, scope);
    if (!decision.retryable || attempt >= loop.maxAttempts) throw last;
    const retryAfterMs = decision.retryAfterMs ?? 0;
    if (retryAfterMs > loop.maxRetryAfterMs) throw last;
    const delayMs = Math.max(backoffDelayMs(attempt, loop.backoff, loop.random), retryAfterMs);
    const attemptMs = performance.now() - attemptStartedAt;
    const needed = loop.paceByLastAttempt ? Math.max(attemptMs, loop.minAttemptMs) : loop.minAttemptMs;
    if (
      scope.signal?.aborted ||
      scope.ambient?.cancelled === true ||
      (scope.deadline !== undefined && Date.now() + delayMs + needed > scope.deadline)
    ) {
      throw last;
    }
    if (loop.budget !== undefined && !loop.budget.tryRetry()) {
      loop.onRetryRefused?.(decision);
      throw last;
    }
    loop.onRetry?.({ attempt, delayMs, attemptMs, error: last, decision });
    try {
      await sleep(delayMs, scope.signal);
    } catch {
      throw last; // the caller went away or ran out of time while we waited: the fault is the answer
    }
    attemptStartedAt = performance.now();
    try {
      return await again(attempt + 1, decision);
    } catch (next) {
      last = next;
    }
  }
}
