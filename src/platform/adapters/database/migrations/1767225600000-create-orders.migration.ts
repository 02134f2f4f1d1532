import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Orders and their lines. Shared by the orders feature (create, read, reconcile payments)
 * and the reports feature (the worker aggregates them), so its shape is fixed here first.
 *
 * Money is integer cents (`bigint` for totals: a sum of many lines must not overflow int4).
 * An order's payment outcome may be unknown for a while (provider timeout): it stays
 * `payment_pending` until the reconciliation settles it to `paid` or `payment_failed`, and
 * `needs_attention` flags one that stayed pending past the reconciliation's age limit.
 */
export class CreateOrders1767225600000 implements MigrationInterface {
  name = 'CreateOrders1767225600000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE orders (
        id                   uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
        account_id           uuid        NOT NULL REFERENCES accounts (id),
        status               text        NOT NULL
                             CHECK (status IN ('payment_pending', 'paid', 'payment_failed')),
        total_cents          bigint      NOT NULL CHECK (total_cents >= 0),
        currency             char(3)     NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
        payment_failure_code text,
        reconcile_attempts   integer     NOT NULL DEFAULT 0 CHECK (reconcile_attempts >= 0),
        needs_attention      boolean     NOT NULL DEFAULT false,
        created_at           timestamptz NOT NULL DEFAULT now(),
        updated_at           timestamptz NOT NULL DEFAULT now()
      )`);
    // Keyset pages of one account's orders, newest first (GET /v1/orders), and the
    // reports' date-range scans of one account.
    await q.query(`CREATE INDEX orders_account_created_idx ON orders (account_id, created_at DESC, id DESC)`);
    // The reconciliation's work list stays small and cheap to find: only pending orders.
    await q.query(`CREATE INDEX orders_payment_pending_idx ON orders (created_at) WHERE status = 'payment_pending'`);
    await q.query(`
      CREATE TABLE order_items (
        order_id         uuid    NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
        product_id       uuid    NOT NULL REFERENCES products (id),
        quantity         integer NOT NULL CHECK (quantity > 0),
        unit_price_cents integer NOT NULL CHECK (unit_price_cents >= 0),
        PRIMARY KEY (order_id, product_id)
      )`);
    await q.query(`CREATE INDEX order_items_product_idx ON order_items (product_id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE order_items');
    await q.query('DROP TABLE orders');
  }
}
