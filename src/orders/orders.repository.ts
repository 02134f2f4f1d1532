import { Injectable } from '@nestjs/common';
import { rethrowIfAccountGone } from '../accounts/accounts.errors';
import { SqlClient, type SqlExecutor } from '../platform/adapters/database/sql.client';
import type { StockLine } from '../products/products.types';
import type { OrderCursor, OrderStatus } from './orders.schemas';

export interface OrderLineRow {
  productId: string;
  quantity: number;
  unitPriceCents: number;
}

export interface OrderRow extends Record<string, unknown> {
  id: string;
  accountId: string;
  status: OrderStatus;
  totalCents: number;
  currency: string;
  paymentFailureCode: string | null;
  reconcileAttempts: number;
  /**
   * When a resumed request last began charging the order (exact, as Postgres text); null when
   * only its first request did. The guard of every `payment_failed` settlement.
   */
  chargeResumedAt: string | null;
  /** Why a `needs_attention` order is there. */
  attentionReason: AttentionReason | null;
  createdAt: Date;
  /** `created_at` in epoch microseconds (exact), for page cursors. */
  createdAtMicros: string;
}

export interface OrderWithLines extends OrderRow {
  items: OrderLineRow[];
}

/** Why an order is `needs_attention` (the `reason` label of `orders_needs_attention_total`). */
export const ATTENTION_REASONS = ['charged_after_failure', 'charge_mismatch', 'pending_too_long'] as const;
export type AttentionReason = (typeof ATTENTION_REASONS)[number];

const ORDER_COLUMNS = `o.id, o.account_id AS "accountId", o.status, o.total_cents::float8 AS "totalCents", o.currency,
  o.payment_failure_code AS "paymentFailureCode", o.reconcile_attempts AS "reconcileAttempts",
  o.charge_resumed_at::text AS "chargeResumedAt", o.attention_reason AS "attentionReason", o.created_at AS "createdAt",
  ((extract(epoch FROM o.created_at) * 1000000)::bigint)::text AS "createdAtMicros"`;

/**
 * The only code that talks to `orders` and `order_items`; the stock an order takes and puts back
 * changes through products' port (ProductStock), in the same transaction. Driver errors propagate: the problem mapping turns a lock timeout into 503
 * and a cancelled statement into 504 in one place for every feature.
 */
@Injectable()
export class OrdersRepository {
  constructor(private readonly sql: SqlClient) {}

  /**
   * Inserts a `payment_pending` order and its lines.
   * @throws AccountNotFoundError (404) when the account was erased after its token was issued.
   */
  async insert(
    tx: SqlExecutor,
    order: { accountId: string; totalCents: number; currency: string; lines: OrderLineRow[] },
  ): Promise<OrderWithLines> {
    const [row] = await tx
      .query<OrderRow>(
        `INSERT INTO orders AS o (account_id, status, total_cents, currency) VALUES ($1, 'payment_pending', $2, $3)
         RETURNING ${ORDER_COLUMNS}`,
        [order.accountId, order.totalCents, order.currency],
        { queryClass: 'write', name: 'orders.insert' },
      )
      .catch(rethrowIfAccountGone('orders_account_id_fkey'));
    await tx.query(
      `INSERT INTO order_items (order_id, product_id, quantity, unit_price_cents)
       SELECT $1, * FROM unnest($2::uuid[], $3::int[], $4::int[])`,
      [
        row.id,
        order.lines.map((l) => l.productId),
        order.lines.map((l) => l.quantity),
        order.lines.map((l) => l.unitPriceCents),
      ],
      { queryClass: 'write', name: 'orders.insertItems' },
    );
    return { ...row, items: order.lines };
  }

  /** One order of one account, with its lines; null when missing or another account's. */
  async findForAccount(accountId: string, orderId: string): Promise<OrderWithLines | null> {
    const [row] = await this.sql.query<OrderRow>(
      `SELECT ${ORDER_COLUMNS} FROM orders o WHERE o.id = $1 AND o.account_id = $2`,
      [orderId, accountId],
      { name: 'orders.find' },
    );
    if (!row) return null;
    const [withLines] = await this.withLines([row]);
    return withLines;
  }

  /** One page of an account's orders, newest first (keyset on `(created_at, id)`, served by its index). */
  async listForAccount(accountId: string, limit: number, after: OrderCursor | undefined): Promise<OrderWithLines[]> {
    const rows = after
      ? await this.sql.query<OrderRow>(
          `SELECT ${ORDER_COLUMNS} FROM orders o
           WHERE o.account_id = $1
             AND (o.created_at, o.id) < (timestamptz 'epoch' + $2::bigint * interval '1 microsecond', $3::uuid)
           ORDER BY o.created_at DESC, o.id DESC LIMIT $4`,
          [accountId, after.t, after.id, limit],
          { name: 'orders.list' },
        )
      : await this.sql.query<OrderRow>(
          `SELECT ${ORDER_COLUMNS} FROM orders o WHERE o.account_id = $1
           ORDER BY o.created_at DESC, o.id DESC LIMIT $2`,
          [accountId, limit],
          { name: 'orders.list' },
        );
    return this.withLines(rows);
  }

  private async withLines(rows: OrderRow[]): Promise<OrderWithLines[]> {
    if (rows.length === 0) return [];
    const lines = await this.sql.query<OrderLineRow & { orderId: string }>(
      `SELECT order_id AS "orderId", product_id AS "productId", quantity, unit_price_cents AS "unitPriceCents"
       FROM order_items WHERE order_id = ANY($1::uuid[]) ORDER BY order_id, product_id`,
      [rows.map((r) => r.id)],
      { name: 'orders.lines' },
    );
    const byOrder = new Map<string, OrderLineRow[]>();
    for (const { orderId, ...line } of lines) byOrder.set(orderId, [...(byOrder.get(orderId) ?? []), line]);
    return rows.map((row) => ({ ...row, items: byOrder.get(row.id) ?? [] }));
  }

  /**
   * A resumed request's guarded start of a charge: stamps `charge_resumed_at` on the order if it
   * is still `payment_pending` (one statement, under the row lock), so a reconciliation pass that
   * claimed it before cannot settle it `payment_failed` while this charge may be in flight.
   * @returns the order, or null when it is no longer pending (settled meanwhile: never charge it).
   */
  async resumeCharge(accountId: string, orderId: string): Promise<OrderWithLines | null> {
    const [row] = await this.sql.query<OrderRow>(
      `UPDATE orders o SET charge_resumed_at = now(), updated_at = now()
       WHERE o.id = $1 AND o.account_id = $2 AND o.status = 'payment_pending'
       RETURNING ${ORDER_COLUMNS}`,
      [orderId, accountId],
      { queryClass: 'write', name: 'orders.resumeCharge' },
    );
    if (!row) return null;
    const [withLines] = await this.withLines([row]);
    return withLines;
  }

  /**
   * `payment_pending` → `paid` (the provider has the charge).
   * @returns whether it moved, and the status afterwards: `paid`, or what someone else settled it
   *   to first (the row stays locked until the transaction ends, so the caller handles that state
   *   before anyone moves it).
   */
  async markPaid(tx: SqlExecutor, orderId: string): Promise<{ moved: boolean; status: OrderStatus }> {
    const rows = await tx.query(
      `UPDATE orders SET status = 'paid', payment_failure_code = NULL, updated_at = now()
       WHERE id = $1 AND status = 'payment_pending' RETURNING 1`,
      [orderId],
      { queryClass: 'write', name: 'orders.markPaid' },
    );
    return rows.length === 1
      ? { moved: true, status: 'paid' }
      : { moved: false, status: await this.lockStatus(tx, orderId) };
  }

  /**
   * `payment_pending` → `payment_failed`, only if no charge began since the caller looked: its
   * `charge_resumed_at` is still `chargeResumedAt`. The caller puts `lines` back in stock in the
   * same transaction (products' port).
   * @returns whether it settled, the status afterwards (locked until the transaction ends), and
   *   the order's lines when it settled (none otherwise).
   */
  async markFailed(
    tx: SqlExecutor,
    orderId: string,
    failureCode: string,
    chargeResumedAt: string | null,
  ): Promise<{ settled: boolean; status: OrderStatus; lines: StockLine[] }> {
    const [row] = await tx.query<{ lines: StockLine[] }>(
      `UPDATE orders o SET status = 'payment_failed', payment_failure_code = $2, updated_at = now()
       WHERE o.id = $1 AND o.status = 'payment_pending' AND o.charge_resumed_at IS NOT DISTINCT FROM $3::timestamptz
       RETURNING (SELECT COALESCE(json_agg(json_build_object('productId', i.product_id, 'quantity', i.quantity)
                                           ORDER BY i.product_id), '[]')
                  FROM order_items i WHERE i.order_id = o.id) AS lines`,
      [orderId, failureCode, chargeResumedAt],
      { queryClass: 'write', name: 'orders.markFailed' },
    );
    if (!row) return { settled: false, status: await this.lockStatus(tx, orderId), lines: [] };
    return { settled: true, status: 'payment_failed', lines: row.lines };
  }

  /**
   * Hands an order to a person: `from` → `needs_attention`, with the reason.
   * @returns false when the order was no longer in `from`.
   */
  async markNeedsAttention(
    executor: SqlExecutor,
    orderId: string,
    from: OrderStatus,
    reason: AttentionReason,
  ): Promise<boolean> {
    const rows = await executor.query(
      `UPDATE orders SET status = 'needs_attention', attention_reason = $3, updated_at = now()
       WHERE id = $1 AND status = $2 RETURNING 1`,
      [orderId, from, reason],
      { queryClass: 'write', name: 'orders.markNeedsAttention' },
    );
    return rows.length === 1;
  }

  /** The order's status, its row locked until the transaction ends (a guarded update matched nothing: see why). */
  private async lockStatus(tx: SqlExecutor, orderId: string): Promise<OrderStatus> {
    const [row] = await tx.query<{ status: OrderStatus }>(
      `SELECT status FROM orders WHERE id = $1 FOR UPDATE`,
      [orderId],
      { queryClass: 'lock', name: 'orders.lockStatus' },
    );
    return row.status;
  }

  /**
   * Claims up to `limit` pending orders whose latest charge attempt (the first request's, at
   * `created_at`, or a resumed request's) began more than `graceMs` ago, so none of ours can still
   * be in flight (RECONCILE_GRACE_MS exceeds every request's budget; checked at boot), for one
   * reconciliation pass: counts the attempt and stamps `updated_at`, so a concurrent pass
   * (`SKIP LOCKED`, then the `claimLeaseMs` on `updated_at` of an order claimed before) never
   * works on the same order at the same time. The claim commits at once: the provider is then
   * asked outside any transaction.
   */
  claimPending(graceMs: number, claimLeaseMs: number, limit: number): Promise<OrderRow[]> {
    return this.sql.query<OrderRow>(
      `UPDATE orders o SET reconcile_attempts = o.reconcile_attempts + 1, updated_at = now()
       WHERE o.id IN (
         SELECT id FROM orders
         WHERE status = 'payment_pending'
           AND COALESCE(charge_resumed_at, created_at) < now() - $1 * interval '1 millisecond'
           AND (reconcile_attempts = 0 OR updated_at < now() - $2 * interval '1 millisecond')
         ORDER BY created_at LIMIT $3 FOR UPDATE SKIP LOCKED)
       RETURNING ${ORDER_COLUMNS}`,
      [graceMs, claimLeaseMs, limit],
      { queryClass: 'write', name: 'orders.claimPending' },
    );
  }

  /** The reconciliation backlog, for logs and metrics. */
  async pendingBacklog(): Promise<{ pending: number; oldestAgeSeconds: number }> {
    const [row] = await this.sql.query<{ pending: number; oldestAgeSeconds: number }>(
      `SELECT count(*)::int AS pending,
              COALESCE(extract(epoch FROM now() - min(created_at)), 0)::float8 AS "oldestAgeSeconds"
       FROM orders WHERE status = 'payment_pending'`,
      [],
      { name: 'orders.pendingBacklog' },
    );
    return row;
  }
}
