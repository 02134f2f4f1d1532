import {
  BrokenCircuitError,
  CircuitBreakerPolicy,
  CircuitState,
  ConsecutiveBreaker,
  IsolatedCircuitError,
  circuitBreaker,
  handleWhen,
  type FailureReason,
  type IBackoff,
  type IHalfOpenAfterBackoffContext,
} from 'cockatiel';

/** Circuit states as the `resilience_circuit_state` gauge reports them. */
export type CircuitStateName = 'closed' | 'half-open' | 'open';

/** The gauge value of each state (0 closed, 1 half-open, 2 open), fixed by the metric contract. */
export const CIRCUIT_STATE_VALUE: Record<CircuitStateName, number> = { closed: 0, 'half-open': 1, open: 2 };

export interface CircuitBreakerSettings {
  /** The dependency's name, for errors, logs and the metric label. */
  dependency: string;
  /** Consecutive failures that open the circuit. */
  consecutiveFailures: number;
  /** How long the circuit stays open before one probe call is let through (ms). */
  halfOpenAfterMs: number;
  /** Which errors count as the dependency failing (a declined card does not; a 5xx or a timeout does). */
  isFailure: (error: unknown) => boolean;
  /**
   * Which errors say nothing about the dependency either way (the caller hung up, its own
   * budget ran out): never counted, and a half-open probe that ends so neither closes the
   * circuit nor waits another `halfOpenAfterMs`: the circuit stays open with the probe due at
   * once, so the next call probes. Any other error that is not a failure (a declined card)
   * is an answer from a healthy dependency: a probe that gets one closes the circuit.
   */
  isInconclusive?: (error: unknown) => boolean;
  onStateChange?: (state: CircuitStateName) => void;
}

/** The circuit is open: the call was not made. Carries the wait until the next probe. */
export class CircuitOpenError extends Error {
  constructor(
    readonly dependency: string,
    /** Whole seconds (at least 1) until the breaker lets a probe through: the `Retry-After`. */
    readonly retryAfterSeconds: number,
    cause?: unknown,
  ) {
    super(`circuit for ${dependency} is open; next probe in ${retryAfterSeconds} s`, { cause });
    this.name = 'CircuitOpenError';
  }
}

/** A half-open probe cut short by an inconclusive error (carried as `cause`); never leaves the breaker. */
class InterruptedProbe extends Error {
  constructor(cause: unknown) {
    super('circuit probe interrupted', { cause });
    this.name = 'InterruptedProbe';
  }
}

const interrupted = (reason: FailureReason<unknown> | { isolated: true }): boolean =>
  'error' in reason && reason.error instanceof InterruptedProbe;

const STATE_NAMES: Record<CircuitState, CircuitStateName> = {
  [CircuitState.Closed]: 'closed',
  [CircuitState.HalfOpen]: 'half-open',
  [CircuitState.Open]: 'open',
  [CircuitState.Isolated]: 'open',
};

/**
 * A thin layer over cockatiel's circuit breaker (consecutive-failure breaker, fixed half-open
 * delay, options set explicitly): while open it throws {@link CircuitOpenError} at once, with
 * the seconds until the next probe; after `halfOpenAfterMs` it lets ONE call through (others
 * still fail fast) and closes on its success or re-opens on its failure. A probe cut short by
 * its caller (`isInconclusive`) decides nothing: the circuit stays open and the next call probes
 * (cockatiel alone would close it, taking any error it does not handle for a success).
 *
 * @example
 * const breaker = new CircuitBreaker({ dependency: 'payments', consecutiveFailures: 5,
 *   halfOpenAfterMs: 10_000, isFailure: (e) => e instanceof ProviderFault });
 * await breaker.execute(() => fetch(url));
 */
export class CircuitBreaker {
  private readonly policy: CircuitBreakerPolicy;
  /** When the open circuit lets its next probe through. */
  private probeDueAt = 0;

  constructor(private readonly settings: CircuitBreakerSettings) {
    // An interrupted probe is handed to cockatiel as a failure (so it re-opens instead of
    // closing) whose wait before the next probe is 0.
    const halfOpenAfter = (context: IHalfOpenAfterBackoffContext): IBackoff<IHalfOpenAfterBackoffContext> => ({
      duration: interrupted(context.result) ? 0 : settings.halfOpenAfterMs,
      next: halfOpenAfter,
    });
    this.policy = circuitBreaker(
      handleWhen((error) => error instanceof InterruptedProbe || settings.isFailure(error)),
      { halfOpenAfter: { next: halfOpenAfter }, breaker: new ConsecutiveBreaker(settings.consecutiveFailures) },
    );
    this.policy.onBreak((reason) => {
      this.probeDueAt = Date.now() + (interrupted(reason) ? 0 : settings.halfOpenAfterMs);
    });
    this.policy.onStateChange((state) => settings.onStateChange?.(STATE_NAMES[state]));
  }

  get state(): CircuitStateName {
    return STATE_NAMES[this.policy.state];
  }

  /** Whole seconds (at least 1) until the next probe may run. */
  retryAfterSeconds(now = Date.now()): number {
    return Math.max(1, Math.ceil((this.probeDueAt - now) / 1_000));
  }

  /**
   * True while the circuit is open and no probe is due yet: a call now would fail at once.
   * (Once the half-open time has come the state still reads `open` until the next call, which
   * becomes the probe; this says false then, so callers checking first never starve the probe.)
   */
  rejectsNow(now = Date.now()): boolean {
    return this.state === 'open' && now < this.probeDueAt;
  }

  /** Runs `fn` through the breaker. @throws CircuitOpenError while open, else whatever `fn` throws. */
  async execute<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await this.policy.execute(() => this.call(fn));
    } catch (error) {
      if (error instanceof InterruptedProbe) throw error.cause;
      if (error instanceof BrokenCircuitError || error instanceof IsolatedCircuitError) {
        throw new CircuitOpenError(this.settings.dependency, this.retryAfterSeconds(), error);
      }
      throw error;
    }
  }

  private async call<T>(fn: () => Promise<T>): Promise<T> {
    // cockatiel runs the call it lets through an open circuit (the probe) before it reads half-open.
    const probe = this.policy.state !== CircuitState.Closed;
    try {
      return await fn();
    } catch (error) {
      if (probe && this.settings.isInconclusive?.(error)) throw new InterruptedProbe(error);
      throw error;
    }
  }
}
