import { Injectable } from '@nestjs/common';
import { SqlClient, type SqlExecutor } from '../../adapters/database/sql.client';

/** Whose key it is: keys are scoped to the account, the method and the route. */
export interface IdempotencyScope {
  accountId: string;
  method: string;
  /** The route template (`/v1/orders`), never the raw path. */
  path: string;
  key: string;
}

/** A response kept for replay. */
export interface StoredResponse {
  status: number;
  headers: Record<string, string>;
  /** The body exactly as first sent. */
  body: string;
}

/** What {@link IdempotencyRepository.begin} found. */
export type BeginOutcome =
  /** The key is new (or expired): this request runs. */
  | { kind: 'started' }
  /**
   * This request takes over the key and resumes what it created: its first request died before
   * answering, or (`outdated`) its stored answer was outdated by a change of that resource.
   */
  | { kind: 'resumed'; resourceId: string | null; outdated: boolean }
  /** Answered before: send the stored response again. */
  | { kind: 'replay'; response: StoredResponse }
  /** The first request is still running. */
  | { kind: 'in_progress'; retryAfterSeconds: number }
  /** The key was used with another body. */
  | { kind: 'mismatch' };

interface Row extends Record<string, unknown> {
  fingerprint: string;
  state: 'in_progress' | 'completed';
  answerOutdated: boolean;
  resourceId: string | null;
  lockedForMs: number;
  responseStatus: number | null;
  responseHeaders: Record<string, string> | null;
  responseBody: string | null;
}

const KEY_WHERE = 'account_id = $1 AND method = $2 AND path = $3 AND key = $4';
const keyParams = (s: IdempotencyScope) => [s.accountId, s.method, s.path, s.key];

/**
 * The `idempotency_keys` table (durable in Postgres: a Redis outage must never let a retry
 * charge twice). Every write is one statement; the claim is `INSERT ... ON CONFLICT`, so 50
 * concurrent requests with one key produce exactly one `started`.
 */
/**
 * Storing the answer and freeing the key run after the handler, when the request's deadline may be
 * spent or its caller gone (the request context's deadline would refuse them): they have a budget
 * of their own, so the key is never left claimed by a request that ended.
 */
const BOOKKEEPING_BUDGET_MS = 5_000;
const ownBudget = (): number => Date.now() + BOOKKEEPING_BUDGET_MS;

@Injectable()
export class IdempotencyRepository {
  constructor(private readonly sql: SqlClient) {}

  /**
   * Claims the key for this request, or says why not.
   * @param lockMs how long an `in_progress` claim blocks retries: longer than the request can run.
   */
  async begin(scope: IdempotencyScope, fingerprint: string, lockMs: number, ttlHours: number): Promise<BeginOutcome> {
    // Bounded: a key released between our INSERT and SELECT is simply claimed on the next turn.
    for (let turn = 0; turn < 3; turn++) {
      const claimed = await this.sql.query(
        `INSERT INTO idempotency_keys (account_id, method, path, key, fingerprint, state, locked_until, expires_at)
         VALUES ($1, $2, $3, $4, $5, 'in_progress', now() + $6 * interval '1 millisecond', now() + $7 * interval '1 hour')
         ON CONFLICT (account_id, method, path, key) DO UPDATE SET
           fingerprint = EXCLUDED.fingerprint, state = 'in_progress', locked_until = EXCLUDED.locked_until,
           resource_id = NULL, response_status = NULL, response_headers = NULL, response_body = NULL,
           answer_outdated = false, created_at = now(), expires_at = EXCLUDED.expires_at
         WHERE idempotency_keys.expires_at <= now()
         RETURNING 1`,
        [...keyParams(scope), fingerprint, lockMs, ttlHours],
        { queryClass: 'write', name: 'idempotency.claim' },
      );
      if (claimed.length === 1) return { kind: 'started' };

      const [row] = await this.sql.query<Row>(
        `SELECT fingerprint, state, answer_outdated AS "answerOutdated", resource_id AS "resourceId",
                response_status AS "responseStatus",
                response_headers AS "responseHeaders", response_body AS "responseBody",
                GREATEST(0, ceil(extract(epoch FROM locked_until - now()) * 1000))::int AS "lockedForMs"
         FROM idempotency_keys WHERE ${KEY_WHERE}`,
        keyParams(scope),
        { name: 'idempotency.find' },
      );
      if (!row) continue;
      if (row.fingerprint !== fingerprint) return { kind: 'mismatch' };
      // (An outdated answer with no resource left to read again is kept: nothing could answer it better.)
      if (row.state === 'completed' && !(row.answerOutdated && row.resourceId !== null)) {
        return {
          kind: 'replay',
          response: { status: row.responseStatus!, headers: row.responseHeaders ?? {}, body: row.responseBody! },
        };
      }
      if (row.state === 'completed') {
        // The answer describes a state its resource has left: take the key over (one of concurrent
        // retries wins; the others find it in progress) and answer again from the resource.
        const [reopened] = await this.sql.query<{ resourceId: string }>(
          `UPDATE idempotency_keys SET state = 'in_progress', answer_outdated = false,
             locked_until = now() + $5 * interval '1 millisecond',
             response_status = NULL, response_headers = NULL, response_body = NULL
           WHERE ${KEY_WHERE} AND state = 'completed' AND answer_outdated AND resource_id IS NOT NULL
           RETURNING resource_id AS "resourceId"`,
          [...keyParams(scope), lockMs],
          { queryClass: 'write', name: 'idempotency.reopen' },
        );
        if (reopened) return { kind: 'resumed', resourceId: reopened.resourceId, outdated: true };
        continue;
      }
      // Most requests answer within a second: ask the retry to come back soon, not when the claim expires.
      if (row.lockedForMs > 0) return { kind: 'in_progress', retryAfterSeconds: 1 };
      // The first request died (crash, lost connection) without answering: take over, once. This
      // request reads its resource afresh, so an outdated mark made while the dead one ran is spent.
      const [taken] = await this.sql.query<{ resourceId: string | null }>(
        `UPDATE idempotency_keys SET locked_until = now() + $5 * interval '1 millisecond', answer_outdated = false
         WHERE ${KEY_WHERE} AND state = 'in_progress' AND locked_until <= now()
         RETURNING resource_id AS "resourceId"`,
        [...keyParams(scope), lockMs],
        { queryClass: 'write', name: 'idempotency.takeOver' },
      );
      if (taken) return { kind: 'resumed', resourceId: taken.resourceId, outdated: false };
    }
    return { kind: 'in_progress', retryAfterSeconds: 1 };
  }

  /** Records what the request created, in the transaction that created it (so the two commit together). */
  async attach(tx: SqlExecutor, scope: IdempotencyScope, resourceId: string | null): Promise<void> {
    await tx.query(
      `UPDATE idempotency_keys SET resource_id = $5 WHERE ${KEY_WHERE}`,
      [...keyParams(scope), resourceId],
      {
        queryClass: 'write',
        name: 'idempotency.attach',
      },
    );
  }

  /**
   * The resource changed state behind its keys' backs (an order the reconciliation moved out of
   * `payment_pending`): the answers stored, or still being made, for every key linked to it are
   * outdated. The next retry with such a key is not replayed the old answer: it takes the key
   * over as a resumed request and answers from the resource as it is. Call it in the transaction
   * that changes the resource, so the two commit together; not needed when the change is made by
   * the key's own request, which answers from the new state.
   * @example await keys.reopen(tx, order.id);
   */
  async reopen(tx: SqlExecutor, resourceId: string): Promise<void> {
    await tx.query(
      `UPDATE idempotency_keys SET answer_outdated = true WHERE resource_id = $1 AND NOT answer_outdated`,
      [resourceId],
      { queryClass: 'write', name: 'idempotency.outdate' },
    );
  }

  /** Stores the answer for replay. */
  async complete(scope: IdempotencyScope, response: StoredResponse): Promise<void> {
    await this.sql.query(
      `UPDATE idempotency_keys SET state = 'completed', response_status = $5, response_headers = $6, response_body = $7
       WHERE ${KEY_WHERE} AND state = 'in_progress'`,
      [...keyParams(scope), response.status, JSON.stringify(response.headers), response.body],
      { queryClass: 'write', idempotent: true, name: 'idempotency.complete', deadline: ownBudget() },
    );
  }

  /** Frees the key: the request left nothing behind, so a retry may run it afresh. */
  async release(scope: IdempotencyScope): Promise<void> {
    await this.sql.query(
      `DELETE FROM idempotency_keys WHERE ${KEY_WHERE} AND state = 'in_progress'`,
      keyParams(scope),
      {
        queryClass: 'write',
        idempotent: true,
        name: 'idempotency.release',
        deadline: ownBudget(),
      },
    );
  }

  /**
   * Deletes expired keys, in bounded batches (each a short statement), and returns how many.
   * Run it periodically (the reconciliation command does; the worker's scheduler may).
   */
  async purgeExpired(batchSize = 1_000, maxBatches = 100): Promise<number> {
    let purged = 0;
    for (let batch = 0; batch < maxBatches; batch++) {
      const rows = await this.sql.query(
        `DELETE FROM idempotency_keys WHERE ctid IN (
           SELECT ctid FROM idempotency_keys WHERE expires_at <= now() LIMIT $1 FOR UPDATE SKIP LOCKED)
         RETURNING 1`,
        [batchSize],
        { queryClass: 'write', idempotent: true, name: 'idempotency.purge' },
      );
      purged += rows.length;
      if (rows.length < batchSize) break;
    }
    return purged;
  }
}
