import type { ChargeOutcome, PaymentsError } from '../payments/payments.errors';
import { AppError } from '../platform/kernel/errors/app.errors';
import type { ClassifiedError, Failure } from '../platform/kernel/errors/failure.types';
import { defineProblemTypes } from '../platform/kernel/errors/problem-type.registry';

/** The orders feature's problem types (see platform/kernel/errors/problem-type.registry.ts). */
export const ORDERS_PROBLEM_TYPES = defineProblemTypes({
  ORDER_NOT_FOUND: {
    status: 404,
    title: 'Order not found',
    meaning: 'No order with this id belongs to you.',
    cause: "A wrong or stale order id, or another account's order (which is never revealed).",
    action: 'List your orders with `GET /v1/orders`. Do not retry unchanged.',
    retryable: false,
    logLevel: 'info',
    defaultDetail: 'No order with this id belongs to you.',
  },
  OUT_OF_STOCK: {
    status: 409,
    title: 'Out of stock',
    meaning: 'A product of the order has fewer items in stock than requested; nothing was reserved or charged.',
    cause: 'Other customers bought the last items, or the quantity is larger than the stock.',
    action:
      'Lower the quantity to at most `available` (the body names `productId` and `available`) and send a new request with a new Idempotency-Key.',
    retryable: false,
    logLevel: 'info',
    defaultDetail: 'A product is out of stock.',
  },
  ORDER_CURRENCY_MISMATCH: {
    status: 422,
    title: 'Mixed currencies',
    meaning: 'The products of one order are priced in different currencies; an order has a single currency.',
    cause: 'Products from catalogs of different currencies in one order.',
    action: 'Split the order by currency. Do not retry unchanged.',
    retryable: false,
    logLevel: 'info',
    defaultDetail: 'All products of an order must have the same currency.',
  },
  ORDER_NEEDS_ATTENTION: {
    status: 409,
    title: 'Order needs attention',
    meaning:
      'The order is `needs_attention`: its payment cannot be settled automatically (a charge reached it after it had been settled `payment_failed`, or the provider could not tell the outcome for too long). The body names it in `orderId`.',
    cause: 'A rare race between a retried request and the payment reconciliation, or a long provider outage.',
    action:
      'Do not pay again and do not retry: support settles the order (ships it or refunds the charge). Check it with GET /v1/orders/{orderId}; quote the requestId to support.',
    retryable: false,
    logLevel: 'warn',
    defaultDetail: 'The payment of this order is being settled by support; you will not be charged twice.',
    firstCheck:
      'Orders in status `needs_attention` (`attention_reason`), `orders_needs_attention_total{reason}`, and the `orders` log line at error naming the `orderId`.',
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
