/** PostgreSQL SQLSTATE codes the app reacts to (https://www.postgresql.org/docs/15/errcodes-appendix.html). */
export const PG = {
  UNIQUE_VIOLATION: '23505',
  FOREIGN_KEY_VIOLATION: '23503',
  UNDEFINED_TABLE: '42P01',
  INVALID_TEXT_REPRESENTATION: '22P02',
  QUERY_CANCELED: '57014',
  LOCK_NOT_AVAILABLE: '55P03',
  ADMIN_SHUTDOWN: '57P01',
  CRASH_SHUTDOWN: '57P02',
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

/**
 * A foreign-key violation (23503), optionally of one constraint. The repository that ran the
 * statement knows which way it went and maps it to its feature's problem: an INSERT/UPDATE
 * naming a row that does not exist (or was deleted meanwhile) → that resource's 404; a DELETE
 * of a row still referenced → 409. Unmapped, it stays a 500: a statement the code should not send.
 *
 * @example
 * .catch((error) => {
 *   if (isForeignKeyViolation(error, 'order_items_product_id_fkey')) throw new ProductNotFoundError(productId);
 *   throw error;
 * });
 */
export const isForeignKeyViolation = (error: unknown, constraint?: string): boolean =>
  sqlStateOf(error) === PG.FOREIGN_KEY_VIOLATION && (constraint === undefined || constraintOf(error) === constraint);
/**
 * A COMMIT that failed because the connection broke: the server may or may not have
 * committed. Never retried (the work may have happened); callers reconcile instead.
 * Keeps the driver error as `driverError` so SQLSTATE helpers still see it.
 */
export class CommitOutcomeUnknownError extends Error {
  readonly code?: string;
  constructor(readonly driverError: unknown) {
    super(`COMMIT outcome unknown: ${(driverError as Error)?.message ?? String(driverError)}`, {
      cause: driverError,
    });
    this.name = 'CommitOutcomeUnknownError';
    this.code = (driverError as { code?: string })?.code;
  }
}
