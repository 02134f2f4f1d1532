import { randomUUID } from 'node:crypto';
import { rawHttp } from '../support/http-client.support';
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
      const before = t.clientAborts.total;
      const answer = await rawHttp(
        t.baseUrl,
        `POST /v1/accounts HTTP/1.1\r\nHost: x\r\nX-Request-Id: ${requestId}\r\n` +
          'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{',
        { closeAfterWrite: true },
      );
      expect(answer).toBe('');
      const line = await t.logs.waitFor((l) => l.requestId === requestId && l.msg === 'request aborted by client');
      expect(line).toMatchObject({ level: 'info', method: 'POST', route: '/v1/accounts' });
      expect(t.clientAborts.total).toBe(before + 1);
      // A later request's completion line proves the abort's lines, if any, were all written.
      await t.logs.completion((await t.http.get('/health/live')).headers.get('x-request-id')!);
      expect(t.logs.forRequest(requestId).map((l) => l.msg)).toEqual(['request aborted by client']);
    });
  });
});
