import { expectProblem } from '../support/problem.support';
import { pollUntil } from '../support/poll.support';
import { startPostgresServer, type PostgresServer } from '../support/postgres-server.support';
import { startTestApp, type TestApp } from '../support/test-app.support';

/**
 * F6/F14: the database itself stopped and started again (a private server; the shared one
 * is never touched). While it is down, readiness says 503 within a probe period, the API
 * answers a fast 503 with Retry-After (never a 500, never a hang), liveness stays 200; once
 * it is back, everything recovers without restarting the app.
 */
describe('the private Postgres stopped, then started', () => {
  let pg: PostgresServer;
  let t: TestApp;

  beforeAll(async () => {
    pg = await startPostgresServer();
    const db = await pg.createDatabase();
    t = await startTestApp({ db });
    await db.query(
      `INSERT INTO products (sku, name, price_cents, currency, stock) VALUES ('PG-RESTART', 'Restart tee', 1500, 'EUR', 2)`,
    );
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await pg?.destroy();
  });

  it('answers 503 with Retry-After while it is down and recovers once it is back, without a restart', async () => {
    expect((await t.http.get('/v1/products')).status).toBe(200);
    expect((await t.http.get('/health/ready')).status).toBe(200);

    await pg.stop();

    // Readiness turns 503 at the next probe (each probe answers within HEALTH_CHECK_TIMEOUT_MS).
    const readyStarted = performance.now();
    const notReady = await pollUntil(
      async () => {
        const res = await t.http.get('/health/ready');
        return res.status === 503 ? res : undefined;
      },
      { timeoutMs: 2_000, what: 'readiness 503' },
    );
    expectProblem(notReady, 503, 'DEPENDENCY_UNAVAILABLE', '/health/ready');
    expect(notReady.body.checks.postgres.status).toBe('down');
    const readyMs = performance.now() - readyStarted;

    const latencies: number[] = [];
    for (let i = 0; i < 5; i++) {
      const started = performance.now();
      const res = await t.http.get('/v1/products');
      latencies.push(performance.now() - started);
      expectProblem(res, 503, 'DEPENDENCY_UNAVAILABLE', '/v1/products');
    }
    // Refused connections fail fast; the retries add at most ~150 ms of backoff.
    expect(Math.max(...latencies)).toBeLessThan(1_500);
    // Liveness checks nothing outside the process: a database outage must not restart it.
    expect((await t.http.get('/health/live')).status).toBe(200);

    await pg.start();
    const recoveredStarted = performance.now();
    await pollUntil(async () => (await t.http.get('/health/ready')).status === 200, {
      timeoutMs: 10_000,
      what: 'readiness 200 again',
    });
    const res = await t.http.get('/v1/products');
    expect(res.status).toBe(200);
    expect(res.body.items).toEqual([expect.objectContaining({ sku: 'PG-RESTART' })]);
    const sorted = [...latencies].sort((a, b) => a - b);
    process.stdout.write(
      `[fault latency] postgres stopped: readiness 503 after ${readyMs.toFixed(0)} ms; API 503 median ${sorted[2].toFixed(0)} ms, ` +
        `worst ${sorted[4].toFixed(0)} ms; ready again ${(performance.now() - recoveredStarted).toFixed(0)} ms after start\n`,
    );
  });
});
