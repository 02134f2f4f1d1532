import type { ChargeOutcome, PaymentsError } from '../payments/payments.errors';
import { AppError } from '../platform/kernel/errors/app.errors';
import type { ClassifiedError, Failure } from '../platform/kernel/errors/failure.types';
import { defineProblemTypes } from '../platform/kernel/errors/problem-type.registry';
import PROSE from './orders.problems.json';

/** The orders feature's problem types (see platform/kernel/errors/problem-type.registry.ts). */
export const ORDERS_PROBLEM_TYPES = defineProblemTypes(PROSE, {
  ORDER_NOT_FOUND: {
    status: 404,
    retryable: false,
    logLevel: 'info',
  },
  OUT_OF_STOCK: {
    status: 409,
    retryable: false,
    logLevel: 'info',
  },
  ORDER_CURRENCY_MISMATCH: {
    status: 422,
    retryable: false,
    logLevel: 'info',
  },
  ORDER_NEEDS_ATTENTION: {
    status: 409,
    retryable: false,
    logLevel: 'warn',
  },
});

declare module '../platform/kernel/errors/problem-type.registry' {
  interface ProblemCodes extends Record<keyof typeof ORDERS_PROBLEM_TYPES, true> {}
}

/** 404: the order does not exist or is another account's (the two are never told apart). */
export class OrderNotFoundError extends AppError {
  constructor() {
    super('ORDER_NOT_FOUND');
  }
}

/** 409: not enough stock for one line; nothing was reserved. */
export class OutOfStockError extends AppError {
  constructor(productId: string, requested: number, available: number) {
    super('OUT_OF_STOCK', {
      detail: `Product ${productId} has ${available} in stock; ${requested} requested.`,
      extensions: { productId, requested, available },
    });
  }
}

/** 422: the order's products are priced in more than one currency. */
export class OrderCurrencyMismatchError extends AppError {
  constructor(currencies: string[]) {
    super('ORDER_CURRENCY_MISMATCH', { extensions: { currencies } });
  }
}

/**
 * A payment failure of an order that exists: the payments error as the caller gets it (same
 * code, status, `Retry-After` and `failure`), plus the members `orderId` and `orderStatus`,
 * so a 504 `PAYMENT_PROVIDER_TIMEOUT` tells the caller which order is pending and will be settled.
 */
export class OrderPaymentError extends AppError implements ClassifiedError {
  readonly failure: Failure;
  readonly chargeOutcome: ChargeOutcome;

  constructor(
    cause: PaymentsError,
    readonly orderId: string,
    orderStatus: 'payment_pending' | 'payment_failed',
  ) {
    super(cause.code, {
      cause,
      detail: cause.detail,
      reason: cause.reason,
      retryAfterSeconds: cause.retryAfterSeconds,
      extensions: { ...cause.extensions, orderId, orderStatus },
    });
    this.failure = cause.failure;
    this.chargeOutcome = cause.chargeOutcome;
  }
}

/**
 * 409: the order is `needs_attention` (money and state disagree, or the outcome stayed unknown
 * too long): a person settles it. Carries `orderId` and `orderStatus` like every answer about an order.
 */
export class OrderNeedsAttentionError extends AppError {
  constructor(readonly orderId: string) {
    super('ORDER_NEEDS_ATTENTION', { extensions: { orderId, orderStatus: 'needs_attention' } });
  }
}
