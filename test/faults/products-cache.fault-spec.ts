import Redis from 'ioredis';
import { pollUntil } from '../support/poll.support';
import { startRedisServer, type RedisServer } from '../support/redis-server.support';
import { startTestApp, type TestApp } from '../support/test-app.support';

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
   * Proves the next GET is served from Redis: once the app has written the entry, the
   * row is changed behind the cache's back, and the answer still shows the cached price.
   */
  async function expectServedFromCache(): Promise<void> {
    let cached: number | undefined;
    await pollUntil(
      async () => {
        // Each GET is a miss that writes the entry as soon as the app's client is connected again.
        expect((await t.http.get(`/v1/products/${id}`)).status).toBe(200);
        cached = await cachedPrice().catch(() => undefined);
        return cached !== undefined;
      },
      { timeoutMs: 15_000, intervalMs: 100, what: 'the app to write the product to Redis again' },
    );
    await setPrice(cached! + 1);
    const res = await t.http.get(`/v1/products/${id}`);
    expect(res.status).toBe(200);
    expect(res.body.priceCents).toBe(cached);
  }

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
  });

  it('uses the cache while Redis is healthy', async () => {
    await expectServedFromCache();
  });

  it('answers 200 from Postgres within 1 s after Redis crashed, and logs the cache failure', async () => {
    await redis.kill();
    await setPrice(price + 100); // only Postgres knows this price
    for (let i = 0; i < 3; i++) {
      const { res, ms } = await timedGet();
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ id, priceCents: price });
      expect(ms).toBeLessThan(BOUND_MS);
    }
    const line = await t.logs.waitFor((l) => l.level === 'warn' && /^cache read failed/.test(l.msg));
    expect(line).toMatchObject({ key: `products:${id}`, reason: expect.any(String) });
  });

  it('uses the cache again once Redis is back', async () => {
    await redis.restart(); // empty: nothing was persisted
    await expectServedFromCache();
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
      }
      // A hung server is a timeout, not a refusal: the command timeout is what bounds the request.
      const timedOut = t.logs.lines.slice(warnings).find((l) => l.level === 'warn' && /^cache read failed/.test(l.msg));
      expect(timedOut?.reason).toMatch(/timed out/i);
    } finally {
      await redis.resume();
    }
    await expectServedFromCache();
  });
});
