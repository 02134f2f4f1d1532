import { Injectable } from '@nestjs/common';
import { rethrowIfAccountGone } from '../accounts/accounts.errors';
import { SqlClient, type SqlExecutor } from '../platform/database/sql.client';
import type { OrderCursor, OrderStatus } from './orders.schemas';

/** A product row as the reservation locks it. */
export interface LockedProduct extends Record<string, unknown> {
  id: string;
  priceCents: number;
  currency: string;
  stock: number;
  status: 'active' | 'discontinued';
}

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
  needsAttention: boolean;
  createdAt: Date;
  /** `created_at` in epoch microseconds (exact), for page cursors. */
  createdAtMicros: string;
}

export interface OrderWithLines extends OrderRow {
  items: OrderLineRow[];
}

const ORDER_COLUMNS = `o.id, o.account_id AS "accountId", o.status, o.total_cents::float8 AS "totalCents", o.currency,
  o.payment_failure_code AS "paymentFailureCode", o.reconcile_attempts AS "reconcileAttempts",
  o.needs_attention AS "needsAttention", o.created_at AS "createdAt",
  ((extract(epoch FROM o.created_at) * 1000000)::bigint)::text AS "createdAtMicros"`;

/**
 * The only code that talks to `orders` and `order_items` (and to `products.stock` for
 * reservations). Driver errors propagate: the problem mapping turns a lock timeout into 503
 * and a cancelled statement into 504 in one place for every feature.
 */
@Injectable()
export class OrdersRepository {
  constructor(private readonly sql: SqlClient) {}

  /**
   * Locks the products of an order, in id order: two orders sharing products always lock
   * them in the same order, so they queue instead of deadlocking.
   */
  lockProducts(tx: SqlExecutor, productIds: string[]): Promise<LockedProduct[]> {
    return tx.query<LockedProduct>(
      `SELECT id, price_cents AS "priceCents", currency, stock, status
       FROM products WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE`,
      [productIds],
      { queryClass: 'lock', name: 'orders.lockProducts' },
    );
  }

  /** Takes the order's quantities out of stock (rows already locked by {@link lockProducts}). */
  async reserveStock(tx: SqlExecutor, lines: { productId: string; quantity: number }[]): Promise<void> {
    await tx.query(
      `UPDATE products SET stock = stock - x.quantity, updated_at = now()
       FROM unnest($1::uuid[], $2::int[]) AS x(product_id, quantity) WHERE products.id = x.product_id`,
      [lines.map((l) => l.productId), lines.map((l) => l.quantity)],
      { queryClass: 'write', name: 'orders.reserveStock' },
    );
  }

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
  async findForAccount(accountId: string, orderId: string, signal?: AbortSignal): Promise<OrderWithLines | null> {
    const [row] = await this.sql.query<OrderRow>(
      `SELECT ${ORDER_COLUMNS} FROM orders o WHERE o.id = $1 AND o.account_id = $2`,
      [orderId, accountId],
      { name: 'orders.find', signal },
    );
    if (!row) return null;
    const [withLines] = await this.withLines([row], signal);
    return withLines;
  }

  /** One page of an account's orders, newest first (keyset on `(created_at, id)`, served by its index). */
  async listForAccount(
    accountId: string,
    limit: number,
    after: OrderCursor | undefined,
    signal?: AbortSignal,
  ): Promise<OrderWithLines[]> {
    const rows = after
      ? await this.sql.query<OrderRow>(
          `SELECT ${ORDER_COLUMNS} FROM orders o
           WHERE o.account_id = $1
             AND (o.created_at, o.id) < (timestamptz 'epoch' + $2::bigint * interval '1 microsecond', $3::uuid)
           ORDER BY o.created_at DESC, o.id DESC LIMIT $4`,
          [accountId, after.t, after.id, limit],
          { name: 'orders.list', signal },
        )
      : await this.sql.query<OrderRow>(
          `SELECT ${ORDER_COLUMNS} FROM orders o WHERE o.account_id = $1
           ORDER BY o.created_at DESC, o.id DESC LIMIT $2`,
          [accountId, limit],
          { name: 'orders.list', signal },
        );
    return this.withLines(rows, signal);
  }

  private async withLines(rows: OrderRow[], signal?: AbortSignal): Promise<OrderWithLines[]> {
    if (rows.length === 0) return [];
    const lines = await this.sql.query<OrderLineRow & { orderId: string }>(
      `SELECT order_id AS "orderId", product_id AS "productId", quantity, unit_price_cents AS "unitPriceCents"
       FROM order_items WHERE order_id = ANY($1::uuid[]) ORDER BY order_id, product_id`,
      [rows.map((r) => r.id)],
      { name: 'orders.lines', signal },
    );
    const byOrder = new Map<string, OrderLineRow[]>();
    for (const { orderId, ...line } of lines) byOrder.set(orderId, [...(byOrder.get(orderId) ?? []), line]);
    return rows.map((row) => ({ ...row, items: byOrder.get(row.id) ?? [] }));
  }

  /** `payment_pending` → `paid`. False when the order was no longer pending (someone settled it first). */
  async markPaid(tx: SqlExecutor, orderId: string): Promise<boolean> {
    const rows = await tx.query(
      `UPDATE orders SET status = 'paid', payment_failure_code = NULL, needs_attention = false, updated_at = now()
       WHERE id = $1 AND status = 'payment_pending' RETURNING 1`,
      [orderId],
      { queryClass: 'write', name: 'orders.markPaid' },
    );
    return rows.length === 1;
  }

  /**
   * `payment_pending` → `payment_failed`, and its stock back on the shelf (products locked in id
   * order, as the reservation does). False when the order was no longer pending: nothing changes.
   */
  async markFailedAndRelease(tx: SqlExecutor, orderId: string, failureCode: string): Promise<boolean> {
    const rows = await tx.query(
      `UPDATE orders SET status = 'payment_failed', payment_failure_code = $2, updated_at = now()
       WHERE id = $1 AND status = 'payment_pending' RETURNING 1`,
      [orderId, failureCode],
      { queryClass: 'write', name: 'orders.markFailed' },
    );
    if (rows.length === 0) return false;
    await tx.query(
      `SELECT p.id FROM products p JOIN order_items i ON i.product_id = p.id
       WHERE i.order_id = $1 ORDER BY p.id FOR UPDATE OF p`,
      [orderId],
      { queryClass: 'lock', name: 'orders.lockForRelease' },
    );
    await tx.query(
      `UPDATE products p SET stock = p.stock + i.quantity, updated_at = now()
       FROM order_items i WHERE i.order_id = $1 AND p.id = i.product_id`,
      [orderId],
      { queryClass: 'write', name: 'orders.releaseStock' },
    );
    return true;
  }

  /**
   * Claims up to `limit` pending orders older than `graceMs` for one reconciliation pass:
   * counts the attempt and stamps `updated_at`, so a concurrent pass (`SKIP LOCKED`, then the
   * `claimLeaseMs` on `updated_at` of an order claimed before) never works on the same order
   * at the same time. The claim
   * commits at once: the provider is then asked outside any transaction.
   */
  claimPending(graceMs: number, claimLeaseMs: number, limit: number): Promise<OrderRow[]> {
    return this.sql.query<OrderRow>(
      `UPDATE orders o SET reconcile_attempts = o.reconcile_attempts + 1, updated_at = now()
       WHERE o.id IN (
         SELECT id FROM orders
         WHERE status = 'payment_pending' AND NOT needs_attention
           AND created_at < now() - $1 * interval '1 millisecond'
           AND (reconcile_attempts = 0 OR updated_at < now() - $2 * interval '1 millisecond')
         ORDER BY created_at LIMIT $3 FOR UPDATE SKIP LOCKED)
       RETURNING ${ORDER_COLUMNS}`,
      [graceMs, claimLeaseMs, limit],
      { queryClass: 'write', name: 'orders.claimPending' },
    );
  }

  /** Flags a pending order for a person: reconciliation stops retrying it. */
  async flag(orderId: string): Promise<void> {
    await this.sql.query(
      `UPDATE orders SET needs_attention = true, updated_at = now() WHERE id = $1 AND status = 'payment_pending'`,
      [orderId],
      { queryClass: 'write', idempotent: true, name: 'orders.flag' },
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
