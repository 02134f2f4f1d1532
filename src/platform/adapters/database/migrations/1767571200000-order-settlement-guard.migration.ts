import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The order's payment state machine, made safe against a resumed request racing the
 * reconciliation (README "Orders and payments"):
 *
 * - `charge_resumed_at`: when a resumed request (same Idempotency-Key, its first request dead)
 *   last began charging the order; NULL when only the first request charged (at `created_at`).
 *   The reconciliation claims an order only once its latest charge attempt is older than
 *   RECONCILE_GRACE_MS, and settles it `payment_failed` only if no attempt began since its claim.
 * - status `needs_attention`: money and state disagree, or the outcome stayed unknown past
 *   RECONCILE_MAX_AGE_MS; a person settles it (`attention_reason` says why). Orders flagged by
 *   the boolean `needs_attention` before this migration move to the status.
 *
 * Expand only: the boolean column stays (unused from this version on) for the version still
 * running during a rollout; a later migration drops it.
 */
export class OrderSettlementGuard1767571200000 implements MigrationInterface {
  name = 'OrderSettlementGuard1767571200000';

  async up(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE orders DROP CONSTRAINT orders_status_check');
    await q.query(`ALTER TABLE orders ADD CONSTRAINT orders_status_check
      CHECK (status IN ('payment_pending', 'paid', 'payment_failed', 'needs_attention'))`);
    await q.query('ALTER TABLE orders ADD COLUMN charge_resumed_at timestamptz');
    await q.query('ALTER TABLE orders ADD COLUMN attention_reason text');
    await q.query(`UPDATE orders SET status = 'needs_attention', attention_reason = 'pending_too_long'
      WHERE needs_attention AND status = 'payment_pending'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`UPDATE orders SET status = 'payment_pending', needs_attention = true
      WHERE status = 'needs_attention'`);
    await q.query('ALTER TABLE orders DROP COLUMN attention_reason');
    await q.query('ALTER TABLE orders DROP COLUMN charge_resumed_at');
    await q.query('ALTER TABLE orders DROP CONSTRAINT orders_status_check');
    await q.query(`ALTER TABLE orders ADD CONSTRAINT orders_status_check
      CHECK (status IN ('payment_pending', 'paid', 'payment_failed'))`);
  }
}
