import { ERROR_CATALOG, type ErrorCode, type LogLevel } from './error.catalog';

/** One failing field of a VALIDATION_FAILED problem. */
export interface FieldError {
  /** JSON pointer into the part of the request named by `in` (`/items/0/quantity`). */
  pointer: string;
  detail: string;
  in: 'body' | 'query' | 'path' | 'header';
}

export interface AppErrorOptions {
  /** Safe, caller-facing text. The HTTP mapping ignores it for 5xx: those always send the type's generic detail. */
  detail?: string;
  /** The underlying error: logged (with its stack), never sent. */
  cause?: unknown;
  /** Extra problem members (RFC 9457 extensions). Never put secrets or internals here. */
  extensions?: Record<string, unknown>;
  /**
   * A machine-readable refinement of `code` that the transport renders its own way
   * (`invalid_token` becomes `WWW-Authenticate: Bearer ..., error="invalid_token"` over HTTP).
   */
  reason?: string;
  /** When retrying may succeed, in seconds; overrides the problem type's default. HTTP sends it as `Retry-After`. */
  retryAfterSeconds?: number;
}

/**
 * Base of every error the application throws on purpose. Business code throws these,
 * in HTTP requests and in worker jobs alike; they carry no HTTP: status and headers are
 * decided by the HTTP mapping (problem.factory.ts) from the problem type of `code`.
 *
 * @example
 * export class ProductNotFoundError extends AppError {
 *   constructor(id: string) { super('PRODUCT_NOT_FOUND', { extensions: { productId: id } }); }
 * }
 */
export class AppError extends Error {
  readonly logLevel: LogLevel;
  readonly detail: string;
  readonly extensions: Record<string, unknown>;
  readonly reason?: string;
  readonly retryAfterSeconds?: number;

  constructor(
    readonly code: ErrorCode,
    options: AppErrorOptions = {},
  ) {
    const entry = ERROR_CATALOG[code];
    super(options.detail ?? entry.defaultDetail, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.logLevel = entry.logLevel;
    this.detail = options.detail ?? entry.defaultDetail;
    this.extensions = options.extensions ?? {};
    this.reason = options.reason;
    this.retryAfterSeconds =
      options.retryAfterSeconds ?? ('retryAfterSeconds' in entry ? entry.retryAfterSeconds : undefined);
  }
}

export class ValidationFailedError extends AppError {
  constructor(readonly errors: FieldError[]) {
    super('VALIDATION_FAILED', {
      detail: errors.length === 1 ? '1 field is invalid.' : `${errors.length} fields are invalid.`,
      extensions: { errors },
    });
  }
}

/** The caller is not authenticated; `reason: 'invalid_token'` when a token was sent but cannot be trusted. */
export class UnauthenticatedError extends AppError {
  constructor(detail = 'A valid bearer token is required.', reason?: 'invalid_token') {
    super('UNAUTHENTICATED', { detail, reason });
  }
}

/** A dependency (database, cache, provider) is down or its breaker is open. */
export class DependencyUnavailableError extends AppError {
  constructor(dependency: string, cause?: unknown, extensions: Record<string, unknown> = {}) {
    super('DEPENDENCY_UNAVAILABLE', { cause, extensions: { dependency, ...extensions } });
  }
}
