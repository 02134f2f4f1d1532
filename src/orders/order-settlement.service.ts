import { Injectable } from '@nestjs/common';
import { PinoLogger } from 'nestjs-pino';
import { SqlClient, type SqlExecutor } from '../platform/adapters/database/sql.client';
import { IdempotencyRepository } from '../platform/edge/idempotency/idempotency.repository';
import { MetricsService } from '../platform/kernel/metrics/metrics.service';
import { Deadline } from '../platform/kernel/resilience/deadline.policy';
import { ProductsService } from '../products/products.service';
import { ProductStock } from '../products/products.types';
import { ATTENTION_REASONS, OrdersRepository, type AttentionReason, type OrderRow } from './orders.repository';
import type { OrderStatus } from './orders.schemas';

/** A settlement's own budget: it runs even when the request's deadline is spent (the charge happened, or not). */
export const SETTLE_BUDGET_MS = 2_000;

/** Stored when the provider has no charge under the order's key (or none could have been made). */
export const NOT_CHARGED_FAILURE_CODE = 'not_charged';

/** The order fields a settlement needs: its id and the charge attempt it saw (the guard). */
export type SettledOrder = Pick<OrderRow, 'id' | 'chargeResumedAt'>;

export interface SettleOptions {
  /** Cuts the settlement short (the worker's shutdown); it still has its own budget. */
  signal?: AbortSignal;
  /**
   * Settled by the request holding the order's idempotency key (its first, or a resumed one),
   * which answers from the new state. Otherwise (the reconciliation) the answer stored for the
   * key described the old state and is outdated.
   */
  byItsRequest?: boolean;
}

/**
 * The order's payment state machine, the one place that moves an order out of
 * `payment_pending`, for the request path (OrdersService) and the reconciliation alike:
 *
 * ```
 * payment_pending ──charge succeeded──────────────▶ paid
 *        │ └──────certainly not charged, and no ───▶ payment_failed ──charge succeeded──▶ needs_attention
 *        │        charge began since it was seen        (stock released)   (after all)     (charged_after_failure)
 *        └──outcome unknown too long / charge of another amount──▶ needs_attention
 * ```
 *
 * Every transition is a guarded UPDATE (`WHERE status = …`) taking the row lock; one that
 * matches no row is re-read under that lock and handled, never ignored. A resumed request
 * starts its charge with a guarded stamp (`OrdersRepository.resumeCharge`), so a settlement to
 * `payment_failed` that did not see that attempt cannot commit: an order settled
 * `payment_failed` is never charged afterwards, and a succeeded charge ends `paid` (or, if the
 * impossible happened, `needs_attention`, counted and logged at error for a person).
 *
 * Every transition also outdates, in its transaction, the answer stored for the order's
 * idempotency key ({@link IdempotencyRepository.reopen}) unless that key's request is the one
 * settling: a 504 `payment_pending` stored before the reconciliation settled the order is then
 * never replayed again; the next retry with the key resumes the order, which is no longer
 * pending (never charged again), and answers from its state.
 */
@Injectable()
export class OrderSettlementService {
  private readonly needsAttention: (reason: AttentionReason) => void;

  constructor(
    private readonly orders: OrdersRepository,
    private readonly sql: SqlClient,
    private readonly products: ProductsService,
    private readonly stock: ProductStock,
    private readonly keys: IdempotencyRepository,
    private readonly logger: PinoLogger,
    metrics: MetricsService,
  ) {
    this.logger.setContext(OrderSettlementService.name);
    const counter = metrics.counter('orders_needs_attention_total');
    // Every reason exported from the start (at 0), so the alert's increase() sees the first one.
    for (const reason of ATTENTION_REASONS) counter.inc({ reason }, 0);
    this.needsAttention = (reason) => counter.inc({ reason });
  }

  /**
   * The provider has a succeeded charge for the order: `payment_pending` → `paid`. When someone
   * settled it first: `paid` stays `paid`; `payment_failed` (its stock may be sold again) becomes
   * `needs_attention` (`charged_after_failure`), counted and logged at error.
   * @returns the order's status afterwards.
   */
  async charged(order: SettledOrder, options: SettleOptions = {}): Promise<OrderStatus> {
    const status = await this.sql.transaction(
      async (tx) => {
        const { moved, status: after } = await this.orders.markPaid(tx, order.id);
        if (after !== 'payment_failed') {
          if (moved) await this.outdateAnswers(tx, order.id, options);
          return after;
        }
        await this.orders.markNeedsAttention(tx, order.id, 'payment_failed', 'charged_after_failure');
        await this.outdateAnswers(tx, order.id, options);
        return 'needs_attention' as const;
      },
      { name: 'orders.settlePaid', deadline: Deadline.after(SETTLE_BUDGET_MS, options.signal) },
    );
    if (status === 'needs_attention') {
      this.needsAttention('charged_after_failure');
      this.logger.error(
        { orderId: order.id, reason: 'charged_after_failure' },
        'a charge succeeded for an order already settled payment_failed; flagged needs_attention',
      );
    }
    return status;
  }

  /**
   * Certainly not charged: `payment_pending` → `payment_failed` and its stock released, unless a
   * charge began since `order` was read (then it stays as it is: whoever charges settles it).
   * `alsoInTransaction` runs in the same transaction when it settles (the key's detach).
   * @returns whether it settled, and the order's status afterwards.
   */
  async notCharged(
    order: SettledOrder,
    failureCode: string,
    options: SettleOptions & { alsoInTransaction?: (tx: SqlExecutor) => Promise<void> } = {},
  ): Promise<{ settled: boolean; status: OrderStatus }> {
    const outcome = await this.sql.transaction(
      async (tx) => {
        const { settled, status, lines } = await this.orders.markFailed(
          tx,
          order.id,
          failureCode,
          order.chargeResumedAt,
        );
        if (!settled) return { settled, status, productIds: [] };
        const productIds = await this.stock.putBack(tx, lines);
        await this.outdateAnswers(tx, order.id, options);
        await options.alsoInTransaction?.(tx);
        return { settled, status, productIds };
      },
      { name: 'orders.settleFailed', deadline: Deadline.after(SETTLE_BUDGET_MS, options.signal) },
    );
    if (outcome.settled) await this.stockChanged(outcome.productIds);
    return { settled: outcome.settled, status: outcome.status };
  }

  /**
   * `payment_pending` → `needs_attention` for a person (the provider could not tell the outcome for
   * too long, or charged another amount), counted and logged at error.
   * @returns false when the order was no longer pending.
   */
  async handOver(order: SettledOrder, reason: AttentionReason, fields: Record<string, unknown>): Promise<boolean> {
    const moved = await this.sql.transaction(
      async (tx) => {
        const done = await this.orders.markNeedsAttention(tx, order.id, 'payment_pending', reason);
        if (done) await this.outdateAnswers(tx, order.id, {});
        return done;
      },
      { name: 'orders.handOver', deadline: Deadline.after(SETTLE_BUDGET_MS) },
    );
    if (moved) {
      this.needsAttention(reason);
      this.logger.error({ ...fields, orderId: order.id, reason }, 'order flagged needs_attention');
    }
    return moved;
  }

  /**
   * The answer stored for the order's key is outdated by the settlement in `tx`. An order is
   * linked to one key, the one whose request created it (tx1), so when that key's request is the
   * one settling there is nothing to outdate: no statement.
   */
  private async outdateAnswers(tx: SqlExecutor, orderId: string, options: SettleOptions): Promise<void> {
    if (!options.byItsRequest) await this.keys.reopen(tx, orderId);
  }

  /**
   * Forgets the cached products whose stock an order changed, after the change committed, so a
   * read right after sees the new stock (the cache fails open: Redis down costs nothing here).
   */
  stockChanged(productIds: readonly string[]): Promise<void> {
    return this.products.invalidate(productIds);
  }
}
