import { randomBytes, randomUUID } from 'node:crypto';
import type { Queue } from 'bullmq';
import pino from 'pino';
import { loadConfig } from '../../src/config/config.schemas';
import { QueueProducerService } from '../../src/platform/adapters/queue/queue-producer.service';
import { RedisConnectionsService } from '../../src/platform/adapters/redis/redis-connections.service';
import { startApiProcess, type ApiProcess } from '../support/api-process.support';
import { startFakeProviderProcess, type FakeProviderProcess } from '../support/fake-provider.support';
import { freePort, pollUntil } from '../support/poll.support';
import { expectProblem } from '../support/problem.support';
import { startRedisCluster, type RedisCluster } from '../support/redis-cluster.support';
import { testKeyPrefix } from '../support/redis-keys.support';
import { createTestDatabase, type TestDatabase } from '../support/test-database.support';
import {
  FAST_WORKER_ENV,
  reportFinished,
  seedOrders,
  signUpWithToken,
  startWorkerProcess,
  type WorkerProcess,
} from '../support/worker.support';

/**
 * The built API and worker on a real Redis Cluster (three masters started by the test), switched
 * on by REDIS_CLUSTER_NODES alone: every Redis consumer (queue producer and worker, rate limits,
 * cache, readiness) must work there, where a command or script whose keys span two slots is
 * refused (CROSSSLOT) and where a consumer that fails open (the cache) or falls back to a local
 * count (login limits) would hide that refusal: so each check also looks in the cluster itself.
 */
describe('Redis Cluster mode (issue 19, item 2): the fleet on a real cluster', () => {
  let cluster: RedisCluster;
  let db: TestDatabase;
  let provider: FakeProviderProcess;
  let api: ApiProcess;
  let worker: WorkerProcess;
  const keyPrefix = testKeyPrefix('cluster-');
  const slotOf = async (key: string) => Number(await cluster.client.cluster('KEYSLOT', key));

  beforeAll(async () => {
    [cluster, db] = await Promise.all([startRedisCluster(), createTestDatabase()]);
    provider = await startFakeProviderProcess(await freePort());
    const env = {
      NODE_ENV: 'test',
      DATABASE_URL: db.url,
      // Empty counts as unset: cluster mode refuses a REDIS_URL beside the nodes.
      REDIS_URL: '',
      REDIS_CLUSTER_NODES: cluster.nodesEnv,
      REDIS_KEY_PREFIX: keyPrefix,
      PAYMENTS_BASE_URL: provider.url,
      RATE_LIMIT_LOGIN_PER_EMAIL: '3',
      HEALTH_DETAILS: 'true',
    };
    [api, worker] = await Promise.all([startApiProcess(env), startWorkerProcess({ ...env, ...FAST_WORKER_ENV })]);
  }, 90_000);

  afterAll(async () => {
    for (const proc of [api, worker, provider?.proc]) proc?.kill();
    await Promise.all(
      [api?.exited(5_000), worker?.exited(5_000), provider?.proc.exited(5_000)].map((p) => p?.catch(() => undefined)),
    );
    await cluster?.stop();
    await db?.drop();
  });

  it('is ready: the API and the worker each see their Redis up through the cluster', async () => {
    // Redis is soft for the API: it is ready ('degraded') before its cluster connection has the
    // slot table, and readiness serves a result up to 1 s old; 'ok' must follow within seconds.
    const ready = await pollUntil(
      async () => {
        const res = await api.http.get('/health/ready');
        return res.body?.status === 'ok' && res;
      },
      { timeoutMs: 10_000, intervalMs: 200, what: "the API's readiness to say ok" },
    );
    expect(ready.status).toBe(200);
    expect(ready.body).toMatchObject({ checks: { postgres: { status: 'up' }, redis: { status: 'up' } } });
    const workerReady = await fetch(`${worker.baseUrl}/health/ready`);
    expect(workerReady.status).toBe(200);
    expect(await workerReady.json()).toMatchObject({ status: 'ok', checks: { redis: { status: 'up' } } });
  });

  it('enqueues a report on one instance and the real worker builds it; every queue key lies in one slot', async () => {
    const owner = await signUpWithToken(api.http);
    await seedOrders(db, owner.accountId, [{ status: 'paid', totalCents: 1_250, createdAt: '2026-03-02T00:00:00Z' }]);
    const requested = await api.http.post(
      '/v1/reports',
      { type: 'sales-summary', from: '2026-03-01', to: '2026-03-31' },
      { token: owner.token },
    );
    expect(requested.status).toBe(202);
    const done = await reportFinished(api.http, owner.token, requested.body.id, 20_000);
    expect(done.body).toMatchObject({ status: 'completed', result: expect.anything() });

    const queueKeys: string[] = [];
    for (const node of cluster.client.nodes('master')) {
      queueKeys.push(...(await node.keys(`${keyPrefix}{bull}:reports:*`)));
    }
    expect(queueKeys.length).toBeGreaterThan(2);
    expect(new Set(await Promise.all(queueKeys.map(slotOf))).size).toBe(1);
  });

  it("enqueues on a queue handle made while the cluster connection had its slots but was not yet ready ('connect')", async () => {
    // An API builds its queue handles while it boots, whatever state the connection is in by then.
    // BullMQ takes a Cluster's 'connect' for ready and sends its version check at once, which a
    // connection without an offline queue refuses; BullMQ kept that refusal for the handle's whole
    // life, so every enqueue of that process answered 503 while readiness said ok (about one full
    // run in three, by the boot's timing). Here the handle is made at exactly that moment.
    const config = loadConfig({
      NODE_ENV: 'test',
      DATABASE_URL: db.url,
      REDIS_CLUSTER_NODES: cluster.nodesEnv,
      REDIS_KEY_PREFIX: keyPrefix,
    });
    const connections = new RedisConnectionsService(config, pino({ level: 'silent' }));
    const producer = new QueueProducerService(connections, config);
    try {
      const client = connections.get('queue-producer');
      const queue = await new Promise<Queue>((resolve) =>
        client.once('connect', () => {
          expect(client.status).toBe('connect');
          resolve(producer.queue('cluster-boot'));
        }),
      );
      await connections.whenReady('queue-producer', 10_000);
      await producer.enqueue(queue, 'probe', {}, { jobId: 'probe-1' });
      await producer.enqueue(queue, 'probe', {}, { jobId: 'probe-2' });
      expect(await queue.getJobState('probe-1')).toBe('waiting');
      expect(await producer.backlog(queue)).toBe(2);
    } finally {
      await producer.onApplicationShutdown();
      await connections.closeAll();
    }
  });

  it('limits login per email and per address on the cluster: 429 with Retry-After, counted in Redis, not locally', async () => {
    const email = `cluster-${randomBytes(4).toString('hex')}@example.com`;
    const login = () => api.http.post('/v1/auth/token', { email, password: 'wrong password 123' });
    for (let i = 0; i < 3; i++) expect((await login()).status).toBe(401);
    const limited = await login();
    expectProblem(limited, 429, 'RATE_LIMITED', '/v1/auth/token');
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(Number(limited.headers.get('retry-after'))).toBeLessThanOrEqual(60);
    expect(limited.headers.get('ratelimit-policy')).toContain('"login-ip"');

    // Both of the request's counters live in the cluster, in two different slots: one script call
    // per slot, not the per-process fallback a refused script would have fallen back to.
    const emailKey = `${keyPrefix}rl:login:${email}`;
    const addressKey = `${keyPrefix}rl:login-ip:127.0.0.1`;
    expect(await slotOf(emailKey)).not.toBe(await slotOf(addressKey));
    expect(await cluster.client.get(emailKey)).toBe('4');
    expect(Number(await cluster.client.get(addressKey))).toBeGreaterThanOrEqual(4);
    expect(api.lines().filter((line) => /rate limits: Redis unreachable/.test(String(line.msg)))).toEqual([]);
  });

  it('serves a product read from the cache, and an order of two products invalidates both entries (one DEL per slot)', async () => {
    const ids = await db.query<{ id: string }>(
      `INSERT INTO products (sku, name, price_cents, currency, stock, status)
       VALUES ($1, 'Cluster A', 1000, 'EUR', 10, 'active'), ($2, 'Cluster B', 2000, 'EUR', 10, 'active') RETURNING id`,
      [`CL-${randomUUID()}`, `CL-${randomUUID()}`],
    );
    const [a, b] = ids.map((row) => row.id);
    const cacheKey = (id: string) => `${keyPrefix}products:${id}`;
    expect(await slotOf(cacheKey(a))).not.toBe(await slotOf(cacheKey(b)));

    for (const id of [a, b]) expect((await api.http.get(`/v1/products/${id}`)).status).toBe(200);
    await pollUntil(
      async () => (await cluster.client.exists(cacheKey(a))) === 1 && (await cluster.client.exists(cacheKey(b))) === 1,
      { what: 'both cache entries in the cluster' },
    );
    // Changed behind the cache's back: the cached value is what a read returns.
    await db.query('UPDATE products SET price_cents = 1001 WHERE id = $1', [a]);
    expect((await api.http.get(`/v1/products/${a}`)).body.priceCents).toBe(1000);

    const buyer = await signUpWithToken(api.http);
    const order = await api.http.post(
      '/v1/orders',
      {
        items: [
          { productId: a, quantity: 1 },
          { productId: b, quantity: 2 },
        ],
        paymentToken: 'tok_ok',
      },
      { token: buyer.token, headers: { 'idempotency-key': randomUUID() } },
    );
    expect(order.status).toBe(201);
    // Both entries are gone (a DEL of both at once would be CROSSSLOT, and a failed delete leaves them).
    await pollUntil(
      async () => (await cluster.client.exists(cacheKey(a))) === 0 && (await cluster.client.exists(cacheKey(b))) === 0,
      { what: 'both cache entries to be deleted' },
    );
    expect((await api.http.get(`/v1/products/${a}`)).body).toMatchObject({ priceCents: 1001, stock: 9 });
    expect((await api.http.get(`/v1/products/${b}`)).body).toMatchObject({ stock: 8 });
    expect(api.lines().filter((line) => /cache degraded/.test(String(line.msg)))).toEqual([]);
  });
});
