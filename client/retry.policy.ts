/**
 * When the client tries again, and after how long: pure functions of what one attempt saw, so the
 * rules are unit-tested as properties (client/retry.policy.spec.ts) apart from any network.
 *
 * The rules (the article's client-side advice; Stripe's, OpenAI's, ky's and got's clients agree):
 * - only calls that are safe to repeat: a safe method (GET, HEAD, OPTIONS), or any call that carries an
 *   Idempotency-Key (the server then answers a repeat with the first answer instead of doing it twice);
 * - only failures that may pass: no answer at all (refused, reset, timed out), 408, 429, 502, 503, 504,
 *   and a 409 `IDEMPOTENCY_KEY_IN_USE` (the first call with that key is still running: wait it out).
 *   Every other answer is final: 400, 401, 403, 404, 409, 410, 422 and 500 mean the same on a repeat;
 * - capped exponential backoff with full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter"),
 *   and never sooner than the server's `Retry-After` (seconds or an HTTP-date), clamped to a maximum;
 * - a hard cap on attempts, and on total time: no retry whose wait would leave less than
 *   `minAttemptMs` before the deadline (a call that cannot finish in time is not started).
 */

export interface RetryPolicy {
  /** Attempts in all, the first included (1 = never retry). */
  maxAttempts: number;
  /** Total time for the logical call, every attempt and wait included (ms). */
  deadlineMs: number;
  /** First backoff step (ms); doubled per retry, capped at `maxDelayMs`, then fully jittered. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** The most a server's `Retry-After` may make the client wait (ms); longer hints are clamped to it. */
  maxRetryAfterMs: number;
  /** An attempt is not started with less than this left before the deadline (ms). */
  minAttemptMs: number;
}

export const DEFAULT_RETRY_POLICY: Readonly<RetryPolicy> = Object.freeze({
  maxAttempts: 4,
  deadlineMs: 15_000,
  baseDelayMs: 200,
  maxDelayMs: 5_000,
  maxRetryAfterMs: 10_000,
  minAttemptMs: 250,
});

const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS']);
const TRANSIENT_STATUSES: ReadonlySet<number> = new Set([408, 429, 502, 503, 504]);

/** What one attempt saw. `status` is undefined when no answer came (refused, reset, attempt timeout). */
export interface AttemptOutcome {
  method: string;
  /** The request carries an Idempotency-Key. */
  keyed: boolean;
  status?: number;
  /** The problem `code` of the answer, when it had one. */
  code?: string;
  /** The server's `Retry-After`, already parsed (ms from now). */
  retryAfterMs?: number;
  /** The attempt that just ended, from 1. */
  attempt: number;
  /** Time since the logical call started (ms). */
  elapsedMs: number;
}

export type RetryDecision =
  | { retry: true; delayMs: number }
  | { retry: false; reason: 'succeeded' | 'not-safe' | 'final-status' | 'attempts' | 'deadline' };

/** The method may be repeated without a key: RFC 9110 safe methods. */
export function isSafeMethod(method: string): boolean {
  return SAFE_METHODS.has(method.toUpperCase());
}

/** The answer (or its absence) may be different on a repeat. */
export function isTransient(status: number | undefined, code: string | undefined): boolean {
  if (status === undefined) return true;
  return TRANSIENT_STATUSES.has(status) || (status === 409 && code === 'IDEMPOTENCY_KEY_IN_USE');
}

/** The capped, fully jittered backoff before retry number `attempt` (1 = the wait after the first attempt). */
export function backoffMs(attempt: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.floor(random() * ceiling);
}

/** Decides whether to try again after one attempt, and after how long. */
export function decideRetry(
  outcome: AttemptOutcome,
  policy: RetryPolicy,
  random: () => number = Math.random,
): RetryDecision {
  const { status } = outcome;
  if (status !== undefined && status < 400) return { retry: false, reason: 'succeeded' };
  if (!isTransient(status, outcome.code)) return { retry: false, reason: 'final-status' };
  if (!isSafeMethod(outcome.method) && !outcome.keyed) return { retry: false, reason: 'not-safe' };
  if (outcome.attempt >= policy.maxAttempts) return { retry: false, reason: 'attempts' };
  const hint = outcome.retryAfterMs === undefined ? 0 : Math.min(outcome.retryAfterMs, policy.maxRetryAfterMs);
  const delayMs = Math.max(hint, backoffMs(outcome.attempt, policy, random));
  if (outcome.elapsedMs + delayMs + policy.minAttemptMs > policy.deadlineMs)
    return { retry: false, reason: 'deadline' };
  return { retry: true, delayMs };
}

/**
 * `Retry-After` as milliseconds from `now`: delay-seconds or an HTTP-date (RFC 9110 §10.2.3); a
 * `retry-after-ms` header (OpenAI's) wins when present. Undefined for a missing or unreadable value;
 * never negative (a date in the past means "now").
 */
export function parseRetryAfter(headers: Headers, now: number = Date.now()): number | undefined {
  const ms = headers.get('retry-after-ms');
  if (ms !== null && /^\d+(\.\d+)?$/.test(ms.trim())) return Math.round(Number(ms.trim()));
  const value = headers.get('retry-after')?.trim();
  if (!value) return undefined;
  if (/^\d+$/.test(value)) return Number(value) * 1_000;
  // An HTTP-date names a weekday and "GMT"; anything else (a negative or fractional number, garbage) is ignored.
  if (!/GMT$/.test(value)) return undefined;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
