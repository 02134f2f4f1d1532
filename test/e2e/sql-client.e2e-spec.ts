import type { Pool } from 'pg';
import { loadConfig } from '../../src/config/config.schemas';
import { createPool } from '../../src/platform/adapters/database/data-source.factory';
import { isForeignKeyViolation } from '../../src/platform/adapters/failures/pg.errors';
import { SqlClient, isIdempotent } from '../../src/platform/adapters/database/sql.client';
import { classifyFailure } from '../../src/platform/adapters/failures/failure.classifier';
import { Deadline, DeadlineExceededError } from '../../src/platform/kernel/resilience/deadline.policy';
import { MetricsService } from '../../src/platform/kernel/metrics/metrics.service';
import { parseMetrics } from '../support/metrics.support';
import { createTestDatabase, type TestDatabase } from '../support/test-database.support';

/** Another transaction takes row 1's lock and holds it until `release()`; resolves once it is held. */
async function holdRowLock(sql: SqlClient): Promise<{ release: () => void; holder: Promise<void> }> {
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  let locked!: () => void;
  const isLocked = new Promise<void>((resolve) => (locked = resolve));
  const holder = sql.transaction(async (tx) => {
    await tx.query('SELECT n FROM seam_probe WHERE id = 1 FOR UPDATE', [], { queryClass: 'lock' });
    locked();
    await held;
  });
  await isLocked;
  return { release, holder };
}

describe('the SQL seam (SqlClient) on real Postgres', () => {
  let db: TestDatabase;
  let pool: Pool;
  let sql: SqlClient;
  let metrics: MetricsService;

  beforeAll(async () => {
    db = await createTestDatabase();
    const config = loadConfig({
      NODE_ENV: 'test',
      DATABASE_URL: db.url,
      DB_STATEMENT_TIMEOUT_MS: '4000',
      DB_LOCK_TIMEOUT_MS: '700',
      DB_REPORT_STATEMENT_TIMEOUT_MS: '90000',
    });
    pool = createPool(config, undefined, 'request', { max: 3 });
    metrics = new MetricsService();
    sql = new SqlClient(pool, config, metrics);
    await sql.query('CREATE TABLE seam_probe (id int PRIMARY KEY, n int NOT NULL)', [], { queryClass: 'admin' });
    await sql.query('INSERT INTO seam_probe VALUES (1, 0)', [], { queryClass: 'write' });
  });
  afterAll(async () => {
    await pool.end();
    await db.drop();
  });

  it('returns rows of a parameterized statement', async () => {
    await expect(sql.query<{ n: number }>('SELECT n FROM seam_probe WHERE id = $1', [1])).resolves.toEqual([{ n: 0 }]);
  });

  it('commits a transaction that resolves and rolls back one that throws', async () => {
    await sql.transaction(async (tx) => {
      await tx.query('UPDATE seam_probe SET n = n + 1 WHERE id = 1', [], { queryClass: 'write' });
    });
    const failure = new Error('domain rule broken');
    await expect(
      sql.transaction(async (tx) => {
        await tx.query('UPDATE seam_probe SET n = n + 100 WHERE id = 1', [], { queryClass: 'write' });
        throw failure;
      }),
    ).rejects.toBe(failure);
    await expect(sql.query('SELECT n FROM seam_probe WHERE id = 1')).resolves.toEqual([{ n: 1 }]);
  });

  it('serializes concurrent read-modify-write transactions with SELECT ... FOR UPDATE', async () => {
    const [{ n: before }] = await sql.query<{ n: number }>('SELECT n FROM seam_probe WHERE id = 1');
    const increment = () =>
      sql.transaction(
        async (tx) => {
          const [row] = await tx.query<{ n: number }>('SELECT n FROM seam_probe WHERE id = 1 FOR UPDATE', [], {
            queryClass: 'lock',
          });
          await tx.query('UPDATE seam_probe SET n = $1 WHERE id = 1', [row.n + 1], { queryClass: 'write' });
        },
        { lockTimeoutMs: 5_000 },
      );
    await Promise.all(Array.from({ length: 6 }, increment));
    await expect(sql.query('SELECT n FROM seam_probe WHERE id = 1')).resolves.toEqual([{ n: before + 6 }]);
  });

  it('applies lock_timeout with SET LOCAL: a blocked row lock fails with 55P03, and the setting does not leak', async () => {
    const { release, holder } = await holdRowLock(sql);
    await expect(
      sql.transaction((tx) => tx.query('SELECT n FROM seam_probe WHERE id = 1 FOR UPDATE'), { lockTimeoutMs: 50 }),
    ).rejects.toMatchObject({ code: '55P03' });
    release();
    await holder;
    // Every pooled connection still has the configured session default.
    const settings = await Promise.all(
      Array.from({ length: 3 }, () => sql.query<{ lock_timeout: string }>('SHOW lock_timeout')),
    );
    for (const [row] of settings) expect(row.lock_timeout).not.toBe('50ms');
  });

  it('does not start a statement once the signal has aborted (504 DEADLINE_EXCEEDED)', async () => {
    const controller = new AbortController();
    controller.abort(new Error('deadline passed'));
    await expect(sql.query('SELECT 1', [], { signal: controller.signal })).rejects.toBeInstanceOf(
      DeadlineExceededError,
    );
    await expect(sql.transaction(async () => 1, { signal: controller.signal })).rejects.toBeInstanceOf(
      DeadlineExceededError,
    );
  });

  it('cancels a running statement on the server when the deadline fires (F12)', async () => {
    const deadline = Deadline.after(300);
    const started = performance.now();
    const error = await sql
      .query("SELECT pg_sleep(5), 'deadline-probe'", [], { signal: deadline.signal })
      .catch((e: unknown) => e);
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(error).toMatchObject({ code: '57014' }); // query_canceled
    expect(classifyFailure(error)).toMatchObject({ kind: 'timeout' }); // → 504 DEADLINE_EXCEEDED
    const running = await db.query(
      "SELECT pid FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%deadline-probe%' AND pid <> pg_backend_pid()",
    );
    expect(running).toEqual([]);
  });

  it("caps a transaction's statement timeout at what is left of its deadline", async () => {
    const [settings] = await sql.transaction(
      (tx) =>
        tx.query<{ statement_timeout: string; lock_timeout: string }>(
          "SELECT current_setting('statement_timeout') AS statement_timeout, current_setting('lock_timeout') AS lock_timeout",
        ),
      { statementTimeoutMs: 60_000, lockTimeoutMs: 30_000, deadline: Deadline.after(800) },
    );
    expect(parseInt(settings.statement_timeout, 10)).toBeLessThanOrEqual(800);
    expect(settings.lock_timeout).toBe('30s'); // contention keeps its own limit (503), the deadline is 504
    const error = await sql
      .transaction((tx) => tx.query('SELECT pg_sleep(5)'), { deadline: Deadline.after(300) })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: '57014' });
  });

  it('treats reads as repeatable and writes as not, unless a statement says otherwise', () => {
    expect(isIdempotent({})).toBe(true);
    expect(isIdempotent({ queryClass: 'lock' })).toBe(false);
    expect(isIdempotent({ queryClass: 'write' })).toBe(false);
    expect(isIdempotent({ queryClass: 'write', idempotent: true })).toBe(true);
    expect(isIdempotent({ queryClass: 'read', idempotent: false })).toBe(false);
  });

  it('gives each query class its timeouts with the unit of work, none of them outliving it on the connection', async () => {
    const show = (executor: { query: SqlClient['query'] }, options = {}) =>
      executor.query<{ s: string; l: string }>(
        "SELECT current_setting('statement_timeout') AS s, current_setting('lock_timeout') AS l",
        [],
        options,
      );
    // A plain statement runs under its class's limits: the session's defaults, or carried in its own round trip.
    await expect(show(sql)).resolves.toEqual([{ s: '4s', l: '700ms' }]);
    await expect(show(sql, { queryClass: 'write', idempotent: true })).resolves.toEqual([{ s: '4s', l: '700ms' }]);
    // A report statement gets the long limit the same way (a worker's long query).
    await expect(show(sql, { queryClass: 'report' })).resolves.toEqual([{ s: '90s', l: '700ms' }]);
    await expect(sql.transaction((tx) => show(tx), { queryClass: 'lock' })).resolves.toEqual([{ s: '4s', l: '700ms' }]);
    // A deadline shortens the transaction's statement timeout to the time left.
    const [{ s }] = await sql.transaction((tx) => show(tx), { deadline: Date.now() + 1_500 });
    expect(parseInt(s, 10)).toBeLessThanOrEqual(1_500);
    // Nothing a unit of work set outlives it: on the bare connection (Postgres itself, not a pooler),
    // the session holds the seam's defaults, not the report's 90 s nor the deadline's 1.5 s. (Through a
    // pooler nothing is set on the session at all: test/fleet/fleet.fleet-spec.ts.)
    const bare = await sql.pool.connect();
    try {
      const { rows } = await bare.query(
        "SELECT current_setting('statement_timeout') AS s, current_setting('lock_timeout') AS l",
      );
      expect(rows).toEqual([{ s: '4s', l: '700ms' }]);
    } finally {
      bare.release();
    }
  });

  it('sends a statement alone when its limits are the session defaults, with them in front under a shorter deadline', async () => {
    const client = await pool.connect();
    // Every Parse the connection writes: what the server is asked to run.
    const connection = (client as unknown as { connection: { parse(message: { text: string }): void } }).connection;
    const parse = connection.parse.bind(connection);
    const parsed: string[] = [];
    connection.parse = (message) => {
      parsed.push(message.text);
      parse(message);
    };
    client.release();
    try {
      const show = (options = {}) =>
        sql.query<{ s: string }>("SELECT current_setting('statement_timeout') AS s, 'limits-probe'", [], options);
      // The pool has one free connection left to hand out first: this one (max 3, the others idle too).
      // Run until the wrapped connection served each case.
      const served = async (options: object) => {
        for (let i = 0; i < 10; i++) {
          parsed.length = 0;
          const rows = await show(options);
          if (parsed.length > 0) return rows;
        }
        throw new Error('the wrapped connection was never used');
      };
      await expect(served({})).resolves.toEqual([{ s: '4s', '?column?': 'limits-probe' }]);
      expect(parsed).toEqual([expect.stringContaining('limits-probe')]);
      const [{ s }] = await served({ deadline: Date.now() + 1_500 });
      expect(parseInt(s, 10)).toBeLessThanOrEqual(1_500);
      expect(parsed).toEqual([
        expect.stringContaining("set_config('statement_timeout'"),
        expect.stringContaining('limits-probe'),
      ]);
      // The shorter limit ended with its statement.
      await expect(served({})).resolves.toEqual([{ s: '4s', '?column?': 'limits-probe' }]);
    } finally {
      connection.parse = parse;
    }
  });

  it('ends a plain read at its statement timeout on the server: 57014, the statement gone, the connection usable', async () => {
    const config = loadConfig({ NODE_ENV: 'test', DATABASE_URL: db.url, DB_STATEMENT_TIMEOUT_MS: '300' });
    const short = createPool(config, undefined, 'request', { max: 1 });
    try {
      const seam = new SqlClient(short, config, new MetricsService());
      const startedAt = Date.now();
      const error = await seam.query("SELECT pg_sleep(5), 'seam-cancel-probe'").catch((e: unknown) => e);
      const tookMs = Date.now() - startedAt;
      expect(error).toMatchObject({ code: '57014' });
      expect(tookMs).toBeLessThan(2_500); // the 5 s sleep did not run out
      const running = await db.query(
        "SELECT pid FROM pg_stat_activity WHERE query LIKE '%seam-cancel-probe%' AND state = 'active' AND pid <> pg_backend_pid()",
      );
      expect(running).toEqual([]);
      // The connection is usable afterwards: the cancel did not outlive its statement.
      await expect(seam.query('SELECT 1 AS one')).resolves.toEqual([{ one: 1 }]);
    } finally {
      await short.end();
    }
  });

  it('retries a lock timeout, but never past the deadline: an attempt that cannot finish in time is not started', async () => {
    let retries = 0;
    sql.setObserver({ retried: () => retries++ });
    const { release, holder } = await holdRowLock(sql);
    const blocked = (options: { deadline?: number }) =>
      sql.transaction((tx) => tx.query('SELECT n FROM seam_probe WHERE id = 1 FOR UPDATE'), {
        lockTimeoutMs: 100,
        ...options,
      });
    try {
      // No deadline: 55P03 is transient, the whole transaction runs 3 times.
      await expect(blocked({})).rejects.toMatchObject({ code: '55P03' });
      expect(retries).toBe(2);
      // 150 ms left after a 100 ms attempt is not enough for another: surfaced after one.
      const started = Date.now();
      await expect(blocked({ deadline: Date.now() + 150 })).rejects.toMatchObject({ code: '55P03' });
      expect(retries).toBe(2);
      expect(Date.now() - started).toBeLessThan(300);
    } finally {
      release();
      await holder;
      sql.setObserver(undefined);
    }
  });

  it('counts every failed statement, in or out of a transaction, by SQLSTATE class (F4)', async () => {
    const errors = async (sqlClass: string) =>
      parseMetrics(await metrics.render()).value('db_client_errors_total', { sqlstate_class: sqlClass }) ?? 0;
    const [syntax, integrity] = [await errors('42'), await errors('23')];
    await expect(sql.query('SELECT * FROM no_such_table')).rejects.toMatchObject({ code: '42P01' });
    await expect(
      sql.transaction((tx) => tx.query('INSERT INTO seam_probe VALUES (1, 0)', [], { queryClass: 'write' })),
    ).rejects.toMatchObject({ code: '23505' });
    expect(await errors('42')).toBe(syntax + 1);
    expect(await errors('23')).toBe(integrity + 1);
    // Aborted before it ran: no statement failed, nothing is counted.
    const before = parseMetrics(await metrics.render()).find('db_client_errors_total');
    await expect(sql.query('SELECT 1', [], { signal: AbortSignal.abort() })).rejects.toThrow();
    expect(parseMetrics(await metrics.render()).find('db_client_errors_total')).toEqual(before);
  });

  it('surfaces a foreign-key violation once, unretried, with the constraint a repository maps to 404/409', async () => {
    await sql.query('CREATE TABLE fk_parent (id int PRIMARY KEY)', [], { queryClass: 'admin' });
    await sql.query('CREATE TABLE fk_child (parent_id int NOT NULL REFERENCES fk_parent (id))', [], {
      queryClass: 'admin',
    });
    const missing = await sql
      .query('INSERT INTO fk_child VALUES (42)', [], { queryClass: 'write', idempotent: true })
      .catch((error: unknown) => error);
    expect(isForeignKeyViolation(missing, 'fk_child_parent_id_fkey')).toBe(true);
    expect(isForeignKeyViolation(missing, 'another_fkey')).toBe(false);
    expect(isForeignKeyViolation(new Error('x'))).toBe(false);
  });
});
