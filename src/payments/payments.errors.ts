import { AppError } from '../platform/errors/app.errors';

/**
 * The problem codes the payments provider client produces (their problem types live in the
 * error catalog; this list is what the problem registry collects for the payments feature).
 * A caller of {@link PaymentsProviderClient} can also receive DEADLINE_EXCEEDED (from the
 * deadline, when not even one attempt could start: nothing was sent).
 */
export const PAYMENTS_ERROR_CODES = [
  'PAYMENT_DECLINED',
  'PAYMENT_METHOD_INVALID',
  'PAYMENT_PROVIDER_ERROR',
  'PAYMENT_PROVIDER_TIMEOUT',
  'DEPENDENCY_UNAVAILABLE',
] as const;

/** The dependency name used in errors, logs and metric labels. */
export const PAYMENTS_DEPENDENCY = 'payments-provider';

/**
 * What a failed call means for the money:
 * - `not_charged`: the provider certainly made no charge (it declined, rejected, or was never reached);
 * - `unknown`: a charge may exist (a timeout, a broken answer, a 5xx after the request was sent).
 *   Keep the order pending and settle it with {@link PaymentsProviderClient.getCharge}; the
 *   idempotency key makes a later retry safe.
 */
export type ChargeOutcome = 'not_charged' | 'unknown';

/** Every error the payments client throws on purpose. */
export interface PaymentsFailure {
  readonly chargeOutcome: ChargeOutcome;
}

/** 402: the provider declined the payment method (card_declined). Never retried. */
export class PaymentDeclinedError extends AppError implements PaymentsFailure {
  readonly chargeOutcome = 'not_charged';
  constructor(readonly declineCode: string) {
    super('PAYMENT_DECLINED', { extensions: { declineCode } });
  }
}

/** 422: the provider rejected the payment token we sent for the caller (provider 400). Never retried. */
export class PaymentMethodInvalidError extends AppError implements PaymentsFailure {
  readonly chargeOutcome = 'not_charged';
  constructor(readonly providerCode: string) {
    super('PAYMENT_METHOD_INVALID', { extensions: { providerCode } });
  }
}

/** Why the provider's answer counted as a fault. Logged, never sent (5xx bodies stay generic). */
export type ProviderFaultReason = 'server_error' | 'malformed_response' | 'connection_lost' | 'unexpected_status';

/** 502: the provider answered with a fault, even after bounded retries. */
export class PaymentProviderError extends AppError implements PaymentsFailure {
  constructor(
    readonly reason: ProviderFaultReason,
    readonly chargeOutcome: ChargeOutcome,
    readonly attempts: number,
    cause?: unknown,
  ) {
    super('PAYMENT_PROVIDER_ERROR', { cause });
  }
}

/** 504: the provider did not answer within the budget. The outcome is unknown: settle it later. */
export class PaymentProviderTimeoutError extends AppError implements PaymentsFailure {
  readonly chargeOutcome = 'unknown';
  constructor(
    readonly attempts: number,
    cause?: unknown,
  ) {
    super('PAYMENT_PROVIDER_TIMEOUT', { cause });
  }
}

/** Why the provider counted as unavailable. */
export type UnavailableReason = 'circuit_open' | 'connection_refused' | 'rate_limited';

/**
 * 503 with `Retry-After`: the provider is unreachable, its circuit is open, or it kept
 * answering 429 beyond what one call may wait. `retryAfterSeconds` is the time until the
 * breaker's next probe, or the provider's own `Retry-After`.
 */
export class PaymentsUnavailableError extends AppError implements PaymentsFailure {
  constructor(
    readonly reason: UnavailableReason,
    readonly chargeOutcome: ChargeOutcome,
    retryAfterSeconds: number | undefined,
    cause?: unknown,
  ) {
    super('DEPENDENCY_UNAVAILABLE', {
      cause,
      retryAfterSeconds,
      extensions: { dependency: PAYMENTS_DEPENDENCY },
    });
  }
}

/** True for every error {@link PaymentsProviderClient} throws on purpose. */
export const isPaymentsFailure = (error: unknown): error is AppError & PaymentsFailure =>
  error instanceof AppError && 'chargeOutcome' in error;
