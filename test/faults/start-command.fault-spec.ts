import { randomUUID } from 'node:crypto';
import { HttpClient } from '../support/http-client.support';
import { freePort, pollUntil, refusingPort } from '../support/poll.support';
import { runNode, type RunningProcess } from '../support/process.support';
import { deleteRedisKeys, testKeyPrefix } from '../support/redis-keys.support';
import { createTestDatabase, testDatabaseName, withClient } from '../support/test-database.support';
import { loadConfig } from '../../src/config/config.schemas';
import { DEMO_PRODUCTS } from '../../src/products/products.fixtures';
import { seedDemoCatalogIfEmpty } from '../../src/products/demo-catalog.bootstrap';
import pino from 'pino';
import { ADMIN_DATABASE_URL, REDIS_URL, TEMPLATE_DATABASE, databaseUrl } from '../support/test-env.support';
import { signUpWithToken } from '../support/worker.support';

/**
 * `npm start` in development (issue 20, item 1): the API, the worker and the fake provider from one
 * command, as real processes. Runs the orchestrator `npm start` ends in (dist/start.command.js; the
 * build step in front of it, scripts/start.mjs, is not run here: it would rebuild the dist/ other
 * test files are running).
 */

const START = 'dist/start.command.js';

interface Stack {
  run: RunningProcess;
  http: HttpClient;
  ports: { api: number; worker: number; payments: number };
  /** The members' pids, from the orchestrator's `started …` line. */
  pids: Record<string, number>;
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Spare ports for the three members, and the environment `npm start` reads them and its stores from. */
async function stackEnv(database: string, prefix: string) {
  const ports = { api: await freePort(), worker: await freePort(), payments: await freePort() };
  const env = {
    DATABASE_URL: databaseUrl(database),
    REDIS_URL,
    REDIS_KEY_PREFIX: prefix,
    PORT: String(ports.api),
    WORKER_PORT: String(ports.worker),
    FAKE_PAYMENTS_PORT: String(ports.payments),
  };
  return { ports, env };
}

async function startStack(database: string, prefix: string, extra: Record<string, string> = {}): Promise<Stack> {
  const { ports, env } = await stackEnv(database, prefix);
  // As a newcomer runs it: NODE_ENV unset (development), no PAYMENTS_BASE_URL (derived from the provider's port).
  const run = runNode(START, { ...env, ...extra });
  const ready = await pollUntil(
    () => {
      if (run.proc.exitCode !== null) throw new Error(`npm start exited ${run.proc.exitCode}:\n${run.stderr()}`);
      return /^start +\| ready: .*$/m.test(run.stderr()) && run.stderr();
    },
    { timeoutMs: 60_000, intervalMs: 100, what: 'npm start to say the three are ready' },
  ).catch((error: Error) => {
    run.kill('SIGKILL');
    throw error;
  });
  const started = /started (.*)$/m.exec(ready)![1];
  const pids = Object.fromEntries(
    [...started.matchAll(/(\w+) \(pid (\d+)\)/g)].map(([, name, pid]) => [name, Number(pid)]),
  );
  return { run, http: new HttpClient(`http://127.0.0.1:${ports.api}`), ports, pids };
}

describe('npm start in development: the whole sample from one command (issue 20, item 1)', () => {
  const databases: string[] = [];
  const prefixes: string[] = [];
  const stacks: Stack[] = [];

  const newStack = async (env: Record<string, string> = {}) => {
    const database = testDatabaseName();
    const prefix = testKeyPrefix('start-');
    databases.push(database);
    prefixes.push(prefix);
    const stack = await startStack(database, prefix, env);
    stacks.push(stack);
    return { ...stack, database };
  };

  afterAll(async () => {
    for (const stack of stacks) {
      stack.run.kill('SIGKILL');
      for (const pid of Object.values(stack.pids)) if (alive(pid)) process.kill(pid, 'SIGKILL');
    }
    await withClient(ADMIN_DATABASE_URL, async (admin) => {
      for (const name of databases) await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    });
    for (const prefix of prefixes) await deleteRedisKeys(prefix);
  });

  it('creates and seeds the database, serves an order paid through the fake provider and a completed report; SIGINT stops all three with exit 0 and no process left', async () => {
    const { run, http, ports, pids, database } = await newStack();
    expect(Object.keys(pids).sort()).toEqual(['api', 'payments', 'worker']);
    // Each member's lines carry its prefix; the database was created and the catalog seeded on this first start.
    expect(run.stdout()).toMatch(/^start +\| \{.*"msg":"created missing database/m);
    expect(run.stdout()).toMatch(/^start +\| \{.*"inserted":\d+,"msg":"demo catalog seeded on first start/m);
    expect(run.stdout()).toMatch(/^api +\| \{.*"msg":"listening"/m);
    expect(run.stdout()).toMatch(/^worker +\| \{.*"msg":"worker listening"/m);
    expect(run.stdout()).toMatch(/^payments +\| \{.*"msg":"fake payments provider listening"/m);

    const owner = await signUpWithToken(http);
    const catalog = await http.get('/v1/products?limit=100');
    const product = (catalog.body.items as { id: string; status: string; stock: number }[]).find(
      (p) => p.status === 'active' && p.stock > 0,
    );
    expect(product).toBeDefined();
    const order = await http.post(
      '/v1/orders',
      { items: [{ productId: product!.id, quantity: 1 }], paymentToken: 'tok_ok' },
      { token: owner.token, headers: { 'idempotency-key': randomUUID() } },
    );
    expect({ status: order.status, orderStatus: order.body.status }).toEqual({ status: 201, orderStatus: 'paid' });
    // The charge reached the provider npm start runs, on FAKE_PAYMENTS_PORT (no PAYMENTS_BASE_URL was set).
    const charges = await fetch(`http://127.0.0.1:${ports.payments}/__admin/charges?reference=${order.body.id}`);
    expect(((await charges.json()) as { charges: unknown[] }).charges).toHaveLength(1);

    const today = new Date().toISOString().slice(0, 10);
    const report = await http.post(
      '/v1/reports',
      { type: 'sales-summary', from: today, to: today },
      { token: owner.token },
    );
    expect(report.status).toBe(202);
    const done = await pollUntil(
      async () => {
        const res = await http.get(`/v1/reports/${report.body.id}`, { token: owner.token });
        return ['completed', 'failed'].includes(res.body.status) && res.body;
      },
      { timeoutMs: 30_000, intervalMs: 100, what: 'the report to be built by the worker' },
    );
    expect(done).toMatchObject({ status: 'completed', result: { orders: 1 } });

    // One Ctrl-C: each member runs its own graceful shutdown, then npm start exits 0.
    run.proc.kill('SIGINT');
    expect(await run.exited(45_000)).toBe(0);
    expect(run.stdout()).toMatch(/^api +\| \{.*"msg":"shutdown complete"/m);
    expect(run.stdout()).toMatch(/^worker +\| \{.*"msg":"worker shutdown complete"/m);
    expect(run.stdout()).toMatch(/^payments +\| \{.*"msg":"fake payments provider stopping"/m);
    expect(run.stderr()).toMatch(/^start +\| SIGINT: stopping api, worker, payments$/m);
    expect(run.stderr()).toMatch(/^start +\| all stopped$/m);
    expect(Object.values(pids).filter(alive)).toEqual([]);
    // Nothing listens any more.
    for (const port of Object.values(ports)) {
      await expect(fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(2_000) })).rejects.toThrow();
    }

    // A second start finds the catalog and does not seed it again.
    const again = await startStack(database, prefixes[0]);
    stacks.push(again);
    expect(again.run.stdout()).not.toContain('demo catalog seeded');
    again.run.proc.kill('SIGTERM');
    expect(await again.run.exited(45_000)).toBe(0);
    expect(Object.values(again.pids).filter(alive)).toEqual([]);
  }, 180_000);

  it('stops the others and exits 1, naming the member, when one of them crashes', async () => {
    const { run, pids } = await newStack();
    process.kill(pids.payments, 'SIGKILL');
    expect(await run.exited(45_000)).toBe(1);
    expect(run.stderr()).toMatch(/^start +\| payments exited unexpectedly \(SIGKILL\): stopping api, worker$/m);
    expect(run.stdout()).toMatch(/^api +\| \{.*"msg":"shutdown complete"/m);
    expect(Object.values(pids).filter(alive)).toEqual([]);
  }, 120_000);

  it('stops its members when it is killed without a chance to stop them (no orphans)', async () => {
    const { run, pids } = await newStack();
    run.proc.kill('SIGKILL');
    await pollUntil(() => Object.values(pids).every((pid) => !alive(pid)), {
      timeoutMs: 45_000,
      intervalMs: 100,
      what: 'the members to stop after their supervisor died',
    });
  }, 120_000);
});

describe('the demo catalog on first start', () => {
  it('is loaded once when several processes start together on an empty catalog, and never over an existing one', async () => {
    const db = await createTestDatabase();
    const prefix = testKeyPrefix('seed-');
    try {
      const config = loadConfig({ NODE_ENV: 'test', DATABASE_URL: db.url, REDIS_URL, REDIS_KEY_PREFIX: prefix });
      const logger = pino({ level: 'silent' });
      const seeded = await Promise.all([1, 2, 3, 4].map(() => seedDemoCatalogIfEmpty(config, logger)));
      expect(seeded.filter(Boolean)).toHaveLength(1);
      const [{ n }] = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM products');
      expect(n).toBe(DEMO_PRODUCTS.length);
      // A catalog someone changed is left as it is.
      await db.query("UPDATE products SET name = 'renamed' WHERE sku = $1", [DEMO_PRODUCTS[0].sku]);
      expect(await seedDemoCatalogIfEmpty(config, logger)).toBe(false);
      expect(await db.query('SELECT name FROM products WHERE sku = $1', [DEMO_PRODUCTS[0].sku])).toEqual([
        { name: 'renamed' },
      ]);
    } finally {
      await db.drop();
      await deleteRedisKeys(prefix);
    }
  });
});

describe('npm start when Postgres or Redis is not there (development): one line, not a retry loop', () => {
  const databases: string[] = [];
  afterAll(() =>
    withClient(ADMIN_DATABASE_URL, async (admin) => {
      for (const name of databases) await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    }),
  );

  const start = async (env: Record<string, string>, script = START) => {
    const database = testDatabaseName();
    databases.push(database);
    const run = runNode(script, {
      NODE_ENV: 'development',
      DATABASE_URL: databaseUrl(database),
      REDIS_URL,
      PORT: String(await freePort()),
      WORKER_PORT: String(await freePort()),
      FAKE_PAYMENTS_PORT: String(await freePort()),
      ...env,
    });
    const startedAt = Date.now();
    const code = await run.exited(15_000);
    return { code, seconds: (Date.now() - startedAt) / 1000, stderr: run.stderr(), stdout: run.stdout() };
  };

  it('says Postgres is missing and how to start it, in one line, and exits 1 within seconds', async () => {
    const port = await refusingPort();
    const result = await start({ DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/resilient_api` });
    expect(result.code).toBe(1);
    expect(result.seconds).toBeLessThan(10);
    expect(result.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(
        new RegExp(
          `^npm start: Postgres is not reachable at 127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\): start it with \`.+\` or \`docker compose up -d postgres redis\`, then run npm start again\\.$`,
        ),
      ),
    ]);
    expect(result.stdout).not.toContain('retrying');
    expect(result.stdout).not.toMatch(/^(api|worker|payments) +\|/m);
  });

  it('says Redis is missing and how to start it, in one line, and exits 1 within seconds', async () => {
    const port = await refusingPort();
    const result = await start({ REDIS_URL: `redis://127.0.0.1:${port}` });
    expect(result.code).toBe(1);
    expect(result.seconds).toBeLessThan(10);
    expect(result.stderr.trim().split('\n')).toEqual([
      `npm start: Redis is not reachable at 127.0.0.1:${port} (ECONNREFUSED): start it with \`redis-server --daemonize yes --port ${port}\` or \`docker compose up -d postgres redis\`, then run npm start again.`,
    ]);
    expect(result.stdout).not.toMatch(/^(api|worker|payments) +\|/m);
  });

  it.each([
    ['the API', 'dist/main.js', 'resilient-api cannot start', 'Postgres', 'DATABASE_URL'],
    ['the worker', 'dist/worker.js', 'resilient-api worker cannot start', 'Redis', 'REDIS_URL'],
  ])(
    '%s started alone says the same in one stderr line instead of retrying',
    async (_name, script, prefix, dependency, variable) => {
      const port = await refusingPort();
      const url = dependency === 'Postgres' ? `postgres://postgres@127.0.0.1:${port}/x` : `redis://127.0.0.1:${port}`;
      const result = await start({ [variable]: url }, script);
      expect(result.code).toBe(1);
      expect(result.seconds).toBeLessThan(10);
      expect(result.stderr.trim().split('\n')).toEqual([
        expect.stringMatching(
          new RegExp(`^${prefix}: ${dependency} is not reachable at 127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\)`),
        ),
      ]);
      expect(result.stdout).not.toContain('retrying');
    },
  );
});

describe('npm start in production: the API alone, as the image runs it', () => {
  it('serves the API on PORT, starts neither the worker nor the provider, and stops on SIGTERM with exit 0', async () => {
    const prefix = testKeyPrefix('start-prod-');
    const database = testDatabaseName();
    await withClient(ADMIN_DATABASE_URL, (admin) =>
      admin.query(`CREATE DATABASE ${database} TEMPLATE ${TEMPLATE_DATABASE()}`),
    );
    const { ports, env } = await stackEnv(database, prefix);
    const run = runNode(START, {
      ...env,
      NODE_ENV: 'production',
      JWT_SECRET: 'a-production-secret-of-at-least-32-characters',
      SHUTDOWN_DRAIN_MS: '0',
    });
    try {
      await pollUntil(
        () => {
          if (run.proc.exitCode !== null) throw new Error(`exited ${run.proc.exitCode}: ${run.stderr()}`);
          return fetch(`http://127.0.0.1:${ports.api}/health/ready`).then(
            (res) => res.ok,
            () => false,
          );
        },
        { timeoutMs: 30_000, what: 'the API to be ready' },
      );
      for (const port of [ports.worker, ports.payments]) {
        await expect(fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(2_000) })).rejects.toThrow();
      }
      expect(run.stdout()).not.toMatch(/^(start|api|worker|payments) +\|/m);
      run.proc.kill('SIGTERM');
      expect(await run.exited(30_000)).toBe(0);
    } finally {
      run.kill('SIGKILL');
      await withClient(ADMIN_DATABASE_URL, (admin) => admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`));
      await deleteRedisKeys(prefix);
    }
  }, 60_000);
});
