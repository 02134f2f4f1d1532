import { z } from 'zod';
import { problemTypeOf, defineProblemTypes, type ErrorCode, type LogLevel } from './problem-type.registry';
import PROSE from './app.problems.json';

/**
 * The platform's problem types: transport (parsing, validation, routing, authentication) and
 * infrastructure (outages, timeouts, draining, bugs). Business codes live with their feature.
 */
export const PLATFORM_PROBLEM_TYPES = defineProblemTypes(PROSE, {
  VALIDATION_FAILED: {
    status: 400,
    retryable: false,
    logLevel: 'info',
    documentedOn: 'operations-with-input',
    extensions: {
      errors: z
        .array(
          z.object({
            pointer: z.string().meta({ description: 'JSON pointer into the part named by `in`.', example: '/email' }),
            detail: z.string().meta({ example: 'Invalid email address' }),
            in: z.enum(['body', 'query', 'path', 'header']),
          }),
        )
        .meta({ description: 'Every failing field.' }),
    },
  },
  MALFORMED_REQUEST: {
    status: 400,
    retryable: false,
    logLevel: 'info',
    documentedOn: 'every-operation',
  },
  UNAUTHENTICATED: {
    status: 401,
    retryable: false,
    logLevel: 'warn',
  },
  FORBIDDEN: {
    status: 403,
    retryable: false,
    logLevel: 'warn',
  },
  ROUTE_NOT_FOUND: {
    status: 404,
    retryable: false,
    logLevel: 'info',
  },
  METHOD_NOT_ALLOWED: {
    status: 405,
    retryable: false,
    logLevel: 'info',
  },
  PROBLEM_TYPE_NOT_FOUND: {
    status: 404,
    retryable: false,
    logLevel: 'info',
    extensions: {
      slug: z.string().max(100).meta({ description: 'The slug asked for (at most 100 characters of it).' }),
    },
  },
  PAYLOAD_TOO_LARGE: {
    status: 413,
    retryable: false,
    logLevel: 'warn',
    documentedOn: 'operations-with-body',
  },
  UNSUPPORTED_MEDIA_TYPE: {
    status: 415,
    retryable: false,
    logLevel: 'info',
    documentedOn: 'operations-with-body',
  },
  REQUEST_TIMEOUT: {
    status: 408,
    retryable: true,
    logLevel: 'info',
    documentedOn: 'every-operation',
  },
  URI_TOO_LONG: {
    status: 414,
    retryable: false,
    logLevel: 'info',
    documentedOn: 'operations-with-path-parameters',
  },
  HEADERS_TOO_LARGE: {
    status: 431,
    retryable: false,
    logLevel: 'warn',
    documentedOn: 'every-operation',
  },
  REQUEST_REJECTED: {
    status: 400,
    retryable: false,
    logLevel: 'info',
    documentedOn: 'every-operation',
  },
  RATE_LIMITED: {
    status: 429,
    retryable: true,
    logLevel: 'warn',
    retryAfterSeconds: 60,
    extensions: {
      policy: z.string().meta({
        description:
          'The limit that refused the request (`login`, `login-ip`, `signup`, `account`, `orders`, `reports-unfinished`).',
      }),
    },
  },
  INTERNAL_ERROR: {
    status: 500,
    retryable: false,
    logLevel: 'error',
    documentedOn: 'every-operation',
  },
  DEPENDENCY_UNAVAILABLE: {
    status: 503,
    retryable: true,
    logLevel: 'error',
    retryAfterSeconds: 5,
    documentedOn: 'every-operation',
    extensions: {
      dependency: z.string().meta({ description: 'Which dependency failed (`postgres`, `redis`, `readiness`, …).' }),
      checks: z
        .record(
          z.string(),
          z.object({ status: z.string(), reason: z.string().optional(), responseTimeMs: z.number().optional() }),
        )
        .meta({ description: '`GET /health/ready` only: the result of each check.' }),
    },
  },
  OVERLOADED: {
    status: 503,
    retryable: true,
    logLevel: 'error',
    retryAfterSeconds: 1,
    // Load shedding refuses any route but the probes and /metrics, before routing.
    documentedOn: 'every-operation',
  },
  SHUTTING_DOWN: {
    status: 503,
    retryable: true,
    logLevel: 'error',
    retryAfterSeconds: 1,
  },
  DEADLINE_EXCEEDED: {
    status: 504,
    retryable: true,
    logLevel: 'error',
    documentedOn: 'every-operation',
  },
});

declare module './problem-type.registry' {
  interface ProblemCodes extends Record<keyof typeof PLATFORM_PROBLEM_TYPES, true> {}
}

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
    const entry = problemTypeOf(code);
    super(options.detail ?? entry.defaultDetail, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.logLevel = entry.logLevel;
    this.detail = options.detail ?? entry.defaultDetail;
    this.extensions = options.extensions ?? {};
    this.reason = options.reason;
    this.retryAfterSeconds = options.retryAfterSeconds ?? entry.retryAfterSeconds;
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

/** The caller is not authenticated; `reason: 'invalid_token'` when a token was sent but cannot be trusted. */
export class UnauthenticatedError extends AppError {
  constructor(detail = 'A valid bearer token is required.', reason?: 'invalid_token') {
    super('UNAUTHENTICATED', { detail, reason });
  }
}

/** One limit's numbers, as the IETF RateLimit headers carry them (draft-ietf-httpapi-ratelimit-headers). */
export interface RateLimitFacts {
  /** The policy's name: the headers' key and the problem's `policy`. */
  policy: string;
  /** The quota (`q`). */
  quota: number;
  /** What is left of it (`r`). */
  remaining: number;
  /** Seconds until there is room again (`t`, and `Retry-After` when refused). */
  resetSeconds: number;
  /** The window of a request quota (`w`); none for a cap on work in progress. */
  windowSeconds?: number;
  /** `concurrent-requests` (`qu`): the quota counts work in progress, not requests per window. */
  unit?: 'concurrent-requests';
}

/**
 * 429 over a limit a feature enforces itself (one the route's `@RateLimit()` guard cannot count,
 * such as unfinished reports per account). The HTTP mapping sends `Retry-After`, `RateLimit-Policy`
 * and `RateLimit` from `limit`, as the guard does for its own policies.
 */
export class RateLimitedError extends AppError {
  constructor(
    readonly limit: RateLimitFacts,
    detail?: string,
  ) {
    super('RATE_LIMITED', { detail, retryAfterSeconds: limit.resetSeconds, extensions: { policy: limit.policy } });
  }
}

/** Load shed: too much work in flight or a backlog at its cap (503 with Retry-After). */
export class OverloadedError extends AppError {
  constructor(extensions: Record<string, unknown> = {}, retryAfterSeconds?: number) {
    super('OVERLOADED', { extensions, retryAfterSeconds });
  }
}

/** The path exists with other methods (`allowed`, in the order HTTP sends them in `Allow`). */
export class MethodNotAllowedError extends AppError {
  constructor(
    method: string,
    path: string,
    readonly allowed: readonly string[],
  ) {
    super('METHOD_NOT_ALLOWED', { detail: `${method} is not allowed on ${path}. Allowed: ${allowed.join(', ')}.` });
  }
}

/** A dependency (database, cache, provider) is down or its breaker is open. */
export class DependencyUnavailableError extends AppError {
  constructor(dependency: string, cause?: unknown, extensions: Record<string, unknown> = {}) {
    super('DEPENDENCY_UNAVAILABLE', { cause, extensions: { dependency, ...extensions } });
  }
}
