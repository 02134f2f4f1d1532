import { Injectable } from '@nestjs/common';
import { AccountNotFoundError, rethrowIfAccountGone } from '../accounts/accounts.errors';
import { AccountLock } from '../accounts/accounts.types';
import { SqlClient } from '../platform/adapters/database/sql.client';
import type { ReportParams, ReportRecord, ReportStatus, ReportType } from './reports.types';
import { TooManyUnfinishedReportsError } from './reports.errors';
import type { SalesSummary } from './reports.schemas';

const COLUMNS = `id, account_id AS "accountId", type, params, status, progress, result, error, attempts, requeues,
  request_id AS "requestId", created_at AS "createdAt", updated_at AS "updatedAt", completed_at AS "completedAt"`;

export interface SalesRow {
  status: string;
  currency: string;
  orders: string;
  totalCents: string;
}

/**
 * The only code that talks to the `reports` table (and reads `orders` for the sales summary; the
 * account's row is locked through accounts' port, AccountLock).
 */
@Injectable()
export class ReportsRepository {
  constructor(
    private readonly sql: SqlClient,
    private readonly accounts: AccountLock,
  ) {}

  /**
   * Creates a queued report, or finds the unfinished one with the same account, type and
   * parameters: a retried POST gets the report its first attempt created. `created` says which.
   * One transaction under the account's row lock (`FOR NO KEY UPDATE`: it queues this account's
   * other report requests, never its orders), so concurrent requests of one account are counted
   * exactly against `maxUnfinished`.
   * @throws AccountNotFoundError (404) when the account was erased after its token was issued.
   * @throws TooManyUnfinishedReportsError (429) when the account already has `maxUnfinished`
   *   queued or running reports.
   */
  createOrFindUnfinished(
    accountId: string,
    type: ReportType,
    params: ReportParams,
    requestId: string,
    maxUnfinished: number,
  ): Promise<{ id: string; status: ReportStatus; created: boolean }> {
    const paramsJson = JSON.stringify(params);
    return this.sql.transaction(
      async (tx) => {
        if (!(await this.accounts.hold(tx, accountId))) throw new AccountNotFoundError();
        const [unfinished] = await tx.query<{ twin: { id: string; status: ReportStatus } | null; count: number }>(
          `SELECT count(*)::int AS count,
                  (array_agg(json_build_object('id', id, 'status', status)) FILTER (WHERE type = $2 AND params = $3))[1] AS twin
             FROM reports WHERE account_id = $1 AND status IN ('queued', 'running')`,
          [accountId, type, paramsJson],
          { name: 'reports.unfinished' },
        );
        if (unfinished.twin) return { ...unfinished.twin, created: false };
        if (unfinished.count >= maxUnfinished) throw new TooManyUnfinishedReportsError(maxUnfinished);
        const [inserted] = await tx
          .query<{ id: string; status: ReportStatus }>(
            `INSERT INTO reports (account_id, type, params, request_id) VALUES ($1, $2, $3, $4) RETURNING id, status`,
            [accountId, type, paramsJson, requestId],
            { queryClass: 'write', name: 'reports.create' },
          )
          .catch(rethrowIfAccountGone('reports_account_id_fkey'));
        return { ...inserted, created: true };
      },
      { name: 'reports.create', queryClass: 'lock' },
    );
  }

  /** Undoes a report whose job could not be enqueued (the caller got a 503 and will retry). */
  async deleteQueued(id: string): Promise<void> {
    await this.sql.query(`DELETE FROM reports WHERE id = $1 AND status = 'queued' AND attempts = 0`, [id], {
      queryClass: 'write',
      idempotent: true,
      name: 'reports.deleteQueued',
    });
  }

  async findOwned(id: string, accountId: string): Promise<ReportRecord | null> {
    const rows = await this.sql.query<ReportRecord>(
      `SELECT ${COLUMNS} FROM reports WHERE id = $1 AND account_id = $2`,
      [id, accountId],
      { name: 'reports.findOwned' },
    );
    return rows[0] ?? null;
  }

  async find(id: string): Promise<ReportRecord | null> {
    const rows = await this.sql.query<ReportRecord>(`SELECT ${COLUMNS} FROM reports WHERE id = $1`, [id], {
      name: 'reports.find',
    });
    return rows[0] ?? null;
  }

  /**
   * Marks an unfinished report running and counts the attempt; `null` when it is finished (a
   * job run twice) or gone. Waits for the row lock at most `lockTimeoutMs` (a 55P03 after
   * that: transient, the job retries).
   */
  async claim(id: string, lockTimeoutMs: number): Promise<ReportRecord | null> {
    return this.sql.transaction(
      async (tx) => {
        const rows = await tx.query<ReportRecord>(
          `UPDATE reports SET status = 'running', attempts = attempts + 1, updated_at = now()
            WHERE id = $1 AND status IN ('queued', 'running')
            RETURNING ${COLUMNS}`,
          [id],
          { queryClass: 'lock', name: 'reports.claim' },
        );
        return rows[0] ?? null;
      },
      { lockTimeoutMs, queryClass: 'lock', name: 'reports.claim' },
    );
  }

  async setProgress(id: string, progress: number): Promise<void> {
    await this.sql.query(
      `UPDATE reports SET progress = $2, updated_at = now() WHERE id = $1 AND status = 'running'`,
      [id, progress],
      { queryClass: 'write', idempotent: true, name: 'reports.progress' },
    );
  }

  /** Stores the result once: a second run of the same job changes nothing. */
  async complete(id: string, result: SalesSummary): Promise<boolean> {
    const rows = await this.sql.query(
      `UPDATE reports SET status = 'completed', progress = 100, result = $2, error = NULL,
              completed_at = now(), updated_at = now()
        WHERE id = $1 AND status IN ('queued', 'running')
        RETURNING id`,
      [id, JSON.stringify(result)],
      { queryClass: 'write', idempotent: true, name: 'reports.complete' },
    );
    return rows.length === 1;
  }

  /** Fails an unfinished report for good with a safe reason; a finished one is left as it is. */
  async fail(id: string, reason: string): Promise<boolean> {
    const rows = await this.sql.query(
      `UPDATE reports SET status = 'failed', error = $2, completed_at = now(), updated_at = now()
        WHERE id = $1 AND status IN ('queued', 'running')
        RETURNING id`,
      [id, reason],
      { queryClass: 'write', idempotent: true, name: 'reports.fail' },
    );
    return rows.length === 1;
  }

  /** Unfinished reports with no sign of life for `staleAfterMs`: candidates for the sweeper. */
  async findStale(staleAfterMs: number, limit: number): Promise<ReportRecord[]> {
    return this.sql.query<ReportRecord>(
      `SELECT ${COLUMNS} FROM reports
        WHERE status IN ('queued', 'running') AND updated_at < now() - make_interval(secs => $1::double precision / 1000)
        ORDER BY updated_at LIMIT $2`,
      [staleAfterMs, limit],
      { name: 'reports.findStale' },
    );
  }

  /** Records a re-enqueue: back to queued, one more requeue, a fresh sign of life. */
  async markRequeued(id: string): Promise<void> {
    await this.sql.query(
      `UPDATE reports SET status = 'queued', requeues = requeues + 1, updated_at = now()
        WHERE id = $1 AND status IN ('queued', 'running')`,
      [id],
      { queryClass: 'write', name: 'reports.requeued' },
    );
  }

  /** A sign of life for a report whose job is still in the queue (waiting behind others, or delayed). */
  async touch(id: string): Promise<void> {
    await this.sql.query(
      `UPDATE reports SET updated_at = now() WHERE id = $1 AND status IN ('queued', 'running')`,
      [id],
      { queryClass: 'write', idempotent: true, name: 'reports.touch' },
    );
  }

  /**
   * One window of the sales summary, aggregated by Postgres (the worker's event loop only sees a
   * handful of rows, so the job's lock keeps renewing): orders of the account created in
   * [from, to), by status and currency. Runs as a `report` statement with its own, longer
   * statement timeout.
   */
  async salesWindow(
    accountId: string,
    from: Date,
    to: Date,
    options: { statementTimeoutMs: number; signal?: AbortSignal },
  ): Promise<SalesRow[]> {
    return this.sql.transaction(
      (tx) =>
        tx.query<SalesRow>(
          `SELECT status, currency, count(*) AS orders, coalesce(sum(total_cents), 0) AS "totalCents"
             FROM orders
            WHERE account_id = $1 AND created_at >= $2 AND created_at < $3
            GROUP BY status, currency`,
          [accountId, from, to],
          { queryClass: 'report', idempotent: true, name: 'reports.salesWindow' },
        ),
      {
        queryClass: 'report',
        statementTimeoutMs: options.statementTimeoutMs,
        signal: options.signal,
        name: 'reports.salesWindow',
      },
    );
  }
}
