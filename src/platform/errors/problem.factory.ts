import { HttpException } from '@nestjs/common';
import { classifyPgFailure } from '../database/pg.errors';
import { AppError, DependencyUnavailableError } from './app.errors';
import { ERROR_CATALOG, typeUriOf, type ErrorCode, type LogLevel } from './error.catalog';

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

const STATUS_CODES: Record<number, ErrorCode> = {
  400: 'MALFORMED_REQUEST',
  401: 'UNAUTHENTICATED',
  403: 'FORBIDDEN',
  404: 'ROUTE_NOT_FOUND',
  405: 'ROUTE_NOT_FOUND',
  408: 'REQUEST_TIMEOUT',
  414: 'URI_TOO_LONG',
  431: 'HEADERS_TOO_LARGE',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  429: 'RATE_LIMITED',
};

/** Safe, fixed details for framework errors: their own messages may echo input or internals. */
const FRAMEWORK_DETAILS: Partial<Record<ErrorCode, string>> = {
  MALFORMED_REQUEST: 'The request body is not valid JSON, or the request is malformed.',
  PAYLOAD_TOO_LARGE: 'The request body is larger than the limit.',
  UNSUPPORTED_MEDIA_TYPE: 'Request bodies must be sent as application/json.',
};

interface RequestFacts {
  id: string;
  url: string;
  method: string;
}

const pathOf = (url: string): string => {
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
};

/**
 * Turns anything thrown anywhere (AppError, Nest HttpException, Fastify error,
 * a plain Error, a string, undefined) into the problem the caller gets.
 * Pure: the filter and the Fastify-level handlers both call it.
 */
export function toProblem(thrown: unknown, request: RequestFacts): Problem {
  const error = thrown instanceof AppError ? thrown : fromFramework(thrown, request);
  if (error) {
    const entry = ERROR_CATALOG[error.code];
    const headers: Record<string, string> = { ...error.headers };
    if (error.retryAfterSeconds !== undefined) headers['retry-after'] = String(error.retryAfterSeconds);
    return {
      body: {
        type: typeUriOf(error.code),
        title: entry.title,
        status: entry.status,
        detail: error.detail,
        instance: pathOf(request.url),
        code: error.code,
        requestId: request.id,
        ...error.extensions,
      },
      headers,
      logLevel: entry.status >= 500 ? 'error' : error.logLevel,
      unexpected: entry.status >= 500 ? thrown : undefined,
    };
  }
  const entry = ERROR_CATALOG.INTERNAL_ERROR;
  return {
    body: {
      type: typeUriOf('INTERNAL_ERROR'),
      title: entry.title,
      status: entry.status,
      detail: entry.defaultDetail,
      instance: pathOf(request.url),
      code: 'INTERNAL_ERROR',
      requestId: request.id,
    },
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
    const code = (cause?.code && FRAMEWORK_CODES[cause.code]) || STATUS_CODES[status] || 'REQUEST_REJECTED';
    if (code === 'ROUTE_NOT_FOUND') {
      return new AppError(code, {
        detail: `No route matches ${request.method} ${pathOf(request.url)}.`,
        cause: thrown,
      });
    }
    return new AppError(code, { detail: FRAMEWORK_DETAILS[code], cause: thrown });
  }
  // A database that is down, busy or dropped the connection is an outage (503, retry later), not a bug;
  // statement_timeout firing means the query ran out of its budget (504). See classifyPgFailure.
  const dbFailure = classifyPgFailure(thrown);
  if (dbFailure === 'transient') return new DependencyUnavailableError('database', thrown);
  if (dbFailure === 'timeout') return new AppError('DEADLINE_EXCEEDED', { cause: thrown });
  if (thrown instanceof Error) {
    const { statusCode, code } = thrown as Error & { statusCode?: number; code?: string };
    // Fastify's JSON parser marks a SyntaxError with statusCode 400; other framework errors carry FST_ codes.
    if (thrown.name === 'SyntaxError' && statusCode === 400) {
      return new MalformedJson(thrown);
    }
    if (code && FRAMEWORK_CODES[code] && (statusCode === undefined || statusCode < 500)) {
      const mapped = FRAMEWORK_CODES[code];
      return new AppError(mapped, { detail: FRAMEWORK_DETAILS[mapped], cause: thrown });
    }
  }
  return undefined;
}

class MalformedJson extends AppError {
  constructor(cause: Error) {
    super('MALFORMED_REQUEST', { detail: 'The request body is not valid JSON.', cause });
  }
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
 * A complete HTTP/1.1 response carrying a problem body, written straight to a socket that
 * no Fastify request owns (an unparseable request, a `CONNECT`); the connection is closed after it.
 */
export function rawProblemResponse(code: ErrorCode, requestId: string, detail?: string, instance = '/'): string {
  const entry = ERROR_CATALOG[code];
  const body = JSON.stringify({
    type: typeUriOf(code),
    title: entry.title,
    status: entry.status,
    detail: detail ?? entry.defaultDetail,
    instance,
    code,
    requestId,
  });
  return (
    `HTTP/1.1 ${entry.status} ${entry.title}\r\nConnection: close\r\nContent-Type: application/problem+json\r\n` +
    `X-Request-Id: ${requestId}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
  );
}
