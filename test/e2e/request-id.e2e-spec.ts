import { FaultFixturesModule } from '../support/fault-fixtures.module';
import { startTestApp, type TestApp } from '../support/test-app.support';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('request ids and structured logs (F15, F16, F19)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ extraModules: [FaultFixturesModule] });
  });
  afterAll(() => t.close());

  it('generates a UUID X-Request-Id when the caller sends none', async () => {
    const res = await t.http.get('/health/live');
    expect(res.headers.get('x-request-id')).toMatch(UUID);
  });

  it.each(['abc', 'A.b_c-1', 'x'.repeat(128)])('keeps a valid caller id %s', async (id) => {
    const res = await t.http.get('/health/live', { headers: { 'x-request-id': id } });
    expect(res.headers.get('x-request-id')).toBe(id);
  });

  it.each(['x'.repeat(129), 'has space', 'semi;colon', 'ünïcode', '<script>'])(
    'replaces an invalid caller id %j',
    async (id) => {
      const res = await t.http.get('/health/live', {
        headers: { 'x-request-id': encodeURIComponent(id) === id ? id : id.replace(/[^\x20-\x7e]/g, '?') },
      });
      expect(res.headers.get('x-request-id')).toMatch(UUID);
    },
  );

  it('puts the same id in the header, the problem body and every log line of the request', async () => {
    const res = await t.http.get('/__test__/controller', { headers: { 'x-request-id': 'trace-42' } });
    expect(res.headers.get('x-request-id')).toBe('trace-42');
    expect(res.body.requestId).toBe('trace-42');
    await t.logs.completion('trace-42');
    const lines = t.logs.forRequest('trace-42');
    expect(lines.map((l) => l.msg)).toEqual(['request failed', 'request completed']);
  });

  it('writes one completion line per request with the route template, status and duration', async () => {
    const res = await t.http.get('/problems/validation-failed', { headers: { 'x-request-id': 'route-line' } });
    expect(res.status).toBe(200);
    const line = await t.logs.completion('route-line');
    expect(line).toMatchObject({
      level: 'info',
      method: 'GET',
      route: '/problems/:slug',
      status: 200,
      requestId: 'route-line',
    });
    expect(line.durationMs).toEqual(expect.any(Number));
    expect(t.logs.forRequest('route-line').filter((l) => l.msg === 'request completed')).toHaveLength(1);
  });

  it('logs a 4xx at info without a stack and a 5xx at error with one', async () => {
    await t.http.get('/nope', { headers: { 'x-request-id': 'four' } });
    await t.http.get('/__test__/controller', { headers: { 'x-request-id': 'five' } });
    const rejected = await t.logs.waitFor((l) => l.requestId === 'four' && l.msg === 'request rejected');
    expect(rejected.level).toBe('info');
    expect(JSON.stringify(rejected)).not.toMatch(/\n\s+at /);
    const failed = await t.logs.waitFor((l) => l.requestId === 'five' && l.msg === 'request failed');
    expect(failed.level).toBe('error');
    expect((failed.err as { stack: string }).stack).toMatch(/\n\s+at /);
  });

  it('binds the request id to logs written by services through nestjs-pino, with secrets redacted', async () => {
    const res = await t.http.get('/__test__/log', {
      headers: { 'x-request-id': 'svc-log', authorization: 'Bearer eyJ.header', cookie: 'sid=secret' },
    });
    expect(res.status).toBe(200);
    const line = await t.logs.waitFor((l) => l.msg === 'fixture log');
    expect(line.requestId).toBe('svc-log');
    expect(line).toMatchObject({
      password: '[REDACTED]',
      paymentToken: '[REDACTED]',
      user: { password: '[REDACTED]', accessToken: '[REDACTED]' },
    });
    await t.logs.completion('svc-log');
    const everything = JSON.stringify(t.logs.lines);
    for (const secret of ['hunter2', 'hunter3', 'eyJ.secret', 'tok_ok', 'eyJ.header', 'sid=secret']) {
      expect(everything).not.toContain(secret);
    }
  });
});
