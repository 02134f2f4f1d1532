import { openRawConnection } from '../support/http-client.support';
import { pollUntil } from '../support/poll.support';
import { startTestApp, type TestApp } from '../support/test-app.support';

const open = (port: number) => openRawConnection(`http://127.0.0.1:${port}`);

const KEEP_ALIVE_MS = 1_000;
const HEADERS_MS = 1_200;
const REQUEST_MS = 1_500;
const MAX_CONNECTIONS = 20;
// Node checks the header and request timeouts on a timer (here every 300 ms): allowed lateness.
const CHECK_SLACK_MS = 1_000;

describe('slow and idle clients (F9)', () => {
  let t: TestApp;
  let port: number;
  beforeAll(async () => {
    t = await startTestApp({
      env: {
        KEEP_ALIVE_TIMEOUT_MS: String(KEEP_ALIVE_MS),
        HEADERS_TIMEOUT_MS: String(HEADERS_MS),
        REQUEST_TIMEOUT_MS: String(REQUEST_MS),
        MAX_CONNECTIONS: String(MAX_CONNECTIONS),
      },
    });
    port = Number(new URL(t.baseUrl).port);
  });
  afterAll(() => t.close());

  it('answers a body that stops arriving with 408 REQUEST_TIMEOUT (a problem body) and closes, within the request timeout', async () => {
    const c = open(port);
    await c.connected;
    const sentAt = Date.now();
    c.socket.write(
      'POST /v1/auth/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{',
    );
    await pollUntil(() => c.state.closedAt, { timeoutMs: REQUEST_MS + CHECK_SLACK_MS + 1_000, what: 'the close' });
    expect(c.state.closedAt! - sentAt).toBeLessThan(REQUEST_MS + CHECK_SLACK_MS);
    expect(c.state.received).toMatch(/^HTTP\/1\.1 408 /);
    expect(c.state.received).toMatch(/\r\nconnection: close\r\n/i);
    const body = JSON.parse(c.state.received.split('\r\n\r\n')[1]);
    expect(body).toMatchObject({ status: 408, code: 'REQUEST_TIMEOUT', title: 'Request timeout' });
  });

  it('cuts off a slowloris client (headers trickling in) within the headers timeout', async () => {
    const c = open(port);
    await c.connected;
    const sentAt = Date.now();
    c.socket.write('GET /v1/products HTTP/1.1\r\nHost: x\r\n');
    // One more header line every 100 ms, never the blank line that ends the headers.
    const trickle = setInterval(() => c.socket.writable && c.socket.write(`X-Slow-${Date.now()}: 1\r\n`), 100);
    try {
      await pollUntil(() => c.state.closedAt, { timeoutMs: HEADERS_MS + CHECK_SLACK_MS + 1_000, what: 'the cut' });
    } finally {
      clearInterval(trickle);
    }
    expect(c.state.closedAt! - sentAt).toBeLessThan(HEADERS_MS + CHECK_SLACK_MS);
    expect(c.state.received).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('holds at most MAX_CONNECTIONS sockets under a flood, sheds the flood on the timeouts, then serves again', async () => {
    const flood = Array.from({ length: 100 }, () => open(port));
    for (const c of flood) c.socket.write('GET /v1/products HTTP/1.1\r\nHost: x\r\n');
    const server = t.app.getHttpServer();
    const connections = () => new Promise<number>((resolve) => server.getConnections((_e, n) => resolve(n)));
    // The ones over the cap are closed on accept.
    await pollUntil(() => flood.filter((c) => c.state.closedAt).length >= 100 - MAX_CONNECTIONS, {
      timeoutMs: 5_000,
      what: 'the sockets over the cap to be closed',
    });
    expect(await connections()).toBeLessThanOrEqual(MAX_CONNECTIONS);
    // The rest are cut by the headers timeout; afterwards a normal request is served.
    await pollUntil(() => flood.every((c) => c.state.closedAt), {
      timeoutMs: HEADERS_MS + CHECK_SLACK_MS + 2_000,
      what: 'the flood to be cut',
    });
    expect((await t.http.get('/health/live')).status).toBe(200);
  });

  it('serves a request sent on a keep-alive connection just before its idle timeout (no reset), and advertises the timeout', async () => {
    const c = open(port);
    await c.connected;
    c.socket.write('GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n');
    await pollUntil(() => c.state.received.includes('{"status":"ok"}'), { what: 'the first answer' });
    expect(c.state.received).toMatch(/\r\nkeep-alive: timeout=1\r\n/i);
    // The race under test is time itself: the next request goes out at 80 % of the idle timeout.
    await new Promise((resolve) => setTimeout(resolve, KEEP_ALIVE_MS * 0.8));
    c.state.received = '';
    c.socket.write('GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n');
    await pollUntil(() => c.state.received.includes('{"status":"ok"}'), { what: 'the second answer' });
    expect(c.state.received).toMatch(/^HTTP\/1\.1 200 /);
    expect(c.state.error).toBeUndefined();
    // And the idle connection is closed by the server after the timeout, cleanly (FIN, not a reset).
    await pollUntil(() => c.state.closedAt, { timeoutMs: KEEP_ALIVE_MS + 2_000, what: 'the idle close' });
    expect(c.state.error).toBeUndefined();
  });
});
