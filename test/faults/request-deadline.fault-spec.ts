import { REPORT_FAILURE_REASONS } from '../../src/reports/reports.errors';
import { openRawConnection } from '../support/http-client.support';
import { pollUntil } from '../support/poll.support';
import { expectProblem } from '../support/problem.support';
import { startTestApp, type TestApp } from '../support/test-app.support';
import type { TestDatabase } from '../support/test-database.support';
import {
  holdLock,
  reportFinished,
  signUpWithToken,
  startInProcessWorker,
  workerEnvFor,
} from '../support/worker.support';

/**
 * The request context carries the deadline (issue 18, point 3): every request gets its route's
 * budget (`REQUEST_DEADLINE_MS` for the routes without one of their own) and every job attempt
 * its job budget (`WORKER_JOB_DEADLINE_MS`), and the SQL seam reads it on its own, on every route:
 * a statement that would outlive the budget is ended on the server when the budget runs out (504
 * `DEADLINE_EXCEEDED`), and one whose caller hangs up is cancelled at once. Seen from outside:
 * the answer's status and timing, and pg_stat_activity.
 *
 * Each statement here waits on a table lock another session holds, with lock and statement
 * timeouts far longer than the budget: only the deadline can end the wait.
 */

const LONG = '30000';

/** The services' statements still on the server waiting for a lock (not this test's own sessions). */
const waitingOnLock = (db: TestDatabase, marker: string) =>
  db
    .query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stat_activity
        WHERE datname = current_database() AND application_name = 'resilient-api' AND pid <> pg_backend_pid()
          AND wait_event_type = 'Lock' AND query LIKE $1`,
      [`%${marker}%`],
    )
    .then((rows) => rows[0].n);

const report = (what: string, ms: number) => process.stdout.write(`[fault latency] ${what}: ${ms.toFixed(0)} ms\n`);

describe('a route without a budget of its own gets REQUEST_DEADLINE_MS, enforced on its statements', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({
      env: { REQUEST_DEADLINE_MS: '1500', DB_STATEMENT_TIMEOUT_MS: LONG, DB_LOCK_TIMEOUT_MS: LONG },
    });
  });
  afterAll(() => t.close());

  it('a statement that outlives the budget: 504 DEADLINE_EXCEEDED within the budget, and gone from the server', async () => {
    expect((await t.http.get('/v1/products')).status).toBe(200); // warm: the timing below is the deadline's alone
    const lock = await holdLock(t.db, 'LOCK TABLE products IN ACCESS EXCLUSIVE MODE');
    try {
      const started = performance.now();
      const res = await t.http.get('/v1/products');
      const ms = performance.now() - started;
      expectProblem(res, 504, 'DEADLINE_EXCEEDED', '/v1/products');
      // The budget is 1.5 s; the lock and statement timeouts 30 s. Generous margin for a loaded machine.
      expect(ms).toBeGreaterThanOrEqual(1_300);
      expect(ms).toBeLessThan(3_500);
      report('products list behind a lock (REQUEST_DEADLINE_MS 1.5 s) → 504', ms);
      // Ended on the server, not only answered: nothing of the app is left waiting for the lock it still cannot get.
      expect(await waitingOnLock(t.db, 'FROM products')).toBe(0);
    } finally {
      await lock.release();
    }
    expect((await t.http.get('/v1/products')).status).toBe(200);
  });
});

describe('a caller that hangs up cancels the statement of any route', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({
      env: { REQUEST_DEADLINE_MS: LONG, DB_STATEMENT_TIMEOUT_MS: LONG, DB_LOCK_TIMEOUT_MS: LONG },
    });
  });
  afterAll(() => t.close());

  it('the products list: its statement leaves the server soon after the hang-up, long before any timeout', async () => {
    const lock = await holdLock(t.db, 'LOCK TABLE products IN ACCESS EXCLUSIVE MODE');
    try {
      const connection = openRawConnection(t.baseUrl);
      await connection.connected;
      connection.socket.write('GET /v1/products HTTP/1.1\r\nHost: x\r\n\r\n');
      await pollUntil(async () => (await waitingOnLock(t.db, 'FROM products')) === 1, {
        timeoutMs: 10_000,
        what: 'the statement waiting for the lock',
      });
      const hungUpAt = performance.now();
      connection.socket.destroy();
      await pollUntil(async () => (await waitingOnLock(t.db, 'FROM products')) === 0, {
        timeoutMs: 10_000,
        what: 'the statement cancelled after the hang-up',
      });
      const ms = performance.now() - hungUpAt;
      expect(ms).toBeLessThan(5_000); // the budget and every timeout are 30 s
      report('products list, caller hung up → statement cancelled', ms);
    } finally {
      await lock.release();
    }
    expect((await t.http.get('/v1/products')).status).toBe(200);
  });
});

describe('a job attempt gets WORKER_JOB_DEADLINE_MS, enforced on its statements', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it('a report whose statement outlives the job budget: the statement ends at the budget, the report fails as timed out', async () => {
    const { token } = await signUpWithToken(t.http);
    const res = await t.http.post(
      '/v1/reports',
      { type: 'sales-summary', from: '2026-01-01', to: '2026-01-31' },
      { token },
    );
    expect(res.status).toBe(202);
    const lock = await holdLock(t.db, 'LOCK TABLE orders IN ACCESS EXCLUSIVE MODE');
    const worker = await startInProcessWorker(
      workerEnvFor(t, {
        WORKER_JOB_DEADLINE_MS: '1500',
        REPORTS_STATEMENT_TIMEOUT_MS: LONG,
        DB_STATEMENT_TIMEOUT_MS: LONG,
        DB_LOCK_TIMEOUT_MS: LONG,
      }),
    );
    try {
      await pollUntil(async () => (await waitingOnLock(t.db, 'GROUP BY status, currency')) === 1, {
        timeoutMs: 10_000,
        what: "the report's statement waiting for the lock",
      });
      const seenAt = performance.now();
      await pollUntil(async () => (await waitingOnLock(t.db, 'GROUP BY status, currency')) === 0, {
        timeoutMs: 10_000,
        what: "the report's statement ended by the job budget",
      });
      const ms = performance.now() - seenAt;
      expect(ms).toBeLessThan(3_500); // the job budget is 1.5 s; the statement and lock timeouts 30 s
      report('report statement behind a lock (WORKER_JOB_DEADLINE_MS 1.5 s) → ended', ms);
      const done = await reportFinished(t.http, token, res.body.id);
      expect(done.body).toMatchObject({ status: 'failed', error: REPORT_FAILURE_REASONS.timeout });
    } finally {
      await lock.release();
      await worker.stop('test end');
    }
  });
});
