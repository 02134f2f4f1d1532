import { Client } from 'pg';
import { startFleet, type Fleet } from '../support/fleet.support';
import { freePort, pollUntil } from '../support/poll.support';

/**
 * The fleet's shared pooler and its lifecycle: a boot while another instance holds the migration
 * lock, a rolling restart under keep-alive load, a saturated PgBouncer. A small pooler
 * (3 server connections, `query_wait_timeout` 1 s) so that saturation is easy to reach.
 */
const MIGRATION_LOCK_KEY = 7_301_925_518; // src/platform/adapters/database/database.bootstrap.ts

describe('the fleet’s pooler, boots and rollouts', () => {
  let fleet: Fleet;

  beforeAll(async () => {
    fleet = await startFleet({
      workers: 0,
      poolerPoolSize: 3,
      poolerQueryWaitTimeoutS: 1,
      env: { SHUTDOWN_DRAIN_MS: '300', DB_ACQUIRE_TIMEOUT_MS: '3000' },
    });
  }, 120_000);
  afterAll(() => fleet?.stop(), 60_000);

  it('a boot while another instance holds the migration lock waits (not ready), then serves; no lock is left behind', async () => {
    const holder = new Client({ connectionString: fleet.directUrl });
    await holder.connect();
    let api: Awaited<ReturnType<Fleet['startApi']>> | undefined;
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
      const port = await freePort();
      api = await fleet.startApi('api-late', port, { DB_MIGRATION_LOCK_TIMEOUT_MS: '60000' }, { waitReady: false });
      const late = api;
      // It waits for the lock on Postgres itself (DATABASE_MIGRATION_URL), visible in pg_locks.
      await pollUntil(
        async () =>
          (
            await fleet.db.query<{ n: number }>(
              `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`,
            )
          )[0].n === 1,
        { timeoutMs: 20_000, what: 'the booting instance to wait for the migration lock' },
      );
      expect(
        await fetch(`${late.url}/health/ready`).then(
          (r) => r.status,
          () => 'not listening',
        ),
      ).toBe('not listening');
      const releasedAt = Date.now();
      await holder.query('COMMIT');
      await pollUntil(async () => (await fetch(`${late.url}/health/ready`).catch(() => undefined))?.status === 200, {
        timeoutMs: 20_000,
        what: 'the late instance to be ready once the lock is free',
      });
      console.log(`[fleet timing] migration lock released → late instance ready: ${Date.now() - releasedAt} ms`);
      // Transaction-scoped: nothing of it outlives the boot.
      await expect(fleet.db.query(`SELECT locktype FROM pg_locks WHERE locktype = 'advisory'`)).resolves.toEqual([]);
    } finally {
      await holder.query('ROLLBACK').catch(() => undefined);
      await holder.end();
      api?.proc.kill('SIGTERM');
      await api?.proc.exited(15_000).catch(() => api?.proc.kill('SIGKILL'));
    }
  }, 60_000);

  it('a rolling restart under keep-alive load: zero failed requests', async () => {
    let requests = 0;
    const failures: string[] = [];
    let running = true;
    const loop = async () => {
      while (running) {
        requests++;
        const res = await fetch(`${fleet.balancer.url}/v1/products?limit=5`).catch((e: unknown) => e as Error);
        if (res instanceof Error) failures.push(res.message);
        else {
          const text = await res.text();
          if (res.status !== 200) failures.push(`${res.status} ${text.slice(0, 120)}`);
        }
      }
    };
    const loops = Array.from({ length: 8 }, loop);
    const startedAt = Date.now();
    try {
      await pollUntil(() => requests > 100, { timeoutMs: 10_000, what: 'load to run' });
      for (const [i, api] of [...fleet.apis].entries()) {
        api.proc.kill('SIGTERM');
        await api.proc.exited(20_000);
        const restarted = (fleet.apis[i] = await fleet.startApi(api.name, api.port));
        // The rollout's gate: the balancer sends to it again (nginx's passive check lets it back in after
        // fail_timeout, 5 s) before the next instance goes down; otherwise both are marked failed at once.
        // (A request through nginx carries nginx's $request_id: 32 hex digits.)
        await pollUntil(() => restarted.lines().some((l) => /^[0-9a-f]{32}$/.test(String(l.requestId))), {
          timeoutMs: 15_000,
          what: `${api.name} to be served through the balancer again`,
        });
      }
    } finally {
      running = false;
      await Promise.all(loops);
    }
    const seconds = (Date.now() - startedAt) / 1000;
    console.log(
      `[fleet rollout] rolling restart of 2 APIs under 8 keep-alive loops: ${requests} requests in ${seconds.toFixed(1)} s, ${failures.length} failed`,
    );
    if (failures.length > 0)
      console.log(
        `[fleet rollout] nginx error log:\n${fleet.balancer
          .errorLog()
          .split('\n')
          .filter((l) => !l.includes('no live upstreams'))
          .slice(0, 30)
          .join('\n')}`,
      );
    expect({ failed: failures.length, first: failures.slice(0, 5) }).toEqual({ failed: 0, first: [] });
  }, 120_000);

  it('a saturated pooler answers 503 with Retry-After within about query_wait_timeout, not after the client’s timeout', async () => {
    // Every server connection of the pool (3) held by transactions that stay open.
    const holders = await Promise.all(
      Array.from({ length: 3 }, async () => {
        const c = new Client({ connectionString: fleet.poolerUrl });
        c.on('error', () => undefined);
        await c.connect();
        await c.query('BEGIN');
        await c.query('SELECT 1');
        return c;
      }),
    );
    try {
      const startedAt = performance.now();
      const res = await fetch(`${fleet.balancer.url}/v1/products?limit=2`);
      const ms = Math.round(performance.now() - startedAt);
      const text = await res.text();
      const body = (text.startsWith('{') ? JSON.parse(text) : { code: text.slice(0, 200) }) as { code: string };
      console.log(
        `[fleet timing] saturated PgBouncer (query_wait_timeout 1 s) → ${res.status} ${body.code} in ${ms} ms`,
      );
      expect(res.status).toBe(503);
      expect(body.code).toBe('DEPENDENCY_UNAVAILABLE');
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      // 1 s in PgBouncer's queue, not retried (a retry would queue again); generous for a loaded machine.
      expect(ms).toBeLessThan(4_000);
    } finally {
      await Promise.all(
        holders.map((c) =>
          c
            .query('ROLLBACK')
            .then(() => c.end())
            .catch(() => undefined),
        ),
      );
    }
    // Freed: served again.
    await pollUntil(async () => (await fetch(`${fleet.balancer.url}/v1/products?limit=2`)).status === 200, {
      timeoutMs: 10_000,
      what: 'the fleet to serve again',
    });
  });

  it('readiness tells a busy pooler (200, "pool busy") from an unreachable database (503)', async () => {
    let running = true;
    // Hogs: each holds one of the pooler's 3 server connections for 0.7 s at a time, so the apps'
    // statements (and their readiness probes, 500 ms) wait in PgBouncer's queue, while some get through.
    const hog = async () => {
      const c = new Client({ connectionString: fleet.poolerUrl });
      c.on('error', () => undefined);
      await c.connect();
      while (running) await c.query('SELECT pg_sleep(0.7)').catch(() => undefined);
      await c.end().catch(() => undefined);
    };
    let served = 0;
    const load = async () => {
      while (running) {
        const res = await fetch(`${fleet.balancer.url}/v1/products?limit=5`).catch(() => undefined);
        await res?.arrayBuffer();
        if (res?.status === 200) served++;
      }
    };
    const workers = [...Array.from({ length: 3 }, hog), ...Array.from({ length: 6 }, load)];
    const seen: string[] = [];
    try {
      await pollUntil(
        async () => {
          for (const api of fleet.apis) {
            const res = await fetch(`${api.url}/health/ready`);
            const body = (await res.json()) as { status?: string; checks?: Record<string, { reason?: string }> };
            seen.push(`${res.status} ${body.checks?.postgres?.reason ?? body.status}`);
          }
          return seen.some((s) => s === '200 pool busy');
        },
        // Generous: on a loaded CI machine the hogs and the load take a while to fill PgBouncer's queue
        // (a fresh-clone run once saw no "pool busy" within 20 s); each probe is still one request.
        { timeoutMs: 60_000, intervalMs: 300, what: 'a readiness answer of "pool busy"' },
      );
    } finally {
      running = false;
      await Promise.all(workers);
    }
    console.log(`[fleet] readiness while PgBouncer's queue was full (${served} requests served): ${seen.join(', ')}`);
    // Busy is never "down": no instance left the balancer.
    expect(seen.filter((s) => !s.startsWith('200'))).toEqual([]);

    // The pooler gone (the database unreachable for the apps): every instance leaves, within seconds.
    fleet.pooler.proc.kill('SIGKILL');
    await fleet.pooler.proc.exited(5_000);
    const downAt = Date.now();
    await pollUntil(
      async () => {
        const statuses = await Promise.all(
          fleet.apis.map((api) => fetch(`${api.url}/health/ready`).then((r) => r.status)),
        );
        return statuses.every((status) => status === 503);
      },
      { timeoutMs: 10_000, intervalMs: 100, what: 'readiness 503 on every instance' },
    );
    console.log(`[fleet timing] pooler down → readiness 503 on both instances: ${Date.now() - downAt} ms`);
  }, 120_000);
});
