import Redis from 'ioredis';
import { NoopPaymentsReconciler } from '../../src/reconciliation/noop-payments-reconciler.service';
import type { ReconciliationOutcome } from '../../src/reconciliation/reconciliation.types';
import { REPORT_FAILURE_REASONS } from '../../src/reports/reports.errors';
import { parseMetrics } from '../support/metrics.support';
import { pollUntil } from '../support/poll.support';
import { expectProblem } from '../support/problem.support';
import { refusedRedisUrl, startRedisServer, type RedisServer } from '../support/redis-server.support';
import { startTestApp, type TestApp } from '../support/test-app.support';
import {
  holdLock,
  reportFinished,
  seedOrders,
  signUpWithToken,
  startInProcessWorker,
  workerEnvFor,
  type InProcessWorker,
} from '../support/worker.support';

const JANUARY = { type: 'sales-summary', from: '2026-01-01', to: '2026-01-31' };

describe('reports queue under faults (F28, F27, F30)', () => {
  const workers: InProcessWorker[] = [];
  const apps: TestApp[] = [];
  const start = async (env: Record<string, string> = {}) => {
    const t = await startTestApp({ env });
    apps.push(t);
    return t;
  };
  const startWorker = async (t: TestApp, env: Record<string, string> = {}, options = {}) => {
    const worker = await startInProcessWorker(workerEnvFor(t, env), options);
    workers.push(worker);
    return worker;
  };
  const redisServers: RedisServer[] = [];
  afterEach(async () => {
    await Promise.all(workers.splice(0).map((w) => w.stop('test end')));
    await Promise.all(apps.splice(0).map((t) => t.close()));
    await Promise.all(redisServers.splice(0).map((r) => r.stop()));
  });

  it('answers 503 DEPENDENCY_UNAVAILABLE with Retry-After within 1 s when the queue Redis is down, and keeps no report', async () => {
    const t = await start({ REDIS_URL: await refusedRedisUrl() });
    const { accountId, token } = await signUpWithToken(t.http);
    const started = Date.now();
    const res = await t.http.post('/v1/reports', JANUARY, { token });
    expect(Date.now() - started).toBeLessThan(1_000);
    expectProblem(res, 503, 'DEPENDENCY_UNAVAILABLE', '/v1/reports');
    expect(res.body.dependency).toBe('redis');
    const rows = await t.db.query('SELECT id FROM reports WHERE account_id = $1', [accountId]);
    expect(rows).toEqual([]);
  });

  it('answers 503 OVERLOADED with Retry-After once the backlog reaches REPORTS_MAX_BACKLOG', async () => {
    // One account may have at most one unfinished report here: two accounts fill the backlog.
    const t = await start({ REPORTS_MAX_BACKLOG: '2', REPORTS_MAX_UNFINISHED_PER_ACCOUNT: '1' });
    for (const month of ['01', '02']) {
      const { token } = await signUpWithToken(t.http);
      const res = await t.http.post(
        '/v1/reports',
        { ...JANUARY, from: `2026-${month}-01`, to: `2026-${month}-20` },
        { token },
      );
      expect(res.status).toBe(202);
    }
    const { token } = await signUpWithToken(t.http);
    const res = await t.http.post('/v1/reports', { ...JANUARY, from: '2026-03-01', to: '2026-03-20' }, { token });
    expectProblem(res, 503, 'OVERLOADED', '/v1/reports');
    expect(res.headers.get('retry-after')).toBe('5');
  });

  it('retries a transient failure (a lock timeout) with backoff and completes the report', async () => {
    const t = await start();
    const { token } = await signUpWithToken(t.http);
    const res = await t.http.post('/v1/reports', JANUARY, { token, headers: { 'x-request-id': 'transient-1' } });
    // The report row is locked: claiming it times out (55P03, transient) until the lock goes.
    const lock = await holdLock(t.db, 'SELECT id FROM reports WHERE id = $1 FOR UPDATE', [res.body.id]);
    const worker = await startWorker(t);
    try {
      const retry = await worker.logs.waitFor(
        (line) => line.msg === 'job failed on a transient fault; retrying with backoff',
        10_000,
      );
      expect(retry).toMatchObject({ requestId: 'transient-1', failure: { dependency: 'database', code: '55P03' } });
    } finally {
      await lock.release();
    }
    const done = await reportFinished(t.http, token, res.body.id);
    expect(done.body.status).toBe('completed');
  });

  it('retries a statement inside a job in one layer: a claim that keeps timing out runs (job attempts − 1) + DB_RETRY_MAX_ATTEMPTS times, not their product', async () => {
    const t = await start({ REPORTS_JOB_ATTEMPTS: '3' }); // the API sets a job's attempts when it enqueues
    const { token } = await signUpWithToken(t.http);
    const res = await t.http.post('/v1/reports', JANUARY, { token });
    // Postgres counts every run of the claim (a sequence: a failed statement's rollback does not undo it).
    await t.db.query(`CREATE SEQUENCE claim_runs`);
    await t.db.query(`
      CREATE FUNCTION count_claim_runs() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF current_query() LIKE '%attempts = attempts + 1%' THEN PERFORM nextval('claim_runs'); END IF;
        RETURN NULL;
      END $$`);
    await t.db.query(
      `CREATE TRIGGER count_claim_runs BEFORE UPDATE ON reports FOR EACH STATEMENT EXECUTE FUNCTION count_claim_runs()`,
    );
    // The report row stays locked: every claim times out on it (55P03, transient), in every attempt.
    const lock = await holdLock(t.db, 'SELECT id FROM reports WHERE id = $1 FOR UPDATE', [res.body.id]);
    try {
      const worker = await startWorker(t, {
        REPORTS_JOB_ATTEMPTS: '3',
        DB_RETRY_MAX_ATTEMPTS: '3',
        REPORTS_STALE_AFTER_MS: '600000',
      });
      const failed = await worker.logs.waitFor((line) => line.msg === 'job failed for good', 30_000);
      expect(failed).toMatchObject({ queue: 'reports', attempt: 3 });
      const [runs] = await t.db.query<{ n: string }>(
        `SELECT CASE WHEN is_called THEN last_value ELSE 0 END AS n FROM claim_runs`,
      );
      // Attempts 1 and 2: the queue retries them, the seam makes one run each; attempt 3: the seam's 3 runs.
      expect(Number(runs.n)).toBe(2 + 3);
      const retries = worker.logs.lines.filter(
        (line) => line.msg === 'job failed on a transient fault; retrying with backoff',
      );
      expect(retries).toHaveLength(2);
    } finally {
      await lock.release();
    }
  }, 60_000);

  it('fails a report for good on a permanent failure (its statement timed out), with a safe reason', async () => {
    const t = await start();
    const { token } = await signUpWithToken(t.http);
    const res = await t.http.post('/v1/reports', JANUARY, { token });
    const lock = await holdLock(t.db, 'LOCK TABLE orders IN ACCESS EXCLUSIVE MODE');
    try {
      await startWorker(t, { REPORTS_STATEMENT_TIMEOUT_MS: '300' });
      const done = await reportFinished(t.http, token, res.body.id);
      expect(done.body).toMatchObject({ status: 'failed', error: REPORT_FAILURE_REASONS.timeout });
      expect(done.body.result).toBeUndefined();
      const [row] = await t.db.query<{ attempts: number }>('SELECT attempts FROM reports WHERE id = $1', [res.body.id]);
      expect(row.attempts).toBe(1); // not retried
    } finally {
      await lock.release();
    }
  });

  it('processes each job once with two workers', async () => {
    const t = await start();
    const { accountId, token } = await signUpWithToken(t.http);
    await seedOrders(t.db, accountId, [{ status: 'paid', totalCents: 100, createdAt: '2026-01-05T00:00:00Z' }]);
    const [a, b] = [
      await startWorker(t, { WORKER_CONCURRENCY: '2' }),
      await startWorker(t, { WORKER_CONCURRENCY: '2' }),
    ];
    const ids: string[] = [];
    for (let day = 1; day <= 8; day++) {
      const res = await t.http.post('/v1/reports', { ...JANUARY, to: `2026-01-${String(day + 10)}` }, { token });
      expect(res.status).toBe(202);
      ids.push(res.body.id);
    }
    for (const id of ids) {
      const done = await reportFinished(t.http, token, id);
      expect(done.body).toMatchObject({ status: 'completed', result: { orders: 1 } });
    }
    const rows = await t.db.query<{ attempts: number }>('SELECT attempts FROM reports WHERE id = ANY($1)', [ids]);
    expect(rows.map((r) => r.attempts)).toEqual(ids.map(() => 1));
    const completions = [...a.logs.lines, ...b.logs.lines].filter((line) => line.msg === 'report completed');
    expect(completions.map((line) => line.reportId).sort()).toEqual([...ids].sort());
  });

  it('runs the scheduled reconciliation without anyone calling it, one run at a time across two workers', async () => {
    const t = await start();
    const runs = { started: 0, active: 0, maxActive: 0 };
    class SlowReconciler extends NoopPaymentsReconciler {
      override async reconcile(): Promise<ReconciliationOutcome> {
        runs.started++;
        runs.active++;
        runs.maxActive = Math.max(runs.maxActive, runs.active);
        await new Promise((resolve) => setTimeout(resolve, 250)); // a run longer than the interval
        runs.active--;
        return { examined: 1, paid: 1, failed: 0, flagged: 0, unresolved: 0 };
      }
    }
    const env = { RECONCILIATION_INTERVAL_MS: '100' };
    const a = await startWorker(t, env, { reconciler: SlowReconciler });
    await startWorker(t, env, { reconciler: SlowReconciler });
    await pollUntil(() => runs.started >= 4, { timeoutMs: 10_000, what: 'four reconciliation runs' });
    expect(runs.maxActive).toBe(1);
    const line = await a.logs.waitFor((l) => l.msg === 'payments reconciliation run');
    expect(line).toMatchObject({
      examined: 1,
      paid: 1,
      flagged: 0,
      requestId: 'scheduler-payments-reconciliation-every',
    });
  });

  it('a reconciliation run hitting a lock timeout is a retryable outcome (warn, counted retried): the next tick retries it and settles', async () => {
    const t = await start();
    // A migration (say) holds the orders table: the run's claim times out on its lock (55P03, transient).
    const lock = await holdLock(t.db, 'LOCK TABLE orders IN ACCESS EXCLUSIVE MODE');
    const worker = await startWorker(t, { RECONCILIATION_INTERVAL_MS: '200', DB_LOCK_TIMEOUT_MS: '200' });
    const runFailure = (line: { queue?: unknown; msg: string }) =>
      line.queue === 'payments-reconciliation' && /^job failed/.test(line.msg);
    try {
      const failed = await worker.logs.waitFor(runFailure, 10_000);
      expect(failed).toMatchObject({ level: 'warn', failure: { dependency: 'database', code: '55P03' } });
      expect(failed.msg).toMatch(/next scheduled run retries it/);
    } finally {
      await lock.release();
    }
    const runs = () => worker.logs.lines.filter((line) => line.msg === 'payments reconciliation run');
    await pollUntil(() => runs().length > 0, { timeoutMs: 10_000, what: 'a reconciliation run after the lock' });
    expect(worker.logs.lines.filter((line) => runFailure(line) && line.level === 'error')).toEqual([]);
    const metrics = parseMetrics(await (await fetch(`${worker.baseUrl}/metrics`)).text());
    const outcome = (o: string) =>
      metrics.value('queue_jobs_completed_total', { queue: 'payments-reconciliation', outcome: o });
    expect(outcome('retried')).toBeGreaterThanOrEqual(1);
    expect(outcome('failed')).toBeUndefined();
  });

  it('serves worker probes and queue metrics on its own port', async () => {
    const t = await start();
    const worker = await startWorker(t);
    const live = await fetch(`${worker.baseUrl}/health/live`);
    expect(live.status).toBe(200);
    const ready = await fetch(`${worker.baseUrl}/health/ready`);
    expect(await ready.json()).toMatchObject({
      status: 'ok',
      checks: { postgres: { status: 'up' }, redis: { status: 'up' } },
    });
    const metrics = await (await fetch(`${worker.baseUrl}/metrics`)).text();
    expect(metrics).toMatch(/^queue_jobs_waiting\{queue="reports"\} \d+$/m);
    expect(metrics).toMatch(/^queue_oldest_job_age_seconds\{queue="reports"\} [\d.]+$/m);
    const missing = await fetch(`${worker.baseUrl}/nope`);
    expect(missing.status).toBe(404);
    expect(missing.headers.get('content-type')).toBe('application/problem+json');
    // Readiness goes 503 SHUTTING_DOWN the moment shutdown starts.
    const stopping = worker.stop('test');
    const draining = await fetch(`${worker.baseUrl}/health/ready`).catch(() => undefined);
    if (draining) expect(draining.status).toBe(503);
    await stopping;
    workers.splice(workers.indexOf(worker), 1);
  });

  it("answers the worker's readiness with the API's checks and body: a migration this build does not know is 503, as on the API", async () => {
    const t = await start();
    const worker = await startWorker(t);
    await t.db.query(`INSERT INTO migrations (timestamp, name) VALUES (1900000000000, 'FromANewerBuild1900000000000')`);
    // Readiness serves a result up to ~1 s old: poll for the first check after the insert.
    const ready = await pollUntil(
      async () => {
        const res = await fetch(`${worker.baseUrl}/health/ready`);
        return res.status === 503 && ((await res.json()) as Record<string, any>);
      },
      { timeoutMs: 10_000, what: "the worker's readiness to see the unknown migration" },
    );
    const api = await t.http.get('/health/ready');
    expectProblem(api, 503, 'DEPENDENCY_UNAVAILABLE');
    expect(ready).toMatchObject({ code: 'DEPENDENCY_UNAVAILABLE', dependency: 'readiness' });
    // One set of checks: the same names and the same words on both processes.
    expect(Object.keys(ready.checks).sort()).toEqual(Object.keys(api.body.checks).sort());
    expect(ready.checks.migrations).toEqual(
      api.body.checks.migrations && { ...api.body.checks.migrations, responseTimeMs: expect.any(Number) },
    );
    expect(ready.checks.migrations.reason).toBe(
      'migrations out of sync: pending [], unknown to this build [FromANewerBuild1900000000000]',
    );
  });

  it('answers a worker /metrics scrape within a second while its Redis is frozen, with the last values marked stale', async () => {
    const redis = await startRedisServer();
    redisServers.push(redis);
    const t = await start({ REDIS_URL: redis.url });
    const worker = await startWorker(t);
    const scrapeWorker = async () => {
      const started = Date.now();
      // Bounded here too: before the fix a scrape hung for as long as Redis did.
      const res = await fetch(`${worker.baseUrl}/metrics`, { signal: AbortSignal.timeout(5_000) });
      return { status: res.status, text: await res.text(), ms: Date.now() - started };
    };
    const stale = (metric: string, value: 0 | 1) =>
      new RegExp(`^metrics_collect_stale\\{metric="${metric}"\\} ${value}$`, 'm');
    const fresh = await scrapeWorker();
    expect(fresh.text).toMatch(/^queue_jobs_waiting\{queue="reports"\} \d+$/m);
    expect(fresh.text).toMatch(stale('queue_jobs_waiting', 0));

    redis.pause();
    try {
      // Scrape after scrape (Prometheus keeps asking): each answers in time, none waits on the last one's read.
      for (let i = 0; i < 3; i++) {
        const frozen = await scrapeWorker();
        expect({ status: frozen.status, fast: frozen.ms < 1_000 }).toEqual({ status: 200, fast: true });
        expect(frozen.text).toMatch(/^queue_jobs_waiting\{queue="reports"\} \d+$/m);
        expect(frozen.text).toMatch(/^queue_oldest_job_age_seconds\{queue="reports"\} [\d.]+$/m);
        expect(frozen.text).toMatch(stale('queue_jobs_waiting', 1));
        expect(frozen.text).toMatch(stale('queue_oldest_job_age_seconds', 1));
        // Values that do not depend on Redis are fresh.
        expect(frozen.text).toMatch(stale('db_client_connection_count', 0));
      }
    } finally {
      await redis.resume();
    }
    await pollUntil(async () => stale('queue_jobs_waiting', 0).test((await scrapeWorker()).text), {
      timeoutMs: 10_000,
      what: 'queue metrics fresh again once Redis answers',
    });
  });

  it('keeps its BullMQ keys under REDIS_KEY_PREFIX, in the {bull} hash tag (one Redis Cluster slot)', async () => {
    const t = await start();
    const { token } = await signUpWithToken(t.http);
    await t.http.post('/v1/reports', JANUARY, { token });
    const redis = new Redis(t.config.redis.url);
    try {
      const keys = await redis.keys(`${t.config.redis.keyPrefix}{bull}:reports:*`);
      expect(keys.length).toBeGreaterThan(0);
    } finally {
      redis.disconnect();
    }
  });
});
