import Redis from 'ioredis';
import { pollUntil } from '../support/poll.support';
import { startRedisServer, type RedisServer } from '../support/redis-server.support';
import { startTestApp, type TestApp } from '../support/test-app.support';
import {
  holdLock,
  reportFinished,
  seedOrders,
  signUpWithToken,
  startWorkerProcess,
  workerEnvFor,
  type HeldLock,
  type WorkerProcess,
} from '../support/worker.support';

const JANUARY = { type: 'sales-summary', from: '2026-01-01', to: '2026-01-31' };
const EXPECTED = { orders: 2, revenue: [{ currency: 'EUR', paidOrders: 2, totalCents: 3_000 }] };

/**
 * The worker as operators run it (dist/worker.js, its own process), killed and stopped while a
 * job runs. A job is held "mid-run" deterministically: the test locks the orders table, so the
 * report's aggregate waits in Postgres until the test lets it go.
 */
describe('the worker process under SIGTERM, SIGKILL and a Redis flush (F28, F37)', () => {
  let t: TestApp;
  let token: string;
  const processes: WorkerProcess[] = [];
  const locks: HeldLock[] = [];
  let redisServer: RedisServer | undefined;

  const startWorker = async (env: Record<string, string> = {}) => {
    const worker = await startWorkerProcess(workerEnvFor(t, { WORKER_CONCURRENCY: '1', ...env }));
    processes.push(worker);
    return worker;
  };
  const lockOrders = async () => {
    const lock = await holdLock(t.db, 'LOCK TABLE orders IN ACCESS EXCLUSIVE MODE');
    locks.push(lock);
    return lock;
  };
  const requestReport = async (body: Record<string, string> = JANUARY) => {
    const res = await t.http.post('/v1/reports', body, { token });
    expect(res.status).toBe(202);
    return res.body.id as string;
  };
  const statusOf = async (id: string) =>
    (await t.db.query<{ status: string }>('SELECT status FROM reports WHERE id = $1', [id]))[0]?.status;
  const running = (id: string) =>
    pollUntil(async () => (await statusOf(id)) === 'running', { timeoutMs: 10_000, what: `report ${id} to run` });

  const setUp = async (env: Record<string, string> = {}) => {
    t = await startTestApp({ env });
    const owner = await signUpWithToken(t.http);
    token = owner.token;
    await seedOrders(t.db, owner.accountId, [
      { status: 'paid', totalCents: 1_000, createdAt: '2026-01-02T00:00:00Z' },
      { status: 'paid', totalCents: 2_000, createdAt: '2026-01-03T00:00:00Z' },
    ]);
  };

  afterEach(async () => {
    processes.splice(0).forEach((p) => p.kill('SIGKILL'));
    await Promise.all(locks.splice(0).map((lock) => lock.release()));
    await t?.close();
    await redisServer?.stop();
    redisServer = undefined;
  });

  it('SIGTERM mid-job: stops taking jobs, finishes the running one, exits 0', async () => {
    await setUp();
    const worker = await startWorker({ WORKER_SHUTDOWN_TIMEOUT_MS: '10000' });
    const lock = await lockOrders();
    const id = await requestReport();
    await running(id);
    worker.kill('SIGTERM');
    await worker.waitForLine((line) => line.msg === 'worker shutdown started');
    await lock.release();
    expect(await worker.exited(10_000)).toBe(0);
    expect(worker.lines().find((line) => line.msg === 'worker shutdown complete')).toMatchObject({ jobs: 'drained' });
    const done = await reportFinished(t.http, token, id);
    expect(done.body).toMatchObject({ status: 'completed', result: EXPECTED });
  });

  it('SIGTERM with a job that outlasts WORKER_SHUTDOWN_TIMEOUT_MS: exits in bounded time, and the job is re-run elsewhere', async () => {
    await setUp();
    const worker = await startWorker({ WORKER_SHUTDOWN_TIMEOUT_MS: '500' });
    const lock = await lockOrders();
    const id = await requestReport();
    await running(id);
    const stoppedAt = Date.now();
    worker.kill('SIGTERM');
    expect(await worker.exited(8_000)).toBe(0);
    // 500 ms of waiting, 2 s of hand-back grace, then the connections close.
    expect(Date.now() - stoppedAt).toBeLessThan(6_000);
    expect(await statusOf(id)).toBe('running');
    await startWorker();
    await lock.release();
    const done = await reportFinished(t.http, token, id, 15_000);
    expect(done.body).toMatchObject({ status: 'completed', result: EXPECTED });
  });

  it('SIGKILL mid-job: another worker takes the stalled job over and completes it, once in effect', async () => {
    await setUp();
    const first = await startWorker();
    const lock = await lockOrders();
    const id = await requestReport();
    await running(id);
    first.kill('SIGKILL');
    await first.exited(5_000);
    const killedAt = Date.now();
    const second = await startWorker();
    await lock.release();
    const done = await reportFinished(t.http, token, id, 15_000);
    const recoveryMs = Date.now() - killedAt;
    expect(done.body).toMatchObject({ status: 'completed', result: EXPECTED });
    // Lock 1 s + stall check every 0.5 s: taken over within a few seconds, not the 30 s default.
    expect(recoveryMs).toBeLessThan(10_000);
    const [row] = await t.db.query<{ attempts: number }>('SELECT attempts FROM reports WHERE id = $1', [id]);
    expect(row.attempts).toBe(2); // run twice, one result
    await second.waitForLine((line) => line.msg === 'report completed' && line.reportId === id);
  });

  it('Redis flushed while jobs run: every report still ends completed or failed with a reason', async () => {
    redisServer = await startRedisServer();
    await setUp({ REDIS_URL: redisServer.url });
    await startWorker();
    const lock = await lockOrders();
    const ids = [
      await requestReport(),
      await requestReport({ ...JANUARY, to: '2026-01-20' }),
      await requestReport({ ...JANUARY, to: '2026-01-10' }),
    ];
    await running(ids[0]);
    const admin = new Redis(redisServer.url);
    try {
      await admin.flushall();
    } finally {
      admin.disconnect();
    }
    await lock.release();
    for (const id of ids) {
      const done = await reportFinished(t.http, token, id, 20_000);
      if (done.body.status === 'failed') expect(done.body.error).toEqual(expect.any(String));
      else expect(done.body.status).toBe('completed');
    }
    const first = await reportFinished(t.http, token, ids[0]);
    expect(first.body).toMatchObject({ status: 'completed', result: EXPECTED });
  });
});
