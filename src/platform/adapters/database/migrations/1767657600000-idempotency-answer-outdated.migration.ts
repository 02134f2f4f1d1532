import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A stored answer that the resource it describes has outgrown (README "Idempotency keys"):
 *
 * - `answer_outdated`: set when the resource linked to the key (`resource_id`) changed state
 *   after the key's request read it (an order the reconciliation settled after its request
 *   answered 504 `payment_pending`). The next retry with the key does not replay that answer: it
 *   takes the key over and answers from the resource's state, then that answer is replayed.
 * - an index on `resource_id`, so the settlement finds the keys of one order at once.
 *
 * Expand only: the version still running during a rollout ignores the column (it replays the
 * stored answer, as before) and writes rows with its default.
 */
export class IdempotencyAnswerOutdated1767657600000 implements MigrationInterface {
  name = 'IdempotencyAnswerOutdated1767657600000';

  async up(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE idempotency_keys ADD COLUMN answer_outdated boolean NOT NULL DEFAULT false');
    await q.query(
      'CREATE INDEX idempotency_keys_resource_idx ON idempotency_keys (resource_id) WHERE resource_id IS NOT NULL',
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP INDEX idempotency_keys_resource_idx');
    await q.query('ALTER TABLE idempotency_keys DROP COLUMN answer_outdated');
  }
}
