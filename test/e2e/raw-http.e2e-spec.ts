import { randomUUID } from 'node:crypto';
import { rawHttp } from '../support/http-client.support';
import { scrape } from '../support/metrics.support';
import { startTestApp, type TestApp } from '../support/test-app.support';

/** Issue 5, defects 4 and 8: what happens on the wire, written and read over a raw socket. */
describe('raw HTTP edge cases', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  describe('a client that hangs up mid-body (defect 4)', () => {
    it('is logged once, at info, as a client abort with its request id, and counted, never as an outage', async () => {
      const requestId = `abort-${randomUUID()}`;
      const aborted = async () => (await scrape(t.http)).value('http_server_requests_aborted_total');
      const before = await aborted();
      const answer = await rawHttp(
        t.baseUrl,
        `POST /v1/accounts HTTP/1.1\r\nHost: x\r\nX-Request-Id: ${requestId}\r\n` +
          'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{',
        { closeAfterWrite: true },
      );
      expect(answer).toBe('');
      const line = await t.logs.waitFor((l) => l.requestId === requestId && l.msg === 'request aborted by client');
      expect(line).toMatchObject({ level: 'info', method: 'POST', route: '/v1/accounts' });
      expect(await aborted()).toBe((before ?? 0) + 1);
      // A later request's completion line proves the abort's lines, if any, were all written.
      await t.logs.completion((await t.http.get('/health/live')).headers.get('x-request-id')!);
      expect(t.logs.forRequest(requestId).map((l) => l.msg)).toEqual(['request aborted by client']);
    });
  });
  describe('every answer is a problem body with a request id (defect 8)', () => {
    /** Status, lower-cased headers and JSON body of a raw HTTP/1.1 response. */
    function parse(response: string) {
      const [head, ...rest] = response.split('\r\n\r\n');
      const [statusLine, ...lines] = head.split('\r\n');
      const headers = Object.fromEntries(
        lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]),
      );
      const status = Number(statusLine.split(' ')[1]);
      return { status, headers, body: JSON.parse(rest.join('\r\n\r\n')) as Record<string, unknown> };
    }

    function expectRawProblem(response: string, status: number, code: string) {
      const { status: got, headers, body } = parse(response);
      expect({ status: got, code: body.code }).toEqual({ status, code });
      expect(headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(headers['x-request-id']).toBeTruthy();
      expect(body.requestId).toBe(headers['x-request-id']);
      expect(body).toMatchObject({ status, type: `/problems/${code.toLowerCase().replaceAll('_', '-')}` });
    }

    it('answers HTTP/1.1 without Host with 400 MALFORMED_REQUEST (HTTP/1.0 needs none)', async () => {
      const response = await rawHttp(t.baseUrl, 'GET /health/live HTTP/1.1\r\nConnection: close\r\n\r\n');
      expectRawProblem(response, 400, 'MALFORMED_REQUEST');
      expect(parse(response).body.detail).toMatch(/Host/);
      const http10 = await rawHttp(t.baseUrl, 'GET /health/live HTTP/1.0\r\n\r\n');
      expect(parse(http10).status).toBe(200);
    });

    it('answers an Expect other than 100-continue with 400 REQUEST_REJECTED, and still honours 100-continue', async () => {
      const response = await rawHttp(
        t.baseUrl,
        'GET /health/live HTTP/1.1\r\nHost: x\r\nExpect: foo\r\nConnection: close\r\n\r\n',
      );
      expectRawProblem(response, 400, 'REQUEST_REJECTED');
      const continued = await rawHttp(
        t.baseUrl,
        'POST /v1/auth/token HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Type: application/json\r\n' +
          'Content-Length: 2\r\nConnection: close\r\n\r\n{}',
      );
      expect(continued).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 400 /);
    });

    it('answers CONNECT with 404 ROUTE_NOT_FOUND and its request id instead of closing the socket', async () => {
      const response = await rawHttp(
        t.baseUrl,
        'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\nX-Request-Id: connect-1\r\n\r\n',
      );
      expectRawProblem(response, 404, 'ROUTE_NOT_FOUND');
      expect(parse(response).headers['x-request-id']).toBe('connect-1');
      await t.logs.waitFor((l) => l.requestId === 'connect-1' && l.msg === 'request rejected');
    });
  });
});
