import { randomBytes } from 'node:crypto';
import { Agent, request as httpRequest } from 'node:http';
import { connect, type Socket } from 'node:net';
import { FaultProxy } from '../support/fault-proxy.support';
import { rawHttp } from '../support/http-client.support';
import { freePort, pollUntil } from '../support/poll.support';
import { runNode, type RunningProcess } from '../support/process.support';
import { createTestDatabase, type TestDatabase } from '../support/test-database.support';
import { REDIS_URL } from '../support/test-env.support';

/** One GET over a keep-alive agent: the status and Connection header, or the socket error's code. */
function get(
  agent: Agent,
  port: number,
  path: string,
): Promise<{ status?: number; connection?: string; error?: string }> {
  return new Promise((resolve) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, agent }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode, connection: res.headers.connection }));
      res.on('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message }));
    });
    req.on('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message }));
    req.end();
  });
}

/** A raw connection that collects what the server sends, to control exactly when each byte goes out. */
function rawConnection(port: number) {
  const socket: Socket = connect(port, '127.0.0.1');
  let received = '';
  let error: string | undefined;
  socket.on('data', (chunk) => (received += chunk.toString()));
  socket.on('error', (e: NodeJS.ErrnoException) => (error = e.code ?? e.message));
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  return {
    socket,
    received: () => received,
    error: () => error,
    closed,
    connected: new Promise<void>((resolve) => socket.once('connect', () => resolve())),
    /** Resolves with the n-th complete response (status line + headers + Content-Length body) seen so far. */
    response: (n: number) =>
      pollUntil(
        () => {
          const responses = received.split(/(?=HTTP\/1\.1 \d{3} )/);
          const r = responses[n];
          if (!r) return undefined;
          const [head, body = ''] = r.split('\r\n\r\n');
          const length = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? NaN);
          return Buffer.byteLength(body) >= length ? { head, body } : undefined;
        },
        { timeoutMs: 10_000, what: `response ${n + 1}` },
      ),
  };
}

describe('graceful shutdown of the built API under keep-alive load (F37)', () => {
  let db: TestDatabase;
  const running: RunningProcess[] = [];
  beforeAll(async () => (db = await createTestDatabase()));
  afterEach(() => running.splice(0).forEach((p) => p.kill()));
  afterAll(() => db.drop());

  async function startApi(env: Record<string, string>) {
    const port = await freePort();
    const api = runNode('dist/main.js', {
      NODE_ENV: 'test',
      DATABASE_URL: db.url,
      REDIS_URL,
      PORT: String(port),
      LOG_LEVEL: 'info',
      // This test is about the shutdown: on a shared CI box the event-loop cap could refuse a request.
      SHED_MAX_EVENT_LOOP_DELAY_MS: '0',
      ...env,
    });
    running.push(api);
    await pollUntil(
      async () => (await fetch(`http://127.0.0.1:${port}/health/ready`).catch(() => undefined))?.status === 200,
      { timeoutMs: 20_000, what: 'readiness' },
    );
    return { api, port };
  }

  it('answers every accepted request (no reset), tells keep-alive clients to leave, finishes a long request, exits 0 in time', async () => {
    const drainMs = 1_500;
    const { api, port } = await startApi({ SHUTDOWN_DRAIN_MS: String(drainMs), SHUTDOWN_INFLIGHT_TIMEOUT_MS: '5000' });

    // A connection opened before SIGTERM and left idle: its next request comes during the drain.
    const idle = rawConnection(port);
    await idle.connected;
    idle.socket.write('GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n');
    expect((await idle.response(0)).head).toMatch(/^HTTP\/1\.1 200/);

    // A long request: its body is still arriving when the server stops accepting.
    const long = rawConnection(port);
    await long.connected;
    const body = JSON.stringify({ email: 'nobody@example.com', password: 'not-the-password-1' });
    long.socket.write(
      `POST /v1/auth/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n` +
        body.slice(0, 10),
    );

    // Steady keep-alive load: 6 clients, each sending its next request as soon as the last is answered,
    // until the load balancer has taken the instance out (half the drain after SIGTERM).
    const agent = new Agent({ keepAlive: true, maxSockets: 6 });
    const results: {
      status?: number;
      connection?: string;
      error?: string;
      afterSigterm: boolean;
      afterDrainSeen: boolean;
    }[] = [];
    let sigtermAt = Infinity;
    // When the test first saw readiness 503: from then on the process surely handles requests as draining.
    let drainSeenAt = Infinity;
    const client = async () => {
      while (Date.now() < sigtermAt + drainMs / 2) {
        const sentAt = Date.now();
        results.push({
          ...(await get(agent, port, '/v1/products')),
          afterSigterm: sentAt >= sigtermAt,
          afterDrainSeen: sentAt >= drainSeenAt,
        });
      }
    };
    const clients = Array.from({ length: 6 }, client);
    await pollUntil(() => results.length >= 60, { timeoutMs: 10_000, what: 'steady load' });

    sigtermAt = Date.now();
    api.kill('SIGTERM');
    // Readiness says 503 at once.
    await pollUntil(
      async () =>
        (await fetch(`http://127.0.0.1:${port}/health/ready`, { headers: { connection: 'close' } })).status === 503,
      { timeoutMs: 1_000, what: 'readiness 503' },
    );
    drainSeenAt = Date.now();
    // The idle connection's next request, during the drain: answered, with Connection: close.
    idle.socket.write('GET /v1/products HTTP/1.1\r\nHost: x\r\n\r\n');
    const duringDrain = await idle.response(1);
    expect(duringDrain.head).toMatch(/^HTTP\/1\.1 200/);
    expect(duringDrain.head).toMatch(/\r\nconnection: close/i);
    await idle.closed; // the server closed it after that answer
    await Promise.all(clients);
    agent.destroy();

    // The rest of the long request's body, once the server has stopped accepting new connections.
    await pollUntil(async () => (await get(new Agent(), port, '/health/live')).error === 'ECONNREFUSED', {
      timeoutMs: drainMs + 2_000,
      what: 'the listener to close',
    });
    long.socket.write(body.slice(10));
    const longAnswer = await long.response(0);
    expect(longAnswer.head).toMatch(/^HTTP\/1\.1 401/);
    expect(JSON.parse(longAnswer.body)).toMatchObject({ code: 'UNAUTHENTICATED', status: 401 });

    expect(await api.exited(drainMs + 8_000)).toBe(0);
    const failed = results.filter((r) => r.error !== undefined || r.status !== 200);
    const inDrain = results.filter((r) => r.afterSigterm);
    // (Sent between the signal and its handling, a request may still be answered as before the drain.)
    const surelyInDrain = results.filter((r) => r.afterDrainSeen);
    // The figures for the report: accepted, answered during the drain, failed.
    process.stdout.write(
      `shutdown under load: ${results.length} requests, ${inDrain.length} during the drain, ${failed.length} failed\n`,
    );
    expect(failed).toEqual([]);
    expect(idle.error()).toBeUndefined();
    expect(long.error()).toBeUndefined();
    expect(surelyInDrain.length).toBeGreaterThan(0);
    expect(surelyInDrain.every((r) => r.connection === 'close')).toBe(true);
    expect(results.filter((r) => !r.afterSigterm).every((r) => r.connection === 'keep-alive')).toBe(true);
    expect(api.stdout()).toContain('"cutRequests":0');
    expect(api.stdout()).toContain('shutdown complete');
  });

  it('does not wait for requests whose clients hung up after a whole body (issue 17, item 1)', async () => {
    const inFlightTimeoutMs = 15_000;
    const { api, port } = await startApi({
      SHUTDOWN_DRAIN_MS: '0',
      SHUTDOWN_INFLIGHT_TIMEOUT_MS: String(inFlightTimeoutMs),
      // Limits off and keys of its own: the flood must not use up the login windows other tests share.
      RATE_LIMIT_LOGIN_PER_IP: '0',
      RATE_LIMIT_LOGIN_PER_EMAIL: '0',
      REDIS_KEY_PREFIX: `ra-test:${randomBytes(4).toString('hex')}:`,
    });
    // A whole POST, then the socket closed at once, 100 times (waves of 10): nothing is left to answer.
    const body = JSON.stringify({ email: 'hangup@example.com', password: 'not-the-password-1' });
    const payload =
      'POST /v1/auth/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    for (let i = 0; i < 100; i += 10) {
      await Promise.all(
        Array.from({ length: 10 }, () => rawHttp(`http://127.0.0.1:${port}`, payload, { closeAfterWrite: true })),
      );
    }
    const sigtermAt = Date.now();
    api.kill('SIGTERM');
    expect(await api.exited(inFlightTimeoutMs + 10_000)).toBe(0);
    // The handlers still running at the signal finish in a second or two; nothing waits for the timeout.
    expect(Date.now() - sigtermAt).toBeLessThan(inFlightTimeoutMs / 2);
    expect(api.stdout()).not.toContain('in-flight requests still running at the deadline');
    expect(api.stdout()).toContain('"cutRequests":0');
    expect(api.stdout()).toContain('"clean":true');
  }, 60_000);

  it('exits 0 within its deadlines when Postgres and Redis hang with a request still holding a connection', async () => {
    const pg = await FaultProxy.start(db.url);
    const redis = await FaultProxy.start(REDIS_URL);
    try {
      const { api, port } = await startApi({
        DATABASE_URL: pg.url(db.url),
        REDIS_URL: redis.url(REDIS_URL),
        SHUTDOWN_DRAIN_MS: '0',
        SHUTDOWN_INFLIGHT_TIMEOUT_MS: '500',
        SHUTDOWN_CLOSE_TIMEOUT_MS: '1000',
      });
      pg.setMode('hang');
      redis.setMode('hang');
      // Stuck on the hung database (after the cache gives up): the pool cannot end while it holds a connection.
      const stuck = get(new Agent(), port, '/v1/products/00000000-0000-4000-8000-000000000001');
      await pollUntil(() => api.stdout().includes('cache degraded'), {
        timeoutMs: 5_000,
        what: 'the request to reach the hung cache',
      });
      const sigtermAt = Date.now();
      api.kill('SIGTERM');
      expect(await api.exited(5_000)).toBe(0);
      // 500 ms for the in-flight request, 1 000 ms for the pools, and the process start-up noise.
      expect(Date.now() - sigtermAt).toBeLessThan(3_500);
      expect(api.stdout()).toContain('in-flight requests cut at the deadline');
      expect(api.stdout()).toContain('closing pools and connections timed out');
      expect((await stuck).error).toBeDefined(); // cut, as the log says: the caller sees the connection end
    } finally {
      await pg.stop();
      await redis.stop();
    }
  });
});
