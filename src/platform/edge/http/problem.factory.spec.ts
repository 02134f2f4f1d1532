import { HttpException, NotFoundException } from '@nestjs/common';
import { AppError, UnauthenticatedError, ValidationFailedError } from '../../kernel/errors/app.errors';
import { defineProblemTypes, problemTypeOf, registerProblemTypes } from '../../kernel/errors/problem-type.registry';

// A feature's problem type, as a feature declares it (platform code must not import a feature),
// registered here the way the catalog registers each owner's list at boot.
export const THING_PROBLEM_TYPES = defineProblemTypes(
  {
    THING_NOT_FOUND: {
      title: 'Thing not found',
      meaning: 'No thing has this id.',
      cause: 'A wrong id.',
      action: 'Do not retry unchanged.',
      defaultDetail: 'No thing has this id.',
    },
  },
  { THING_NOT_FOUND: { status: 404, retryable: false, logLevel: 'info' } },
);
registerProblemTypes(THING_PROBLEM_TYPES);
declare module '../../kernel/errors/problem-type.registry' {
  interface ProblemCodes extends Record<keyof typeof THING_PROBLEM_TYPES, true> {}
}
import { DEFAULT_RETRY_AFTER_MAX_SECONDS } from '../../../config/config.schemas';
import { clientErrorResponse, retryAfterHeaderValue, toProblem } from './problem.factory';

const request = { id: 'req-1', url: '/v1/things/42?secret=x', method: 'GET' };

describe('toProblem', () => {
  it('sends an AppError as its catalog entry, with the path (no query) as instance', () => {
    const problem = toProblem(new AppError('THING_NOT_FOUND', { detail: 'No thing 42.' }), request);
    expect(problem.body).toEqual({
      type: '/problems/thing-not-found',
      title: 'Thing not found',
      status: 404,
      detail: 'No thing 42.',
      instance: '/v1/things/42',
      code: 'THING_NOT_FOUND',
      requestId: 'req-1',
    });
    expect(problem.logLevel).toBe('info');
    expect(problem.unexpected).toBeUndefined();
  });

  it('replaces the detail of a 5xx AppError with the generic one and keeps the error for the log', () => {
    const error = new AppError('DEPENDENCY_UNAVAILABLE', { detail: 'db at 10.0.0.7 refused' });
    const problem = toProblem(error, request);
    expect(problem.body.detail).toBe(problemTypeOf('DEPENDENCY_UNAVAILABLE').defaultDetail);
    expect(problem.headers['retry-after']).toBe('5');
    expect(problem.unexpected).toBe(error);
  });

  it('carries extensions and headers', () => {
    expect(
      toProblem(new ValidationFailedError([{ pointer: '/a', detail: 'bad', in: 'body' }]), request).body.errors,
    ).toEqual([{ pointer: '/a', detail: 'bad', in: 'body' }]);
    expect(toProblem(new UnauthenticatedError(), request).headers['www-authenticate']).toMatch(/^Bearer /);
  });

  it.each([
    ['an Error', new Error('boom at /srv/app.ts:1:1')],
    ['a string', 'boom'],
    ['undefined', undefined],
    ['an object', { message: 'boom' }],
    ['a 5xx HttpException', new HttpException('upstream said no', 502)],
  ])('turns %s into a generic 500 INTERNAL_ERROR', (_kind, thrown) => {
    const problem = toProblem(thrown, request);
    expect(problem.body).toMatchObject({
      status: 500,
      code: 'INTERNAL_ERROR',
      detail: problemTypeOf('INTERNAL_ERROR').defaultDetail,
    });
    expect(problem.unexpected).toBe(thrown);
  });

  it('maps the router 404 to ROUTE_NOT_FOUND naming method and path', () => {
    expect(toProblem(new NotFoundException('Cannot GET /x'), request).body).toMatchObject({
      code: 'ROUTE_NOT_FOUND',
      detail: 'No route matches GET /v1/things/42.',
    });
  });

  it.each([
    ['FST_ERR_CTP_INVALID_MEDIA_TYPE', 415, 'UNSUPPORTED_MEDIA_TYPE'],
    ['FST_ERR_CTP_BODY_TOO_LARGE', 413, 'PAYLOAD_TOO_LARGE'],
    ['FST_ERR_CTP_EMPTY_JSON_BODY', 400, 'MALFORMED_REQUEST'],
    ['FST_ERR_MAX_PARAM_LENGTH', 414, 'URI_TOO_LONG'],
  ])('maps the Fastify error %s to %i %s', (code, status, expected) => {
    const cause = Object.assign(new Error('fastify says'), { code, statusCode: status });
    expect(toProblem(new HttpException('fastify says', status, { cause }), request).body).toMatchObject({
      status,
      code: expected,
    });
    expect(toProblem(cause, request).body).toMatchObject({ status, code: expected });
  });

  it('maps the JSON parser SyntaxError to MALFORMED_REQUEST', () => {
    const error = Object.assign(new SyntaxError('Unexpected end of JSON input'), { statusCode: 400 });
    expect(toProblem(error, request).body).toMatchObject({ status: 400, code: 'MALFORMED_REQUEST' });
  });

  it('maps database outages to 503 and statement timeouts to 504', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    expect(toProblem(refused, request).body).toMatchObject({
      status: 503,
      code: 'DEPENDENCY_UNAVAILABLE',
      dependency: 'database',
    });
    const killed = { message: 'terminating connection', driverError: { code: '57P01' } };
    expect(toProblem(killed, request).body).toMatchObject({ status: 503, code: 'DEPENDENCY_UNAVAILABLE' });
    const cancelled = { message: 'canceling statement due to statement timeout', driverError: { code: '57014' } };
    expect(toProblem(cancelled, request).body).toMatchObject({ status: 504, code: 'DEADLINE_EXCEEDED' });
  });

  // Issue 5, defect 2: a lock wait (55P03) was a 500; so was every class that describes the server's state.
  it.each(['55P03', '40001', '40P01', '53300', '53100', '55006', '57P04', '57000', '58030', '08001'])(
    'answers SQLSTATE %s with 503 DEPENDENCY_UNAVAILABLE and Retry-After, never 500',
    (code) => {
      const problem = toProblem({ message: 'query failed', driverError: { code } }, request);
      expect(problem.body).toMatchObject({ status: 503, code: 'DEPENDENCY_UNAVAILABLE', dependency: 'database' });
      expect(problem.headers['retry-after']).toBe('5');
    },
  );
});

describe('clientErrorResponse', () => {
  it('writes a complete HTTP response with a problem body', () => {
    const response = clientErrorResponse(
      Object.assign(new Error('Header overflow'), { code: 'HPE_HEADER_OVERFLOW' }),
      'rid',
    );
    const [head, body] = response.split('\r\n\r\n');
    expect(head).toMatch(/^HTTP\/1\.1 431 /);
    expect(head).toContain('X-Request-Id: rid');
    expect(head).toContain(`Content-Length: ${Buffer.byteLength(body)}`);
    expect(JSON.parse(body)).toMatchObject({ status: 431, code: 'HEADERS_TOO_LARGE', requestId: 'rid' });
  });
});

describe('retryAfterHeaderValue: the one writer of Retry-After (issue 17, item 8)', () => {
  it.each([
    [1, '1'],
    [59, '59'],
    [1.2, '2'], // whole seconds, rounded up: never earlier than asked
    [0, '1'], // at least 1: "retry now" invites a hot loop
    [-5, '1'],
    [300, '300'],
    [301, '300'],
    [1e23, '300'], // would be written "1e+23"
    [Infinity, '300'],
    [2_305_861_527, '300'], // an HTTP-date in 2100
    [Number.NaN, '300'], // unknown: the cautious end
  ])('writes %p seconds as %j with a maximum of 300', (seconds, expected) => {
    expect(retryAfterHeaderValue(seconds, 300)).toBe(expected);
  });

  it('is what toProblem sends, under the shipped maximum by default and a configured one when given', () => {
    const huge = new AppError('OVERLOADED', { retryAfterSeconds: 1e23 });
    expect(toProblem(huge, request).headers['retry-after']).toBe(String(DEFAULT_RETRY_AFTER_MAX_SECONDS));
    expect(toProblem(huge, { ...request, retryAfterMaxSeconds: 7 }).headers['retry-after']).toBe('7');
    expect(toProblem(new AppError('OVERLOADED'), request).headers['retry-after']).toBe('1');
  });
});
