import { z } from 'zod';
import { problemTypeOf, defineProblemTypes, type ErrorCode, type LogLevel } from './problem-type.registry';

const QUOTE_ID = 'If it persists, contact support and quote the requestId.';

/**
 * The platform's problem types: transport (parsing, validation, routing, authentication) and
 * infrastructure (outages, timeouts, draining, bugs). Business codes live with their feature.
 */
export const PLATFORM_PROBLEM_TYPES = defineProblemTypes({
  VALIDATION_FAILED: {
    status: 400,
    title: 'Validation failed',
    meaning:
      'The request was understood but one or more fields, query parameters, path parameters or headers break the schema of this endpoint.',
    cause:
      'A missing required field, a value of the wrong type or format, a number out of range, an unknown enum value or an unknown field.',
    action:
      'Fix every field listed in `errors` (each has a JSON `pointer` and an `in` telling where it lives) and send the request again. Do not retry unchanged.',
    retryable: false,
    logLevel: 'info',
    defaultDetail: 'The request has invalid fields.',
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
    title: 'Malformed request',
    meaning:
      'The request could not be parsed: the body is not valid JSON, the URL is malformed or the HTTP message is broken.',
    cause:
      'A truncated or hand-edited JSON body, a body sent with `Content-Type: application/json` but another encoding, or a bad percent-encoding in the URL.',
    action: 'Send well-formed JSON (UTF-8) and a valid URL. Do not retry unchanged.',
    retryable: false,
    logLevel: 'info',
    defaultDetail: 'The request could not be parsed.',
    documentedOn: 'every-operation',
  },
  UNAUTHENTICATED: {
    status: 401,
    title: 'Unauthenticated',
    meaning: 'The endpoint needs a valid bearer token, or the credentials given were wrong.',
    cause:
      'No `Authorization: Bearer <token>` header, a malformed, expired or forged token, or a wrong email/password pair.',
    action:
      'Obtain a token from `POST /v1/auth/token` and send it as `Authorization: Bearer <token>`. Retry only with new credentials.',
    retryable: false,
    logLevel: 'warn',
    defaultDetail: 'A valid bearer token is required.',
    firstCheck:
      'Many callers at once after a deploy: `JWT_SECRET` differs between instances, or clocks drift. One caller: its token (expired, another environment’s).',
  },
  FORBIDDEN: {
    status: 403,
    title: 'Forbidden',
    meaning: 'The caller is authenticated but not allowed to do this.',
    cause: 'The account lacks the permission this operation needs.',
    action: 'Do not retry; use an account that has the permission.',
    retryable: false,
    logLevel: 'warn',
    defaultDetail: 'You are not allowed to do this.',
  },
  ROUTE_NOT_FOUND: {
    status: 404,
    title: 'Route not found',
    meaning: 'No endpoint matches this path.',
    cause: 'A typo in the path, or a missing `/v1` prefix. (A path that exists with other methods is a 405.)',
    action: 'Check the path and method against `GET /openapi.json`. Do not retry unchanged.',
    retryable: false,
    logLevel: 'info',
    defaultDetail: 'No route matches this method and path.',
    firstCheck:
      'Only at the proxy, or after a deploy: routing and upstream config (a path prefix added or stripped). Else the caller’s URL against `GET /openapi.json`.',
  },
  METHOD_NOT_ALLOWED: {
    status: 405,
    title: 'Method not allowed',
    meaning: 'The path exists, but not with this method.',
    cause:
      'A method the endpoint does not support, such as `DELETE /v1/products`: a client bug, or a scanner trying methods.',
    action: 'Use one of the methods the `Allow` header lists. Do not retry unchanged.',
    retryable: false,
    logLevel: 'info',
    defaultDetail: 'This method is not allowed on this path.',
    firstCheck:
      'After a deploy, from many callers: an endpoint or method removed that clients still use (`Allow` says what is left). Else one caller or a scanner.',
  },
  PROBLEM_TYPE_NOT_FOUND: {
    status: 404,
    title: 'Problem type not found',
    meaning: 'No problem type has this slug.',
    cause: 'A `type` URI that is mistyped or from another API.',
    action: 'List every problem type with `GET /problems`. Do not retry unchanged.',
    retryable: false,
    logLevel: 'info',
    defaultDetail: 'No problem type has this slug.',
    extensions: {
      slug: z.string().max(100).meta({ description: 'The slug asked for (at most 100 characters of it).' }),
    },
  },
  PAYLOAD_TOO_LARGE: {
    status: 413,
    title: 'Payload too large',
    meaning: 'The request body is larger than this API accepts.',
    cause: 'A body over the limit (1 MiB by default).',
    action: 'Send a smaller body. Do not retry unchanged.',
    retryable: false,
    logLevel: 'warn',
    defaultDetail: 'The request body is too large.',
    documentedOn: 'operations-with-body',
    firstCheck:
      '`BODY_LIMIT_BYTES` against what callers legitimately send, and the proxy’s own body limit (which answers before the app).',
  },
  UNSUPPORTED_MEDIA_TYPE: {
    status: 415,
    title: 'Unsupported media type',
    meaning: 'The request body is not JSON.',
    cause: 'A missing or different `Content-Type` (form data, text, XML) on a request with a body.',
    action: 'Send the body as JSON with `Content-Type: application/json`.',
    retryable: false,
    logLevel: 'info',
    defaultDetail: 'Request bodies must be sent as application/json.',
    documentedOn: 'operations-with-body',
  },
  REQUEST_TIMEOUT: {
    status: 408,
    title: 'Request timeout',
    meaning: 'The request was not received completely in time.',
    cause: 'A client or network that sends the request too slowly, or stalls mid-body.',
    action: 'Retry on a healthy connection.',
    retryable: true,
    logLevel: 'info',
    defaultDetail: 'The request was not received in time.',
    documentedOn: 'every-operation',
    firstCheck:
      'Many at once: the network between callers and the proxy, or the proxy buffering; else one slow client.',
  },
  URI_TOO_LONG: {
    status: 414,
    title: 'URI too long',
    meaning: 'A path segment is longer than this API accepts.',
    cause: 'An id or slug far longer than any valid one.',
    action: 'Check the path; valid ids are UUIDs. Do not retry unchanged.',
    retryable: false,
    logLevel: 'info',
    defaultDetail: 'A path parameter is too long.',
    documentedOn: 'operations-with-path-parameters',
  },
  HEADERS_TOO_LARGE: {
    status: 431,
    title: 'Request headers too large',
    meaning: 'The request headers are larger than the server accepts.',
    cause: 'Oversized cookies or tokens, or too many headers.',
    action: 'Send smaller headers. Do not retry unchanged.',
    retryable: false,
    logLevel: 'warn',
    defaultDetail: 'The request headers are too large.',
    documentedOn: 'every-operation',
  },
  REQUEST_REJECTED: {
    status: 400,
    title: 'Request rejected',
    meaning: 'The HTTP layer rejected the request before it reached an endpoint.',
    cause: 'A request the server cannot handle as sent (for example an unacceptable header).',
    action: 'Check the request against `GET /openapi.json`. Do not retry unchanged.',
    retryable: false,
    logLevel: 'info',
    defaultDetail: 'The request was rejected.',
    documentedOn: 'every-operation',
  },
  RATE_LIMITED: {
    status: 429,
    title: 'Too many requests',
    meaning: 'The caller went over a rate limit.',
    cause:
      'Too many requests in a short time from one client address, for one account, or (login) for one email address; or too many unfinished reports for one account.',
    action:
      'Wait for the number of seconds in `Retry-After`, then retry. `RateLimit-Policy` and `RateLimit` say which limit applies and how much is left.',
    retryable: true,
    logLevel: 'warn',
    defaultDetail: 'Too many requests; retry after the Retry-After interval.',
    retryAfterSeconds: 60,
    extensions: {
      policy: z.string().meta({
        description:
          'The limit that refused the request (`login`, `login-ip`, `signup`, `account`, `orders`, `reports-unfinished`).',
      }),
    },
    firstCheck:
      '`http_server_requests_rate_limited_total` by `policy`: one client over a limit, or a limit too low for real use (`RATE_LIMIT_*`).',
  },
  INTERNAL_ERROR: {
    status: 500,
    title: 'Internal error',
    meaning: 'Something failed on our side that nothing else describes: a bug.',
    cause: 'A defect in the service. It is logged with its stack under the requestId and counted.',
    action: `Retrying may not help. ${QUOTE_ID}`,
    retryable: false,
    logLevel: 'error',
    defaultDetail: `An unexpected error occurred. ${QUOTE_ID}`,
    documentedOn: 'every-operation',
    firstCheck:
      'The `request failed` line with this requestId: its stack and `route`. One endpoint → that handler and its recent changes; many → a shared dependency or the last deploy.',
  },
  DEPENDENCY_UNAVAILABLE: {
    status: 503,
    title: 'Dependency unavailable',
    meaning: 'A service this request needs (database, cache, provider) is down, or its circuit breaker is open.',
    cause: 'An outage or restart of a dependency.',
    action: `Retry after the number of seconds in \`Retry-After\`. ${QUOTE_ID}`,
    retryable: true,
    logLevel: 'error',
    defaultDetail: `A service this request depends on is temporarily unavailable. Retry after the Retry-After interval. ${QUOTE_ID}`,
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
    firstCheck:
      'Many endpoints → database, cache, pool: `GET /health/ready` (which check), the body’s `dependency`, pool gauges `db_client_connection_*`, `db_client_errors_total` by class; with a partner, its circuit state and status page.',
  },
  OVERLOADED: {
    status: 503,
    title: 'Overloaded',
    meaning:
      'The service is shedding load to stay responsive: too much work in flight (the request was refused before any work was done), or a job backlog at its cap.',
    cause:
      'More concurrent requests, or a busier event loop, than this instance is sized for; or more queued background jobs than it accepts.',
    action: `Retry after the number of seconds in \`Retry-After\`, with backoff and jitter; the request had no effect. ${QUOTE_ID}`,
    retryable: true,
    logLevel: 'error',
    defaultDetail: `The service is overloaded. Retry after the Retry-After interval. ${QUOTE_ID}`,
    retryAfterSeconds: 1,
    // Load shedding refuses any route but the probes and /metrics, before routing.
    documentedOn: 'every-operation',
    firstCheck:
      '`http_server_requests_shed_total` by `reason` (in_flight: raise `SHED_MAX_IN_FLIGHT` or add instances; event_loop_delay: CPU-bound work on the loop), or the report backlog (`queue_jobs_waiting`) and the worker.',
  },
  SHUTTING_DOWN: {
    status: 503,
    title: 'Shutting down',
    meaning: 'This instance is draining before it stops.',
    cause: 'A deploy or scale-in.',
    action: `Retry after the number of seconds in \`Retry-After\`; another instance will answer. ${QUOTE_ID}`,
    retryable: true,
    logLevel: 'error',
    defaultDetail: `This instance is shutting down. Retry after the Retry-After interval. ${QUOTE_ID}`,
    retryAfterSeconds: 1,
    firstCheck:
      'Expected during deploys and scale-in. Outside them: why instances get SIGTERM (OOM kills, node drains, a crash loop).',
  },
  DEADLINE_EXCEEDED: {
    status: 504,
    title: 'Deadline exceeded',
    meaning: 'The request ran out of its time budget before it could finish.',
    cause: 'A slow dependency or an unusually heavy request.',
    action: `Retry after a short wait; for POSTs, retry with the same Idempotency-Key. ${QUOTE_ID}`,
    retryable: true,
    logLevel: 'error',
    defaultDetail: `The request did not finish within its time budget. ${QUOTE_ID}`,
    documentedOn: 'every-operation',
    firstCheck:
      'One endpoint → its slow query (`durationMs` on the completion line, statement_timeout cancels in `db_client_errors_total{sqlstate_class="57"}`); many → database load or locks; only with a partner → its timeouts and status.',
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
