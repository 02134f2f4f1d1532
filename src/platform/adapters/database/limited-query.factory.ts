import { Query, type QueryResult, type QueryResultRow } from 'pg';

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
 */
export function limitedQuery<R extends QueryResultRow = QueryResultRow>(
  config: { text: string; values?: readonly unknown[]; queryTimeoutMs: number },
  limits: StatementLimits,
): { query: Query<R>; result: Promise<QueryResult<R>> } {
  let query!: LimitedQuery<R>;
  const result = new Promise<QueryResult<R>>((resolve, reject) => {
    query = new LimitedQuery<R>(config, prefixOf(limits), resolve, reject);
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
function prefixOf(limits: StatementLimits): string {
  const statementMs = Math.max(1, Math.trunc(limits.statementTimeoutMs));
  const lockMs = Math.max(1, Math.trunc(limits.lockTimeoutMs));
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
  /** True until the prefix's CommandComplete has been read. */
  private prefixPending = true;

  constructor(
    config: { text: string; values?: readonly unknown[]; queryTimeoutMs: number },
    private readonly prefix: string,
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
    const con = connection as ConnectionInternals;
    con.stream.cork?.();
    try {
      con.parse({ text: this.prefix });
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
