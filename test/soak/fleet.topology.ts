import { randomBytes } from 'node:crypto';
import { startFleet, type Fleet, type FleetApp } from '../support/fleet.support';
import { startRedisServer } from '../support/redis-server.support';
import { withClient, type TestDatabase } from '../support/test-database.support';
import { ADMIN_DATABASE_URL, databaseUrl } from '../support/test-env.support';
import { PROVIDER_SLOW_TOKEN_MS, SOAK_APP_ENV } from './single-instance.topology';
import {
  fakeProviderControl,
  jsonLinesOf,
  reconcilePasses,
  stopProcess,
  type PoolerControl,
  type ProcessHandle,
  type SoakTopology,
  type SourcedLine,
} from './soak.topology';

/** PgBouncer's server connections for the soak's database (the fleet harness's default). */
const POOLER_POOL_SIZE = 8;

/**
 * One API or worker of the fleet, by name: stopped with a signal and started again on the same
 * port with the fleet's environment (`Fleet.startApi`/`startWorker`); the log lines of every
 * incarnation are kept.
 */
class FleetProcess implements ProcessHandle {
  private readonly previous: string[] = [];

  constructor(
    private readonly fleet: Fleet,
    private current: FleetApp,
    private readonly kind: 'api' | 'worker',
  ) {}

  get name(): string {
    return this.current.name;
  }

  get running(): boolean {
    const proc = this.current.proc.proc;
    return proc.exitCode === null && proc.signalCode === null;
  }

  get metricsUrl(): string {
    return `${this.current.url}/metrics`;
  }

  async stop(signal: 'SIGKILL' | 'SIGTERM'): Promise<{ exitCode: number | null; ms: number }> {
    const proc = this.current.proc;
    if (!this.running) return { exitCode: proc.proc.exitCode, ms: 0 };
    return stopProcess(proc, signal);
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.previous.push(this.current.proc.stdout());
    this.current =
      this.kind === 'api'
        ? await this.fleet.startApi(this.current.name, this.current.port)
        : await this.fleet.startWorker(this.current.name, {}, this.current.port);
  }

  lines(): string[] {
    return [...this.previous, this.current.proc.stdout()].flatMap((out) => out.split('\n')).filter(Boolean);
  }
}

/** An empty database of the soak's own on the shared Postgres (the first API migrates it, directly). */
async function emptyDatabase(): Promise<TestDatabase> {
  const name = `ra_t_soak_${randomBytes(4).toString('hex')}`;
  await withClient(ADMIN_DATABASE_URL, (c) => c.query(`CREATE DATABASE ${name}`));
  const url = databaseUrl(name);
  return {
    name,
    url,
    query: async <T extends Record<string, unknown>>(sql: string, params?: unknown[]) =>
      withClient(url, async (c) => (await c.query<T>(sql, params)).rows),
    drop: async () => {
      await withClient(ADMIN_DATABASE_URL, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  };
}

/**
 * The fleet topology: the topology harness (test/support/fleet.support.ts) as an operator runs it —
 * nginx (the shipped deploy/nginx/resilient-api.conf) in front of two APIs, two workers, every app
 * reaching Postgres through PgBouncer in transaction mode — on an empty database of its own (the
 * first API migrates it, straight to Postgres), a private redis-server (the soak pauses and
 * restarts it; the shared one is never touched) and the fake provider. The apps run with the soak's
 * clocks ({@link SOAK_APP_ENV}). Postgres faults act on Postgres itself (`databaseUrl` is direct);
 * the pooler is paused with PgBouncer's admin console (`PAUSE <db>` / `RESUME <db>`).
 */
export async function startFleetTopology(options: { env?: Record<string, string> } = {}): Promise<SoakTopology> {
  const cleanups: (() => Promise<unknown>)[] = [];
  const stopAll = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  };
  try {
    const db = await emptyDatabase();
    cleanups.push(() => db.drop());
    const redis = await startRedisServer();
    cleanups.push(() => redis.stop());
    const fleet = await startFleet({
      db,
      redisUrl: redis.url,
      poolerPoolSize: POOLER_POOL_SIZE,
      providerEnv: { FAKE_PAYMENTS_SLOW_MS: String(PROVIDER_SLOW_TOKEN_MS), LOG_LEVEL: 'warn' },
      env: { ...SOAK_APP_ENV, ...options.env },
    });
    cleanups.push(() => fleet.stop());
    const apis = fleet.apis.map((app) => new FleetProcess(fleet, app, 'api'));
    const workers = fleet.workers.map((app) => new FleetProcess(fleet, app, 'worker'));
    const appEnv = fleet.appEnv;
    const reconcile = reconcilePasses(appEnv);

    const pooler: PoolerControl = {
      async pause() {
        await fleet.poolerAdmin(`PAUSE ${db.name}`);
      },
      async resume() {
        await fleet.poolerAdmin(`RESUME ${db.name}`);
      },
      async problemsAtRest() {
        const problems: string[] = [];
        const pools = (await fleet.poolerAdmin('SHOW POOLS')).filter((p) => p.database === db.name);
        for (const p of pools) {
          const n = (key: string) => Number(p[key] ?? 0);
          const servers = n('sv_active') + n('sv_idle') + n('sv_used') + n('sv_tested') + n('sv_login');
          if (n('cl_waiting') > 0) problems.push(`pool ${db.name}: ${n('cl_waiting')} clients waiting`);
          if (n('sv_active') > 0) problems.push(`pool ${db.name}: ${n('sv_active')} server connections active`);
          if (servers > POOLER_POOL_SIZE)
            problems.push(`pool ${db.name}: ${servers} server connections, over the pool size ${POOLER_POOL_SIZE}`);
          if (String(p.pool_mode) !== 'transaction') problems.push(`pool ${db.name}: pool_mode ${String(p.pool_mode)}`);
        }
        const clients = (await fleet.poolerAdmin('SHOW CLIENTS')).filter((c) => c.database === db.name);
        for (const c of clients) {
          if (c.state !== 'active' && c.state !== 'idle')
            problems.push(`client ${String(c.addr)}:${String(c.port)} ${String(c.state)}`);
        }
        return problems;
      },
    };

    return {
      kind: 'fleet',
      baseUrl: fleet.balancer.url,
      databaseUrl: fleet.directUrl,
      // Every app session reaches Postgres through PgBouncer: its pool is the bound.
      maxAppConnections: POOLER_POOL_SIZE,
      apis,
      workers,
      appEnv,
      provider: fakeProviderControl(fleet.provider.url),
      redis: {
        url: redis.url,
        keyPrefix: fleet.keyPrefix,
        pause: () => redis.pause(),
        resume: () => redis.resume(),
        restart: () => redis.restart(),
      },
      pooler,
      reconcileNow: () => reconcile.run(),
      logLines: (): SourcedLine[] => [
        ...[...apis, ...workers].flatMap((p) => jsonLinesOf(p.name, p.lines())),
        ...reconcile.lines(),
      ],
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
