import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startFakeProviderProcess, type FakeProviderProcess } from './fake-provider.support';
import { HttpClient } from './http-client.support';
import { freePort, pollUntil } from './poll.support';
import { ROOT, runCommand, runNode, type RunningProcess } from './process.support';
import { deleteRedisKeys, testKeyPrefix } from './redis-keys.support';
import { createTestDatabase, type TestDatabase } from './test-database.support';
import { FAST_WORKER_ENV, REDIS_URL } from './test-env.support';

/**
 * The topology harness: the fleet an operator runs, as real processes on spare ports.
 *
 *   caller → nginx (deploy/nginx/resilient-api.conf, rendered with these ports)
 *              → API 1, API 2 (dist/main.js)  ┐
 *            worker 1, worker 2 (dist/worker.js) ├→ PgBouncer (transaction mode, stock settings) → Postgres
 *                                              └→ Redis (the shared server, a key prefix of this fleet)
 *            fake payments provider (dist-dev/fake-payments.command.js)
 *
 * The apps reach Postgres only through PgBouncer (`DATABASE_URL`); migrations and their lock go to
 * Postgres directly (`DATABASE_MIGRATION_URL`). PgBouncer runs with Debian's defaults but for what a
 * fleet must set: `pool_mode = transaction`, the pool size, and `query_wait_timeout` (bounded, so
 * a saturated pooler answers instead of queueing for 120 s). No `ignore_startup_parameters`.
 * Used by test/fleet/*.fleet-spec.ts (one fleet per file) and `npm run fleet` (scripts/fleet.mjs).
 */
export interface FleetOptions {
  apis?: number;
  workers?: number;
  /** Extra environment for every app process (APIs and workers). */
  env?: Record<string, string>;
  /** PgBouncer's server connections per database/user pair (default 8: fewer than the apps' pools together). */
  poolerPoolSize?: number;
  /** PgBouncer's `query_wait_timeout`, seconds (default 3). */
  poolerQueryWaitTimeoutS?: number;
  /** The database: a fresh migrated clone (default) or one given. */
  db?: TestDatabase;
  /**
   * A Redis of the caller's own (e.g. a private test/support/redis-server.support.ts server a soak
   * pauses and restarts); default the shared one, under a key prefix of this fleet.
   */
  redisUrl?: string;
  /** Extra environment for the fake provider process (e.g. FAKE_PAYMENTS_SLOW_MS). */
  providerEnv?: Record<string, string>;
}

export interface FleetApp {
  name: string;
  port: number;
  url: string;
  proc: RunningProcess;
  /** Every JSON log line it wrote so far. */
  lines(): Array<Record<string, unknown>>;
}

export interface Fleet {
  db: TestDatabase;
  /** The apps' `DATABASE_URL`: through PgBouncer. */
  poolerUrl: string;
  /** Postgres itself (`DATABASE_MIGRATION_URL`, assertions on rows, pg_stat_activity, pg_locks). */
  directUrl: string;
  pooler: { port: number; proc: RunningProcess; log(): string };
  /** nginx; `errorLog()` is its error log so far (why a 502 was a 502). */
  balancer: { port: number; url: string; proc: RunningProcess; errorLog(): string };
  /** A client of the balancer: what a caller sees. */
  http: HttpClient;
  provider: FakeProviderProcess;
  apis: FleetApp[];
  workers: FleetApp[];
  keyPrefix: string;
  /** The environment every app process gets (for starting one more, as a rollout does). */
  appEnv: Record<string, string>;
  /** Starts an API (again) on `port` with the fleet's environment; resolves when it is ready. */
  startApi(
    name: string,
    port: number,
    env?: Record<string, string>,
    options?: { waitReady?: boolean },
  ): Promise<FleetApp>;
  /** Starts a worker (again); on `port` when given (a restart keeps its metrics address), else a free one. */
  startWorker(name: string, env?: Record<string, string>, port?: number): Promise<FleetApp>;
  /** The PgBouncer admin console (`pgbouncer` database, `admin_users = postgres`): one command, its rows. */
  poolerAdmin(command: string): Promise<Array<Record<string, unknown>>>;
  stop(): Promise<void>;
}

/** A tool from PATH or the project's .tools/bin (scripts/ensure-test-tools.sh puts pgbouncer and nginx there). */
export function fleetTool(name: string): string {
  for (const dir of [...(process.env.PATH ?? '').split(':').filter(Boolean), '/usr/sbin']) {
    if (existsSync(join(dir, name))) return join(dir, name);
  }
  const local = join(ROOT, '.tools', 'bin', name);
  if (existsSync(local)) return local;
  throw new Error(`${name} not found: run bash scripts/ensure-test-tools.sh (npm test runs it first)`);
}

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

/** Renders the shipped nginx example for this fleet: its listen port and one upstream line per API. */
export function renderNginxExample(listenPort: number, apiPorts: number[]): string {
  const example = readFileSync(resolve(ROOT, 'deploy', 'nginx', 'resilient-api.conf'), 'utf8');
  const serverLine = /^(\s*)server 127\.0\.0\.1:3000( [^;]*)?;$/m;
  const match = serverLine.exec(example);
  if (!match) throw new Error('deploy/nginx/resilient-api.conf: no "server 127.0.0.1:3000 …;" line in its upstream');
  const [, indent, params = ''] = match;
  const rendered = example
    .replace(serverLine, apiPorts.map((port) => `${indent}server 127.0.0.1:${port}${params};`).join('\n'))
    .replace(/^(\s*)listen 80;$/m, `$1listen 127.0.0.1:${listenPort};`);
  if (!rendered.includes(`listen 127.0.0.1:${listenPort};`))
    throw new Error('the nginx example has no "listen 80;" line');
  return rendered;
}

function startPgBouncer(dir: string, port: number, db: TestDatabase, poolSize: number, waitS: number): RunningProcess {
  const target = new URL(db.url);
  writeFileSync(join(dir, 'users.txt'), `"${decodeURIComponent(target.username) || 'postgres'}" ""\n`);
  writeFileSync(
    join(dir, 'pgbouncer.ini'),
    [
      '[databases]',
      `${db.name} = host=${target.hostname} port=${target.port || 5432} dbname=${db.name}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      'auth_type = trust',
      `auth_file = ${join(dir, 'users.txt')}`,
      'pool_mode = transaction',
      `default_pool_size = ${poolSize}`,
      'max_client_conn = 500',
      `query_wait_timeout = ${waitS}`,
      'admin_users = postgres',
      // Stock otherwise: no ignore_startup_parameters, no server_reset_query_always.
    ].join('\n') + '\n',
  );
  chmodSync(dir, 0o755);
  const args = [...(isRoot ? ['-u', 'nobody'] : []), join(dir, 'pgbouncer.ini')];
  return runCommand(fleetTool('pgbouncer'), args);
}

function startNginx(dir: string, port: number, apiPorts: number[]): RunningProcess {
  for (const sub of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'])
    mkdirSync(join(dir, 'tmp', sub), { recursive: true });
  chmodSync(join(dir, 'tmp'), 0o777);
  writeFileSync(join(dir, 'resilient-api.conf'), renderNginxExample(port, apiPorts));
  writeFileSync(
    join(dir, 'nginx.conf'),
    `daemon off;
master_process on;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/nginx-error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/tmp/body;
  proxy_temp_path ${dir}/tmp/proxy;
  fastcgi_temp_path ${dir}/tmp/fastcgi;
  uwsgi_temp_path ${dir}/tmp/uwsgi;
  scgi_temp_path ${dir}/tmp/scgi;
  include ${dir}/resilient-api.conf;
}
`,
  );
  return runCommand(fleetTool('nginx'), ['-p', dir, '-e', join(dir, 'nginx-error.log'), '-c', join(dir, 'nginx.conf')]);
}

/**
 * One command on PgBouncer's admin console (the virtual `pgbouncer` database; `postgres` is in
 * `admin_users`, trust auth). The console speaks the simple query protocol only: no parameters.
 * `PAUSE <db>` returns once every server connection of the pool is released (transactions finish
 * first); clients then wait (up to query_wait_timeout) until `RESUME <db>`.
 */
async function poolerAdmin(port: number, command: string): Promise<Array<Record<string, unknown>>> {
  const { Client } = await import('pg');
  const client = new Client({ connectionString: `postgres://postgres@127.0.0.1:${port}/pgbouncer` });
  client.on('error', () => undefined);
  await client.connect();
  try {
    const result = await client.query(command);
    return result.rows as Array<Record<string, unknown>>;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** How long an API or worker may take to be ready (a fresh boot migrates, or waits for the one migrating). */
const APP_READY_TIMEOUT_MS = 90_000;

const readyWithin = async (url: string, proc: RunningProcess, what: string, timeoutMs = 30_000) =>
  pollUntil(
    async () => {
      if (proc.proc.exitCode !== null)
        throw new Error(`${what} exited early:\n${proc.stderr()}\n${proc.stdout().slice(-4000)}`);
      return (await fetch(url).catch(() => undefined))?.status === 200;
    },
    { timeoutMs, intervalMs: 50, what },
  );

const jsonLines = (proc: RunningProcess) => () =>
  proc
    .stdout()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);

/** Starts the whole fleet, the independent parts in parallel; everything is stopped if any part fails. */
export async function startFleet(options: FleetOptions = {}): Promise<Fleet> {
  const apiCount = options.apis ?? 2;
  const workerCount = options.workers ?? 2;
  const dir = mkdtempSync(join(tmpdir(), 'ra-fleet-'));
  const started: Array<() => void> = [];
  let createdDb: TestDatabase | undefined;
  const cleanup = () => {
    for (const stop of started.reverse()) stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const [db, poolerPort, balancerPort, providerPort, ...apiPorts] = await Promise.all([
      options.db ? Promise.resolve(options.db) : createTestDatabase(),
      freePort(),
      freePort(),
      freePort(),
      ...Array.from({ length: apiCount }, () => freePort()),
    ]);
    const ownDb = !options.db;
    if (ownDb) createdDb = db;
    const pooler = startPgBouncer(
      dir,
      poolerPort,
      db,
      options.poolerPoolSize ?? 8,
      options.poolerQueryWaitTimeoutS ?? 3,
    );
    started.push(() => pooler.kill('SIGKILL'));
    const provider = await startFakeProviderProcess(providerPort, options.providerEnv);
    started.push(() => provider.proc.kill('SIGKILL'));
    const poolerUrl = `postgres://postgres@127.0.0.1:${poolerPort}/${db.name}`;
    await pollUntil(
      async () => {
        if (pooler.proc.exitCode !== null) throw new Error(`pgbouncer exited: ${pooler.stderr()} ${pooler.stdout()}`);
        const { Client } = await import('pg');
        const client = new Client({ connectionString: poolerUrl });
        client.on('error', () => undefined);
        return client
          .connect()
          .then(() => client.query('SELECT 1'))
          .then(
            () => true,
            () => false,
          )
          .finally(() => void client.end().catch(() => undefined));
      },
      { timeoutMs: 10_000, intervalMs: 50, what: 'pgbouncer to accept connections' },
    );
    const keyPrefix = testKeyPrefix('fleet-');
    const appEnv: Record<string, string> = {
      NODE_ENV: 'test',
      LOG_LEVEL: 'info',
      DATABASE_URL: poolerUrl,
      DATABASE_MIGRATION_URL: db.url,
      REDIS_URL: options.redisUrl ?? REDIS_URL,
      REDIS_KEY_PREFIX: keyPrefix,
      PAYMENTS_BASE_URL: provider.url,
      // nginx is on loopback: the one trusted proxy (a caller's own X-Forwarded-For is not believed).
      TRUSTED_PROXIES: '127.0.0.1',
      DB_POOL_MAX: '5',
      // Short queue locks and stall checks: a killed worker's job is taken over in about a second.
      ...FAST_WORKER_ENV,
      ...options.env,
    };
    const apps = new Map<string, FleetApp>();
    const startApp = async (
      script: string,
      name: string,
      port: number,
      healthPath: string,
      env: Record<string, string>,
      waitReady: boolean,
    ): Promise<FleetApp> => {
      const portVar = script === 'dist/main.js' ? 'PORT' : 'WORKER_PORT';
      const proc = runNode(script, { ...appEnv, ...env, [portVar]: String(port) });
      const app: FleetApp = { name, port, url: `http://127.0.0.1:${port}`, proc, lines: jsonLines(proc) };
      apps.set(name, app);
      // Generous: on a loaded 2-core CI machine several fleets (the fleet and soak projects) boot at once.
      if (waitReady) await readyWithin(`${app.url}${healthPath}`, proc, `${name} to be ready`, APP_READY_TIMEOUT_MS);
      return app;
    };
    const startApi: Fleet['startApi'] = (name, port, env = {}, opts = {}) =>
      startApp('dist/main.js', name, port, '/health/ready', env, opts.waitReady ?? true);
    const startWorker: Fleet['startWorker'] = async (name, env = {}, port) =>
      startApp('dist/worker.js', name, port ?? (await freePort()), '/health/ready', env, true);
    started.push(() => {
      for (const app of apps.values()) app.proc.kill('SIGKILL');
    });
    // The first API migrates (a no-op on the migrated clone) before the rest boot beside it.
    const apis = await Promise.all(apiPorts.map((port, i) => startApi(`api-${i + 1}`, port)));
    const workers = await Promise.all(Array.from({ length: workerCount }, (_, i) => startWorker(`worker-${i + 1}`)));
    const balancer = startNginx(dir, balancerPort, apiPorts);
    // SIGTERM, not SIGKILL: nginx's master then stops its worker, which would otherwise outlive it
    // (reparented, still holding the listening port).
    started.push(() => balancer.kill('SIGTERM'));
    const balancerUrl = `http://127.0.0.1:${balancerPort}`;
    await readyWithin(`${balancerUrl}/health/live`, balancer, 'nginx to proxy to the APIs', 10_000);
    return {
      db,
      poolerUrl,
      directUrl: db.url,
      pooler: { port: poolerPort, proc: pooler, log: () => pooler.stderr() + pooler.stdout() },
      balancer: {
        port: balancerPort,
        url: balancerUrl,
        proc: balancer,
        errorLog: () =>
          existsSync(join(dir, 'nginx-error.log')) ? readFileSync(join(dir, 'nginx-error.log'), 'utf8') : '',
      },
      http: new HttpClient(balancerUrl),
      provider,
      apis,
      workers,
      keyPrefix,
      appEnv,
      startApi,
      startWorker,
      poolerAdmin: (command) => poolerAdmin(poolerPort, command),
      stop: async () => {
        const running = [...apps.values()].filter((app) => app.proc.proc.exitCode === null);
        for (const app of running) app.proc.kill('SIGTERM');
        await Promise.all(running.map((app) => app.proc.exited(15_000).catch(() => app.proc.kill('SIGKILL'))));
        cleanup();
        if (!options.redisUrl) await deleteRedisKeys(keyPrefix);
        if (ownDb) await db.drop();
      },
    };
  } catch (error) {
    cleanup();
    await createdDb?.drop().catch(() => undefined);
    throw error;
  }
}
