import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DatabaseError, type Pool, type PoolClient, type QueryResultRow } from 'pg';
import type { Counter } from 'prom-client';
import { DataSource } from 'typeorm';
import { MetricsService } from '../metrics/metrics.service';
import { CommitOutcomeUnknownError } from './pg.errors';
import { sqlStateClassOf } from './postgres-failure.classifier';
import { DeadlineExceededError } from '../resilience/deadline.policy';

/**
 * What a statement is, for the policies that depend on it: the per-class statement and
 * lock timeouts, the metrics label, and (with `idempotent`) whether a transient fault may
 * be retried. `read` is the default.
 */
export type QueryClass = 'read' | 'write' | 'lock' | 'report' | 'admin';

export interface QueryOptions {
  /** Default `read`. */
  queryClass?: QueryClass;
  /**
   * True when running the statement twice leaves the same result (a SELECT, an upsert).
   * Only idempotent statements and whole transactions are ever retried; a single write
   * outside a transaction is not unless it says so here. Default: true for `read`, else false.
   */
  idempotent?: boolean;
  /** Aborts waiting for the statement: the request's deadline or the client went away. */
  signal?: AbortSignal;
  /** A short fixed label for logs and metrics (`products.list`); never the SQL or its values. */
  name?: string;
}

/** Whether a statement may be repeated after a transient fault: its own say, else only reads. */
export const isIdempotent = (options: QueryOptions): boolean =>
  options.idempotent ?? (options.queryClass ?? 'read') === 'read';

export interface TransactionOptions extends Omit<QueryOptions, 'idempotent'> {
  isolation?: 'read committed' | 'repeatable read' | 'serializable';
  /** `SET LOCAL statement_timeout` for this transaction only (survives a transaction-pooling proxy). */
  statementTimeoutMs?: number;
  /** `SET LOCAL lock_timeout`: how long a `SELECT ... FOR UPDATE` waits for a row lock. */
  lockTimeoutMs?: number;
  /**
   * The request's deadline: no statement of the transaction may outlive it. Its
   * `statement_timeout` is capped at what is left when it begins (a statement waiting for a
   * lock counts too, so a lock wait the deadline cuts short fails with 57014 → 504
   * DEADLINE_EXCEEDED, while `lock_timeout` keeps its own meaning: contention, 503), and its
   * signal cancels the running statement on the server. Replaces `signal`.
   */
  deadline?: { remainingMs(): number; readonly signal: AbortSignal };
}

/** The smaller of a configured timeout and what is left of a deadline; undefined when neither is set. */
const capped = (timeoutMs: number | undefined, remainingMs: number | undefined): number | undefined =>
  remainingMs === undefined
    ? timeoutMs
    : Math.max(1, Math.trunc(Math.min(timeoutMs ?? Number.POSITIVE_INFINITY, remainingMs)));

/** What a repository talks to: the seam itself, or the transaction-scoped handle inside `transaction()`. */
export interface SqlExecutor {
  query<T extends QueryResultRow = QueryResultRow>(
    text: string,
    params?: readonly unknown[],
    options?: QueryOptions,
  ): Promise<T[]>;
}

// Defined with the other pg error helpers (the failure classifier reads it without importing the seam).
export { CommitOutcomeUnknownError };

/** The pg pool behind a TypeORM DataSource: the one cast to reach it (TypeORM does not type `master`). */
const poolOf = (dataSource: DataSource): Pool => (dataSource.driver as unknown as { master: Pool }).master;

/**
 * The one SQL seam: every repository runs its statements through `query()` or
 * `transaction()`, never through TypeORM repositories or the driver. Statements are plain
 * parameterized SQL sent straight to the pg pool (no entity hydration on hot paths).
 *
 * Every statement passes through {@link SqlClient.run}: the place for per-query timing and
 * metrics, transient-fault retry (idempotent statements and whole transactions only, never
 * a COMMIT whose outcome is unknown), per-class timeouts and the request deadline.
 *
 * @example
 * await sql.transaction(async (tx) => {
 *   const [row] = await tx.query('SELECT stock FROM products WHERE id = $1 FOR UPDATE', [id], { queryClass: 'lock' });
 *   await tx.query('UPDATE products SET stock = $2 WHERE id = $1', [id, row.stock - 1], { queryClass: 'write' });
 * }, { lockTimeoutMs: 1_000 });
 */
@Injectable()
export class SqlClient implements SqlExecutor {
  /** `db_client_errors_total`, one bound child per SQLSTATE class seen. */
  private readonly errors: Counter<'sqlstate_class'>;
  private readonly errorsByClass = new Map<string, Counter.Internal>();

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    metrics: MetricsService,
  ) {
    this.errors = metrics.counter('db_client_errors_total');
  }

  /**
   * The pg pool behind the seam, for what observes it (pool gauges, the readiness probe).
   * Statements never go to it directly: they go through `query()`/`transaction()`.
   */
  get pool(): Pool {
    return poolOf(this.dataSource);
  }

  query<T extends QueryResultRow = QueryResultRow>(
    text: string,
    params: readonly unknown[] = [],
    options: QueryOptions = {},
  ): Promise<T[]> {
    return this.run<T>(this.pool, text, params, options);
  }

  /**
   * Runs `fn` in one transaction on one connection: COMMIT when it resolves, ROLLBACK when
   * it throws (the error is rethrown). `fn` may run again as a whole on a transient fault
   * once retries exist, so it must have no side effects outside the database.
   * @throws CommitOutcomeUnknownError when the connection broke during COMMIT.
   */
  async transaction<T>(fn: (tx: SqlExecutor) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
    const signal = options.deadline?.signal ?? options.signal;
    throwIfAborted(signal);
    const remainingMs = options.deadline?.remainingMs();
    const statementTimeoutMs = capped(options.statementTimeoutMs, remainingMs);
    const lockTimeoutMs = options.lockTimeoutMs;
    const client = await this.pool.connect().catch((error: unknown) => this.failed(error));
    // A connection that failed at the protocol level is discarded, never handed to the next caller.
    let broken: Error | undefined;
    const control = (text: string) =>
      client.query(text).catch((error: unknown) => {
        if (!(error instanceof DatabaseError)) broken = error instanceof Error ? error : new Error(String(error));
        return this.failed(error);
      });
    try {
      await control(options.isolation ? `BEGIN ISOLATION LEVEL ${options.isolation.toUpperCase()}` : 'BEGIN');
      if (statementTimeoutMs !== undefined)
        await control(`SET LOCAL statement_timeout = ${Math.trunc(statementTimeoutMs)}`);
      if (lockTimeoutMs !== undefined) await control(`SET LOCAL lock_timeout = ${Math.trunc(lockTimeoutMs)}`);
      const tx: SqlExecutor = {
        query: <R extends QueryResultRow>(text: string, params: readonly unknown[] = [], opts: QueryOptions = {}) =>
          this.run<R>(client, text, params, { queryClass: options.queryClass, signal, ...opts }),
      };
      let result: T;
      try {
        result = await fn(tx);
      } catch (error) {
        await control('ROLLBACK').catch(() => undefined);
        throw error;
      }
      try {
        await control('COMMIT');
      } catch (error) {
        // A server-side refusal (a serialization failure at commit) is a known outcome: nothing
        // was committed. A broken connection leaves it unknown.
        throw error instanceof DatabaseError ? error : new CommitOutcomeUnknownError(error);
      }
      return result;
    } finally {
      client.release(broken);
    }
  }

  /** The one place every statement runs through. */
  private async run<T extends QueryResultRow>(
    executor: Pool | PoolClient,
    text: string,
    params: readonly unknown[],
    options: QueryOptions,
  ): Promise<T[]> {
    throwIfAborted(options.signal);
    if (!options.signal) {
      const result = await executor.query<T>(text, params as unknown[]).catch((error: unknown) => this.failed(error));
      return result.rows;
    }
    // With a signal (the request's deadline), the statement is cancelled on the server when it
    // fires: answering the caller while the query keeps running would only move the load.
    const client = isPoolClient(executor)
      ? executor
      : await executor.connect().catch((error: unknown) => this.failed(error));
    const cancel = () => void this.cancelBackend(client);
    options.signal.addEventListener('abort', cancel, { once: true });
    try {
      const result = await client.query<T>(text, params as unknown[]).catch((error: unknown) => this.failed(error));
      return result.rows;
    } finally {
      options.signal.removeEventListener('abort', cancel);
      if (client !== executor) client.release();
    }
  }

  /**
   * Cancels the statement a connection is running (`pg_cancel_backend` from another pooled
   * connection): Postgres stops it with SQLSTATE 57014, which the problem mapping answers as
   * 504 `DEADLINE_EXCEEDED`; inside a transaction the ROLLBACK follows as usual.
   */
  private async cancelBackend(client: PoolClient): Promise<void> {
    const pid = (client as PoolClient & { processID?: number }).processID;
    if (pid === undefined) return;
    await this.pool.query('SELECT pg_cancel_backend($1)', [pid]).catch(() => undefined);
  }

  /**
   * Counts a failed statement (or connection) in `db_client_errors_total{sqlstate_class}` and
   * rethrows it. Nothing is logged here: the failure is logged once, where it is handled.
   */
  private failed(error: unknown): never {
    const sqlClass = sqlStateClassOf(error);
    let child = this.errorsByClass.get(sqlClass);
    if (child === undefined)
      this.errorsByClass.set(sqlClass, (child = this.errors.labels({ sqlstate_class: sqlClass })));
    child.inc();
    throw error;
  }
}

const isPoolClient = (executor: Pool | PoolClient): executor is PoolClient =>
  typeof (executor as PoolClient).release === 'function';

/** A spent deadline (or a caller that went away) starts no statement: 504 DEADLINE_EXCEEDED. */
function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new DeadlineExceededError(signal.reason);
}
