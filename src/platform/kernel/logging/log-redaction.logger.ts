/**
 * What an error may carry into a log line. Errors are logged by many callers (the problem
 * filter, the pool error handler, process handlers, Nest itself), so the rule lives where
 * pino serializes them, not at each call site: every error, of every type and at every
 * depth (`cause`, `driverError`, aggregate `errors`), keeps only the fields listed here.
 *
 * Dropped on purpose: a driver error's `parameters` (emails, names, password hashes),
 * `query` (SQL text, which may hold literals), Postgres' `detail` (`Key (email)=(ann@…)
 * already exists`), `where`, `hint` and `internalQuery`, and any field added by a library
 * we did not review. Messages that quote the rejected value (Postgres class 22 data
 * exceptions such as `invalid input syntax for type uuid: "…"`, JSON `SyntaxError`s
 * that echo the input) have their quoted parts replaced.
 */

/** Fields copied as they are: codes, names and positions, never values. */
const SAFE_FIELDS = [
  'code',
  'errno',
  'syscall',
  'severity',
  'routine',
  'constraint',
  'table',
  'schema',
  'column',
  'dataType',
  'status',
  'statusCode',
] as const;

/** Error-valued fields followed (depth-limited, cycle-safe). */
const NESTED_ERRORS = ['cause', 'driverError'] as const;
const MAX_DEPTH = 5;

export interface SafeError {
  type: string;
  message: string;
  stack?: string;
  [field: string]: unknown;
}

const QUOTED = /"(?:[^"\\]|\\.)*"/g;

const isErrorLike = (value: unknown): value is Error =>
  value instanceof Error ||
  (typeof value === 'object' && value !== null && typeof (value as { message?: unknown }).message === 'string');

/** Postgres data exceptions (class 22) and JSON syntax errors quote the offending input in their message. */
function echoesInput(error: Error): boolean {
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && /^22[0-9A-Z]{3}$/.test(code)) return true;
  return error.name === 'SyntaxError';
}

/**
 * The pino serializer of `err` (and, through {@link redactErrorFields}, of any top-level
 * field holding an Error). Never throws: a logger must not turn one failure into two.
 */
export function serializeError(value: unknown): unknown {
  return isErrorLike(value) ? safeError(value, 0, new Set()) : value;
}

function safeError(error: Error, depth: number, seen: Set<unknown>): SafeError {
  seen.add(error);
  const rawMessage = String(error.message);
  const message = echoesInput(error) ? rawMessage.replace(QUOTED, '"[REDACTED]"') : rawMessage;
  const ctor = (error as { constructor?: { name?: unknown } }).constructor;
  const out: SafeError = {
    type: typeof ctor?.name === 'string' && ctor.name !== 'Object' ? ctor.name : String(error.name ?? 'Error'),
    message,
  };
  if (typeof error.stack === 'string') {
    out.stack = message === rawMessage ? error.stack : error.stack.split(rawMessage).join(message);
  }
  const record = error as unknown as Record<string, unknown>;
  for (const field of SAFE_FIELDS) {
    const v = record[field];
    if (typeof v === 'string' || typeof v === 'number') out[field] = v;
  }
  if (depth < MAX_DEPTH) {
    for (const field of NESTED_ERRORS) {
      const nested = record[field];
      if (isErrorLike(nested) && !seen.has(nested)) out[field] = safeError(nested, depth + 1, seen);
    }
    const aggregate = record.errors;
    if (Array.isArray(aggregate)) {
      out.aggregateErrors = aggregate
        .slice(0, 10)
        .filter((e) => isErrorLike(e) && !seen.has(e))
        .map((e) => safeError(e as Error, depth + 1, seen));
    }
  }
  return out;
}

/**
 * pino's `formatters.log`: an Error logged under a key other than `err` (`{ error }`,
 * `{ reason }`) gets the same treatment, so no call site can bypass the rule by its choice of key.
 */
export function redactErrorFields(object: Record<string, unknown>): Record<string, unknown> {
  let copy: Record<string, unknown> | undefined;
  for (const key in object) {
    if (key !== 'err' && object[key] instanceof Error) {
      copy ??= { ...object };
      copy[key] = serializeError(object[key]);
    }
  }
  return copy ?? object;
}
