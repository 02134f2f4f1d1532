import { Client } from 'pg';
import { freePort, pollUntil } from '../support/poll.support';
import { runNode, type RunningProcess } from '../support/process.support';
import { createTestDatabase, type TestDatabase } from '../support/test-database.support';
import { REDIS_URL } from '../support/test-env.support';
import { testKeyPrefix } from '../support/redis-keys.support';

/**
 * Issue 5, defect 9: node-postgres warns "Calling client.query() when the client is already
 * executing a query" (an error in pg 9) when two queries are issued on one client at once. The
 * built API runs as its own process, as in the benchmark (a warning is printed once per
 * process, on stderr), under readiness probes, catalog reads, logins and lock waits and
 * statement timeouts side by side; its stderr must not carry that warning.
 */
describe('no concurrent queries on one pg client', () => {
  let db: TestDatabase;
  let app: RunningProcess | undefined;

  beforeAll(async () => {
    db = await createTestDatabase();
    await db.query(
      `INSERT INTO products (sku, name, price_cents, currency, stock, status)
       SELECT 'PGC-' || i, 'Product ' || i, 1000, 'EUR', 5, 'active' FROM generate_series(1, 30) AS i`,
    );
  });
  afterAll(async () => {
    app?.kill();
    await db.drop();
  });

  it('serves readiness, reads, logins and lock waits side by side without the warning', async () => {
    const port = await freePort();
    app = runNode('dist/main.js', {
      NODE_ENV: 'test',
      NODE_OPTIONS: '--trace-deprecation',
      DATABASE_URL: db.url,
      REDIS_URL,
      REDIS_KEY_PREFIX: testKeyPrefix('pgc-'),
      PORT: String(port),
      LOG_LEVEL: 'warn',
      DB_POOL_MAX: '3',
      DB_STATEMENT_TIMEOUT_MS: '400',
    });
    const base = `http://127.0.0.1:${port}`;
    await pollUntil(async () => (await fetch(`${base}/health/ready`).catch(() => undefined))?.status === 200, {
      // A boot of the built API on a loaded 2-core CI machine (a fresh-clone run read over 15 s).
      timeoutMs: 30_000,
      what: 'the API to be ready',
    });
    const ids = (await db.query<{ id: string }>('SELECT id FROM products')).map((r) => r.id);
    const deadline = Date.now() + 3_000;
    const statuses: number[] = [];
    const worker = async (kind: number) => {
      for (let i = 0; Date.now() < deadline; i++) {
        const res = await [
          () => fetch(`${base}/health/ready`),
          () => fetch(`${base}/v1/products?limit=10`),
          () => fetch(`${base}/v1/products/${ids[i % ids.length]}`),
          () =>
            fetch(`${base}/v1/auth/token`, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify({ email: `nobody${i}@example.com`, password: 'whatever-pw' }),
            }),
        ][kind % 4]();
        await res.arrayBuffer();
        statuses.push(res.status);
      }
    };
    // Lock waits and statement timeouts make queries fail mid-flight while others wait for the pool.
    const locker = async () => {
      const holder = new Client({ connectionString: db.url });
      await holder.connect();
      try {
        while (Date.now() < deadline) {
          await holder.query(
            'BEGIN; LOCK TABLE products, accounts IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(0.6); COMMIT',
          );
        }
      } finally {
        await holder.end();
      }
    };
    await Promise.all([locker(), ...Array.from({ length: 12 }, (_, k) => worker(k))]);
    // Only the statuses a caller may see: no 500 among them either.
    expect(statuses.filter((s) => s >= 500 && s !== 503 && s !== 504)).toEqual([]);
    app.kill('SIGTERM');
    await app.exited(10_000);
    expect(app.stderr()).not.toMatch(/already executing a query/);
  });
});
