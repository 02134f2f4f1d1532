import { DatabaseError, Query, type ClientBase, type QueryResult, type QueryResultRow } from 'pg';

/** What pg's Query does with the backend's messages (its types do not declare these). */
interface QueryInternals {
  handleDataRow(msg: unknown): void;
  handleCommandComplete(msg: unknown, connection: unknown): void;
}
interface Submittable {
  submit(connection: unknown): Error | null;
}
interface ConnectionInternals {
  parse(message: { text: string; name?: string }): void;
  bind(message: { portal?: string; statement?: string; values?: unknown[] }): void;
  execute(message: { portal?: string; rows?: number }): void;
  stream: { cork?(): void; uncork?(): void };
}

/** The limits one statement carries to the server: `statement_timeout` and `lock_timeout`, ms. */
export interface StatementLimits {
  statementTimeoutMs: number;
  lockTimeoutMs: number;
}

/**
 * The limits a plain statement runs under outside a deadline: `DB_STATEMENT_TIMEOUT_MS`, and
 * `DB_LOCK_TIMEOUT_MS` but never longer than the statement may run. The seam gives them to every
 * statement (a deadline only shortens the first), and the pool makes them a direct connection's
 * session defaults ({@link adoptSessionLimits}): one derivation, so the two always agree.
 */
export function defaultStatementLimits(database: StatementLimits): StatementLimits {
  const { statementTimeoutMs, lockTimeoutMs } = database;
  return { statementTimeoutMs, lockTimeoutMs: Math.min(lockTimeoutMs, statementTimeoutMs) };
}

/**
 * The limits the session of a connection holds as its own: set once, when the pool opened it
 * ({@link adoptSessionLimits}), and only on a connection to Postgres itself. Keyed by pg's
 * `Connection`, which is what a statement is submitted to.
 */
const sessionLimits = new WeakMap<object, { statementMs: number; lockMs: number }>();

/** Whole milliseconds, at least 1 (0 would mean "no limit" to Postgres). */
const wholeMs = (ms: number): number => Math.max(1, Math.trunc(ms));

/**
 * The pool's `onConnect` (data-source.factory.ts): on a connection to Postgres itself, makes the
 * seam's default limits the session's own, so a statement that runs with exactly those (every
 * statement whose deadline leaves more than `DB_STATEMENT_TIMEOUT_MS`: nearly all of them) needs
 * no prefix. Behind a pooler it does nothing, and every statement keeps carrying its limits.
 *
 * How it tells: the backend key a client gets at startup names the server process it talks to
 * (`processID`), and `pg_backend_pid()` is the process that ran the query. They are equal only
 * when the connection is that server process's own for its whole life. A transaction pooler
 * (PgBouncer, pgcat, Odyssey, Supavisor, RDS Proxy) hands out a key of its own, because its
 * clients have no server process of their own; there a session `SET` would stay on a server
 * connection other clients get next, so none is sent.
 *
 * The session keeps these values: the seam changes a limit only with `set_config(…, true)` in a
 * statement's own implicit transaction or with `SET LOCAL` in a transaction, both of which end
 * with it, and nothing else sends `SET` on the seam's pool.
 */
export async function adoptSessionLimits(client: ClientBase, limits: StatementLimits): Promise<void> {
  const statementMs = wholeMs(limits.statementTimeoutMs);
  const lockMs = wholeMs(limits.lockTimeoutMs);
  try {
    const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    if (rows[0]?.pid !== (client as { processID?: number | null }).processID) return;
    // One implicit transaction: both values or neither.
    await client.query(`SET statement_timeout = ${statementMs}; SET lock_timeout = ${lockMs}`);
  } catch (error) {
    // A server that answers but refuses (no pg_backend_pid(), a SET it does not allow): the
    // connection works, its statements keep carrying their limits. A broken connection fails its
    // checkout, as a failed connect does.
    if (error instanceof DatabaseError) return;
    throw error;
  }
  sessionLimits.set((client as unknown as { connection: object }).connection, { statementMs, lockMs });
}

/**
 * A statement (`pool.query(limitedQuery(…))`) that carries its own server-side limits in the same round trip, with no session
 * state (what makes it safe behind a transaction pooler such as PgBouncer).
 *
 * pg sends a parameterized statement with the extended protocol: Parse, Bind, Describe, Execute,
 * then Sync, and Postgres runs everything before the Sync in one implicit transaction (ended by
 * the Sync, which is also where a transaction pooler may hand the server connection to another
 * client). This query writes one more Parse/Bind/Execute in front, in the same packet:
 * `SELECT set_config('statement_timeout', …, true), set_config('lock_timeout', …, true)`, whose
 * `is_local` makes both values end with that implicit transaction, as `SET LOCAL` would. So the
 * statement gets exactly the limits of a `BEGIN; SET LOCAL …; stmt; COMMIT` (Postgres cancels it
 * with 57014, a lock wait ends with 55P03), for one round trip instead of three. The prefix's
 * own answer (one row, one CommandComplete) is dropped before the statement's is read; an error
 * in either ends the whole unit at the Sync, which pg reports as usual.
 *
 * On a connection whose session already holds exactly these limits ({@link adoptSessionLimits}),
 * the statement goes alone, as a plain pg query would.
 */
export function limitedQuery<R extends QueryResultRow = QueryResultRow>(
  config: { text: string; values?: readonly unknown[]; queryTimeoutMs: number },
  limits: StatementLimits,
): { query: Query<R>; result: Promise<QueryResult<R>> } {
  let query!: LimitedQuery<R>;
  const result = new Promise<QueryResult<R>>((resolve, reject) => {
    query = new LimitedQuery<R>(
      config,
      wholeMs(limits.statementTimeoutMs),
      wholeMs(limits.lockTimeoutMs),
      resolve,
      reject,
    );
  });
  return { query: query as unknown as Query<R>, result };
}

/** pg's Query as the seam extends it (its types declare `submit` as a property and omit the handlers). */
type QueryClass = new (
  text: string,
  values: readonly unknown[],
  callback: (error: Error | undefined, res: never) => void,
) => QueryInternals & Submittable;

/** The last prefix made, and its limits: outside a deadline every statement carries the same two. */
let lastPrefix = { statementMs: 0, lockMs: 0, text: '' };

/** The prefix for these limits (whole numbers computed here, never caller input). */
function prefixOf(statementMs: number, lockMs: number): string {
  if (lastPrefix.statementMs !== statementMs || lastPrefix.lockMs !== lockMs) {
    lastPrefix = {
      statementMs,
      lockMs,
      text: `SELECT set_config('statement_timeout', '${statementMs}', true), set_config('lock_timeout', '${lockMs}', true)`,
    };
  }
  return lastPrefix.text;
}

/**
 * pg's Query with the prefix written in front of it: its methods on the prototype, so a statement
 * costs one object and its promise, not a set of closures (the seam runs one per statement).
 */
class LimitedQuery<R extends QueryResultRow> extends (Query as unknown as QueryClass) {
  /** True until the prefix's CommandComplete has been read (never set when no prefix is sent). */
  private prefixPending = false;

  constructor(
    config: { text: string; values?: readonly unknown[]; queryTimeoutMs: number },
    private readonly statementMs: number,
    private readonly lockMs: number,
    resolve: (result: QueryResult<R>) => void,
    reject: (error: Error) => void,
  ) {
    // Text, values and callback as three arguments: given a config object, pg's Query copies it
    // property by property first (`cloneQueryConfig`: ≈ 1 µs a statement, docs/performance.md).
    super(config.text, config.values ?? [], (error: Error | undefined, res: QueryResult<R>) =>
      error ? reject(error) : resolve(res),
    );
    // Always the extended protocol: a simple-protocol Query message after the prefix would not end
    // in the Sync the prefix needs if the prefix failed. (What pg's constructor reads from `queryMode`.)
    (this as unknown as { queryMode: string }).queryMode = 'extended';
    // pg's client-side read timeout, read from the submitted object.
    (this as unknown as { query_timeout: number }).query_timeout = config.queryTimeoutMs;
  }

  override submit(connection: unknown): Error | null {
    const session = sessionLimits.get(connection as object);
    if (session !== undefined && session.statementMs === this.statementMs && session.lockMs === this.lockMs) {
      return super.submit(connection);
    }
    this.prefixPending = true;
    const con = connection as ConnectionInternals;
    con.stream.cork?.();
    try {
      con.parse({ text: prefixOf(this.statementMs, this.lockMs) });
      con.bind({ values: [] });
      con.execute({ rows: 0 });
      // pg's own Parse/Bind/Describe/Execute/Sync of the statement follows in the same corked write.
      return super.submit(connection);
    } finally {
      con.stream.uncork?.();
    }
  }

  override handleDataRow(msg: unknown): void {
    if (!this.prefixPending) super.handleDataRow(msg);
  }

  override handleCommandComplete(msg: unknown, connection: unknown): void {
    if (this.prefixPending) this.prefixPending = false;
    else super.handleCommandComplete(msg, connection);
  }
}
