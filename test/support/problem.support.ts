import { problemTypeOf, typeUriOf, type ErrorCode } from '../../src/platform/kernel/errors/problem-type.registry';
import type { HttpResponse } from './http-client.support';

/** What must never reach a caller in a 5xx body (or any body). */
const LEAKS = [
  /\bat .+\(.+:\d+:\d+\)/, // stack frame
  /\n\s+at /,
  /\/(work|home|usr|app|src|node_modules)\//, // file paths
  /\.(ts|js):\d+/,
  /\b(SELECT|INSERT|UPDATE|DELETE)\b.+\b(FROM|INTO|SET)\b/i, // SQL
  /QueryFailedError|TypeORMError|ECONNREFUSED|SQLSTATE|duplicate key|violates|relation "|pg_/i, // driver text
  /127\.0\.0\.1|localhost|:5432|:6379/, // hosts
];

/**
 * Asserts a complete RFC 9457 problem as the contract defines it: status, content type,
 * every member, the requestId matching X-Request-Id, and no leak of internals.
 */
export function expectProblem(res: HttpResponse, status: number, code: ErrorCode, instance?: string): void {
  const context = `${res.status} ${res.text}`;
  expect({ status: res.status, context }).toEqual({ status, context });
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  const body = res.body as Record<string, unknown>;
  expect(body).toMatchObject({
    type: typeUriOf(code),
    title: problemTypeOf(code).title,
    status,
    code,
  });
  expect(typeof body.detail).toBe('string');
  expect((body.detail as string).length).toBeGreaterThan(0);
  expect(typeof body.instance).toBe('string');
  if (instance !== undefined) expect(body.instance).toBe(instance);
  const requestId = res.headers.get('x-request-id');
  expect(requestId).toBeTruthy();
  expect(body.requestId).toBe(requestId);
  if (problemTypeOf(code).status === 429 || problemTypeOf(code).status === 503) {
    expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
  }
  expectNoLeak(res);
  if (status >= 500) {
    expect(body.detail).toBe(problemTypeOf(code).defaultDetail);
    expect(body.detail).toMatch(/requestId/);
  }
}

export function expectNoLeak(res: HttpResponse): void {
  for (const pattern of LEAKS) {
    if (pattern.test(res.text)) throw new Error(`response leaks internals (${pattern}): ${res.text}`);
  }
}
