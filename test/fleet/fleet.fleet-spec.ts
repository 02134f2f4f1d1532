import { randomUUID } from 'node:crypto';
import { request } from 'node:http';
import { Client } from 'pg';
import { loadConfig } from '../../src/config/config.schemas';
import { createPool } from '../../src/platform/adapters/database/data-source.factory';
import { SqlClient } from '../../src/platform/adapters/database/sql.client';
import { MetricsService } from '../../src/platform/kernel/metrics/metrics.service';
import { startFleet, type Fleet } from '../support/fleet.support';
import { pollUntil } from '../support/poll.support';
import { databaseHandle } from '../support/test-database.support';
import { keyOf } from '../support/orders.support';
import { holdLock, reportFinished, seedOrders, signUpWithToken } from '../support/worker.support';

/**
 * The fleet, through the balancer, as callers and operators see it: two APIs and two workers
 * behind nginx (the shipped example) and a transaction-pooling PgBouncer (stock settings), one
 * fake provider. One fleet for the whole file (test/support/fleet.support.ts).
 */
const RECONCILE_EVERY_MS = 1_000;
const LOGIN_PER_IP = 5;
const REQUEST_DEADLINE_MS = 3_000;

/** One request from another loopback address (127.0.0.2): a caller outside TRUSTED_PROXIES (127.0.0.1). */
function fromOutside(
  url: string,
  method: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      url,
      {
        method,
        localAddress: '127.0.0.2',
        headers: { ...(payload && { 'content-type': 'application/json' }), ...headers },
      },
      (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

describe('a fleet behind nginx and PgBouncer (transaction pooling)', () => {
  let fleet: Fleet;
  let buyer: { accountId: string; token: string };

  beforeAll(async () => {
    fleet = await startFleet({
      env: {
        RECONCILIATION_INTERVAL_MS: String(RECONCILE_EVERY_MS),
        RATE_LIMIT_LOGIN_PER_IP: String(LOGIN_PER_IP),
        // Waits end by cancellation in these tests, not by the server's own limits.
        DB_LOCK_TIMEOUT_MS: '15000',
        DB_STATEMENT_TIMEOUT_MS: '15000',
        // GET /v1/orders' budget: its deadline ends a statement stuck behind a lock.
        REQUEST_DEADLINE_MS: String(REQUEST_DEADLINE_MS),
      },
    });
    buyer = await signUpWithToken(fleet.http);
  }, 120_000);
  afterAll(() => fleet?.stop(), 60_000);

  it('serves through the balancer from both instances, and keeps a caller’s X-Request-Id', async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 6; i++) {
      const res = await fleet.http.get('/v1/products?limit=1', { headers: { 'x-request-id': `fleet-probe-${i}` } });
      expect(res.status).toBe(200);
      expect(res.headers.get('x-request-id')).toBe(`fleet-probe-${i}`);
    }
    for (const api of fleet.apis)
      if (api.lines().some((l) => String(l.requestId ?? '').startsWith('fleet-probe-'))) seen.add(api.name);
    expect([...seen].sort()).toEqual(['api-1', 'api-2']);
  });

  it('idempotency across instances: 20 identical POSTs split over two APIs make one order and one charge', async () => {
    const [{ id: productId }] = await fleet.db.query<{ id: string }>(
      `INSERT INTO products (sku, name, price_cents, currency, stock, status)
       VALUES ($1, 'Fleet product', 1500, 'EUR', 100, 'active') RETURNING id`,
      [`F-${randomUUID()}`],
    );
    const key = randomUUID();
    const body = { items: [{ productId, quantity: 1 }], paymentToken: 'tok_ok' };
    const answers = await Promise.all(
      Array.from({ length: 20 }, () =>
        fleet.http.post('/v1/orders', body, { token: buyer.token, headers: { 'idempotency-key': key } }),
      ),
    );
    // Each caller hears: the order (201), "in flight, retry" (409), or "shed, retry later" (503 OVERLOADED
    // with Retry-After: per-process shedding of a burst); nothing else.
    const unexpected = answers
      .filter(
        (res) =>
          res.status !== 201 &&
          res.status !== 409 &&
          !(res.status === 503 && res.body.code === 'OVERLOADED' && Number(res.headers.get('retry-after')) >= 1),
      )
      .map((res) => `${res.status} ${res.text.slice(0, 200)}`);
    expect(unexpected).toEqual([]);
    expect(answers.map((res) => res.status)).toContain(201);
    // A caller retrying the key afterwards, on whichever instance, gets the stored order replayed.
    const replay = await fleet.http.post('/v1/orders', body, {
      token: buyer.token,
      headers: { 'idempotency-key': key },
    });
    expect(replay.status).toBe(201);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    const orders = await fleet.db.query<{ id: string; status: string }>(
      'SELECT o.id, o.status FROM orders o JOIN order_items i ON i.order_id = o.id WHERE i.product_id = $1',
      [productId],
    );
    expect(orders).toHaveLength(1);
    expect(orders[0].status).toBe('paid');
    const ids = new Set([...answers, replay].filter((res) => res.status === 201).map((res) => res.body.id));
    expect([...ids]).toEqual([orders[0].id]);
    // The provider's own count: one charge for the order, whichever instance answered.
    await expect(fleet.provider.statsFor(keyOf(orders[0].id))).resolves.toMatchObject({ charges: 1 });
  });

  it('the login limit is global across instances, and a spoofed X-Forwarded-For from an untrusted caller does not bypass it', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < LOGIN_PER_IP + 3; i++) {
      const res = await fromOutside(
        `${fleet.balancer.url}/v1/auth/token`,
        'POST',
        { email: `nobody-${i}@example.com`, password: 'wrong-password-1' },
        // A new made-up address each time: believed, it would give every attempt a fresh budget.
        { 'x-forwarded-for': `203.0.113.${i + 1}` },
      );
      statuses.push(res.status);
      if (res.status === 429) expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    }
    // The first LOGIN_PER_IP attempts are answered (401), the rest limited, wherever nginx sent them.
    expect(statuses).toEqual([...Array(LOGIN_PER_IP).fill(401), 429, 429, 429]);
  });

  it('the reconciliation scheduler runs once per tick across two workers', async () => {
    const runs = () =>
      fleet.workers.flatMap((worker) =>
        worker
          .lines()
          .filter((l) => l.msg === 'payments reconciliation run')
          .map((l) => ({
            worker: worker.name,
            jobId: String(l.jobId ?? ''),
            time: Date.parse(String(l.time)) || Number(l.time),
          })),
      );
    const startedAt = Date.now();
    const before = runs().length;
    await pollUntil(() => runs().length >= before + 5, { timeoutMs: 20_000, what: '5 reconciliation runs' });
    const elapsedMs = Date.now() - startedAt;
    const all = runs();
    // Never two runs of one tick: distinct job ids, and no more runs than ticks in the window.
    expect(new Set(all.map((r) => r.jobId)).size).toBe(all.length);
    expect(all.length - before).toBeLessThanOrEqual(Math.ceil(elapsedMs / RECONCILE_EVERY_MS) + 1);
    const times = all.map((r) => r.time).sort((a, b) => a - b);
    for (let i = 1; i < times.length; i++) expect(times[i] - times[i - 1]).toBeGreaterThan(RECONCILE_EVERY_MS / 2);
  }, 60_000);

  it('a report whose worker is SIGKILLed mid-run finishes once on the other worker', async () => {
    const owner = await signUpWithToken(fleet.http);
    await seedOrders(fleet.db, owner.accountId, [
      { status: 'paid', totalCents: 1_000, createdAt: '2026-01-02T00:00:00Z' },
      { status: 'paid', totalCents: 2_000, createdAt: '2026-01-03T00:00:00Z' },
    ]);
    // Held mid-run deterministically: the report's aggregate waits on this lock in Postgres.
    const lock = await holdLock(
      databaseHandle(fleet.directUrl, async () => undefined),
      'LOCK TABLE orders IN ACCESS EXCLUSIVE MODE',
    );
    let released = false;
    try {
      const res = await fleet.http.post(
        '/v1/reports',
        { type: 'sales-summary', from: '2026-01-01', to: '2026-01-31' },
        { token: owner.token },
      );
      expect(res.status).toBe(202);
      const id = res.body.id as string;
      const runner = await pollUntil(
        () => fleet.workers.find((w) => w.proc.proc.exitCode === null && w.lines().some((l) => l.reportId === id)),
        { timeoutMs: 15_000, what: `a worker to take report ${id}` },
      );
      runner.proc.kill('SIGKILL');
      await runner.proc.exited(5_000);
      await lock.release();
      released = true;
      const done = await reportFinished(fleet.http, owner.token, id, 20_000);
      expect(done.body).toMatchObject({
        status: 'completed',
        result: { orders: 2, revenue: [{ currency: 'EUR', paidOrders: 2, totalCents: 3_000 }] },
      });
      const survivor = fleet.workers.find((w) => w !== runner)!;
      // The worker logs 'report completed' after the commit the API just read: its line may still be
      // on its way through the pipe. Wait for it, then there must be exactly one.
      const completedBy = (w: typeof survivor) =>
        w.lines().filter((l) => l.msg === 'report completed' && l.reportId === id);
      await pollUntil(() => completedBy(survivor).length > 0, {
        timeoutMs: 10_000,
        what: `the survivor's completion line of report ${id}`,
      });
      expect(completedBy(survivor)).toHaveLength(1);
      const [row] = await fleet.db.query<{ status: string }>('SELECT status FROM reports WHERE id = $1', [id]);
      expect(row.status).toBe('completed');
      // The fleet has two workers again (later tests and the teardown expect it).
      fleet.workers[fleet.workers.indexOf(runner)] = await fleet.startWorker(`${runner.name}-restarted`);
    } finally {
      if (!released) await lock.release();
    }
  }, 60_000);

  it("a request's deadline cancels its statement through the pooler: 504 at the deadline, the statement gone", async () => {
    const holder = new Client({ connectionString: fleet.directUrl });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('LOCK TABLE orders IN ACCESS EXCLUSIVE MODE');
      const startedAt = performance.now();
      const res = await fleet.http.get('/v1/orders?limit=3', { token: buyer.token });
      const answeredMs = Math.round(performance.now() - startedAt);
      expect(res.status).toBe(504);
      expect(res.body.code).toBe('DEADLINE_EXCEEDED');
      const waiting = await fleet.db.query(
        `SELECT pid FROM pg_stat_activity
          WHERE datname = current_database() AND application_name = 'resilient-api'
            AND wait_event_type = 'Lock' AND query LIKE '%FROM orders o WHERE o.account_id%'`,
      );
      console.log(
        `[fleet timing] deadline ${REQUEST_DEADLINE_MS} ms → 504 through PgBouncer in ${answeredMs} ms; statements left waiting: ${waiting.length}`,
      );
      expect(waiting).toEqual([]);
      expect(answeredMs).toBeGreaterThanOrEqual(REQUEST_DEADLINE_MS - 200);
      expect(answeredMs).toBeLessThan(REQUEST_DEADLINE_MS + 3_000);
    } finally {
      await holder.query('ROLLBACK').catch(() => undefined);
      await holder.end();
    }
  });

  it('a client that goes away cancels its statement through the pooler: gone from pg_stat_activity', async () => {
    // The read waits on a table lock (the server's own limits are 15 s here): only a cancel ends it.
    // (The workers' reconciliation also waits on that lock meanwhile: the query text tells the list apart.)
    const holder = new Client({ connectionString: fleet.directUrl });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('LOCK TABLE orders IN ACCESS EXCLUSIVE MODE');
      const waiting = () =>
        fleet.db.query<{ pid: number }>(
          `SELECT pid FROM pg_stat_activity
            WHERE datname = current_database() AND application_name = 'resilient-api'
              AND wait_event_type = 'Lock' AND query LIKE '%FROM orders o WHERE o.account_id%'`,
        );
      const controller = new AbortController();
      // GET /v1/orders runs under the request's deadline, whose signal also fires when the caller leaves.
      const sent = fetch(`${fleet.balancer.url}/v1/orders?limit=3`, {
        signal: controller.signal,
        headers: { authorization: `Bearer ${buyer.token}` },
      }).catch((e: unknown) => e);
      await pollUntil(async () => (await waiting()).length > 0, {
        timeoutMs: 10_000,
        what: 'the read to wait on the lock',
      });
      const abortedAt = performance.now();
      controller.abort();
      await sent;
      await pollUntil(async () => (await waiting()).length === 0, {
        timeoutMs: 5_000,
        intervalMs: 20,
        what: 'the statement to be cancelled',
      });
      const goneMs = Math.round(performance.now() - abortedAt);
      console.log(`[fleet timing] client abort → statement gone from pg_stat_activity through PgBouncer: ${goneMs} ms`);
      expect(goneMs).toBeLessThan(3_000);
      // The cancelled connection went back clean: the fleet still answers.
      await holder.query('ROLLBACK');
      const after = await fleet.http.get('/v1/products?limit=1');
      const why = fleet.apis
        .flatMap((api) => api.lines())
        .filter((l) => l.requestId === after.body?.requestId && l.err);
      expect({ status: after.status, why }).toEqual({ status: 200, why: [] });
    } finally {
      await holder.query('ROLLBACK').catch(() => undefined);
      await holder.end();
    }
  });

  it("keeps a statement's limits with the statement through the pooler: none set on its server connections, a plain read still ends at its timeout", async () => {
    // The seam's own pool through the fleet's PgBouncer, with short limits. On Postgres itself the pool
    // makes its default limits the session's (limited-query.factory.ts); through a pooler it must not:
    // a session SET would stay on a server connection that every other client gets next.
    const config = loadConfig({
      NODE_ENV: 'test',
      DATABASE_URL: fleet.poolerUrl,
      DB_STATEMENT_TIMEOUT_MS: '300',
      DB_LOCK_TIMEOUT_MS: '200',
    });
    const pool = createPool(config, undefined, 'request', { max: 3 });
    try {
      const seam = new SqlClient(pool, config, new MetricsService());
      // Three connections opened at once, each through the pool's onConnect.
      await Promise.all([1, 2, 3].map(() => seam.query('SELECT pg_sleep(0.05)')));
      const startedAt = Date.now();
      const error = await seam.query("SELECT pg_sleep(5), 'pooler-timeout-probe'").catch((e: unknown) => e);
      expect(error).toMatchObject({ code: '57014' });
      expect(Date.now() - startedAt).toBeLessThan(2_500);
      // Eight bare clients at once hold the pooler's eight server connections: each has the server's defaults.
      const settings = await Promise.all(
        Array.from({ length: 8 }, async () => {
          const bare = new Client({ connectionString: fleet.poolerUrl });
          await bare.connect();
          try {
            const { rows } = await bare.query<{ s: string; l: string }>(
              "SELECT current_setting('statement_timeout') AS s, current_setting('lock_timeout') AS l, pg_sleep(0.3)",
            );
            return `${rows[0].s}/${rows[0].l}`;
          } finally {
            await bare.end();
          }
        }),
      );
      expect(new Set(settings)).toEqual(new Set(['0/0']));
    } finally {
      await pool.end();
    }
  });
});
