import Redis from 'ioredis';
import pino from 'pino';
import { loadConfig } from '../../src/config/config.schemas';
import { SqlClient } from '../../src/platform/adapters/database/sql.client';
import { DEMO_PRODUCTS } from '../../src/products/products.fixtures';
import { seedProducts } from '../../src/products/demo-catalog.bootstrap';
import { FaultProxy } from '../support/fault-proxy.support';
import { REDIS_URL } from '../support/test-env.support';
import { pollUntil } from '../support/poll.support';
import { startRedisServer, type RedisServer } from '../support/redis-server.support';
import { startTestApp, type TestApp } from '../support/test-app.support';
import { ProductsService } from '../../src/products/products.service';

/**
 * Readiness as a probe sees it once it reflects `status`: every answer 200 within 1 s, and the
 * status of a check run after the change (the served result may be up to about a second old).
 */
async function readinessBecomes(t: TestApp, status: 'ok' | 'degraded') {
  return pollUntil(
    async () => {
      const started = performance.now();
      const answer = await t.http.get('/health/ready');
      expect(performance.now() - started).toBeLessThan(1_000);
      expect(answer.status).toBe(200);
      return answer.body.status === status && answer;
    },
    { timeoutMs: 3_000, intervalMs: 100, what: `readiness ${status}` },
  );
}

/**
 * The product cache is an optimisation, never a dependency: with its Redis crashed or
 * hung, GET /v1/products/{id} still answers 200 from Postgres, within a second.
 * A private redis-server is killed and paused here; the shared one is never touched.
 */
describe('product reads while the cache is down', () => {
  /** Generous: the Redis command timeout is 500 ms, a local Postgres lookup a few ms. */
  const BOUND_MS = 1_000;
  let redis: RedisServer;
  let t: TestApp;
  let id: string;
  let price = 1_000;
  const latencies: number[] = [];

  const key = () => `${t.config.redis.keyPrefix}products:${id}`;
  const setPrice = async (cents: number) => {
    price = cents;
    await t.db.query('UPDATE products SET price_cents = $1 WHERE id = $2', [cents, id]);
  };
  const timedGet = async () => {
    const started = performance.now();
    const res = await t.http.get(`/v1/products/${id}`);
    return { res, ms: performance.now() - started };
  };
  /** A client of the private server, for looking at the cache from outside. */
  const inspect = async <T>(fn: (client: Redis) => Promise<T>): Promise<T> => {
    const client = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 0, commandTimeout: 500 });
    client.on('error', () => undefined); // a paused server times commands out; the caller sees the rejection
    try {
      await client.connect();
      return await fn(client);
    } finally {
      client.disconnect();
    }
  };
  /** Whether the app's entry for the product is in Redis, and the price it holds. */
  const cachedPrice = () =>
    inspect(async (c) => {
      const raw = await c.get(key());
      return raw === null ? undefined : (JSON.parse(raw).product.priceCents as number);
    });

  /**
   * Proves GETs are served from Redis again: once the app has written the entry, the row is
   * changed behind the cache's back, and the answer still shows the cached price. Polled: after
   * an outage the cache sends one probe a second (CacheService), so it is back within about a second.
   */
  async function expectServedFromCache(): Promise<void> {
    await pollUntil(
      async () => {
        // Each GET is a miss that writes the entry as soon as the app's client is connected again.
        expect((await t.http.get(`/v1/products/${id}`)).status).toBe(200);
        const cached = await cachedPrice().catch(() => undefined);
        if (cached === undefined) return false;
        await setPrice(cached + 1);
        const res = await t.http.get(`/v1/products/${id}`);
        expect(res.status).toBe(200);
        return res.body.priceCents === cached;
      },
      { timeoutMs: 15_000, intervalMs: 100, what: 'the app to serve the product from Redis again' },
    );
  }

  /** Readiness stays 200 without Redis (a soft dependency), and says so. */
  async function expectReadyButDegraded(): Promise<void> {
    const res = await readinessBecomes(t, 'degraded');
    expect(res.body).toMatchObject({
      status: 'degraded',
      checks: { postgres: { status: 'up' }, migrations: { status: 'up' }, redis: { status: 'degraded' } },
    });
  }

  it('reads from Postgres within the bound while Redis holds every client (CLIENT PAUSE), readiness degraded', async () => {
    await expectServedFromCache();
    await inspect((c) => c.call('CLIENT', 'PAUSE', '3000', 'ALL'));
    try {
      await setPrice(price + 100);
      const { res, ms } = await timedGet();
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ id, priceCents: price });
      expect(ms).toBeLessThan(BOUND_MS);
      latencies.push(ms);
      await expectReadyButDegraded();
    } finally {
      // Redis may hold the UNPAUSE itself until the pause ends (3 s): either way it ends.
      await inspect((c) => c.call('CLIENT', 'UNPAUSE')).catch(() => undefined);
    }
    await expectServedFromCache();
  });

  beforeAll(async () => {
    redis = await startRedisServer();
    t = await startTestApp({ env: { REDIS_URL: redis.url } });
    [{ id }] = await t.db.query<{ id: string }>(
      `INSERT INTO products (sku, name, price_cents, currency, stock) VALUES ('FAULT-001', 'Fault tee', $1, 'EUR', 3) RETURNING id`,
      [price],
    );
  });
  afterAll(async () => {
    await t?.close();
    await redis?.stop();
    const sorted = [...latencies].sort((a, b) => a - b);
    process.stdout.write(
      `[fault latency] product reads with Redis killed/paused: median ${sorted[Math.floor(sorted.length / 2)]?.toFixed(0)} ms, worst ${sorted[sorted.length - 1]?.toFixed(0)} ms (${sorted.length} reads)\n`,
    );
  });

  it('uses the cache while Redis is healthy', async () => {
    await expectServedFromCache();
  });

  it('answers 200 from Postgres within 1 s after Redis crashed, logs it once, and readiness says degraded (200)', async () => {
    const before = t.logs.lines.length;
    await redis.kill();
    await setPrice(price + 100); // only Postgres knows this price
    for (let i = 0; i < 5; i++) {
      const { res, ms } = await timedGet();
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ id, priceCents: price });
      expect(ms).toBeLessThan(BOUND_MS);
      latencies.push(ms);
    }
    // One line per change of state, not one per request.
    const degraded = t.logs.lines.slice(before).filter((l) => /^cache degraded/.test(l.msg));
    expect(degraded).toHaveLength(1);
    expect(degraded[0]).toMatchObject({ level: 'warn', reason: expect.any(String) });
    await expectReadyButDegraded();
  });

  it('uses the cache again once Redis is back, logs the recovery once, and readiness says ok', async () => {
    await redis.restart(); // empty: nothing was persisted
    await expectServedFromCache();
    await t.logs.waitFor((l) => /^cache recovered/.test(l.msg));
    const ready = await readinessBecomes(t, 'ok');
    expect(ready.status).toBe(200);
    expect(ready.body).toMatchObject({ status: 'ok', checks: { redis: { status: 'up' } } });
  });

  it('answers 200 from Postgres within 1 s while Redis hangs (SIGSTOP), then uses the cache again on SIGCONT', async () => {
    redis.pause();
    try {
      await setPrice(price + 100);
      const warnings = t.logs.lines.length;
      for (let i = 0; i < 2; i++) {
        const { res, ms } = await timedGet();
        expect(res.status).toBe(200);
        expect(res.body).toMatchObject({ id, priceCents: price });
        expect(ms).toBeLessThan(BOUND_MS);
        latencies.push(ms);
      }
      // A hung server is a timeout, not a refusal: the command timeout is what bounds the request.
      const timedOut = t.logs.lines.slice(warnings).find((l) => /^cache degraded/.test(l.msg));
      expect(timedOut?.reason).toMatch(/timed out/i);
      await expectReadyButDegraded();
    } finally {
      await redis.resume();
    }
    await expectServedFromCache();
  });
});

describe('product reads through a faulty network to Redis, and a cold hot key', () => {
  const BOUND_MS = 1_000;
  let proxy: FaultProxy;
  let t: TestApp;
  let id: string;
  /** findById statements the app sent to Postgres (the seam's statement hook). */
  let lookups = 0;

  beforeAll(async () => {
    proxy = await FaultProxy.start(REDIS_URL);
    t = await startTestApp({ env: { REDIS_URL: proxy.url(REDIS_URL) } });
    t.app.get(SqlClient).setObserver({ statement: (name) => name === 'products.findById' && lookups++ });
    [{ id }] = await t.db.query<{ id: string }>(
      `INSERT INTO products (sku, name, price_cents, currency, stock) VALUES ('HOT-001', 'Hot tee', 900, 'EUR', 3) RETURNING id`,
    );
  });
  afterAll(async () => {
    await t?.close();
    await proxy?.stop();
  });

  const burst = async (n: number) => {
    const started = performance.now();
    const responses = await Promise.all(Array.from({ length: n }, () => t.http.get(`/v1/products/${id}`)));
    return { statuses: new Set(responses.map((r) => r.status)), ms: performance.now() - started };
  };
  const evict = () => t.app.get(ProductsService).invalidate([id]);
  /** Polls until a read right after another one costs no query: the cache answers from Redis again. */
  const servedFromRedisAgain = (timeoutMs: number) =>
    pollUntil(
      async () => {
        lookups = 0;
        await t.http.get(`/v1/products/${id}`);
        return (await t.http.get(`/v1/products/${id}`)).status === 200 && lookups === 0;
      },
      { timeoutMs, intervalMs: 200, what: 'reads served from Redis again' },
    );

  it('200 concurrent reads of one uncached product make at most a handful of queries (single flight)', async () => {
    await evict();
    lookups = 0;
    const { statuses } = await burst(200);
    expect([...statuses]).toEqual([200]);
    expect(lookups).toBeGreaterThanOrEqual(1);
    expect(lookups).toBeLessThanOrEqual(3);
  });

  it('with Redis black-holed: reads 200 from Postgres within the command timeout plus the query, readiness 200 degraded, no stampede', async () => {
    await evict();
    proxy.setMode('blackhole');
    try {
      lookups = 0;
      const { statuses, ms } = await burst(100);
      expect([...statuses]).toEqual([200]);
      expect(ms).toBeLessThan(BOUND_MS + 500);
      // Each read's GET times out 500 ms after it was sent, so the loads spread over the
      // burst's own spread; overlapping ones are merged. A handful, not one per request.
      expect(lookups).toBeLessThanOrEqual(10);
      const ready = await readinessBecomes(t, 'degraded');
      expect(ready.body).toMatchObject({ status: 'degraded', checks: { redis: { status: 'degraded' } } });
      process.stdout.write(
        `[fault latency] 100 concurrent reads with Redis black-holed: ${ms.toFixed(0)} ms, ${lookups} queries\n`,
      );
    } finally {
      proxy.setMode('pass');
    }
  });

  it('once the black hole heals, reads come from Redis again within seconds (the dead connection is replaced)', async () => {
    // The black hole swallowed bytes: the cache connection's socket is open but its replies are
    // gone for good, as after a silent network drop. Nothing on it ever errors; without a socket
    // timeout only TCP keep-alive (hours) would end it, and the cache would stay degraded.
    const started = performance.now();
    await servedFromRedisAgain(10_000);
    process.stdout.write(
      `[fault latency] cache back on Redis ${(performance.now() - started).toFixed(0)} ms after the black hole healed\n`,
    );
  });

  it('with Redis connections reset and refused: reads 200 fast, readiness 200 degraded, then the cache again', async () => {
    proxy.setMode('reset');
    try {
      lookups = 0;
      const started = performance.now();
      const res = await t.http.get(`/v1/products/${id}`);
      const ms = performance.now() - started;
      expect(res.status).toBe(200);
      expect(ms).toBeLessThan(BOUND_MS);
      const ready = await readinessBecomes(t, 'degraded');
      expect(ready.body.checks.redis.status).toBe('degraded');
      process.stdout.write(`[fault latency] read with Redis reset: ${ms.toFixed(0)} ms\n`);
    } finally {
      proxy.setMode('pass');
    }
    // The cache connection reconnects by itself (backoff); reads come from Redis again.
    await servedFromRedisAgain(15_000);
  });

  it('forgets a product when the seed changes it, so the API shows the change at once', async () => {
    const config = loadConfig({
      NODE_ENV: 'test',
      DATABASE_URL: t.db.url,
      REDIS_URL,
      REDIS_KEY_PREFIX: t.config.redis.keyPrefix,
    });
    await seedProducts(config, pino({ level: 'silent' }));
    const demo = DEMO_PRODUCTS.find((p) => p.status === 'active')!;
    const [{ id: demoId }] = await t.db.query<{ id: string }>('SELECT id FROM products WHERE sku = $1', [demo.sku]);
    // Cached, then changed behind the cache's back: the API still shows the cached price.
    await pollUntil(async () => (await t.http.get(`/v1/products/${demoId}`)).status === 200, { what: 'a read' });
    await t.db.query('UPDATE products SET price_cents = price_cents + 1 WHERE id = $1', [demoId]);
    await pollUntil(async () => (await t.http.get(`/v1/products/${demoId}`)).body.priceCents === demo.priceCents, {
      what: 'the cached price',
    });
    // The seed writes the demo values back (a change) and invalidates: the next read is fresh.
    await t.db.query('UPDATE products SET price_cents = $2 WHERE id = $1', [demoId, demo.priceCents + 7]);
    await seedProducts(config, pino({ level: 'silent' }));
    lookups = 0;
    const res = await t.http.get(`/v1/products/${demoId}`);
    expect(res.body.priceCents).toBe(demo.priceCents);
    expect(lookups).toBe(1);
  });
});
