import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { slotOf } from '../../src/platform/adapters/redis/redis-connection.factory';
import { insertProduct, orderOf, postOrder, startOrdersApp, type OrdersTestApp } from '../support/orders.support';
import { pollUntil } from '../support/poll.support';
import { startRedisServer, type RedisServer } from '../support/redis-server.support';
import {
  reportFinished,
  signUpWithToken,
  startInProcessWorker,
  workerEnvFor,
  type InProcessWorker,
} from '../support/worker.support';

/**
 * The guard that would have caught CROSSSLOT without a cluster: the app and the worker run their
 * real flows (a login counted by two limits, cached reads, an order invalidating two products, a
 * report queued, built and scheduled work) on a private Redis, every command is watched (MONITOR),
 * and Redis itself says which arguments of each are keys (COMMAND GETKEYS). A Redis Cluster refuses
 * any command or script whose keys hash to two slots; here none may. A new multi-key command or
 * script added anywhere fails this test on one Redis, long before anyone runs a cluster.
 */
describe('Redis keys of every command lie in one cluster slot (issue 19, item 2)', () => {
  let redis: RedisServer;
  let orders: OrdersTestApp;
  let worker: InProcessWorker | undefined;
  let monitor: Redis;
  let inspector: Redis;
  const commands: string[][] = [];

  beforeAll(async () => {
    redis = await startRedisServer();
    inspector = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    monitor = await new Redis(redis.url).monitor();
    monitor.on('monitor', (_time: string, args: string[]) => commands.push(args));
    orders = await startOrdersApp(0, { REDIS_URL: redis.url, RATE_LIMIT_LOGIN_PER_IP: '100' });
    worker = await startInProcessWorker(workerEnvFor(orders.t));
  });

  afterAll(async () => {
    await worker?.stop('test end');
    monitor?.disconnect();
    inspector?.disconnect();
    await orders?.close();
    await redis?.stop();
  });

  it('after logins, cached reads, a two-product order and a built report, no command spans two slots', async () => {
    const { t, buyer } = orders;
    // A login: the email and the address limits, counted together.
    const email = `slots-${randomBytes(4).toString('hex')}@example.com`;
    expect((await t.http.post('/v1/auth/token', { email, password: 'wrong password 123' })).status).toBe(401);
    // Two cached products, then an order of both: its settlement deletes both cache entries.
    const ids = [await insertProduct(t, { stock: 5 }), await insertProduct(t, { stock: 5 })];
    for (const id of ids) expect((await t.http.get(`/v1/products/${id}`)).status).toBe(200);
    const order = await postOrder(t, buyer, {
      ...orderOf(ids[0]),
      items: ids.map((productId) => ({ productId, quantity: 1 })),
    });
    expect(order.status).toBe(201);
    // A report: enqueued by the API, taken, built and completed by the worker.
    const owner = await signUpWithToken(t.http);
    const report = await t.http.post(
      '/v1/reports',
      { type: 'sales-summary', from: '2026-01-01', to: '2026-01-31' },
      { token: owner.token },
    );
    expect(report.status).toBe(202);
    await reportFinished(t.http, owner.token, report.body.id, 20_000);

    await pollUntil(
      () => {
        const names = new Set(commands.map((args) => args[0].toLowerCase()));
        return names.has('del') && names.has('evalsha');
      },
      { what: 'the DEL and scripts to show in MONITOR' },
    );
    // A copy (the worker keeps polling), each distinct command once, asked of Redis in one pipeline.
    const distinct = [...new Map(commands.map((args) => [JSON.stringify(args), args])).values()].filter(
      (args) => args.length > 2,
    );
    const pipeline = inspector.pipeline();
    for (const args of distinct) pipeline.call('COMMAND', 'GETKEYS', ...args);
    // A command without key arguments (PING, INFO, CLIENT …) answers an error: no keys.
    const answers = (await pipeline.exec()) ?? [];
    const spanning: { command: string; keys: string[] }[] = [];
    let multiKey = 0;
    answers.forEach(([error, keys], i) => {
      if (error || !Array.isArray(keys) || keys.length < 2) return;
      multiKey++;
      if (new Set(keys.map((key: string) => slotOf(key))).size > 1) spanning.push({ command: distinct[i][0], keys });
    });
    expect(spanning).toEqual([]);
    // The check looked at something: BullMQ's scripts, the limiter's and the DEL are multi-key.
    expect(multiKey).toBeGreaterThan(5);
  });
});
