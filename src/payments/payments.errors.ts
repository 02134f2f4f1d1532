import { AppError, type AppErrorOptions } from '../platform/kernel/errors/app.errors';
import type { ClassifiedError, Failure } from '../platform/kernel/errors/failure.types';
import { defineProblemTypes, type ErrorCode } from '../platform/kernel/errors/problem-type.registry';
import PROSE from './payments.problems.json';

/**
 * The payments feature's problem types (their prose in payments.problems.json), listed in
 * PROBLEM_CATALOG (src/problem-types.catalog.ts): `/problems`, OpenAPI and the errors guide's table
 * list them. A caller of {@link PaymentsProviderClient} can also receive the platform's
 * DEPENDENCY_UNAVAILABLE (503 + Retry-After) and DEADLINE_EXCEEDED (504: the budget was spent
 * before any attempt, nothing was sent).
 */
export const PAYMENTS_PROBLEM_TYPES = defineProblemTypes(PROSE, {
  PAYMENT_DECLINED: {
    status: 402,
    retryable: false,
    logLevel: 'info',
  },
  PAYMENT_METHOD_INVALID: {
    status: 422,
    retryable: false,
    logLevel: 'info',
  },
  PAYMENT_PROVIDER_ERROR: {
    status: 502,
    retryable: true,
    logLevel: 'error',
  },
  PAYMENT_PROVIDER_TIMEOUT: {
    status: 504,
    retryable: false,
    logLevel: 'error',
  },
});

declare module '../platform/kernel/errors/problem-type.registry' {
  interface ProblemCodes extends Record<keyof typeof PAYMENTS_PROBLEM_TYPES, true> {}
}

/** The dependency name in every payments error's `failure`, in logs and in metric labels. */
export const PAYMENTS_DEPENDENCY = 'payments';

/**
 * What a failed call means for the money:
 * - `not_charged`: the provider certainly made no charge (it declined, rejected, or was never reached);
 * - `unknown`: a charge may exist (a timeout, a broken answer, a 5xx after the request was sent).
 *   Keep the order pending and settle it with {@link PaymentsProviderClient.getCharge}; the
 *   idempotency key makes a later retry safe.
 * The same fact as `failure.outcome` (`known` = not charged), in the domain's words.
 */
export type ChargeOutcome = 'not_charged' | 'unknown';

/**
 * Base of every error the payments client throws on purpose. It carries its
 * {@link Failure} (dependency `payments`), so `classifyFailure()` takes it as it is: the
 * worker's job retries and the metrics need no rule that knows the client. Over HTTP the
 * problem type of `code` decides status and headers, as for any AppError.
 */
export abstract class PaymentsError extends AppError implements ClassifiedError {
  readonly failure: Failure;
  readonly chargeOutcome: ChargeOutcome;

  protected constructor(
    code: ErrorCode,
    failure: Omit<Failure, 'dependency' | 'outcome'>,
    chargeOutcome: ChargeOutcome,
    options: AppErrorOptions = {},
  ) {
    super(code, options);
    this.chargeOutcome = chargeOutcome;
    this.failure = {
      dependency: PAYMENTS_DEPENDENCY,
      ...failure,
      outcome: chargeOutcome === 'not_charged' ? 'known' : 'unknown',
    };
  }
}

/** 402: the provider declined the payment method (card_declined). Never retried. */
export class PaymentDeclinedError extends PaymentsError {
  constructor(readonly declineCode: string) {
    super('PAYMENT_DECLINED', { kind: 'rejected', transient: false, code: '402' }, 'not_charged', {
      extensions: { declineCode },
    });
  }
}

/** 422: the provider rejected the payment token we sent for the caller (provider 400). Never retried. */
export class PaymentMethodInvalidError extends PaymentsError {
  constructor(readonly providerCode: string) {
    super('PAYMENT_METHOD_INVALID', { kind: 'rejected', transient: false, code: '400' }, 'not_charged', {
      extensions: { providerCode },
    });
  }
}

/** Why the provider's answer counted as a fault. Logged, never sent (5xx bodies stay generic). */
export type ProviderFaultReason = 'server_error' | 'malformed_response' | 'connection_lost' | 'unexpected_status';

/**
 * 502: the provider answered with a fault, even after bounded retries. A 5xx, a broken
 * answer or a lost connection is the provider failing (`unavailable`, transient); a status
 * we do not expect is a contract mismatch (`rejected`, never retried).
 */
export class PaymentProviderError extends PaymentsError {
  /** Why it counted as a fault (AppError's `reason`: a refinement of the code, logged, never sent). */
  declare readonly reason: ProviderFaultReason;

  constructor(
    reason: ProviderFaultReason,
    chargeOutcome: ChargeOutcome,
    readonly attempts: number,
    cause?: unknown,
  ) {
    super(
      'PAYMENT_PROVIDER_ERROR',
      reason === 'unexpected_status'
        ? { kind: 'rejected', transient: false, code: reason }
        : { kind: 'unavailable', transient: true, code: reason },
      chargeOutcome,
      { cause, reason },
    );
  }
}

/**
 * 504: the provider did not answer within the budget. The outcome is unknown: settle it
 * later. Transient: a later call under the same idempotency key may get the answer.
 */
export class PaymentProviderTimeoutError extends PaymentsError {
  constructor(
    readonly attempts: number,
    cause?: unknown,
  ) {
    super('PAYMENT_PROVIDER_TIMEOUT', { kind: 'timeout', transient: true, code: 'timeout' }, 'unknown', { cause });
  }
}

/**
 * Why a call ended with no fault of the provider's: the caller hung up (`caller_gone`), or the
 * request's own budget ran out (`request_deadline`: a slow stock lock before the charge, say)
 * while the provider still had time by PAYMENTS_TIMEOUT_MS.
 */
export type InterruptionReason = 'caller_gone' | 'request_deadline';

/**
 * 504 DEADLINE_EXCEEDED: the call was cut short by its caller, not failed by the provider. Never
 * a provider failure: it does not count against the circuit breaker, and logs and metrics never
 * call it `PAYMENT_PROVIDER_TIMEOUT`. The outcome is unknown when an attempt was in flight (the
 * request may have landed): the order stays `payment_pending` for the reconciliation.
 */
export class PaymentInterruptedError extends PaymentsError {
  declare readonly reason: InterruptionReason;

  constructor(reason: InterruptionReason, chargeOutcome: ChargeOutcome, cause?: unknown) {
    super('DEADLINE_EXCEEDED', { kind: 'timeout', transient: true, code: reason }, chargeOutcome, { cause, reason });
  }
}

/** Why the provider counted as unavailable. */
export type UnavailableReason = 'circuit_open' | 'connection_refused' | 'rate_limited';

/**
 * 503 DEPENDENCY_UNAVAILABLE with `Retry-After`: the provider is unreachable, its circuit is
 * open, or it kept answering 429 beyond what one call may wait. `retryAfterSeconds` is the
 * time until the breaker's next probe, or the provider's own `Retry-After` (the problem
 * type's default when neither is known); the HTTP mapping sends it as `Retry-After`.
 */
export class PaymentsUnavailableError extends PaymentsError {
  /** Why the provider counted as unavailable (AppError's `reason`: logged, never sent). */
  declare readonly reason: UnavailableReason;

  constructor(
    reason: UnavailableReason,
    chargeOutcome: ChargeOutcome,
    retryAfterSeconds: number | undefined,
    cause?: unknown,
  ) {
    super('DEPENDENCY_UNAVAILABLE', { kind: 'unavailable', transient: true, code: reason }, chargeOutcome, {
      cause,
      reason,
      retryAfterSeconds,
      extensions: { dependency: PAYMENTS_DEPENDENCY },
    });
  }
}
