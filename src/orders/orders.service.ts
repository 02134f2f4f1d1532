import { Inject, Injectable } from '@nestjs/common';
import { PinoLogger } from 'nestjs-pino';
import { APP_CONFIG } from '../config/config.module';
import type { AppConfig } from '../config/config.schemas';
import { PaymentsProviderClient } from '../payments/payments-provider.client';
import {
  PaymentDeclinedError,
  PaymentInterruptedError,
  PaymentMethodInvalidError,
  PaymentProviderError,
  PaymentsError,
  PaymentsUnavailableError,
} from '../payments/payments.errors';
import { SqlClient } from '../platform/adapters/database/sql.client';
import type { IdempotencyHandle } from '../platform/edge/idempotency/idempotency.interceptor';
import { AppError } from '../platform/kernel/errors/app.errors';
import { MetricsService } from '../platform/kernel/metrics/metrics.service';
import { Deadline, DeadlineExceededError } from '../platform/kernel/resilience/deadline.policy';
import { currentDeadline } from '../platform/kernel/correlation/correlation.context';
import { ProductDiscontinuedError, ProductNotFoundError } from '../products/products.errors';
import { ProductStock } from '../products/products.types';
import { NOT_CHARGED_FAILURE_CODE, OrderSettlementService } from './order-settlement.service';
import {
  OrderCurrencyMismatchError,
  OrderNeedsAttentionError,
  OrderNotFoundError,
  OrderPaymentError,
  OutOfStockError,
} from './orders.errors';
import { OrdersRepository, type OrderWithLines } from './orders.repository';
import {
  encodeOrderCursor,
  type CreateOrderInput,
  type OrderCursor,
  type OrderPage,
  type OrderView,
} from './orders.schemas';

/**
 * Time kept back from the request's budget for settling the order after the charge, so a
 * provider that uses the whole budget still leaves room to record the outcome.
 */
export const SETTLE_RESERVE_MS = 300;

/** The request's deadline is not here: it is in the request context (`currentDeadline()`), where the SQL seam reads it too. */
export interface CreateOrderContext {
  requestId?: string;
  /** The request's idempotency key: the order is attached to it in the transaction that creates it. */
  idempotency?: IdempotencyHandle;
}

/** Provider failure codes stored on a failed order when the provider certainly made no charge. */
const FAILURE_CODES: Record<string, string> = {
  PAYMENT_DECLINED: 'card_declined',
  PAYMENT_METHOD_INVALID: 'payment_method_invalid',
  DEPENDENCY_UNAVAILABLE: 'provider_unavailable',
  PAYMENT_PROVIDER_ERROR: 'provider_rejected',
  // No attempt could even start in the budget.
  DEADLINE_EXCEEDED: 'deadline_exceeded',
};

/**
 * Orders: reserve stock and create the order in ONE transaction, commit, charge the provider
 * OUTSIDE any transaction (a slow provider must never hold row locks or a pooled connection),
 * then settle in a second short transaction ({@link OrderSettlementService}, the state machine):
 *
 * - charged → `paid`;
 * - certainly not charged (declined, invalid token, provider unreachable or circuit open,
 *   no time left to even try) → `payment_failed`, stock released;
 * - outcome unknown (timeout, 5xx after the request was sent, broken answer, the caller gone or
 *   its budget spent mid-call) → stays `payment_pending`; the reconciliation asks the provider
 *   later and settles it.
 *
 * A request that takes over the key of a dead one resumes its order: charged again only if it
 * is still `payment_pending` (a guarded stamp the reconciliation respects), else answered from
 * its state. 201 means `paid`, always; any other end state answers the problem a first attempt
 * would have got, with `orderId` and `orderStatus`, and the key replays exactly that.
 *
 * The provider's idempotency key is the order (`order-<id>`), so no retry at any level can
 * charge one order twice.
 */
@Injectable()
export class OrdersService {
  /** `business_flow_attempts_total{flow="payment"}`: one per charge asked of the provider (or refused by its open circuit). */
  private readonly paymentAttempts: { inc(): void };
  /** `business_flow_failures_total{flow="payment",code}`: the problem code the payment failed with. */
  private readonly countPaymentFailure: (code: string) => void;

  constructor(
    private readonly orders: OrdersRepository,
    private readonly stock: ProductStock,
    private readonly sql: SqlClient,
    private readonly payments: PaymentsProviderClient,
    private readonly settlement: OrderSettlementService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly logger: PinoLogger,
    metrics: MetricsService,
  ) {
    this.logger.setContext(OrdersService.name);
    this.paymentAttempts = metrics.counter('business_flow_attempts_total').labels({ flow: 'payment' });
    const failures = metrics.counter('business_flow_failures_total');
    this.countPaymentFailure = (code) => failures.inc({ flow: 'payment', code });
  }

  /**
   * Places and pays an order (or resumes the order of a dead request with the same key).
   * @throws ProductNotFoundError (404) | ProductDiscontinuedError (410) | OutOfStockError (409) |
   *   OrderCurrencyMismatchError (422) | OrderPaymentError (402, 422, 502, 503, 504 with `orderId`) |
   *   OrderNeedsAttentionError (409) | DeadlineExceededError (504)
   */
  async create(accountId: string, input: CreateOrderInput, context: CreateOrderContext): Promise<OrderView> {
    const resumed = context.idempotency?.resumedResourceId;
    if (resumed) return this.resume(accountId, resumed, input.paymentToken, context);
    // An open payments circuit refuses before any stock is reserved or any order created: a fast
    // 503 with Retry-After, nothing to undo, and the idempotency key is released for the retry.
    const unavailable = this.payments.unavailableNow();
    if (unavailable) throw this.refusedByCircuit(unavailable);
    const order = await this.reserve(accountId, input, context);
    // The stock moved: the cached products are forgotten while the charge runs (no added latency;
    // the cache fails open, so this never rejects), and before the answer, so a read right after sees it.
    const forgetting = this.settlement.stockChanged(order.items.map((l) => l.productId));
    try {
      return await this.pay(order, input.paymentToken, context);
    } finally {
      await forgetting;
    }
  }

  /**
   * The key's first request died after creating this order. Charge it again only if it is still
   * `payment_pending`, stamped under the row lock so a reconciliation pass that has not seen this
   * attempt cannot settle it `payment_failed` meanwhile; anything else is answered from its state.
   */
  private async resume(
    accountId: string,
    orderId: string,
    token: string,
    context: CreateOrderContext,
  ): Promise<OrderView> {
    const unavailable = this.payments.unavailableNow();
    const pending = unavailable ? null : await this.orders.resumeCharge(accountId, orderId);
    if (pending) return this.pay(pending, token, context);
    const order = await this.orders.findForAccount(accountId, orderId);
    if (!order) throw new OrderNotFoundError(); // a resumed key whose order is gone: cannot happen with FKs, kept safe
    if (order.status === 'payment_pending' && unavailable) {
      throw new OrderPaymentError(this.refusedByCircuit(unavailable), order.id, 'payment_pending');
    }
    return answerFor(order);
  }

  private refusedByCircuit(unavailable: PaymentsUnavailableError): PaymentsUnavailableError {
    this.paymentAttempts.inc();
    this.countPaymentFailure(unavailable.code);
    return unavailable;
  }

  /** tx1: lock the products (stable order), check, take the stock, insert the order, link the key. */
  private reserve(accountId: string, input: CreateOrderInput, context: CreateOrderContext): Promise<OrderWithLines> {
    const lines = [...input.items].sort((a, b) => (a.productId < b.productId ? -1 : 1));
    return this.sql.transaction(
      async (tx) => {
        const locked = await this.stock.lockForOrder(
          tx,
          lines.map((l) => l.productId),
        );
        const products = new Map(locked.map((p) => [p.id, p]));
        for (const line of lines) {
          const product = products.get(line.productId);
          if (!product) throw new ProductNotFoundError(line.productId);
          if (product.status === 'discontinued') throw new ProductDiscontinuedError(line.productId);
          if (product.stock < line.quantity) throw new OutOfStockError(line.productId, line.quantity, product.stock);
        }
        const currencies = [...new Set([...products.values()].map((p) => p.currency))];
        if (currencies.length > 1) throw new OrderCurrencyMismatchError(currencies);
        const priced = lines.map((l) => ({ ...l, unitPriceCents: products.get(l.productId)!.priceCents }));
        const totalCents = priced.reduce((sum, l) => sum + l.quantity * l.unitPriceCents, 0);
        await this.stock.take(tx, priced);
        const order = await this.orders.insert(tx, { accountId, totalCents, currency: currencies[0], lines: priced });
        await context.idempotency?.attach(tx, order.id);
        return order;
      },
      {
        name: 'orders.reserve',
        lockTimeoutMs: this.config.orders.lockTimeoutMs,
        statementTimeoutMs: this.config.database.statementTimeoutMs,
      },
    );
  }

  /** The charge, outside any transaction, then tx2 (settle); the answer always follows the settled state. */
  private async pay(order: OrderWithLines, token: string, context: CreateOrderContext): Promise<OrderView> {
    // What is left of the request's budget (the request context), less what settling needs.
    const deadline = currentDeadline()?.deadline() ?? Deadline.after(this.config.orders.requestDeadlineMs);
    const chargeDeadline = deadline.within(deadline.remainingMs() - SETTLE_RESERVE_MS);
    this.paymentAttempts.inc();
    try {
      await this.payments.charge(
        { orderId: order.id, amountCents: order.totalCents, currency: order.currency, token },
        { deadline: chargeDeadline, requestId: context.requestId },
      );
    } catch (error) {
      return this.chargeFailed(order, error, context);
    }
    // Charged. If recording it fails, the order stays pending and the reconciliation finds the charge.
    const status = await this.settlement.charged(order, { byItsRequest: true });
    return answerFor({ ...order, status });
  }

  private async chargeFailed(order: OrderWithLines, error: unknown, context: CreateOrderContext): Promise<OrderView> {
    const callerGone = error instanceof PaymentInterruptedError && error.reason === 'caller_gone';
    // Codes come from the problem registry (a bounded set), never from the provider's text. A caller
    // who hung up is no payment failure: nobody is told, the reconciliation settles the order.
    if (!callerGone) this.countPaymentFailure(error instanceof AppError ? error.code : 'INTERNAL_ERROR');
    const notCharged =
      error instanceof DeadlineExceededError ||
      (error instanceof PaymentsError && error.chargeOutcome === 'not_charged');
    if (notCharged) {
      // Certainly no charge: fail the order and put the stock back. When the failure is
      // transient (provider unreachable, circuit open, no time to try), the key is also
      // unlinked, so the 5xx releases it and a retry places a fresh order.
      const transient = error instanceof DeadlineExceededError || error.failure.transient;
      const code = FAILURE_CODES[error.code];
      const { settled, status } = await this.settlement.notCharged(order, code ?? NOT_CHARGED_FAILURE_CODE, {
        byItsRequest: true,
        alsoInTransaction: transient ? (tx) => context.idempotency?.detach(tx) ?? Promise.resolve() : undefined,
      });
      if (!settled) return answerFor({ ...order, status }); // someone settled it first: answer its state
      this.logger.info({ orderId: order.id, failureCode: code }, 'order payment failed; stock released');
      if (error instanceof DeadlineExceededError) throw error;
      throw new OrderPaymentError(error, order.id, 'payment_failed');
    }
    if (error instanceof PaymentsError) {
      const fields = { orderId: order.id, code: error.code, reason: error.reason };
      const msg = 'order payment outcome unknown; left payment_pending for reconciliation';
      if (callerGone) this.logger.info(fields, msg);
      else this.logger.warn(fields, msg);
      throw new OrderPaymentError(error, order.id, 'payment_pending');
    }
    throw error;
  }

  /** @throws OrderNotFoundError for a missing order and for another account's (never told apart). */
  async get(accountId: string, orderId: string): Promise<OrderView> {
    const order = await this.orders.findForAccount(accountId, orderId);
    if (!order) throw new OrderNotFoundError();
    return toView(order);
  }

  /** One page of the account's orders, newest first. */
  async list(accountId: string, limit: number, after?: OrderCursor): Promise<OrderPage> {
    const rows = await this.orders.listForAccount(accountId, limit + 1, after);
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return {
      items: page.map(toView),
      nextCursor: rows.length > limit && last ? encodeOrderCursor(last.createdAtMicros, last.id) : null,
    };
  }
}

/**
 * The answer an order's settled state gets, whichever request asks (first, resumed, replayed):
 * 201 only for `paid`; `payment_failed` gets the problem a first attempt would have got, and
 * `needs_attention` its own, each with `orderId` and `orderStatus`.
 */
function answerFor(order: OrderWithLines): OrderView {
  switch (order.status) {
    case 'paid':
      return toView(order);
    case 'payment_failed':
      throw new OrderPaymentError(failureOf(order.paymentFailureCode), order.id, 'payment_failed');
    case 'needs_attention':
      throw new OrderNeedsAttentionError(order.id);
    default:
      // Still pending although a settlement was due (it could not take its lock in time): unknown for now.
      throw new OrderPaymentError(
        new PaymentInterruptedError('request_deadline', 'unknown'),
        order.id,
        'payment_pending',
      );
  }
}

/** The provider's failure behind a stored failure code, as the first attempt met it. */
function failureOf(failureCode: string | null): PaymentsError {
  switch (failureCode) {
    case FAILURE_CODES.PAYMENT_METHOD_INVALID:
      return new PaymentMethodInvalidError('invalid_token');
    case FAILURE_CODES.DEPENDENCY_UNAVAILABLE:
      return new PaymentsUnavailableError('connection_refused', 'not_charged', undefined);
    case FAILURE_CODES.PAYMENT_PROVIDER_ERROR:
      return new PaymentProviderError('unexpected_status', 'not_charged', 0);
    case FAILURE_CODES.DEADLINE_EXCEEDED:
      return new PaymentInterruptedError('request_deadline', 'not_charged');
    case NOT_CHARGED_FAILURE_CODE:
    case null:
      // The first attempt met a provider fault (outcome unknown); the reconciliation found no charge.
      return new PaymentProviderError('server_error', 'not_charged', 0);
    default:
      // Any other code is the provider's own on a failed charge (`card_declined`, …): a decline.
      return new PaymentDeclinedError(failureCode);
  }
}

function toView(order: OrderWithLines): OrderView {
  return {
    id: order.id,
    status: order.status,
    items: order.items.map((l) => ({ productId: l.productId, quantity: l.quantity, unitPriceCents: l.unitPriceCents })),
    totalCents: order.totalCents,
    currency: order.currency,
    createdAt: order.createdAt.toISOString(),
  };
}
