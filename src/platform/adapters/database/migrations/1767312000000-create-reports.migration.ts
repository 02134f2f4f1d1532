import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Reports: the state of each background report lives here, in Postgres, not in the queue, so
 * a Redis flush or restart loses no report (the worker's sweeper re-enqueues or fails the ones
 * whose job vanished). `error` holds a safe, caller-facing reason; the stack is in the logs.
 */
export class CreateReports1767312000000 implements MigrationInterface {
  name = 'CreateReports1767312000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE reports (
        id           uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
        account_id   uuid        NOT NULL REFERENCES accounts (id),
        type         text        NOT NULL CHECK (type IN ('sales-summary')),
        params       jsonb       NOT NULL,
        status       text        NOT NULL DEFAULT 'queued'
                     CHECK (status IN ('queued', 'running', 'completed', 'failed')),
        progress     smallint    NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
        result       jsonb,
        error        text,
        attempts     integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
        requeues     integer     NOT NULL DEFAULT 0 CHECK (requeues >= 0),
        request_id   text,
        created_at   timestamptz NOT NULL DEFAULT now(),
        updated_at   timestamptz NOT NULL DEFAULT now(),
        completed_at timestamptz
      )`);
    // One unfinished report per account, type and parameters: a retried POST finds the report
    // its first attempt created instead of queueing the same work twice.
    await q.query(`
      CREATE UNIQUE INDEX reports_unfinished_request_key ON reports (account_id, type, params)
        WHERE status IN ('queued', 'running')`);
    // The sweeper's work list: unfinished reports by last sign of life.
    await q.query(`CREATE INDEX reports_unfinished_idx ON reports (updated_at) WHERE status IN ('queued', 'running')`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE reports');
  }
}
