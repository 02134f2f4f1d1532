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

  /** A deadline at `expiresAt` (epoch ms), also cancelled by `parent`. */
  static at(expiresAt: number, parent?: AbortSignal): Deadline {
    const timer = AbortSignal.timeout(Math.max(1, Math.floor(expiresAt - Date.now())));
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

/**
 * The deadline of the work running now, carried by the request context (the correlation,
 * platform/kernel/correlation/correlation.context.ts): made by the HTTP edge for every request
 * (its route's budget, else `REQUEST_DEADLINE_MS`) and by the worker for every job (its job
 * budget), read by the SQL seam and the outbound clients through `currentDeadline()` instead of
 * a parameter. It costs a number until something needs more: reading what is left is one clock
 * read; {@link cancel} (the caller hung up) calls the few listeners a running statement added
 * (no `AbortSignal`, no timer); {@link deadline} makes the full {@link Deadline} (its timer and
 * signal) once, for the work that needs a signal (a transaction, a provider call).
 * @example
 * const work = new WorkDeadline(Date.now() + 2_000);
 * runWithCorrelation({ requestId, deadline: work }, handle); // statements get at most what is left
 * request.raw.once('close', () => work.cancel(new Error('client closed the connection')));
 */
export class WorkDeadline {
  private made: Deadline | undefined;
  private controller: AbortController | undefined;
  private listeners: (() => void)[] | undefined;
  private reason: unknown;
  private gone = false;

  /** `expiresAt`: epoch milliseconds at which the budget runs out. */
  constructor(readonly expiresAt: number) {}

  /** The milliseconds left, never negative. */
  remainingMs(now = Date.now()): number {
    return Math.max(0, this.expiresAt - now);
  }

  /** True once the caller went away ({@link cancel}). */
  get cancelled(): boolean {
    return this.gone;
  }

  /** Why it was cancelled (what {@link cancel} was given). */
  get cancelReason(): unknown {
    return this.reason;
  }

  /** The caller went away: every running statement is cancelled, nothing new starts. Idempotent. */
  cancel(reason: unknown = new Error('the caller went away')): void {
    if (this.gone) return;
    this.gone = true;
    this.reason = reason;
    const listeners = this.listeners;
    this.listeners = undefined;
    if (listeners) for (const listener of listeners) listener();
    this.controller?.abort(reason);
  }

  /** Calls `listener` once when the caller goes away (see {@link removeCancelListener}). */
  addCancelListener(listener: () => void): void {
    (this.listeners ??= []).push(listener);
  }

  removeCancelListener(listener: () => void): void {
    const listeners = this.listeners;
    if (!listeners) return;
    const at = listeners.lastIndexOf(listener);
    if (at >= 0) listeners.splice(at, 1);
  }

  /**
   * Nothing: a deadline is this process's state (a clock instant and listeners), never data. A
   * correlation written out (a log field, a probe's answer) carries no deadline; a job gets its own.
   */
  toJSON(): undefined {
    return undefined;
  }

  /** The full {@link Deadline}: the same instant, its signal firing then or when the caller goes away. Made once. */
  deadline(): Deadline {
    if (this.made) return this.made;
    this.controller = new AbortController();
    if (this.gone) this.controller.abort(this.reason);
    return (this.made = Deadline.at(this.expiresAt, this.controller.signal));
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
