import { get } from 'node:http';
import { Client } from 'pg';
import { FaultFixturesModule } from '../support/fault-fixtures.module';
import { FaultProxy } from '../support/fault-proxy.support';
import { expectProblem } from '../support/problem.support';
import { freePort, pollUntil } from '../support/poll.support';
import { runNode } from '../support/process.support';
import { createTestDatabase } from '../support/test-database.support';
import { REDIS_URL } from '../support/test-env.support';
import { startTestApp, type TestApp } from '../support/test-app.support';
import { testKeyPrefix } from '../support/redis-keys.support';

/**
 * F5 and bounded waits: every wait on Postgres ends in a 503/504 within its budget, and the
 * server-side work is cancelled, not left running: a table lock, a runaway statement, an
 * exhausted pool, a black-holed network, and a SIGTERM while a request hangs on it.
 */

const timed = async <T>(fn: () => Promise<T>): Promise<{ res: T; ms: number }> => {
  const started = performance.now();
  const res = await fn();
  return { res, ms: performance.now() - started };
};
const report = (what: string, ms: number) => process.stdout.write(`[fault latency] ${what}: ${ms.toFixed(0)} ms\n`);

/**
 * One GET on its own connection, closed after the answer. (A keep-alive connection that
 * stays open after its response holds Node's server.close(); that HTTP-side drain belongs to
 * the overload/shutdown work, not to this test of the database wait.)
 */
function getWithoutKeepAlive(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    get(url, { agent: false, headers: { connection: 'close' } }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
    }).on('error', reject);
  });
}

/** The app's statements still on the server (waiting or running), by a marker or a wait type. */
const appBackends = (t: TestApp, where: string) =>
  t.db
    .query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stat_activity
        WHERE datname = current_database() AND application_name = 'resilient-api' AND pid <> pg_backend_pid() AND ${where}`,
    )
    .then((rows) => rows[0].n);

describe('waits on Postgres end within their budget (F5)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({
      extraModules: [FaultFixturesModule],
      // Acquire gives up (600 ms) before the held statements' timeout frees their connections (1 s).
      env: {
        DB_STATEMENT_TIMEOUT_MS: '1000',
        DB_LOCK_TIMEOUT_MS: '300',
        DB_POOL_MAX: '3',
        DB_ACQUIRE_TIMEOUT_MS: '600',
      },
    });
  });
  afterAll(() => t.close());

  it('a table lock held by another session: 503 within 3 lock timeouts, nothing left waiting on the server', async () => {
    const holder = new Client({ connectionString: t.db.url });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('LOCK TABLE products IN ACCESS EXCLUSIVE MODE');
      const { res, ms } = await timed(() => t.http.get('/v1/products'));
      expectProblem(res, 503, 'DEPENDENCY_UNAVAILABLE', '/v1/products');
      // 3 attempts × 300 ms lock_timeout + ≤ 150 ms backoff, on a loaded machine.
      expect(ms).toBeLessThan(2_500);
      report('table lock (lock_timeout 300 ms, 3 attempts) → 503', ms);
      expect(await appBackends(t, "wait_event_type = 'Lock'")).toBe(0);
    } finally {
      await holder.query('ROLLBACK').catch(() => undefined);
      await holder.end();
    }
    expect((await t.http.get('/v1/products')).status).toBe(200);
  });

  it('a runaway statement: 504 at its statement_timeout, not retried, cancelled on the server', async () => {
    const { res, ms } = await timed(() => t.http.get('/__test__/runaway-query'));
    expectProblem(res, 504, 'DEADLINE_EXCEEDED', '/__test__/runaway-query');
    expect(ms).toBeGreaterThanOrEqual(900);
    expect(ms).toBeLessThan(1_900); // one attempt: a 57014 is never retried
    report('runaway statement (statement_timeout 1 s) → 504', ms);
    expect(await appBackends(t, "query = 'SELECT pg_sleep(60)' AND state = 'active'")).toBe(0);
  });

  it('an exhausted pool: 503 with Retry-After within about 1 s, not queued forever', async () => {
    // Three requests hold the three pooled connections (pg_sleep(3), cancelled at 1 s).
    const holders = Array.from({ length: 3 }, () => t.http.get('/__test__/slow-query'));
    await pollUntil(async () => (await appBackends(t, "query LIKE '%slow-query-marker%'")) === 3, {
      timeoutMs: 5_000,
      what: 'three connections held',
    });
    const { res, ms } = await timed(() => t.http.get('/v1/products'));
    expectProblem(res, 503, 'DEPENDENCY_UNAVAILABLE', '/v1/products');
    expect(ms).toBeLessThan(1_000); // DB_ACQUIRE_TIMEOUT_MS 600, never retried
    report('pool exhausted (acquire timeout 600 ms) → 503', ms);
    const failure = await t.logs.waitFor((l) => l.requestId === res.body.requestId && l.msg === 'request failed');
    expect(JSON.stringify(failure.err)).toContain('timeout exceeded when trying to connect');
    // The holders end with their statement timeout (504): nothing waits forever either.
    for (const held of await Promise.all(holders)) expect(held.status).toBe(504);
  });
});

describe('the network to Postgres black-holed mid-request (F5)', () => {
  it('ends the request in 504 within the statement timeout plus the client margin, and recovers', async () => {
    const db = await createTestDatabase();
    const proxy = await FaultProxy.start(db.url);
    const t = await startTestApp({
      db,
      env: { DATABASE_URL: proxy.url(db.url), DB_STATEMENT_TIMEOUT_MS: '1000', DB_CLIENT_TIMEOUT_MARGIN_MS: '500' },
    });
    try {
      expect((await t.http.get('/v1/products')).status).toBe(200);
      proxy.setMode('blackhole');
      const { res, ms } = await timed(() => t.http.get('/v1/products'));
      expectProblem(res, 504, 'DEADLINE_EXCEEDED', '/v1/products');
      expect(ms).toBeGreaterThanOrEqual(1_400);
      expect(ms).toBeLessThan(2_800);
      report('network black-holed (1 s + 0.5 s margin) → 504', ms);
      expect(proxy.dropped).toBeGreaterThan(0);

      proxy.setMode('pass');
      // The connection that lost its answer was discarded; the pool serves again without a restart.
      await pollUntil(async () => (await t.http.get('/v1/products')).status === 200, {
        timeoutMs: 5_000,
        what: 'reads to succeed again',
      });
    } finally {
      await t.close();
      await proxy.stop();
      await db.drop();
    }
  });

  it('SIGTERM while a request hangs on it: the request gets 503 and the process exits within the close deadline', async () => {
    const db = await createTestDatabase();
    const proxy = await FaultProxy.start(db.url);
    const port = await freePort();
    const app = runNode('dist/main.js', {
      NODE_ENV: 'test',
      PORT: String(port),
      DATABASE_URL: proxy.url(db.url),
      REDIS_URL,
      REDIS_KEY_PREFIX: testKeyPrefix(),
      // Long enough that only the close deadline can end the hung statement.
      DB_STATEMENT_TIMEOUT_MS: '20000',
      DB_CLOSE_TIMEOUT_MS: '500',
      SHUTDOWN_DRAIN_MS: '0',
      // The HTTP side gives in-flight requests this long, then the pools close under the one still running.
      SHUTDOWN_INFLIGHT_TIMEOUT_MS: '200',
    });
    try {
      const base = `http://127.0.0.1:${port}`;
      await pollUntil(
        () =>
          fetch(`${base}/health/ready`).then(
            (r) => r.status === 200,
            () => false,
          ),
        {
          timeoutMs: 20_000,
          what: 'the API to be ready',
        },
      );
      proxy.setMode('blackhole');
      const started = performance.now();
      const pending = getWithoutKeepAlive(`${base}/v1/products`);
      await pollUntil(() => proxy.dropped > 0, { what: 'the statement to go into the void' });
      app.kill('SIGTERM');
      expect(await app.exited(5_000)).toBe(0);
      const exitedMs = performance.now() - started;
      const res = await pending;
      expect(res.status).toBe(503);
      expect(res.body).toMatchObject({ code: 'DEPENDENCY_UNAVAILABLE', status: 503 });
      // 500 ms close deadline + Nest's own shutdown, far below the 20 s statement timeout.
      expect(exitedMs).toBeLessThan(3_000);
      report('SIGTERM during a black-holed statement → exit', exitedMs);
    } finally {
      app.kill();
      await proxy.stop();
      await db.drop();
    }
  });
});
