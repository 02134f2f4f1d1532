import { ERROR_CATALOG, type ErrorCode, type LogLevel } from './error.catalog';

/** One failing field of a VALIDATION_FAILED problem. */
export interface FieldError {
  /** JSON pointer into the part of the request named by `in` (`/items/0/quantity`). */
  pointer: string;
  detail: string;
  in: 'body' | 'query' | 'path' | 'header';
}

export interface AppErrorOptions {
  /** Safe, caller-facing text. Ignored for 5xx: those always send the catalog's generic detail. */
  detail?: string;
  /** The underlying error: logged (with its stack), never sent. */
  cause?: unknown;
  /** Extra problem members (RFC 9457 extensions). Never put secrets or internals here. */
  extensions?: Record<string, unknown>;
  /** Extra response headers (`WWW-Authenticate`, ...). */
  headers?: Record<string, string>;
  /** Overrides the catalog's default `Retry-After` (seconds). */
  retryAfterSeconds?: number;
}

/**
 * Base of every error the application throws on purpose. Business code throws these;
 * only the global filter turns them into HTTP. Status, title and log level come from
 * the catalog entry of `code`, so a code means the same thing everywhere.
 *
 * @example
 * export class ProductNotFoundError extends AppError {
 *   constructor(id: string) { super('PRODUCT_NOT_FOUND', { extensions: { productId: id } }); }
 * }
 */
export class AppError extends Error {
  readonly status: number;
  readonly logLevel: LogLevel;
  readonly detail: string;
  readonly extensions: Record<string, unknown>;
  readonly headers: Record<string, string>;
  readonly retryAfterSeconds?: number;

  constructor(
    readonly code: ErrorCode,
    options: AppErrorOptions = {},
  ) {
    const entry = ERROR_CATALOG[code];
    super(options.detail ?? entry.defaultDetail, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.status = entry.status;
    this.logLevel = entry.logLevel;
    this.detail = entry.status >= 500 ? entry.defaultDetail : (options.detail ?? entry.defaultDetail);
    this.extensions = options.extensions ?? {};
    this.headers = options.headers ?? {};
    this.retryAfterSeconds =
      options.retryAfterSeconds ?? ('retryAfterSeconds' in entry ? entry.retryAfterSeconds : undefined);
  }
}

/** At most this many entries in a VALIDATION_FAILED `errors` list; `detail` gives the total. */
export const MAX_LISTED_FIELD_ERRORS = 20;

/**
 * A hostile body can break thousands of rules at once (125,000 unknown keys): the list is cut
 * to the first {@link MAX_LISTED_FIELD_ERRORS}, so the answer stays small, and `detail` says how many there were.
 * @param total how many fields failed, when the caller stopped collecting early.
 */
export class ValidationFailedError extends AppError {
  constructor(
    readonly errors: FieldError[],
    total = errors.length,
  ) {
    const listed = errors.slice(0, MAX_LISTED_FIELD_ERRORS);
    const count = Math.max(total, errors.length);
    const head = count === 1 ? '1 field is invalid.' : `${count} fields are invalid.`;
    super('VALIDATION_FAILED', {
      detail: count > listed.length ? `${head} The first ${listed.length} are listed.` : head,
      extensions: { errors: listed },
    });
  }
}

export class MalformedRequestError extends AppError {
  constructor(detail?: string, cause?: unknown) {
    super('MALFORMED_REQUEST', { detail, cause });
  }
}

export class UnauthenticatedError extends AppError {
  constructor(detail = 'A valid bearer token is required.', reason?: 'invalid_token') {
    super('UNAUTHENTICATED', {
      detail,
      headers: {
        'www-authenticate': reason ? `Bearer realm="resilient-api", error="${reason}"` : 'Bearer realm="resilient-api"',
      },
    });
  }
}

/** A dependency (database, cache, provider) is down or its breaker is open. */
export class DependencyUnavailableError extends AppError {
  constructor(dependency: string, cause?: unknown, extensions: Record<string, unknown> = {}) {
    super('DEPENDENCY_UNAVAILABLE', { cause, extensions: { dependency, ...extensions } });
  }
}
