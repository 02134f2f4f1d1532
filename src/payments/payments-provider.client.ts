import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { PaymentsConfig } from '../config/config.schemas';
import { AppError } from '../platform/kernel/errors/app.errors';
import {
  correlationHeaders,
  currentCorrelation,
  outgoingTraceparent,
} from '../platform/kernel/correlation/correlation.context';
import { inChildSpan, inSpan, SpanKind, tracingOn } from '../platform/kernel/tracing/tracing.context';
import {
  CircuitOpenError,
  type CircuitBreaker,
  type CircuitStateName,
} from '../platform/kernel/resilience/circuit.breaker';
import type { Deadline } from '../platform/kernel/resilience/deadline.policy';
import { definePipeline, type Attempt, type ResiliencePipeline } from '../platform/kernel/resilience/resilience.policy';
import { NOT_RETRYABLE, parseRetryAfterMs, type RetryDecision } from '../platform/kernel/resilience/retry.policy';
import {
  PAYMENTS_DEPENDENCY,
  PaymentDeclinedError,
  PaymentInterruptedError,
  PaymentMethodInvalidError,
  PaymentProviderError,
  PaymentProviderTimeoutError,
  PaymentsUnavailableError,
  type ChargeOutcome,
  type InterruptionReason,
  type ProviderFaultReason,
} from './payments.errors';

/** A charge the provider made. */
export interface Charge {
  id: string;
  status: 'succeeded';
  amountCents: number;
  currency: string;
  /** Our reference: the order id. */
  reference: string;
  idempotencyKey: string;
  createdAt: string;
}

export interface ChargeRequest {
  orderId: string;
  /** Integer cents, > 0. */
  amountCents: number;
  /** ISO 4217, upper case (`EUR`). */
  currency: string;
  /** The caller's payment token (`tok_...`). Never logged. */
  token: string;
}

export interface CallOptions {
  /**
   * The call's budget. Default: what is left of the request's or job's deadline (the request
   * context, `currentDeadline()`), at most PAYMENTS_DEADLINE_MS; outside both, PAYMENTS_DEADLINE_MS.
   */
  deadline?: Deadline;
  /**
   * Our request id, sent as `X-Request-Id`. Default: the current request's or job's
   * (`currentCorrelation()`, which also passes a `traceparent` on), else a fresh UUID.
   */
  requestId?: string;
}

/** What reconciliation learns from the provider about one idempotency key. */
export type ChargeLookup =
  | { status: 'succeeded'; charge: Charge }
  | { status: 'failed'; chargeId: string; failureCode: string }
  | { status: 'not_found' };

/** The policy settings (PaymentsConfig carries them from the environment). */
export type PaymentsClientSettings = Pick<
  PaymentsConfig,
  | 'baseUrl'
  | 'timeoutMs'
  | 'deadlineMs'
  | 'maxAttempts'
  | 'backoffBaseMs'
  | 'backoffMaxMs'
  | 'retryAfterMaxMs'
  | 'minAttemptMs'
  | 'breakerFailures'
  | 'breakerHalfOpenMs'
>;

/** Where the client reports what it does (a pino logger fits; metrics plug in through the hooks). */
export interface PaymentsClientObserver {
  logger?: {
    info: (fields: Record<string, unknown>, msg: string) => void;
    warn: (fields: Record<string, unknown>, msg: string) => void;
  };
  /** Called before each retry: feeds `resilience_retries_total{dependency}`. */
  onRetry?: (dependency: string) => void;
  /** Called on every breaker transition: feeds `resilience_circuit_state{dependency}`. */
  onCircuitStateChange?: (dependency: string, state: CircuitStateName) => void;
}

const chargeSchema = z.object({
  id: z.string().min(1),
  status: z.literal('succeeded'),
  amountCents: z.number().int().positive(),
  currency: z.string().length(3),
  reference: z.string(),
  idempotencyKey: z.string(),
  createdAt: z.string(),
});
const failedChargeSchema = z.object({ id: z.string().min(1), status: z.literal('failed'), failureCode: z.string() });
const lookupSchema = z.discriminatedUnion('status', [chargeSchema, failedChargeSchema]);
const providerErrorSchema = z.object({ error: z.object({ code: z.string() }) });

/**
 * One failed attempt, before mapping: what the retry loop and the breaker judge.
 * `mayHaveCharged` is false only when the provider certainly did nothing (refused, 429).
 * `caller_gone` and `request_deadline` are the caller's doing (it hung up, or its budget ran out
 * before PAYMENTS_TIMEOUT_MS did), never the provider's.
 */
class AttemptFailure extends Error {
  constructor(
    readonly kind: ProviderFaultReason | 'timeout' | 'refused' | 'rate_limited' | InterruptionReason,
    readonly mayHaveCharged: boolean,
    readonly retryAfterMs?: number,
    cause?: unknown,
  ) {
    super(`payments provider attempt failed: ${kind}`, { cause });
    this.name = 'AttemptFailure';
  }
}

/** Attempt failures that are not the provider's fault: 429 is back-pressure, the rest are the caller's doing. */
const NOT_PROVIDER_FAULTS: ReadonlySet<AttemptFailure['kind']> = new Set([
  'rate_limited',
  'unexpected_status',
  'caller_gone',
  'request_deadline',
]);

/**
 * Failures that say the provider is unhealthy (open the breaker): an attempt timeout, a 5xx,
 * a refused or reset connection, a malformed answer. Never a caller hanging up or its own
 * deadline running out: otherwise any customer could open the shared breaker for everyone.
 */
const countsAgainstProvider = (error: unknown): boolean =>
  error instanceof AttemptFailure && !NOT_PROVIDER_FAULTS.has(error.kind);

/**
 * Attempts cut short by the caller (hung up, budget spent): the provider said nothing either way,
 * so a half-open probe that ends so neither closes the breaker nor holds it open another period.
 */
const interruptedByCaller = (error: unknown): boolean =>
  error instanceof AttemptFailure && (error.kind === 'caller_gone' || error.kind === 'request_deadline');

/**
 * The only place that knows the payments provider. Every call runs, outermost first:
 * deadline (the caller's budget; no attempt starts that cannot finish in it) → retry
 * (bounded attempts, exponential backoff with full jitter and a cap, `Retry-After` honoured;
 * safe because every charge carries the same idempotency key, `order-<orderId>`) → circuit
 * breaker (fails fast while open, probes back) → per-attempt timeout (`AbortSignal`) →
 * response schema (a malformed or truncated body is a 502, never a 500).
 *
 * Errors (all {@link PaymentsError}s: an AppError with `chargeOutcome` and a `failure` that
 * `classifyFailure()` takes as it is): 402 {@link PaymentDeclinedError},
 * 422 {@link PaymentMethodInvalidError}, 502 {@link PaymentProviderError}, 504
 * {@link PaymentProviderTimeoutError}, 503 {@link PaymentsUnavailableError} (with Retry-After),
 * 504 DeadlineExceededError when the budget was spent before any attempt, 504
 * {@link PaymentInterruptedError} (`DEADLINE_EXCEEDED`) when the caller hung up or its own budget
 * ran out mid-call: the caller's doing, so never counted against the provider by the breaker.
 *
 * @example
 * const charge = await client.charge(
 *   { orderId, amountCents: 1999, currency: 'EUR', token: 'tok_ok' },
 *   { deadline, requestId },
 * );
 */
export class PaymentsProviderClient {
  /** deadline → retry → breaker → attempt timeout, composed once (resilience.policy.ts). */
  private readonly pipeline: ResiliencePipeline;
  private readonly breaker: CircuitBreaker;
  private readonly baseUrl: string;

  constructor(
    private readonly settings: PaymentsClientSettings,
    private readonly observer: PaymentsClientObserver = {},
  ) {
    this.baseUrl = settings.baseUrl.replace(/\/+$/, '');
    this.pipeline = definePipeline({
      name: PAYMENTS_DEPENDENCY,
      context: currentCorrelation,
      deadlineMs: settings.deadlineMs,
      attemptTimeoutMs: settings.timeoutMs,
      retry: {
        attempts: settings.maxAttempts,
        backoff: { baseMs: settings.backoffBaseMs, capMs: settings.backoffMaxMs, jitter: 'full' },
        maxRetryAfterMs: settings.retryAfterMaxMs,
        minAttemptMs: settings.minAttemptMs,
      },
      breaker: {
        consecutiveFailures: settings.breakerFailures,
        halfOpenAfterMs: settings.breakerHalfOpenMs,
        isFailure: countsAgainstProvider,
        isInconclusive: interruptedByCaller,
        onStateChange: (state) => {
          observer.logger?.warn({ dependency: PAYMENTS_DEPENDENCY, state }, 'payments provider circuit state changed');
          observer.onCircuitStateChange?.(PAYMENTS_DEPENDENCY, state);
        },
      },
      classify: retryDecision,
      onRetry: () => observer.onRetry?.(PAYMENTS_DEPENDENCY),
    });
    this.breaker = this.pipeline.breaker!;
  }

  /** The provider idempotency key of an order's charge: the same on every attempt and every retry. */
  static idempotencyKeyFor(orderId: string): string {
    return `order-${orderId}`;
  }

  /** The breaker's state (for health and metrics). */
  get circuitState(): CircuitStateName {
    return this.breaker.state;
  }

  /**
   * The error a call would fail with right now without reaching the provider (its circuit is
   * open and no probe is due), or undefined. Lets a caller refuse before doing work of its own
   * (orders: before reserving stock), so an open circuit answers in microseconds.
   */
  unavailableNow(): PaymentsUnavailableError | undefined {
    if (!this.breaker.rejectsNow()) return undefined;
    return new PaymentsUnavailableError('circuit_open', 'not_charged', this.breaker.retryAfterSeconds());
  }

  /**
   * Charges the order once, whatever happens: retries reuse the order's idempotency key.
   * @throws PaymentDeclinedError | PaymentMethodInvalidError | PaymentProviderError |
   *   PaymentProviderTimeoutError | PaymentsUnavailableError | DeadlineExceededError
   */
  async charge(request: ChargeRequest, options: CallOptions = {}): Promise<Charge> {
    const idempotencyKey = PaymentsProviderClient.idempotencyKeyFor(request.orderId);
    const body = JSON.stringify({
      amountCents: request.amountCents,
      currency: request.currency,
      token: request.token,
      reference: request.orderId,
    });
    return this.call('charge', options, idempotencyKey, async (signal, headers) => {
      const response = await fetch(`${this.baseUrl}/v1/charges`, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json', 'idempotency-key': idempotencyKey },
        body,
        signal,
      });
      const text = await response.text(); // a connection lost mid-body throws here: see classify()
      if (response.status === 200 || response.status === 201) return parseOr502(chargeSchema, text);
      if (response.status === 402) throw new PaymentDeclinedError(providerCode(text) ?? 'card_declined');
      if (response.status === 400) throw new PaymentMethodInvalidError(providerCode(text) ?? 'invalid_request');
      throw failureForStatus(response);
    });
  }

  /**
   * Asks the provider what happened under an idempotency key (reconciliation of unknown outcomes).
   * @throws PaymentProviderError | PaymentProviderTimeoutError | PaymentsUnavailableError | DeadlineExceededError
   */
  async getCharge(idempotencyKey: string, options: CallOptions = {}): Promise<ChargeLookup> {
    return this.call('getCharge', options, idempotencyKey, async (signal, headers) => {
      const response = await fetch(`${this.baseUrl}/v1/charges/by-key/${encodeURIComponent(idempotencyKey)}`, {
        headers,
        signal,
      });
      const text = await response.text(); // a connection lost mid-body throws here: see classify()
      if (response.status === 404 && providerCode(text) === 'charge_not_found') return { status: 'not_found' } as const;
      if (response.status !== 200) throw failureForStatus(response);
      const found = parseOr502(lookupSchema, text);
      return found.status === 'succeeded'
        ? ({ status: 'succeeded', charge: found } as const)
        : ({ status: 'failed', chargeId: found.id, failureCode: found.failureCode } as const);
    });
  }

  private call<T>(
    operation: string,
    options: CallOptions,
    idempotencyKey: string,
    attempt: (signal: AbortSignal, headers: Record<string, string>) => Promise<T>,
  ): Promise<T> {
    if (!tracingOn()) return this.callUntraced(operation, options, idempotencyKey, attempt);
    // Tracing: one span per call (its breaker state on entry), one child span per attempt (number,
    // breaker state, outcome), each attempt sending its own span as the provider's traceparent.
    // Inside a request or job the sampler left out, neither is made (nor their attributes built).
    const state = this.breaker.state;
    const call = () =>
      [
        `payments ${operation}`,
        { kind: SpanKind.INTERNAL, attributes: { 'payments.operation': operation, 'resilience.circuit.state': state } },
      ] as const;
    return inSpan(call, (span) => {
      if (!span) return this.callUntraced(operation, options, idempotencyKey, attempt);
      let n = 0;
      return this.callUntraced(operation, options, idempotencyKey, (signal, headers) => {
        n += 1;
        const attemptSpan = () =>
          [
            `payments ${operation} attempt`,
            {
              kind: SpanKind.CLIENT,
              attributes: { 'payments.attempt': n, 'resilience.circuit.state': this.breaker.state },
            },
          ] as const;
        return inChildSpan(attemptSpan, () => attempt(signal, { ...headers, ...traceparentHeader() }));
      });
    });
  }

  private async callUntraced<T>(
    operation: string,
    options: CallOptions,
    idempotencyKey: string,
    attempt: (signal: AbortSignal, headers: Record<string, string>) => Promise<T>,
  ): Promise<T> {
    // The request (or job) being served passes its request id and traceparent on to the provider.
    const correlation = currentCorrelation();
    const requestId = options.requestId ?? correlation?.requestId ?? randomUUID();
    const headers = {
      ...correlationHeaders(correlation),
      'x-request-id': requestId,
      accept: 'application/json',
    };
    let attempts = 0;
    let mayHaveCharged = false;
    const context = { dependency: PAYMENTS_DEPENDENCY, operation, requestId, idempotencyKey };
    const started = performance.now();
    // One line per call (F16): how long it took, how many attempts, how it ended; never the token.
    const logCall = (outcome: string) =>
      this.observer.logger?.info(
        { ...context, attempts, outcome, durationMs: Math.round((performance.now() - started) * 10) / 10 },
        'payments provider call',
      );
    try {
      // The budget: the caller's, else what is left of the request's or job's, at most PAYMENTS_DEADLINE_MS.
      const result = await this.pipeline.execute(
        async (budget: Attempt) => {
          try {
            return await attempt(budget.signal, headers);
          } catch (error) {
            const failure = classify(error, budget);
            if (failure instanceof AttemptFailure && failure.mayHaveCharged) mayHaveCharged = true;
            throw failure;
          }
        },
        {
          deadline: options.deadline,
          onAttempt: (n) => (attempts = n),
          onRetry: ({ attempt: n, attemptMs, delayMs, error }) =>
            this.observer.logger?.warn(
              {
                ...context,
                attempt: n,
                attemptMs: Math.round(attemptMs * 10) / 10,
                delayMs,
                reason: (error as AttemptFailure).kind,
              },
              'payments provider attempt failed; retrying',
            ),
        },
      );
      logCall('ok');
      return result;
    } catch (error) {
      const domainError = this.toDomainError(error, attempts, mayHaveCharged ? 'unknown' : 'not_charged');
      // An interrupted call is named for what cut it (`caller_gone`, `request_deadline`), never a provider code.
      logCall(
        domainError instanceof PaymentInterruptedError
          ? domainError.reason
          : ((domainError as { code?: string }).code ?? 'error'),
      );
      throw domainError;
    }
  }

  private toDomainError(error: unknown, attempts: number, outcome: ChargeOutcome): unknown {
    if (error instanceof CircuitOpenError) {
      return new PaymentsUnavailableError('circuit_open', outcome, error.retryAfterSeconds, error);
    }
    if (!(error instanceof AttemptFailure)) return error; // declined, invalid, deadline: already domain errors
    switch (error.kind) {
      case 'caller_gone':
      case 'request_deadline':
        return new PaymentInterruptedError(error.kind, outcome, error);
      case 'timeout':
        return new PaymentProviderTimeoutError(attempts, error);
      case 'refused':
        return new PaymentsUnavailableError('connection_refused', outcome, undefined, error);
      case 'rate_limited':
        return new PaymentsUnavailableError(
          'rate_limited',
          outcome,
          error.retryAfterMs === undefined ? undefined : Math.max(1, Math.ceil(error.retryAfterMs / 1_000)),
          error,
        );
      default:
        return new PaymentProviderError(error.kind, outcome, attempts, error);
    }
  }
}

/** The current span's `traceparent` header (the attempt's), or none. */
function traceparentHeader(): Record<string, string> {
  const traceparent = outgoingTraceparent(currentCorrelation());
  return traceparent ? { traceparent } : {};
}

function parseOr502<S extends z.ZodType>(schema: S, text: string): z.infer<S> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new AttemptFailure('malformed_response', true, undefined, error);
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) throw new AttemptFailure('malformed_response', true, undefined, parsed.error);
  return parsed.data;
}

function providerCode(text: string): string | undefined {
  try {
    const parsed = providerErrorSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data.error.code : undefined;
  } catch {
    return undefined;
  }
}

function failureForStatus(response: Response): AttemptFailure {
  const retryAfterMs = parseRetryAfterMs(response.headers.get('retry-after'));
  if (response.status === 429) return new AttemptFailure('rate_limited', false, retryAfterMs);
  if (response.status >= 500) return new AttemptFailure('server_error', true, retryAfterMs);
  // Any other status is a provider/client mismatch (a bug on one side): never retried.
  return new AttemptFailure('unexpected_status', false);
}

/**
 * Turns what fetch threw into an {@link AttemptFailure}; domain errors pass through. An aborted
 * attempt is the provider's timeout only when PAYMENTS_TIMEOUT_MS cut it; when the caller hung up
 * or the request's budget (shorter than that timeout) ran out, it is the caller's doing.
 */
function classify(error: unknown, budget: Pick<Attempt, 'abortCause'>): unknown {
  // Not `instanceof Error`: fetch's errors may come from another realm (Jest's VM, workers).
  if (error instanceof AttemptFailure || error instanceof AppError) return error;
  const aborted = budget.abortCause();
  if (aborted === 'cancelled') return new AttemptFailure('caller_gone', true, undefined, error);
  if (aborted === 'deadline') return new AttemptFailure('request_deadline', true, undefined, error);
  if (aborted === 'attempt_timeout') return new AttemptFailure('timeout', true, undefined, error);
  const code = errorCode(error);
  if (code === 'ECONNREFUSED') return new AttemptFailure('refused', false, undefined, error);
  // Reset, closed socket, truncated body, DNS hiccup after send: the request may have landed.
  return new AttemptFailure('connection_lost', true, undefined, error);
}

/** The system error code fetch (undici) hides in `cause` (sometimes in an AggregateError). */
function errorCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('E')) return code;
    const nested = (current as { errors?: unknown[] }).errors?.[0];
    current = nested ?? (current as { cause?: unknown }).cause;
  }
  return undefined;
}

function retryDecision(error: unknown): RetryDecision {
  if (!(error instanceof AttemptFailure)) return NOT_RETRYABLE;
  if (error.kind === 'unexpected_status' || error.kind === 'caller_gone' || error.kind === 'request_deadline') {
    return NOT_RETRYABLE;
  }
  return { retryable: true, retryAfterMs: error.retryAfterMs, code: error.kind };
}
