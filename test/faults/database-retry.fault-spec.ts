import fc from 'fast-check';
import { Client } from 'pg';
import type { Pool } from 'pg';
import { loadConfig } from '../../src/config/config.schemas';
import { createPool } from '../../src/platform/adapters/database/data-source.factory';
import { SqlClient, type SqlExecutor } from '../../src/platform/adapters/database/sql.client';
import { MetricsService } from '../../src/platform/kernel/metrics/metrics.service';
import { toProblem } from '../../src/platform/edge/http/problem.factory';
import { parseMetrics } from '../support/metrics.support';
import { pollUntil } from '../support/poll.support';
import { expectProblem } from '../support/problem.support';
import { createTestDatabase, type TestDatabase } from '../support/test-database.support';
import { ADMIN_DATABASE_URL } from '../support/test-env.support';
import { startTestApp, type TestApp } from '../support/test-app.support';

/**
 * F6: transient faults retried in the SQL seam, one layer, safe work only, with backoff
 * and a budget. Real faults on real Postgres: backends killed by an administrator
 * (pg_terminate_backend, 57P01), deadlocks (40P01) and serialization failures (40001).
 */

/** Terminates every backend of `database` (the app's pooled connections), from an admin session. */
async function terminateBackends(admin: Client, database: string): Promise<number> {
  const { rows } = await admin.query(
    'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
    [database],
  );
  return rows.length;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

describe('backends killed during a burst of reads and writes (F6)', () => {
  let t: TestApp;
  let admin: Client;
  beforeAll(async () => {
    // Acquire waits are not what this test is about: 80 requests on 10 connections of a loaded
    // 2-core machine can queue past the 1 s default, which would answer 503 pool_exhausted.
    t = await startTestApp({ env: { DB_ACQUIRE_TIMEOUT_MS: '5000' } });
    admin = new Client({ connectionString: ADMIN_DATABASE_URL });
    await admin.connect();
    await t.db.query(
      `INSERT INTO products (sku, name, price_cents, currency, stock)
       SELECT 'BURST-' || lpad(i::text, 3, '0'), 'Burst ' || i, 1000 + i, 'EUR', 5 FROM generate_series(1, 30) i`,
    );
  });
  afterAll(async () => {
    await admin?.end();
    await t?.close();
  });

  it('answers every read 200 (retried) and commits each write exactly once or answers 503', async () => {
    const READS = 60;
    const WRITES = 20;
    const emails = Array.from({ length: WRITES }, (_, i) => `burst-${i}@example.com`);
    const timed = async <T>(fn: () => Promise<T>) => {
      const started = performance.now();
      const res = await fn();
      return { res, ms: performance.now() - started };
    };
    const reads = Array.from({ length: READS }, (_, i) =>
      timed(() => t.http.get(`/v1/products?limit=${1 + (i % 20)}`)),
    );
    const writes = emails.map((email) =>
      timed(() => t.http.post('/v1/accounts', { email, password: 'correct horse battery', name: 'Burst' })),
    );
    // Twice during the burst, once the app has connections: kill every backend of its pool (busy
    // ones fail mid-statement, idle ones under the pool). A statement is killed at most twice,
    // so its third attempt (DB_RETRY_MAX_ATTEMPTS) can succeed.
    let answered = 0;
    for (const r of [...reads, ...writes]) void r.then(() => answered++);
    const appBackends = async () =>
      (
        await admin.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND application_name = 'resilient-api'`,
          [t.db.name],
        )
      ).rows[0].n;
    let killed = 0;
    const answeredAtKill: number[] = [];
    for (let round = 0; round < 2; round++) {
      await pollUntil(async () => (await appBackends()) > 0, { timeoutMs: 10_000, intervalMs: 5, what: 'connections' });
      answeredAtKill.push(answered);
      killed += await terminateBackends(admin, t.db.name);
    }
    const readResults = await Promise.all(reads);
    const writeResults = await Promise.all(writes);
    expect(killed).toBeGreaterThan(0);
    expect(answeredAtKill[0]).toBeLessThan(READS + WRITES); // the faults hit the burst, not the quiet after it

    for (const { res } of readResults) {
      // On failure, show why: the logged cause of that request.
      const why = res.status === 200 ? undefined : t.logs.forRequest(res.body.requestId).find((l) => l.err)?.err;
      expect({ status: res.status, why }).toEqual({ status: 200, why: undefined });
    }
    const rows = await t.db.query<{ email: string; n: number }>(
      'SELECT email, count(*)::int AS n FROM accounts WHERE email = ANY($1) GROUP BY email',
      [emails],
    );
    const committed = new Map(rows.map((r) => [r.email, r.n]));
    writeResults.forEach(({ res }, i) => {
      if (res.status === 201) {
        expect(committed.get(emails[i])).toBe(1); // acknowledged: there, once
      } else {
        expectProblem(res, 503, 'DEPENDENCY_UNAVAILABLE', '/v1/accounts');
        expect(committed.get(emails[i]) ?? 0).toBeLessThanOrEqual(1); // outcome unknown to the caller, never twice
      }
    });
    // The retries are visible to operators: resilience_retries_total{dependency="database"} (F6, F4).
    const scrape = parseMetrics((await t.http.get('/metrics')).text);
    expect(scrape.value('resilience_retries_total', { dependency: 'database' })).toBeGreaterThan(0);
    const all = [...readResults, ...writeResults].map((r) => r.ms);
    // Retries add at most two short backoffs (≤ 150 ms) and two attempts to a request.
    expect(Math.max(...all)).toBeLessThan(5_000);
    const readMs = readResults.map((r) => r.ms);
    const writeMs = writeResults.map((r) => r.ms);
    process.stdout.write(
      `[fault latency] killed backends: reads median ${median(readMs).toFixed(0)} ms, worst ${Math.max(...readMs).toFixed(0)} ms; ` +
        `writes (scrypt signups) median ${median(writeMs).toFixed(0)} ms, worst ${Math.max(...writeMs).toFixed(0)} ms; ` +
        `${writeResults.filter((w) => w.res.status === 503).length}/${WRITES} writes 503, ${killed} backends killed\n`,
    );
  });
});

describe('deadlocks and serialization failures under concurrent writes (F6)', () => {
  const ACCOUNTS = 4;
  const INITIAL = 1_000;
  let db: TestDatabase;
  let pool: Pool;
  let sql: SqlClient;
  let retried = 0;

  beforeAll(async () => {
    db = await createTestDatabase();
    const config = loadConfig({ NODE_ENV: 'test', DATABASE_URL: db.url, DB_LOCK_TIMEOUT_MS: '2000' });
    pool = createPool(config, undefined, 'request', { max: 8 });
    sql = new SqlClient(pool, config, new MetricsService());
    sql.setObserver({ retried: () => retried++ });
    await sql.query('CREATE TABLE ledger (id int PRIMARY KEY, balance int NOT NULL)', [], { queryClass: 'admin' });
    await sql.query(
      'CREATE TABLE transfers (id serial PRIMARY KEY, src int NOT NULL, dst int NOT NULL, amount int NOT NULL)',
      [],
      {
        queryClass: 'admin',
      },
    );
  });
  afterAll(async () => {
    await pool?.end();
    await db?.drop();
  });

  /**
   * Locks the source row first, then the destination: two opposite transfers deadlock
   * (40P01); under SERIALIZABLE, two transfers touching the same row also fail with 40001
   * (concurrent update). Either way the seam retries the whole transaction.
   */
  const transfer = (src: number, dst: number, amount: number, isolation: 'read committed' | 'serializable') =>
    sql.transaction(
      async (tx: SqlExecutor) => {
        await tx.query('UPDATE ledger SET balance = balance - $2 WHERE id = $1', [src, amount], {
          queryClass: 'write',
        });
        // Give the opposite transfer time to take its first lock.
        await tx.query('SELECT pg_sleep(0.02)');
        await tx.query('UPDATE ledger SET balance = balance + $2 WHERE id = $1', [dst, amount], {
          queryClass: 'write',
        });
        await tx.query('INSERT INTO transfers (src, dst, amount) VALUES ($1, $2, $3)', [src, dst, amount], {
          queryClass: 'write',
        });
      },
      { isolation, name: 'test.transfer' },
    );

  it('retries them; every transfer applied once or reported 503, and the money adds up', async () => {
    const transferArb = fc
      .record({ src: fc.nat(ACCOUNTS - 1), dst: fc.nat(ACCOUNTS - 1), amount: fc.integer({ min: 1, max: 50 }) })
      .filter(({ src, dst }) => src !== dst);
    await fc.assert(
      fc.asyncProperty(
        fc.array(transferArb, { minLength: 6, maxLength: 12 }),
        fc.constantFrom<'read committed' | 'serializable'>('read committed', 'serializable'),
        async (batch, isolation) => {
          await sql.query('TRUNCATE ledger, transfers', [], { queryClass: 'admin' });
          await sql.query('INSERT INTO ledger SELECT i, $1 FROM generate_series(0, $2) i', [INITIAL, ACCOUNTS - 1], {
            queryClass: 'write',
          });
          const outcomes = await Promise.allSettled(batch.map((x) => transfer(x.src, x.dst, x.amount, isolation)));
          // Whatever still failed after the retries is a 503 to a caller, never a 500.
          for (const outcome of outcomes) {
            if (outcome.status === 'rejected') {
              const problem = toProblem(outcome.reason, { id: 'r', url: '/x', method: 'POST' });
              expect(problem.body.status).toBe(503);
              expect(problem.headers['retry-after']).toMatch(/^\d+$/);
            }
          }
          const applied = batch.filter((_, i) => outcomes[i].status === 'fulfilled');
          const expected = Array.from({ length: ACCOUNTS }, () => INITIAL);
          for (const x of applied) {
            expected[x.src] -= x.amount;
            expected[x.dst] += x.amount;
          }
          const ledger = await sql.query<{ id: number; balance: number }>('SELECT id, balance FROM ledger ORDER BY id');
          expect(ledger.map((r) => r.balance)).toEqual(expected);
          const [{ n }] = await sql.query<{ n: number }>('SELECT count(*)::int AS n FROM transfers');
          expect(n).toBe(applied.length); // each applied exactly once
        },
      ),
      { numRuns: 5 },
    );
    // The contention was real: the seam did retry.
    expect(retried).toBeGreaterThan(0);
    process.stdout.write(`[fault] deadlocks/serialization: ${retried} transactions retried by the seam\n`);
  });
});
