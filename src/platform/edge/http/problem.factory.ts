import { HttpException } from '@nestjs/common';
import { DEFAULT_RETRY_AFTER_MAX_SECONDS } from '../../../config/config.schemas';
import {
  AppError,
  DependencyUnavailableError,
  MethodNotAllowedError,
  RateLimitedError,
  type RateLimitFacts,
} from '../../kernel/errors/app.errors';
import { classifyFailure } from '../../adapters/failures/failure.classifier';
import {
  isRegistered,
  problemTypeOf,
  typeUriOf,
  type ErrorCode,
  type LogLevel,
} from '../../kernel/errors/problem-type.registry';

/** An RFC 9457 problem body as this API sends it. */
export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance: string;
  code: ErrorCode;
  requestId: string;
  [extension: string]: unknown;
}

export interface Problem {
  body: ProblemBody;
  headers: Record<string, string>;
  logLevel: LogLevel;
  /** Set for failures we did not throw on purpose: the log line must carry this error and its stack. */
  unexpected?: unknown;
}

/** Codes for the 4xx that the framework (Nest, Fastify, Node) raises on its own. */
const FRAMEWORK_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_BODY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'MALFORMED_REQUEST',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'MALFORMED_REQUEST',
  FST_ERR_CTP_INVALID_JSON_BODY: 'MALFORMED_REQUEST',
  FST_ERR_BAD_URL: 'MALFORMED_REQUEST',
  FST_ERR_CTP_INVALID_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_MAX_PARAM_LENGTH: 'URI_TOO_LONG',
  ERR_HTTP_REQUEST_TIMEOUT: 'REQUEST_TIMEOUT',
  HPE_HEADER_OVERFLOW: 'HEADERS_TOO_LARGE',
};

const STATUS_CODES: Record<number, string> = {
  400: 'MALFORMED_REQUEST',
  401: 'UNAUTHENTICATED',
  403: 'FORBIDDEN',
  404: 'ROUTE_NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  408: 'REQUEST_TIMEOUT',
  414: 'URI_TOO_LONG',
  431: 'HEADERS_TOO_LARGE',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  429: 'RATE_LIMITED', // a framework 429 (none today): the platform's rate limits throw RateLimitedError
};

/**
 * Safe, fixed details for framework errors (their own messages may echo input or internals):
 * by what went wrong where the framework says (its code), else by the problem it maps to. Each
 * says what is actually wrong: a bad URL is never told its (absent) body is not valid JSON.
 */
const FRAMEWORK_DETAILS: Partial<Record<string, string>> = {
  FST_ERR_BAD_URL: 'The URL is malformed: a percent-encoded sequence in its path is invalid.',
  FST_ERR_CTP_INVALID_JSON_BODY: 'The request body is not valid JSON.',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'The request body is empty, but its Content-Type says it is JSON.',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'The Content-Length header does not match the body sent.',
  MALFORMED_REQUEST: 'The request is malformed.',
  PAYLOAD_TOO_LARGE: 'The request body is larger than the limit.',
  UNSUPPORTED_MEDIA_TYPE: 'Request bodies must be sent as application/json.',
};

const frameworkDetail = (frameworkCode: string | undefined, code: ErrorCode): string | undefined =>
  (frameworkCode !== undefined ? FRAMEWORK_DETAILS[frameworkCode] : undefined) ?? FRAMEWORK_DETAILS[code];

interface RequestFacts {
  id: string;
  url: string;
  method: string;
  /** RETRY_AFTER_MAX_SECONDS (AppConfig `http.retryAfterMaxSeconds`); the shipped default when not given. */
  retryAfterMaxSeconds?: number;
}

const pathOf = (url: string): string => {
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
};

/**
 * The one builder of a problem body: the filter, the Fastify-level handlers and the raw
 * answer to an unparseable request all go through it, so every body has the same members.
 * A 5xx always gets the type's generic detail, whatever the thrower wrote.
 */
export function buildProblemBody(
  code: ErrorCode,
  facts: { requestId: string; instance: string; detail?: string; extensions?: Record<string, unknown> },
): ProblemBody {
  const entry = problemTypeOf(code);
  return {
    type: typeUriOf(code),
    title: entry.title,
    status: entry.status,
    detail: entry.status >= 500 ? entry.defaultDetail : (facts.detail ?? entry.defaultDetail),
    instance: facts.instance,
    code,
    requestId: facts.requestId,
    ...facts.extensions,
  };
}

/** One policy of `RateLimit-Policy`: `"orders";q=120;w=60`, or `"reports-unfinished";q=10;qu="concurrent-requests"`. */
export const rateLimitPolicyItem = (limit: Pick<RateLimitFacts, 'policy' | 'quota' | 'windowSeconds' | 'unit'>) =>
  `"${limit.policy}";q=${limit.quota}` +
  (limit.windowSeconds !== undefined ? `;w=${limit.windowSeconds}` : '') +
  (limit.unit !== undefined ? `;qu="${limit.unit}"` : '');

/** The `RateLimit` header of one policy: `"orders";r=0;t=42`. */
export const rateLimitItem = (limit: Pick<RateLimitFacts, 'policy' | 'remaining' | 'resetSeconds'>) =>
  `"${limit.policy}";r=${limit.remaining};t=${limit.resetSeconds}`;

/**
 * The one writer of a `Retry-After` value (RFC 9110 §10.2.3 delay-seconds), for every 429 and 503
 * this service sends: a whole number of seconds from 1 to `maxSeconds`, rounded up. Whatever
 * produced the number (a rate-limit window, the breaker's next probe, a provider's own header
 * such as 1e23 seconds, a 400-digit number read as Infinity or an HTTP-date in 2100), a caller
 * gets a value it can act on, never `1e+23`, `Infinity` or a wait of decades. NaN (unknown)
 * gets the maximum: the cautious end.
 * @example retryAfterHeaderValue(1.2, 300) // '2'
 * @example retryAfterHeaderValue(1e23, 300) // '300'
 */
export function retryAfterHeaderValue(seconds: number, maxSeconds: number): string {
  if (!(seconds < maxSeconds)) return String(maxSeconds);
  return String(Math.max(1, Math.ceil(seconds)));
}

/** HTTP headers of a problem: `Retry-After` from the error or its type, the auth challenge of a 401, the `Allow` of a 405, a limit's numbers. */
function headersOf(error: AppError, retryAfterMaxSeconds: number): Record<string, string> {
  const headers: Record<string, string> = {};
  if (error instanceof MethodNotAllowedError) headers.allow = error.allowed.join(', ');
  if (error.retryAfterSeconds !== undefined) {
    headers['retry-after'] = retryAfterHeaderValue(error.retryAfterSeconds, retryAfterMaxSeconds);
  }
  if (error instanceof RateLimitedError) {
    headers['ratelimit-policy'] = rateLimitPolicyItem(error.limit);
    headers['ratelimit'] = rateLimitItem(error.limit);
  }
  if (error.code === 'UNAUTHENTICATED') {
    headers['www-authenticate'] = error.reason
      ? `Bearer realm="resilient-api", error="${error.reason}"`
      : 'Bearer realm="resilient-api"';
  }
  return headers;
}

/**
 * Turns anything thrown anywhere (AppError, Nest HttpException, Fastify error, a driver
 * error, a plain Error, a string, undefined) into the problem the caller gets.
 * Pure: the filter and the Fastify-level handlers both call it.
 */
export function toProblem(thrown: unknown, request: RequestFacts): Problem {
  const error = thrown instanceof AppError ? thrown : fromFramework(thrown, request);
  const instance = pathOf(request.url);
  if (error) {
    const status = problemTypeOf(error.code).status;
    return {
      body: buildProblemBody(error.code, {
        requestId: request.id,
        instance,
        detail: error.detail,
        extensions: error.extensions,
      }),
      headers: headersOf(error, request.retryAfterMaxSeconds ?? DEFAULT_RETRY_AFTER_MAX_SECONDS),
      logLevel: status >= 500 ? 'error' : error.logLevel,
      unexpected: status >= 500 ? thrown : undefined,
    };
  }
  return {
    body: buildProblemBody('INTERNAL_ERROR', { requestId: request.id, instance }),
    headers: {},
    logLevel: 'error',
    unexpected: thrown,
  };
}

/** Maps an error raised by Nest, Fastify, the JSON parser or the database driver to an AppError, or undefined for a bug. */
function fromFramework(thrown: unknown, request: RequestFacts): AppError | undefined {
  if (thrown instanceof HttpException) {
    const status = thrown.getStatus();
    if (status >= 500) return undefined;
    const cause = thrown.cause as { code?: string } | undefined;
    // A status whose code no registered owner declares is a plain rejection (REQUEST_REJECTED).
    const byStatus = STATUS_CODES[status];
    const code =
      (cause?.code && FRAMEWORK_CODES[cause.code]) ||
      (byStatus !== undefined && isRegistered(byStatus) ? byStatus : 'REQUEST_REJECTED');
    if (code === 'ROUTE_NOT_FOUND') {
      return new AppError(code, {
        detail: `No route matches ${request.method} ${pathOf(request.url)}.`,
        cause: thrown,
      });
    }
    return new AppError(code, { detail: frameworkDetail(cause?.code, code), cause: thrown });
  }
  // A dependency that is down, restarting or overloaded is an outage (503, retry later), not a bug;
  // one that ran out of time (a statement_timeout) is a 504. Rejected work stays a 500: our bug.
  const failure = classifyFailure(thrown);
  if (failure?.kind === 'unavailable') return new DependencyUnavailableError(failure.dependency, thrown);
  if (failure?.kind === 'timeout') return new AppError('DEADLINE_EXCEEDED', { cause: thrown });
  if (thrown instanceof Error) {
    const { statusCode, code } = thrown as Error & { statusCode?: number; code?: string };
    // Fastify's JSON parser marks a SyntaxError with statusCode 400; other framework errors carry FST_ codes.
    if (thrown.name === 'SyntaxError' && statusCode === 400) {
      return new AppError('MALFORMED_REQUEST', { detail: 'The request body is not valid JSON.', cause: thrown });
    }
    if (code && FRAMEWORK_CODES[code] && (statusCode === undefined || statusCode < 500)) {
      const mapped = FRAMEWORK_CODES[code];
      return new AppError(mapped, { detail: frameworkDetail(code, mapped), cause: thrown });
    }
  }
  return undefined;
}

/**
 * The raw HTTP answer to a request Node could not even parse (Fastify's
 * `clientErrorHandler`): there is no request object, so no hook or filter runs.
 * Still a problem body with a fresh request id, never Fastify's own JSON.
 */
export function clientErrorResponse(error: Error & { code?: string }, requestId: string): string {
  return rawProblemResponse((error.code && FRAMEWORK_CODES[error.code]) || 'MALFORMED_REQUEST', requestId);
}

/**
 * A complete HTTP/1.1 response carrying a problem body (built by {@link buildProblemBody}),
 * written straight to a socket that no Fastify request owns (an unparseable request, a
 * `CONNECT`); the connection is closed after it.
 */
export function rawProblemResponse(code: ErrorCode, requestId: string, detail?: string, instance = '/'): string {
  const entry = problemTypeOf(code);
  const body = JSON.stringify(buildProblemBody(code, { requestId, instance, detail }));
  return (
    `HTTP/1.1 ${entry.status} ${entry.title}\r\nConnection: close\r\nContent-Type: application/problem+json\r\n` +
    `X-Request-Id: ${requestId}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
  );
}
