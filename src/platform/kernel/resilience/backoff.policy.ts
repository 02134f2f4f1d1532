/**
 * The one backoff of the codebase: exponential with jitter (AWS Architecture Blog,
 * "Exponential Backoff And Jitter"). Attempt n has the ceiling min(cap, base · 2^(n-1)) and
 * waits a random time below it, so a fleet that failed together does not retry together:
 * - `full` jitter (the default): uniformly in [0, ceiling). The least contention; for
 *   retries and reconnects.
 * - `equal` jitter: in [ceiling/2, ceiling). Every wait is longer than the last, which an
 *   operator reading the boot log expects ("retrying in 180 ms, 410 ms, 900 ms").
 * Boot waiting for Postgres, Redis reconnects and (next) the retry policy all use it.
 */
export interface BackoffPolicy {
  /** Ceiling of the first attempt's delay. */
  baseMs: number;
  /** No delay is ever longer. */
  capMs: number;
  jitter?: 'full' | 'equal';
}

/** Boot waiting for Postgres: 125-250 ms, 250-500 ms, 0.5-1 s … 2.5-5 s. */
export const BOOT_BACKOFF: BackoffPolicy = { baseMs: 250, capMs: 5_000, jitter: 'equal' };
/** A dropped Redis connection: up to 100 ms, 200 ms … 5 s, in the background. */
export const RECONNECT_BACKOFF: BackoffPolicy = { baseMs: 100, capMs: 5_000 };

/**
 * @param attempt 1 for the wait after the first failure.
 * @param random injectable for tests; `Math.random` otherwise.
 */
export function backoffDelayMs(attempt: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const exponent = Math.min(Math.max(attempt, 1) - 1, 30);
  const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** exponent);
  return policy.jitter === 'equal'
    ? Math.floor(ceiling / 2 + random() * (ceiling / 2))
    : Math.floor(random() * ceiling);
}

/** Waits `ms`, or rejects with the signal's reason as soon as it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
