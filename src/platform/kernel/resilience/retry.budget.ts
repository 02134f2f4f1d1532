/**
 * A retry budget: a token bucket that keeps retries to a fixed share of the traffic, so a
 * dependency that is down receives roughly `1 + ratio` times its normal load instead of
 * `maxAttempts` times (the "retry storm" that keeps a recovering database down).
 *
 * Every first attempt deposits `ratio` tokens (0.1: one retry earned per ten calls); every
 * retry withdraws one whole token and is refused when there is none. The bucket holds at
 * most `capacity` tokens and starts full, so a quiet service can still retry a few isolated
 * blips; during an outage, once the reserve is spent, retries settle at `ratio` of calls.
 * (The Finagle / gRPC retry-budget model.) Synchronous and allocation-free: it sits on
 * every statement's path.
 *
 * @example
 * const budget = new RetryBudget({ ratio: 0.1, capacity: 10 });
 * budget.recordAttempt();            // every call
 * if (budget.tryRetry()) { ... }     // before each retry
 */
export interface RetryBudgetOptions {
  /** Retries allowed per first attempt, in the long run (0.1 = 10 %). */
  ratio: number;
  /** The reserve: retries allowed in a burst before the ratio applies. */
  capacity: number;
}

export class RetryBudget {
  private tokens: number;
  /** Retries granted since start (what `resilience_retries_total` counts). */
  retries = 0;
  /** Retries refused because the budget was spent (the failure surfaced at once instead). */
  refused = 0;

  constructor(private readonly options: RetryBudgetOptions) {
    this.tokens = options.capacity;
  }

  /** Called once per unit of work (not per retry). */
  recordAttempt(): void {
    const next = this.tokens + this.options.ratio;
    this.tokens = next > this.options.capacity ? this.options.capacity : next;
  }

  /** Takes one token for a retry; false when the budget is spent. */
  tryRetry(): boolean {
    if (this.tokens < 1) {
      this.refused++;
      return false;
    }
    this.tokens -= 1;
    this.retries++;
    return true;
  }

  /** Tokens left (for tests and debugging). */
  get available(): number {
    return this.tokens;
  }
}
