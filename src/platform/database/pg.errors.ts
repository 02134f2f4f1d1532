/** PostgreSQL SQLSTATE codes the app reacts to (https://www.postgresql.org/docs/15/errcodes-appendix.html). */
export const PG = {
  UNIQUE_VIOLATION: '23505',
  UNDEFINED_TABLE: '42P01',
  INVALID_TEXT_REPRESENTATION: '22P02',
  QUERY_CANCELED: '57014',
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

const CONNECTION_ERROR_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  PG.ADMIN_SHUTDOWN,
  '57P02', // crash_shutdown
  PG.CANNOT_CONNECT_NOW,
  PG.TOO_MANY_CONNECTIONS,
]);

/** node-postgres reports these without a code. */
const CONNECTION_ERROR_MESSAGES = [
  'timeout exceeded when trying to connect',
  'Connection terminated',
  'Client has encountered a connection error',
  'Connection timeout',
];

/**
 * True when the database could not be reached or dropped the connection: the
 * caller gets 503 DEPENDENCY_UNAVAILABLE (retry later), not a 500 (a bug).
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  const code = sqlStateOf(error);
  if (code && (CONNECTION_ERROR_CODES.has(code) || code.startsWith('08'))) return true;
  const message = (error as { message?: unknown })?.message;
  return typeof message === 'string' && CONNECTION_ERROR_MESSAGES.some((m) => message.includes(m));
}
