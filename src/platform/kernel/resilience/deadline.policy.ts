import { AppError } from '../errors/app.errors';
import { sleep } from './backoff.policy';

/**
 * The request's time budget, passed down to every outbound call so that work stops when
 * the caller can no longer use the answer. A deadline is a point in time plus an
 * `AbortSignal` that fires at that point (or earlier, when the parent signal fires:
 * the client went away).
 *
 * @example
 * const deadline = Deadline.after(2_000, request.signal);
 * const attempt = deadline.attemptSignal(500); // aborts at min(now + 500 ms, the deadline)
 * await fetch(url, { signal: attempt });
 */
export class Deadline {
  private constructor(
    /** Epoch milliseconds at which the budget runs out. */
    readonly expiresAt: number,
    /** Aborts when the budget runs out or the parent signal aborts. */
    readonly signal: AbortSignal,
  ) {}

  /** A deadline `ms` from now, also cancelled by `parent` (a request's or a shutdown's signal). */
  static after(ms: number, parent?: AbortSignal): Deadline {
    const budget = Math.max(0, Math.floor(ms));
    const expiresAt = Date.now() + budget;
    const timer = AbortSignal.timeout(Math.max(1, budget));
    return new Deadline(expiresAt, parent ? AbortSignal.any([timer, parent]) : timer);
  }

  /** The milliseconds left, never negative. */
  remainingMs(now = Date.now()): number {
    return Math.max(0, this.expiresAt - now);
  }

  /** True once the budget is spent or the parent signal aborted. */
  get expired(): boolean {
    return this.signal.aborted || this.remainingMs() === 0;
  }

  /** True when the parent (the caller) cancelled, as opposed to the budget running out. */
  get cancelled(): boolean {
    // Told by the abort's reason, not the clock: the timer runs on the monotonic clock and may fire
    // a millisecond before `expiresAt` by Date.now(), which read as "cancelled" (a flaky unit test caught it).
    // A parent that is itself a deadline running out is a budget spent too, not a cancellation.
    return this.signal.aborted && (this.signal.reason as { name?: string } | undefined)?.name !== 'TimeoutError';
  }

  /** A deadline no later than this one and at most `ms` from now. */
  within(ms: number): Deadline {
    const budget = Math.min(ms, this.remainingMs());
    return new Deadline(Date.now() + budget, AbortSignal.any([this.signal, AbortSignal.timeout(Math.max(1, budget))]));
  }

  /** A signal for one attempt: aborts after `timeoutMs` or at the deadline, whichever is first. */
  attemptSignal(timeoutMs: number): AbortSignal {
    return this.within(timeoutMs).signal;
  }

  /**
   * One attempt's budget: its signal (as {@link attemptSignal}) and, once it fired, why. Only
   * `attempt_timeout` is the dependency's fault (it had its whole timeout); `deadline` (the budget
   * left was shorter than the timeout, and ran out) and `cancelled` (the caller went away) are the
   * caller's doing: a circuit breaker must not count them against the dependency.
   * @example
   * const attempt = deadline.attempt(2_000);
   * try { await fetch(url, { signal: attempt.signal }); }
   * catch (e) { if (attempt.abortCause() === 'attempt_timeout') countAgainstProvider(e); }
   */
  attempt(timeoutMs: number): AttemptBudget {
    const cappedByDeadline = this.remainingMs() < timeoutMs;
    const { signal } = this.within(timeoutMs);
    return {
      signal,
      abortCause: () => {
        if (!signal.aborted) return undefined;
        if (this.cancelled) return 'cancelled';
        return cappedByDeadline || this.expired ? 'deadline' : 'attempt_timeout';
      },
    };
  }

  /**
   * Waits `ms` unless the deadline comes first.
   * @throws DeadlineExceededError when the wait would outlast the budget (without waiting for nothing).
   */
  async sleep(ms: number): Promise<void> {
    if (ms > this.remainingMs()) throw new DeadlineExceededError();
    try {
      await sleep(ms, this.signal);
    } catch (error) {
      throw new DeadlineExceededError(error);
    }
  }
}

/** Why an attempt's signal fired: its own timeout, its caller's budget running out, or its caller going away. */
export type AbortCause = 'attempt_timeout' | 'deadline' | 'cancelled';

/** What {@link Deadline.attempt} gives one attempt. */
export interface AttemptBudget {
  readonly signal: AbortSignal;
  /** Why `signal` aborted; undefined while it has not. */
  abortCause(): AbortCause | undefined;
}

/**
 * The request's own budget ran out before the work could be done: 504 DEADLINE_EXCEEDED, a
 * platform problem type (registered in platform/kernel/errors/app.errors.ts).
 */
export class DeadlineExceededError extends AppError {
  constructor(cause?: unknown) {
    super('DEADLINE_EXCEEDED', { cause });
  }
}
