/** PostgreSQL SQLSTATE codes the app reacts to (https://www.postgresql.org/docs/15/errcodes-appendix.html). */
export const PG = {
  UNIQUE_VIOLATION: '23505',
  UNDEFINED_TABLE: '42P01',
  INVALID_TEXT_REPRESENTATION: '22P02',
  QUERY_CANCELED: '57014',
  LOCK_NOT_AVAILABLE: '55P03',
  ADMIN_SHUTDOWN: '57P01',
  CANNOT_CONNECT_NOW: '57P03',
  INVALID_PASSWORD: '28P01',
  INVALID_AUTHORIZATION: '28000',
  INVALID_CATALOG_NAME: '3D000',
  TOO_MANY_CONNECTIONS: '53300',
} as const;

/** The SQLSTATE of a pg error, wherever TypeORM wrapped it. */
export function sqlStateOf(error: unknown): string | undefined {
  const e = error as { code?: unknown; driverError?: { code?: unknown } } | undefined;
  const code = e?.driverError?.code ?? e?.code;
  return typeof code === 'string' ? code : undefined;
}

/** The constraint named by a pg error (unique, check, foreign key). */
export function constraintOf(error: unknown): string | undefined {
  const e = error as { constraint?: unknown; driverError?: { constraint?: unknown } } | undefined;
  const constraint = e?.driverError?.constraint ?? e?.constraint;
  return typeof constraint === 'string' ? constraint : undefined;
}

export const isUniqueViolation = (error: unknown, constraint?: string): boolean =>
  sqlStateOf(error) === PG.UNIQUE_VIOLATION && (constraint === undefined || constraintOf(error) === constraint);

/** Node socket errors: the connection to the database failed or broke. */
const CONNECTION_ERROR_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
]);

/** node-postgres reports these without a code. */
const CONNECTION_ERROR_MESSAGES = [
  'timeout exceeded when trying to connect',
  'Connection terminated',
  'Client has encountered a connection error',
  'Connection timeout',
];

/**
 * SQLSTATEs where the same statement can succeed a moment later: serialization failure and
 * deadlock (40001, 40P01), lock not available / lock_timeout (55P03), the backend or server
 * shutting down or not accepting connections yet (57P01-57P03), too many connections (53300).
 */
const TRANSIENT_SQLSTATES = new Set([
  '40001',
  '40P01',
  PG.LOCK_NOT_AVAILABLE,
  PG.ADMIN_SHUTDOWN,
  '57P02',
  PG.CANNOT_CONNECT_NOW,
  PG.TOO_MANY_CONNECTIONS,
]);

/**
 * Whole SQLSTATE classes that describe the server's state, not the request: 08 connection
 * exception, 53 insufficient resources (disk full, out of memory), 55 object not in
 * prerequisite state (object in use), 57 operator intervention (database dropped, shutdown),
 * 58 system error (I/O error). None of them is a bug in the request, so none may be a 500.
 */
const TRANSIENT_CLASSES = ['08', '53', '55', '57', '58'];

/**
 * - `transient`: the database is unreachable, busy or restarting: 503 DEPENDENCY_UNAVAILABLE
 *   with Retry-After; the same request can succeed later.
 * - `timeout`: the statement ran out of its budget (57014 statement_timeout): 504 DEADLINE_EXCEEDED.
 * - `permanent`: any other SQLSTATE (23 constraint, 22 data, 42 syntax/undefined object...):
 *   retrying will fail the same way; unmapped by a feature, it is a bug and a logged 500.
 * - `undefined`: not a database error at all.
 */
export type PgFailureKind = 'transient' | 'timeout' | 'permanent';

const SQLSTATE = /^[0-9A-Z]{5}$/;

export function classifyPgFailure(error: unknown): PgFailureKind | undefined {
  const code = sqlStateOf(error);
  if (code === PG.QUERY_CANCELED) return 'timeout';
  if (code !== undefined && SQLSTATE.test(code)) {
    return TRANSIENT_SQLSTATES.has(code) || TRANSIENT_CLASSES.includes(code.slice(0, 2)) ? 'transient' : 'permanent';
  }
  if (code !== undefined && CONNECTION_ERROR_CODES.has(code)) return 'transient';
  const message = (error as { message?: unknown })?.message;
  return typeof message === 'string' && CONNECTION_ERROR_MESSAGES.some((m) => message.includes(m))
    ? 'transient'
    : undefined;
}

/**
 * True when the database could not be reached, dropped the connection or is too busy to take
 * the statement now (locks, connection slots, restarts): the caller gets 503
 * DEPENDENCY_UNAVAILABLE (retry later), not a 500 (a bug).
 */
export const isDatabaseUnavailable = (error: unknown): boolean => classifyPgFailure(error) === 'transient';
