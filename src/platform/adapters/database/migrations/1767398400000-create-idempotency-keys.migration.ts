import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Idempotency keys of unsafe requests (`POST /v1/orders`), stored durably in Postgres so that
 * no cache outage can ever let a retried request charge twice.
 *
 * One row per (account, method, path, key): `fingerprint` (a hash of the canonical body) tells
 * a retry from a reuse with another body; `state` is `in_progress` until the first request's
 * answer is stored (`completed`, with `response_status`, `response_headers`, `response_body`);
 * `locked_until` bounds how long an `in_progress` row blocks retries when its request died;
 * `resource_id` is what the first request created (the order), so a retry that takes over a
 * dead request resumes that order instead of creating a second one. Rows are purged after
 * `expires_at` (IDEMPOTENCY_TTL_HOURS, at least 24 h).
 */
export class CreateIdempotencyKeys1767398400000 implements MigrationInterface {
  name = 'CreateIdempotencyKeys1767398400000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE idempotency_keys (
        account_id       text        NOT NULL,
        method           text        NOT NULL,
        path             text        NOT NULL,
        key              text        NOT NULL CHECK (char_length(key) BETWEEN 1 AND 255),
        fingerprint      text        NOT NULL,
        state            text        NOT NULL CHECK (state IN ('in_progress', 'completed')),
        locked_until     timestamptz NOT NULL,
        resource_id      text,
        response_status  integer,
        response_headers jsonb,
        response_body    text,
        created_at       timestamptz NOT NULL DEFAULT now(),
        expires_at       timestamptz NOT NULL,
        PRIMARY KEY (account_id, method, path, key),
        CHECK (state = 'in_progress' OR (response_status IS NOT NULL AND response_body IS NOT NULL))
      )`);
    // The purge deletes by age.
    await q.query(`CREATE INDEX idempotency_keys_expires_idx ON idempotency_keys (expires_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE idempotency_keys');
  }
}
