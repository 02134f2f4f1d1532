import { rawHttp } from '../support/http-client.support';
import { FaultFixturesModule, SECRET_MESSAGE } from '../support/fault-fixtures.module';
import { expectProblem } from '../support/problem.support';
import { startTestApp, type TestApp } from '../support/test-app.support';

describe('one problem format for every failure, from every layer (F3, F20, F29)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ extraModules: [FaultFixturesModule] });
  });
  afterAll(() => t.close());

  describe.each([
    ['a controller', '/__test__/controller'],
    ['an async handler that rejects', '/__test__/async'],
    ['a guard', '/__test__/guard'],
    ['a pipe', '/__test__/pipe?x=1'],
    ['an interceptor before the handler', '/__test__/interceptor'],
    ['an interceptor on the way out', '/__test__/interceptor-stream'],
    ['an interceptor returning an rxjs error', '/__test__/interceptor-rx'],
    ['a middleware', '/__test__/middleware'],
    ['a failing SQL query', '/__test__/sql'],
  ])('an unexpected Error thrown from %s', (_layer, path) => {
    it('answers 500 INTERNAL_ERROR with a generic detail and logs the stack under the requestId', async () => {
      const res = await t.http.get(path);
      expectProblem(res, 500, 'INTERNAL_ERROR', path.split('?')[0]);
      expect(res.text).not.toContain('10.0.0.7');
      expect(res.text).not.toContain('hunter2');

      const failure = await t.logs.waitFor((l) => l.requestId === res.body.requestId && l.msg === 'request failed');
      expect(failure.level).toBe('error');
      const err = failure.err as { stack?: string; message?: string };
      expect(err.stack).toMatch(/\n\s+at /);
      expect(await t.logs.completion(res.body.requestId)).toMatchObject({ status: 500, code: 'INTERNAL_ERROR' });
    });
  });

  it.each([
    ['string', '/__test__/string'],
    ['null', '/__test__/null'],
    ['plain object', '/__test__/object'],
  ])('turns a thrown %s value (not an Error) into 500 INTERNAL_ERROR and logs what was thrown', async (_kind, path) => {
    const res = await t.http.get(path);
    expectProblem(res, 500, 'INTERNAL_ERROR', path);
    const failure = await t.logs.waitFor((l) => l.requestId === res.body.requestId && l.msg === 'request failed');
    expect((failure.err as { message: string }).message).toMatch(/^Non-Error value thrown: /);
  });

  it('sends an AppError as its catalog problem and keeps its cause in the log only', async () => {
    const res = await t.http.get('/__test__/app-error');
    expectProblem(res, 410, 'PRODUCT_DISCONTINUED', '/__test__/app-error');
    expect(res.text).not.toContain(SECRET_MESSAGE);
  });

  it('never sends a 5xx AppError detail, only the generic one', async () => {
    const res = await t.http.get('/__test__/app-error-5xx');
    expectProblem(res, 503, 'DEPENDENCY_UNAVAILABLE', '/__test__/app-error-5xx');
    expect(res.text).not.toContain('10.0.0.7');
  });

  describe('the body parser and router', () => {
    it('answers malformed JSON with 400 MALFORMED_REQUEST', async () => {
      const res = await t.http.post('/__test__/echo', '{"name": "a",', {
        headers: { 'content-type': 'application/json' },
      });
      expectProblem(res, 400, 'MALFORMED_REQUEST', '/__test__/echo');
    });

    it('answers an empty JSON body with 400 MALFORMED_REQUEST', async () => {
      const res = await t.http.post('/__test__/echo', '', { headers: { 'content-type': 'application/json' } });
      expectProblem(res, 400, 'MALFORMED_REQUEST');
    });

    it('refuses prototype poisoning with 400, not 500, naming the member: the body is valid JSON, and says so (issue 17, item 18)', async () => {
      const res = await t.http.post('/__test__/echo', '{"name":"a","items":[{"quantity":1}],"__proto__":{"x":1}}', {
        headers: { 'content-type': 'application/json' },
      });
      expectProblem(res, 400, 'VALIDATION_FAILED', '/__test__/echo');
      expect(res.body.errors).toEqual([
        { pointer: '/__proto__', in: 'body', detail: 'Member name not allowed (prototype pollution)' },
      ]);
      expect(res.body.detail).not.toMatch(/not valid JSON/);
    });

    it('says what is wrong with a malformed URL, not that a body it does not have is not valid JSON (issue 17, item 18)', async () => {
      for (const path of ['/v1/products/%zz', '/v1/products/%E0%A4%A']) {
        const res = await t.http.get(path);
        expectProblem(res, 400, 'MALFORMED_REQUEST');
        expect(res.body.detail).toBe('The URL is malformed: a percent-encoded sequence in its path is invalid.');
      }
    });

    it.each(['text/plain', 'application/x-www-form-urlencoded', 'application/xml', 'multipart/form-data; boundary=x'])(
      'answers a %s body with 415 UNSUPPORTED_MEDIA_TYPE',
      async (type) => {
        const res = await t.http.post('/__test__/echo', 'name=a', { headers: { 'content-type': type } });
        expectProblem(res, 415, 'UNSUPPORTED_MEDIA_TYPE', '/__test__/echo');
      },
    );

    it('answers a 2 MiB body with 413 PAYLOAD_TOO_LARGE', async () => {
      const big = JSON.stringify({ name: 'x'.repeat(2 * 1024 * 1024) });
      const res = await t.http.post('/__test__/echo', big, { headers: { 'content-type': 'application/json' } });
      expectProblem(res, 413, 'PAYLOAD_TOO_LARGE', '/__test__/echo');
    });

    it('answers an unknown route with 404 ROUTE_NOT_FOUND naming the method and path', async () => {
      const res = await t.http.request('DELETE', '/v1/nothing-here?x=1');
      expectProblem(res, 404, 'ROUTE_NOT_FOUND', '/v1/nothing-here');
      expect(res.body.detail).toBe('No route matches DELETE /v1/nothing-here.');
    });

    it('answers a path that exists with other methods with 405 METHOD_NOT_ALLOWED and Allow naming them (issue 17, item 15)', async () => {
      const res = await t.http.request('DELETE', '/v1/products?x=1');
      expectProblem(res, 405, 'METHOD_NOT_ALLOWED', '/v1/products');
      expect(res.headers.get('allow')).toBe('GET, HEAD');
      expect(res.body.detail).toBe('DELETE is not allowed on /v1/products. Allowed: GET, HEAD.');
      // A path with a parameter, matched as its route matches it.
      const put = await t.http.request('PUT', '/v1/products/0b9e4c1e-8d53-4c55-9d36-2b1f0c6f7a11');
      expectProblem(put, 405, 'METHOD_NOT_ALLOWED', '/v1/products/0b9e4c1e-8d53-4c55-9d36-2b1f0c6f7a11');
      expect(put.headers.get('allow')).toBe('GET, HEAD');
      // fetch() refuses to send TRACE: on the wire.
      const trace = await rawHttp(t.baseUrl, 'TRACE /v1/accounts HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      expect(trace).toMatch(/^HTTP\/1\.1 405 /);
      expect(trace).toMatch(/\r\nallow: POST\r\n/i);
      expect(trace).toContain('"code":"METHOD_NOT_ALLOWED"');
      // A path no method serves is still a 404.
      expectProblem(await t.http.request('DELETE', '/v1/accountsX'), 404, 'ROUTE_NOT_FOUND', '/v1/accountsX');
      // HEAD's router entry alone matches an empty id; GET's does not: a 404, never 'Allow: HEAD'.
      expectProblem(await t.http.get('/v1/products/'), 404, 'ROUTE_NOT_FOUND', '/v1/products/');
    });

    it('answers a malformed URL with 400 MALFORMED_REQUEST', async () => {
      const res = await t.http.get('/__test__/%E0%A4%A');
      expect(res.status).toBe(400);
      expectProblem(res, 400, 'MALFORMED_REQUEST');
    });
  });

  it('answers an over-long path parameter with 414 URI_TOO_LONG, not 500', async () => {
    const res = await t.http.get(`/problems/${'x'.repeat(500)}`);
    expectProblem(res, 414, 'URI_TOO_LONG');
  });

  describe('requests Node cannot parse', () => {
    const raw = (payload: string) => rawHttp(t.baseUrl, payload);

    it('answers garbage with a 400 MALFORMED_REQUEST problem', async () => {
      const response = await raw('NOT HTTP AT ALL\r\n\r\n');
      expect(response).toMatch(/^HTTP\/1\.1 400 /);
      expect(response).toContain('Content-Type: application/problem+json');
      const body = JSON.parse(response.slice(response.indexOf('\r\n\r\n') + 4));
      expect(body).toMatchObject({ status: 400, code: 'MALFORMED_REQUEST', type: '/problems/malformed-request' });
      expect(response).toContain(`X-Request-Id: ${body.requestId}`);
    });

    it('answers oversized headers with a 431 HEADERS_TOO_LARGE problem', async () => {
      const response = await raw(`GET /health/live HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
      expect(response).toMatch(/^HTTP\/1\.1 431 /);
      const body = JSON.parse(response.slice(response.indexOf('\r\n\r\n') + 4));
      expect(body).toMatchObject({ status: 431, code: 'HEADERS_TOO_LARGE' });
    });
  });

  describe('validation (F22)', () => {
    it('lists every failing field with a JSON pointer', async () => {
      const res = await t.http.post('/__test__/echo', { items: [{ quantity: 0 }, { quantity: 'x' }], extra: true });
      expectProblem(res, 400, 'VALIDATION_FAILED', '/__test__/echo');
      expect(res.body.detail).toBe('4 fields are invalid.');
      expect(res.body.errors).toEqual(
        expect.arrayContaining([
          { pointer: '/name', detail: expect.any(String), in: 'body' },
          { pointer: '/items/0/quantity', detail: expect.any(String), in: 'body' },
          { pointer: '/items/1/quantity', detail: expect.any(String), in: 'body' },
          { pointer: '/extra', detail: 'Unknown field', in: 'body' },
        ]),
      );
      expect(res.body.errors).toHaveLength(4);
    });

    it('rejects a missing body and a non-object body with 400, not 500', async () => {
      for (const body of [undefined, 'null', '[]', '42', '"text"']) {
        const res = await t.http.request('POST', '/__test__/echo', {
          body,
          headers: body === undefined ? {} : { 'content-type': 'application/json' },
        });
        expectProblem(res, 400, 'VALIDATION_FAILED');
        expect(res.body.errors[0]).toMatchObject({ pointer: '', in: 'body' });
      }
    });
  });
});
