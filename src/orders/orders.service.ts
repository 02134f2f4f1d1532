import { Inject, Injectable } from '@nestjs/common';
import type { Logger } from 'pino';
import { APP_CONFIG } from '../config/config.module';
import type { AppConfig } from '../config/config.schemas';
import { PaymentsProviderClient } from '../payments/payments-provider.client';
import { PaymentDeclinedError, PaymentMethodInvalidError, PaymentsError } from '../payments/payments.errors';
import { SqlClient } from '../platform/database/sql.client';
import type { IdempotencyHandle } from '../platform/idempotency/idempotency.interceptor';
import { AppError } from '../platform/errors/app.errors';
import { ROOT_LOGGER } from '../platform/logging/logging.module';
import { MetricsService } from '../platform/metrics/metrics.service';
import { Deadline, DeadlineExceededError } from '../platform/resilience/deadline.policy';
import { ProductDiscontinuedError, ProductNotFoundError } from '../products/products.errors';
import { OrderCurrencyMismatchError, OrderNotFoundError, OrderPaymentError, OutOfStockError } from './orders.errors';
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
/** The settlement's own budget: it runs even when the request's deadline is spent (the charge happened). */
const SETTLE_BUDGET_MS = 2_000;

export interface CreateOrderContext {
  deadline: Deadline;
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
};

/**
 * Orders: reserve stock and create the order in ONE transaction, commit, charge the provider
 * OUTSIDE any transaction (a slow provider must never hold row locks or a pooled connection),
 * then settle in a second short transaction:
 *
 * - charged → `paid`;
 * - certainly not charged (declined, invalid token, provider unreachable or circuit open,
 *   no time left to even try) → `payment_failed`, stock released;
 * - outcome unknown (timeout, 5xx after the request was sent, broken answer) → stays
 *   `payment_pending`; the reconciliation asks the provider later and settles it.
 *
 * The provider's idempotency key is the order (`order-<id>`), so no retry at any level can
 * charge one order twice.
 */
@Injectable()
export class OrdersService {
  private readonly logger: Logger;
  /** `business_flow_attempts_total{flow="payment"}`: one per charge asked of the provider (or refused by its open circuit). */
  private readonly paymentAttempts: { inc(): void };
  /** `business_flow_failures_total{flow="payment",code}`: the problem code the payment failed with. */
  private readonly countPaymentFailure: (code: string) => void;

  constructor(
    private readonly orders: OrdersRepository,
    private readonly sql: SqlClient,
    private readonly payments: PaymentsProviderClient,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(ROOT_LOGGER) logger: Logger,
    metrics: MetricsService,
  ) {
    this.logger = logger.child({ component: 'orders' });
    this.paymentAttempts = metrics.counter('business_flow_attempts_total').labels({ flow: 'payment' });
    const failures = metrics.counter('business_flow_failures_total');
    this.countPaymentFailure = (code) => failures.inc({ flow: 'payment', code });
  }

  /**
   * Places and pays an order.
   * @throws ProductNotFoundError (404) | ProductDiscontinuedError (410) | OutOfStockError (409) |
   *   OrderCurrencyMismatchError (422) | OrderPaymentError (402, 422, 502, 503, 504 with `orderId`) |
   *   DeadlineExceededError (504)
   */
  async create(accountId: string, input: CreateOrderInput, context: CreateOrderContext): Promise<OrderView> {
    // An open payments circuit refuses before any stock is reserved or any order created: a fast
    // 503 with Retry-After, nothing to undo, and the idempotency key is released for the retry.
    const unavailable = this.payments.unavailableNow();
    if (unavailable) {
      this.paymentAttempts.inc();
      this.countPaymentFailure(unavailable.code);
      throw unavailable;
    }
    const resumed = context.idempotency?.resumedResourceId;
    const order = resumed
      ? await this.orders.findForAccount(accountId, resumed)
      : await this.reserve(accountId, input, context);
    if (!order) throw new OrderNotFoundError(); // a resumed key whose order is gone: cannot happen with FKs, kept safe
    if (order.status === 'payment_pending') return this.pay(order, input.paymentToken, context);
    // A resumed order already settled (by its first request or the reconciliation): answer as the first would have.
    const refusal = refusalOf(order.paymentFailureCode);
    if (order.status === 'payment_failed' && refusal) throw new OrderPaymentError(refusal, order.id, 'payment_failed');
    return toView(order);
  }

  /** tx1: lock the products (stable order), check, take the stock, insert the order, link the key. */
  private reserve(accountId: string, input: CreateOrderInput, context: CreateOrderContext): Promise<OrderWithLines> {
    const lines = [...input.items].sort((a, b) => (a.productId < b.productId ? -1 : 1));
    return this.sql.transaction(
      async (tx) => {
        const products = new Map(
          (
            await this.orders.lockProducts(
              tx,
              lines.map((l) => l.productId),
            )
          ).map((p) => [p.id, p]),
        );
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
        await this.orders.reserveStock(tx, priced);
        const order = await this.orders.insert(tx, { accountId, totalCents, currency: currencies[0], lines: priced });
        await context.idempotency?.attach(tx, order.id);
        return order;
      },
      {
        name: 'orders.reserve',
        lockTimeoutMs: this.config.orders.lockTimeoutMs,
        statementTimeoutMs: this.config.database.statementTimeoutMs,
        deadline: context.deadline,
      },
    );
  }

  /** The charge, outside any transaction, then tx2 (settle). */
  private async pay(order: OrderWithLines, token: string, context: CreateOrderContext): Promise<OrderView> {
    const chargeDeadline = context.deadline.within(context.deadline.remainingMs() - SETTLE_RESERVE_MS);
    this.paymentAttempts.inc();
    try {
      await this.payments.charge(
        { orderId: order.id, amountCents: order.totalCents, currency: order.currency, token },
        { deadline: chargeDeadline, requestId: context.requestId },
      );
    } catch (error) {
      // Codes come from the problem registry (a bounded set), never from the provider's text.
      this.countPaymentFailure(error instanceof AppError ? error.code : 'INTERNAL_ERROR');
      const notCharged =
        error instanceof DeadlineExceededError ||
        (error instanceof PaymentsError && error.chargeOutcome === 'not_charged');
      if (notCharged) {
        // Certainly no charge: fail the order and put the stock back. When the failure is
        // transient (provider unreachable, circuit open, no time to try), the key is also
        // unlinked, so the 5xx releases it and a retry places a fresh order.
        const transient = error instanceof DeadlineExceededError || error.failure.transient;
        const code = error instanceof DeadlineExceededError ? 'deadline_exceeded' : FAILURE_CODES[error.code];
        await this.sql.transaction(
          async (tx) => {
            await this.orders.markFailedAndRelease(tx, order.id, code ?? 'not_charged');
            if (transient) await context.idempotency?.detach(tx);
          },
          { name: 'orders.settleFailed', deadline: Deadline.after(SETTLE_BUDGET_MS) },
        );
        this.logger.info({ orderId: order.id, failureCode: code }, 'order payment failed; stock released');
        if (error instanceof DeadlineExceededError) throw error;
        throw new OrderPaymentError(error, order.id, 'payment_failed');
      }
      if (error instanceof PaymentsError) {
        this.logger.warn(
          { orderId: order.id, code: error.code, reason: error.reason },
          'order payment outcome unknown; left payment_pending for reconciliation',
        );
        throw new OrderPaymentError(error, order.id, 'payment_pending');
      }
      throw error;
    }
    // Charged. If recording it fails, the order stays pending and the reconciliation finds the charge.
    await this.sql.transaction((tx) => this.orders.markPaid(tx, order.id), {
      name: 'orders.settlePaid',
      deadline: Deadline.after(SETTLE_BUDGET_MS),
    });
    return toView({ ...order, status: 'paid' });
  }

  /** @throws OrderNotFoundError for a missing order and for another account's (never told apart). */
  async get(accountId: string, orderId: string, deadline?: Deadline): Promise<OrderView> {
    const order = await this.orders.findForAccount(accountId, orderId, deadline?.signal);
    if (!order) throw new OrderNotFoundError();
    return toView(order);
  }

  /** One page of the account's orders, newest first. */
  async list(accountId: string, limit: number, after?: OrderCursor, deadline?: Deadline): Promise<OrderPage> {
    const rows = await this.orders.listForAccount(accountId, limit + 1, after, deadline?.signal);
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return {
      items: page.map(toView),
      nextCursor: rows.length > limit && last ? encodeOrderCursor(last.createdAtMicros, last.id) : null,
    };
  }
}

/** The provider's refusal behind a stored failure code, for answering a resumed request. */
function refusalOf(failureCode: string | null): PaymentsError | undefined {
  if (failureCode === FAILURE_CODES.PAYMENT_DECLINED) return new PaymentDeclinedError(failureCode);
  if (failureCode === FAILURE_CODES.PAYMENT_METHOD_INVALID) return new PaymentMethodInvalidError('invalid_token');
  return undefined;
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
