import { Inject, Injectable, type BeforeApplicationShutdown } from '@nestjs/common';
import { DatabaseError, type Pool, type PoolClient, type QueryConfig, type QueryResultRow } from 'pg';
import type { Counter, Histogram } from 'prom-client';
import { APP_CONFIG } from '../../../config/config.module';
import type { AppConfig } from '../../../config/config.schemas';
import { classifyFailure, isRetryable } from '../failures/failure.classifier';
import type { BackoffPolicy } from '../../kernel/resilience/backoff.policy';
import { DeadlineExceededError, type WorkDeadline } from '../../kernel/resilience/deadline.policy';
import { currentCorrelation, currentDeadline } from '../../kernel/correlation/correlation.context';
import { MetricsService } from '../../kernel/metrics/metrics.service';
import { RetryBudget } from '../../kernel/resilience/retry.budget';
import { definePipeline, type ResiliencePipeline } from '../../kernel/resilience/resilience.policy';
import { NOT_RETRYABLE, type RetryDecision } from '../../kernel/resilience/retry.policy';
import { CommitOutcomeUnknownError } from '../failures/pg.errors';
import { sqlStateClassOf } from '../failures/postgres-failure.classifier';
import { defaultStatementLimits, limitedQuery, type StatementLimits } from './limited-query.factory';
import { sendCancelRequest } from './protocol-cancel.client';
import { attemptSpan, statementSpan, transactionSpan } from './sql-spans.factory';
import { SQL_POOL } from './sql-pool.module';
import { currentSpan, inChildSpan, tracedNow } from '../../kernel/tracing/tracing.context';

/**
 * What a statement is, for the policies that depend on it: the per-class statement and
 * lock timeouts, the metrics label, and (with `idempotent`) whether a transient fault may
 * be retried. `read` is the default.
 *
 * No session state on a pooled connection: the limits travel with the unit of work. Outside
 * `transaction()`, a `read`, `write` or `lock` statement carries `DB_STATEMENT_TIMEOUT_MS` (or less
 * to meet the deadline) and `DB_LOCK_TIMEOUT_MS` in its own round trip (limited-query.factory.ts),
 * enforced by Postgres. `report` and `admin` get the long timeouts (`DB_REPORT_STATEMENT_TIMEOUT_MS`)
 * and run in a transaction of their own with `SET LOCAL`.
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
  /**
   * Aborts the statement. Rarely needed: without `signal` or `deadline` the statement already runs
   * under the deadline of the request or job being served (the request context,
   * `currentDeadline()`), see {@link SqlClient}. A `signal` given applies beside that deadline (a
   * job's shutdown); a `deadline` given replaces it: the statement's own budget (a settlement that
   * must finish after the request's ran out). A statement that
   * is running when it fires is cancelled on the server (the protocol's cancel request, which
   * also works through PgBouncer: 57014, answered 504), so the caller's answer does not leave
   * the query running; one not started yet is not started (504 `DEADLINE_EXCEEDED`).
   */
  signal?: AbortSignal;
  /**
   * When the caller needs the answer by: `Date.now()` milliseconds, or the request's
   * {@link Deadline} (its time left and its signal, which then replaces `signal`). No retry
   * starts that cannot finish before it, and the statement's own timeouts shrink to fit it.
   */
  deadline?: number | DeadlineLike;
  /** A short fixed label for logs and metrics (`products.list`); never the SQL or its values. */
  name?: string;
}

/** What the seam reads of a request's Deadline (src/platform/kernel/resilience/deadline.policy.ts). */
export interface DeadlineLike {
  remainingMs(): number;
  readonly signal: AbortSignal;
}

/**
 * Options with the deadline as a `Date.now()` instant and its signal in `signal`: what the seam works
 * with. `ambient` is the request context's deadline when the caller gave none: its hang-up cancels
 * the running statement (a listener, no signal made on the hot path).
 */
type Resolved<O extends { deadline?: number | DeadlineLike }> = Omit<O, 'deadline'> & {
  deadline?: number;
  ambient?: WorkDeadline;
};

/**
 * The deadline a unit of work runs under: the caller's `deadline`, else the request context's (the
 * HTTP request or the job being served; a caller's `signal` applies beside it), else none. `withSignal`: a transaction
 * takes the context deadline's full signal (it fires at the deadline between its statements too);
 * a single statement needs none, its `statement_timeout` is capped by what is left.
 */
function resolved<O extends { deadline?: number | DeadlineLike; signal?: AbortSignal }>(
  options: O,
  withSignal = false,
): Resolved<O> {
  const { deadline } = options;
  if (deadline === undefined) {
    const ambient = currentDeadline();
    if (ambient === undefined) return options as Resolved<O>;
    // A caller's own `signal` (a job's shutdown) still applies, beside the context's deadline.
    return withSignal && options.signal === undefined
      ? { ...options, deadline: ambient.expiresAt, signal: ambient.deadline().signal }
      : { ...options, deadline: ambient.expiresAt, ambient };
  }
  if (typeof deadline === 'number') return options as Resolved<O>;
  return { ...options, deadline: Date.now() + deadline.remainingMs(), signal: deadline.signal };
}

/** Whether a statement may be repeated after a transient fault: its own say, else only reads. */
export const isIdempotent = (options: QueryOptions): boolean =>
  options.idempotent ?? (options.queryClass ?? 'read') === 'read';

/**
 * Retries of the seam: up to 50 ms, 100 ms, 200 ms … never more than 1 s, full jitter
 * (backoff.policy.ts). With at most 3 attempts a unit of work waits at most 150 ms in backoff.
 */
export const SQL_RETRY_BACKOFF: BackoffPolicy = { baseMs: 50, capMs: 1_000 };
/** A statement with its own client-side read timeout (pg reads `query_timeout` per query; its types omit it). */
const timed = (text: string, values: readonly unknown[] | undefined, queryTimeoutMs: number): QueryConfig =>
  ({ text, values, query_timeout: queryTimeoutMs }) as QueryConfig;

/** No attempt starts with less time than this left before the deadline (nor less than the last attempt took). */
const MIN_ATTEMPT_MS = 25;

/**
 * Optional hooks beside the metrics the seam records itself (`db_client_errors_total`,
 * `resilience_retries_total{dependency="database"}`, `db_client_connection_acquire_seconds`):
 * one call per statement (tests count queries with it), per retry, and per retry the budget
 * refused. Synchronous and cheap: they run on every statement.
 */
export interface SqlObserver {
  /** Every statement sent on the pool or in a transaction, by its `name` (query counts, per-name metrics). */
  statement?(name: string | undefined): void;
  retried?(code: string | undefined): void;
  retryRefused?(code: string | undefined): void;
}

export interface TransactionOptions extends Omit<QueryOptions, 'idempotent'> {
  isolation?: 'read committed' | 'repeatable read' | 'serializable';
  /**
   * `SET LOCAL statement_timeout` for this transaction only (survives a transaction-pooling
   * proxy). Default: the class's (`DB_STATEMENT_TIMEOUT_MS`, or `DB_REPORT_STATEMENT_TIMEOUT_MS`
   * for `report`/`admin`), shortened to the deadline.
   */
  statementTimeoutMs?: number;
  /**
   * `SET LOCAL lock_timeout`: how long a `SELECT ... FOR UPDATE` waits for a row lock. Default
   * `DB_LOCK_TIMEOUT_MS`, at most the statement timeout before the deadline shortened it: a lock
   * wait the deadline cuts short fails with 57014 (504 `DEADLINE_EXCEEDED`), while `lock_timeout`
   * keeps its own meaning (contention, 503).
   */
  lockTimeoutMs?: number;
}

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

/**
 * The one SQL seam: every repository runs its statements through `query()` or
 * `transaction()`, never through TypeORM repositories or the driver. Statements are plain
 * parameterized SQL sent straight to the pg pool (no entity hydration on hot paths).
 *
 * Every unit of work runs under the deadline of the request or job being served, read from the
 * request context (`currentDeadline()`, one AsyncLocalStorage read), never passed by hand: its
 * `statement_timeout` is capped by what is left of the budget, so Postgres ends it when the budget
 * runs out (57014, 504 `DEADLINE_EXCEEDED`); the caller hanging up cancels it on the server (the
 * protocol's cancel request); no statement or retry starts once the budget is spent. A caller that
 * gives `deadline` replaces it: work that must finish after the request's budget (a settlement)
 * has its own.
 *
 * Transient faults are retried here and nowhere else (one layer: a caller above never
 * retries the same work again): a whole unit of work (an idempotent statement, or a whole
 * transaction) after a failure `classifyFailure` calls transient (serialization failure,
 * deadlock, lock timeout, a killed or restarting backend, too many connections, a
 * connection that broke or never opened), at most `DB_RETRY_MAX_ATTEMPTS` attempts with
 * capped exponential backoff and full jitter, within a retry budget (`DB_RETRY_BUDGET_PERCENT`
 * of the traffic), never past the caller's deadline. Never retried: a statement timeout
 * (57014, it would time out again), a rejected statement (23/22/42…), pool exhaustion (more
 * waiting makes it worse), a non-idempotent statement whose outcome is unknown, and a
 * COMMIT that lost its connection. What is not retried or runs out surfaces as it is:
 * the HTTP mapping makes it a 503 `DEPENDENCY_UNAVAILABLE` with `Retry-After` (or 504).
 *
 * The no-fault path costs one budget deposit (two additions) and nothing else.
 *
 * @example
 * await sql.transaction(async (tx) => {
 *   const [row] = await tx.query('SELECT stock FROM products WHERE id = $1 FOR UPDATE', [id], { queryClass: 'lock' });
 *   await tx.query('UPDATE products SET stock = $2 WHERE id = $1', [id, row.stock - 1], { queryClass: 'write' });
 * }, { lockTimeoutMs: 1_000 });
 */
@Injectable()
export class SqlClient implements SqlExecutor, BeforeApplicationShutdown {
  private readonly budget: RetryBudget;
  /** A plain statement's limits outside a deadline (the same the pool makes a direct connection's session defaults). */
  private readonly limits: StatementLimits;
  /** The seam's retry, on the shared pipeline (resilience.policy.ts): a statement's, and a whole transaction's. */
  private readonly statements: ResiliencePipeline<Resolved<QueryOptions>>;
  private readonly transactions: ResiliencePipeline<Resolved<TransactionOptions>>;
  private observer: SqlObserver | undefined;
  private closing = false;
  /** When a statement or transaction last completed (`performance.now()`; readiness: is work getting through?). */
  private lastCompletedAt = -Infinity;
  /** `db_client_errors_total`, one bound child per SQLSTATE class seen. */
  private readonly errors: Counter<'sqlstate_class'>;
  private readonly errorsByClass = new Map<string, Counter.Internal>();
  /** `resilience_retries_total{dependency="database"}`. */
  private readonly retries: Counter.Internal;
  /** `db_client_connection_acquire_seconds` (observed where the seam checks a connection out itself: transactions). */
  private readonly acquire: Histogram;
  /** Every open connection of the pool, from pg-pool's `connect` and `remove` events (shutdown cuts the stuck ones). */
  private readonly clients = new Set<PoolClient>();

  /**
   * @param pool the pg pool the seam runs on (SqlPoolModule's; a tool or a test may pass its own,
   *   from `createPool()` in data-source.factory.ts). The seam never ends it: its owner does.
   */
  constructor(
    @Inject(SQL_POOL) readonly pool: Pool,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    metrics: MetricsService,
  ) {
    pool.on('connect', (client) => this.clients.add(client));
    pool.on('remove', (client) => this.clients.delete(client));
    this.errors = metrics.counter('db_client_errors_total');
    this.retries = metrics.counter('resilience_retries_total').labels({ dependency: 'database' });
    this.retries.inc(0); // the series exists from the start: rate() sees 0, not no data
    this.acquire = metrics.histogram('db_client_connection_acquire_seconds');
    const { retry } = config.database;
    // The reserve covers one "every pooled connection killed at once" event (a failover):
    // each in-flight statement may retry once; during a longer outage the ratio holds.
    const capacity = retry.budgetPercent === 0 ? 0 : Math.max(10, 2 * config.database.poolMax);
    this.budget = new RetryBudget({ ratio: retry.budgetPercent / 100, capacity });
    this.limits = defaultStatementLimits(config.database);
    // Postgres's own statement_timeout is the attempt timeout; the deadline is the request context's.
    const policy = {
      attempts: retry.maxAttempts,
      backoff: SQL_RETRY_BACKOFF,
      budget: this.budget,
      minAttemptMs: MIN_ATTEMPT_MS,
      paceByLastAttempt: true,
    };
    const onRetry = ({ decision }: { decision: RetryDecision }) => {
      this.retries.inc();
      this.observer?.retried?.(decision.code);
    };
    const onRetryRefused = (decision: RetryDecision) => this.observer?.retryRefused?.(decision.code);
    this.statements = definePipeline<Resolved<QueryOptions>>({
      name: 'database',
      context: currentCorrelation,
      retry: policy,
      classify: (error, options) => this.retryDecision(error, isIdempotent(options)),
      onRetry,
      onRetryRefused,
    });
    // Everything before COMMIT was rolled back: the whole unit may repeat (idempotent).
    this.transactions = definePipeline<Resolved<TransactionOptions>>({
      name: 'database',
      context: currentCorrelation,
      retry: policy,
      classify: (error) => this.retryDecision(error, true),
      onRetry,
      onRetryRefused,
    });
  }

  /** Wires the metrics hooks (see {@link SqlObserver}). */
  setObserver(observer: SqlObserver | undefined): void {
    this.observer = observer;
  }

  /** Retries granted and refused by the budget since start. */
  retryStats(): { retries: number; refused: number } {
    return { retries: this.budget.retries, refused: this.budget.refused };
  }

  query<T extends QueryResultRow = QueryResultRow>(
    text: string,
    params: readonly unknown[] = [],
    queryOptions: QueryOptions = {},
  ): Promise<T[]> {
    const options = resolved(queryOptions);
    // Tracing (sql-spans.factory.ts): a span around the whole unit, its retries included.
    if (tracedNow())
      return inChildSpan(statementSpan(text, options.name, options.queryClass), () =>
        this.statement<T>(text, params, options),
      );
    return this.statement<T>(text, params, options);
  }

  private statement<T extends QueryResultRow>(
    text: string,
    params: readonly unknown[],
    options: Resolved<QueryOptions>,
  ): Promise<T[]> {
    const queryClass = options.queryClass;
    if (queryClass === 'report' || queryClass === 'admin') {
      // Its own long limits need SET LOCAL, so its own transaction (retried as a whole, which is safe: uncommitted).
      return this.transaction((tx) => tx.query<T>(text, params, options), options);
    }
    this.budget.recordAttempt();
    return this.run<T>(text, params, options);
  }

  /**
   * Runs `fn` in one transaction on one connection: COMMIT when it resolves, ROLLBACK when
   * it throws (the error is rethrown). On a transient fault the whole transaction runs
   * again (from BEGIN), so `fn` must have no side effects outside the database.
   * @throws CommitOutcomeUnknownError when the connection broke during COMMIT (never retried).
   */
  async transaction<T>(fn: (tx: SqlExecutor) => Promise<T>, transactionOptions: TransactionOptions = {}): Promise<T> {
    const options = resolved(transactionOptions, true);
    if (tracedNow())
      return inChildSpan(transactionSpan(options.name, options.queryClass), () => this.unitOfWork(fn, options));
    return this.unitOfWork(fn, options);
  }

  private async unitOfWork<T>(fn: (tx: SqlExecutor) => Promise<T>, options: Resolved<TransactionOptions>): Promise<T> {
    this.budget.recordAttempt();
    const startedAt = performance.now();
    try {
      return await this.transactionOnce(fn, options);
    } catch (error) {
      return this.transactions.retryAfter(
        error,
        startedAt,
        options,
        retried(() => this.transactionOnce(fn, options)),
      );
    }
  }

  /** From now on nothing is retried, and connections still busy after `DB_CLOSE_TIMEOUT_MS` are cut. */
  beforeApplicationShutdown(): void {
    this.closing = true;
    setTimeout(() => {
      // A client stuck on a silent network would keep pool.end() (and so the process) waiting.
      // pg's Client.end() on a connection with a statement in flight destroys its socket: the
      // statement fails at once (503 to its caller) and the pool can close.
      for (const client of this.clients) void client.end().catch(() => undefined);
    }, this.config.database.closeTimeoutMs).unref();
  }

  /**
   * A statement on a pooled connection, in one round trip, with its limits sent along
   * (limited-query.factory.ts: `set_config(…, true)` in the statement's own implicit transaction,
   * no session state, so it is the same behind a transaction pooler): Postgres ends it at the
   * statement timeout (57014, or sooner to meet the deadline) and a lock wait at the lock timeout
   * (55P03). When `signal` fires, the protocol cancel request stops it on the server.
   */
  private async run<T extends QueryResultRow>(
    text: string,
    params: readonly unknown[],
    options: Resolved<QueryOptions>,
  ): Promise<T[]> {
    throwIfAborted(options.signal, options.ambient);
    const startedAt = performance.now();
    try {
      return await this.runOnce<T>(text, params, options);
    } catch (error) {
      return this.statements.retryAfter(
        error,
        startedAt,
        options,
        retried(() => this.runOnce<T>(text, params, options)),
      );
    }
  }

  /** One attempt of a plain statement. */
  private async runOnce<T extends QueryResultRow>(
    text: string,
    params: readonly unknown[],
    options: Resolved<QueryOptions>,
  ): Promise<T[]> {
    const { signal, ambient } = options;
    throwIfAborted(signal, ambient);
    this.observer?.statement?.(options.name);
    const statementMs = Math.max(1, Math.trunc(fitDeadline(this.limits.statementTimeoutMs, options.deadline)));
    let broken: Error | undefined;
    const onError = (error: Error) => (broken ??= error);
    const client = await this.checkout(onError);
    // The cancel hook only for a statement that can be cancelled (a signal, or the request context's deadline).
    let cancelled: Promise<void> | undefined;
    const cancel = signal || ambient ? () => void (cancelled ??= sendCancelRequest(client)) : undefined;
    if (cancel) {
      signal?.addEventListener('abort', cancel, { once: true });
      ambient?.addCancelListener(cancel);
    }
    try {
      const { query, result } = limitedQuery<T>(
        { text, values: params, queryTimeoutMs: this.clientTimeoutMs(statementMs, undefined) },
        { statementTimeoutMs: statementMs, lockTimeoutMs: this.limits.lockTimeoutMs },
      );
      void client.query(query);
      const rows = (await result).rows;
      this.lastCompletedAt = performance.now();
      return rows;
    } catch (error) {
      if (connectionLost(error)) broken = error instanceof Error ? error : new Error(String(error));
      return this.failed(error);
    } finally {
      if (cancel) {
        signal?.removeEventListener('abort', cancel);
        ambient?.removeCancelListener(cancel);
      }
      // A cancel still in flight must not reach the connection's next statement (another caller's).
      if (cancelled) await cancelled;
      client.removeListener('error', onError);
      client.release(broken);
    }
  }

  /**
   * Whether the seam may run a failed unit of work again: a transient database fault
   * (`classifyFailure`), idempotent work, never a COMMIT whose outcome is unknown, never while
   * shutting down. Entered only after a failure (no closure on the happy path).
   */
  private retryDecision(error: unknown, idempotent: boolean): RetryDecision {
    const failure = classifyFailure(error);
    if (
      this.closing ||
      failure?.dependency !== 'database' ||
      error instanceof CommitOutcomeUnknownError ||
      !isRetryable(failure, idempotent)
    ) {
      return NOT_RETRYABLE;
    }
    return { retryable: true, code: failure.code, kind: failure.kind };
  }

  /** One transaction attempt: BEGIN and its SET LOCALs in one round trip, `fn`, COMMIT. */
  private async transactionOnce<T>(
    fn: (tx: SqlExecutor) => Promise<T>,
    options: Resolved<TransactionOptions>,
  ): Promise<T> {
    throwIfAborted(options.signal, options.ambient);
    const { statementTimeoutMs, lockTimeoutMs, reportStatementTimeoutMs } = this.config.database;
    const queryClass = options.queryClass ?? 'read';
    const classTimeout =
      queryClass === 'report' || queryClass === 'admin' ? reportStatementTimeoutMs : statementTimeoutMs;
    const statementMs = Math.max(
      1,
      Math.trunc(fitDeadline(options.statementTimeoutMs ?? classTimeout, options.deadline)),
    );
    const lockMs = Math.max(
      1,
      Math.trunc(Math.min(options.lockTimeoutMs ?? lockTimeoutMs, options.statementTimeoutMs ?? classTimeout)),
    );
    // The client's own read timeout follows the statement's, a margin later.
    const queryTimeout = this.clientTimeoutMs(statementMs, undefined);
    const ownTimeout = queryTimeout !== this.clientTimeoutMs(undefined, undefined);
    const acquireStartedAt = performance.now();
    // A connection that failed at the protocol level (or timed out client-side, leaving a
    // statement running) is discarded, never handed to the next caller.
    let broken: Error | undefined;
    const onError = (error: Error) => (broken ??= error);
    const client = await this.checkout(onError);
    this.acquire.observe((performance.now() - acquireStartedAt) / 1_000);
    // The request's deadline (or the caller leaving) cancels the running statement on the server.
    let cancelled: Promise<void> | undefined;
    const cancel = () => void (cancelled ??= sendCancelRequest(client));
    options.signal?.addEventListener('abort', cancel, { once: true });
    options.ambient?.addCancelListener(cancel);
    const exec = <R extends QueryResultRow>(text: string, params?: readonly unknown[]) =>
      (ownTimeout
        ? client.query<R>(timed(text, params, queryTimeout))
        : client.query<R>(text, params as unknown[] | undefined)
      ).catch((error: unknown) => {
        if (connectionLost(error)) broken = error instanceof Error ? error : new Error(String(error));
        return this.failed(error);
      });
    try {
      const begin = options.isolation ? `BEGIN ISOLATION LEVEL ${options.isolation.toUpperCase()}` : 'BEGIN';
      // One simple-protocol round trip: the same cost as a bare BEGIN. Every limit is LOCAL: it
      // ends with the transaction, so a pooled server connection carries nothing to its next client.
      await exec(
        `${begin}; SET LOCAL statement_timeout = ${statementMs}; SET LOCAL lock_timeout = ${lockMs}; ` +
          `SET LOCAL idle_in_transaction_session_timeout = ${Math.max(statementMs * 2, 1_000)}`,
      );
      const tx: SqlExecutor = {
        query: async <R extends QueryResultRow>(
          text: string,
          params: readonly unknown[] = [],
          opts: QueryOptions = {},
        ) => {
          throwIfAborted(opts.signal ?? options.signal, options.ambient);
          this.observer?.statement?.(opts.name);
          if (tracedNow())
            return inChildSpan(
              statementSpan(text, opts.name, queryClass),
              async () => (await exec<R>(text, params)).rows,
            );
          return (await exec<R>(text, params)).rows;
        },
      };
      let result: T;
      try {
        result = await fn(tx);
      } catch (error) {
        if (!broken) await exec('ROLLBACK').catch(() => undefined);
        throw error;
      }
      try {
        await exec('COMMIT');
        this.lastCompletedAt = performance.now();
      } catch (error) {
        // A server-side refusal (a serialization failure at commit) is a known outcome: nothing
        // was committed. A broken connection leaves it unknown.
        throw error instanceof DatabaseError ? error : new CommitOutcomeUnknownError(error);
      }
      return result;
    } finally {
      options.signal?.removeEventListener('abort', cancel);
      options.ambient?.removeCancelListener(cancel);
      if (cancelled) await cancelled;
      client.removeListener('error', onError);
      client.release(broken);
    }
  }

  /**
   * Checks out a pooled connection with `onError` already listening. pg-pool drops its idle-error
   * listener when it hands a client out, so the listener must be attached in pg-pool's own
   * callback, not after an `await`: a new connection's last startup message and a FATAL (a backend
   * killed as soon as it exists, 57P01) can arrive in one read, and the FATAL is emitted before any
   * promise continuation runs. With no listener that 'error' crashed the process
   * (test/faults/database-retry.fault-spec.ts found it).
   */
  private checkout(onError: (error: Error) => void): Promise<PoolClient> {
    return new Promise<PoolClient>((resolve, reject) => {
      this.pool.connect((error, client) => {
        if (error || !client) return reject(error ?? new Error('pg-pool gave no client'));
        client.on('error', onError);
        resolve(client);
      });
    }).catch((error: unknown) => this.failed(error));
  }

  /** Counts a failure and rethrows it. */
  private failed(error: unknown): never {
    this.count(error);
    throw error;
  }

  /**
   * What readiness needs to tell "pool busy" from "Postgres down": when a statement or transaction
   * last completed (`performance.now()`, -Infinity before the first; the hot path pays one clock read).
   */
  loadSignals(): { lastCompletedAt: number } {
    return { lastCompletedAt: this.lastCompletedAt };
  }

  /**
   * Counts a failed statement (or connection) in `db_client_errors_total{sqlstate_class}`.
   * Nothing is logged here: the failure is logged once, where it is handled.
   */
  private count(error: unknown): void {
    const sqlClass = sqlStateClassOf(error);
    let child = this.errorsByClass.get(sqlClass);
    if (child === undefined)
      this.errorsByClass.set(sqlClass, (child = this.errors.labels({ sqlstate_class: sqlClass })));
    child.inc();
  }

  /** The client-side read timeout: the statement's server-side limit plus the margin, or less to meet a deadline. */
  private clientTimeoutMs(statementMs: number | undefined, deadline: number | undefined): number {
    const { statementTimeoutMs, clientTimeoutMarginMs } = this.config.database;
    const full = (statementMs ?? statementTimeoutMs) + clientTimeoutMarginMs;
    return Math.max(1, Math.trunc(fitDeadline(full, deadline)));
  }
}

/**
 * Whether a failed statement leaves its connection unusable: anything but a server's statement-level
 * error (a socket error, a read timeout, or a FATAL such as 57P01 after an admin's kill or a pooler's
 * `query_wait_timeout`, after which the server closes the connection). Such a connection is discarded,
 * never handed to the next caller.
 */
function connectionLost(error: unknown): boolean {
  return !(error instanceof DatabaseError) || error.severity === 'FATAL' || error.severity === 'PANIC';
}

/** A retry's attempt of `once`: its own span, and an event on the unit's, when tracing samples the work. */
function retried<R>(once: () => Promise<R>): (attempt: number, decision: RetryDecision) => Promise<R> {
  return (attempt, decision) => {
    if (!tracedNow()) return once();
    currentSpan()?.addEvent('db.retry', {
      'db.attempt.number': attempt,
      'error.type': decision.code ?? decision.kind,
    });
    return inChildSpan(attemptSpan(attempt), once);
  };
}

/** `ms`, or less when the deadline comes sooner. */
function fitDeadline(ms: number, deadline: number | undefined): number {
  return deadline === undefined ? ms : Math.min(ms, deadline - Date.now());
}

/**
 * A spent deadline (or a caller that went away) starts no statement: 504 DEADLINE_EXCEEDED, the
 * reason as its cause. `ambient`: the request context's deadline, read without a signal.
 */
function throwIfAborted(signal: AbortSignal | undefined, ambient?: WorkDeadline): void {
  if (signal?.aborted) throw new DeadlineExceededError(signal.reason);
  if (ambient !== undefined && (ambient.cancelled || ambient.expiresAt <= Date.now()))
    throw new DeadlineExceededError(ambient.cancelReason);
}
