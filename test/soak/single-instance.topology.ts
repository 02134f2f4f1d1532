import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { startFakeProviderProcess } from '../support/fake-provider.support';
import { freePort, pollUntil } from '../support/poll.support';
import { runNode, type RunningProcess } from '../support/process.support';
import { startRedisServer } from '../support/redis-server.support';
import { ADMIN_DATABASE_URL, databaseUrl } from '../support/test-env.support';
import { FAST_WORKER_ENV } from '../support/worker.support';
import {
  fakeProviderControl,
  jsonLinesOf,
  reconcilePasses,
  stopProcess,
  type ProcessHandle,
  type SoakTopology,
  type SourcedLine,
} from './soak.topology';

/**
 * The settings every soak topology runs the apps with: the product's own mechanisms, with their
 * clocks shortened so a fault's whole story (timeout → pending → reconciled) fits in seconds.
 * RECONCILE_GRACE_MS still exceeds ORDERS_REQUEST_DEADLINE_MS, as the boot requires.
 */
export const SOAK_APP_ENV: Record<string, string> = {
  NODE_ENV: 'test',
  LOG_LEVEL: 'info',
  REQUEST_DEADLINE_MS: '5000',
  ORDERS_REQUEST_DEADLINE_MS: '4000',
  ORDERS_LOCK_TIMEOUT_MS: '1000',
  PAYMENTS_TIMEOUT_MS: '1000',
  PAYMENTS_DEADLINE_MS: '3000',
  PAYMENTS_BREAKER_HALF_OPEN_MS: '1000',
  PAYMENTS_RETRY_AFTER_MAX_MS: '1000',
  RECONCILE_GRACE_MS: '5000',
  RECONCILIATION_INTERVAL_MS: '1000',
  SHUTDOWN_INFLIGHT_TIMEOUT_MS: '5000',
  // Customers are many accounts from one address (the soak's host): the per-address limits of a
  // public deployment would refuse the workload itself. Per-account and per-email limits stay.
  RATE_LIMIT_SIGNUP_PER_IP: '100000',
  RATE_LIMIT_LOGIN_PER_IP: '100000',
  ...FAST_WORKER_ENV,
};

/** How long a tok_slow charge is held by the provider (longer than any order's budget). */
export const PROVIDER_SLOW_TOKEN_MS = 6_000;

class ManagedProcess implements ProcessHandle {
  private current?: RunningProcess;
  private readonly previous: string[] = [];

  constructor(
    readonly name: string,
    private readonly script: string,
    private readonly env: Record<string, string>,
    private readonly port: number,
  ) {}

  get running(): boolean {
    return this.current !== undefined && this.current.proc.exitCode === null && this.current.proc.signalCode === null;
  }

  get metricsUrl(): string {
    return `http://127.0.0.1:${this.port}/metrics`;
  }

  async start(): Promise<void> {
    if (this.running) return;
    if (this.current) this.previous.push(this.current.stdout());
    const proc = runNode(this.script, this.env);
    this.current = proc;
    await pollUntil(
      async () => {
        if (proc.proc.exitCode !== null) {
          throw new Error(`${this.name} exited at boot (${proc.proc.exitCode}):\n${proc.stderr().slice(-2_000)}`);
        }
        const res = await fetch(`http://127.0.0.1:${this.port}/health/ready`).catch(() => undefined);
        return res?.status === 200;
      },
      { timeoutMs: 60_000, intervalMs: 100, what: `${this.name} to be ready` },
    );
  }

  async stop(signal: 'SIGKILL' | 'SIGTERM'): Promise<{ exitCode: number | null; ms: number }> {
    const proc = this.current;
    if (!proc || !this.running) return { exitCode: proc?.proc.exitCode ?? null, ms: 0 };
    return stopProcess(proc, signal);
  }

  /** Every stdout line of every incarnation. */
  lines(): string[] {
    return [...this.previous, this.current?.stdout() ?? ''].flatMap((out) => out.split('\n')).filter(Boolean);
  }

  stderr(): string {
    return this.current?.stderr() ?? '';
  }
}

/**
 * The single-instance topology: one API (dist/main.js) and one worker (dist/worker.js) on a
 * database of their own on the shared Postgres, a private redis-server (the soak pauses and
 * restarts it), and the fake provider as its own process. All built entry points, as an operator
 * starts them.
 */
export async function startSingleInstance(options: { env?: Record<string, string> } = {}): Promise<SoakTopology> {
  const dbName = `ra_t_soak_${randomBytes(4).toString('hex')}`;
  const admin = new Client({ connectionString: ADMIN_DATABASE_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`).finally(() => admin.end());
  const dbUrl = databaseUrl(dbName);
  const cleanups: (() => Promise<unknown>)[] = [
    async () => {
      const c = new Client({ connectionString: ADMIN_DATABASE_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).finally(() => c.end());
    },
  ];
  const stopAll = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  };
  try {
    const redis = await startRedisServer();
    cleanups.push(() => redis.stop());
    const provider = await startFakeProviderProcess(await freePort(), {
      FAKE_PAYMENTS_SLOW_MS: String(PROVIDER_SLOW_TOKEN_MS),
      LOG_LEVEL: 'warn',
    });
    cleanups.push(() => provider.kill());
    const keyPrefix = 'soak:';
    const appEnv: Record<string, string> = {
      ...SOAK_APP_ENV,
      DATABASE_URL: dbUrl,
      REDIS_URL: redis.url,
      REDIS_KEY_PREFIX: keyPrefix,
      PAYMENTS_BASE_URL: provider.url,
      ...options.env,
    };
    const apiPort = await freePort();
    const workerPort = await freePort();
    const api = new ManagedProcess('api-1', 'dist/main.js', { ...appEnv, PORT: String(apiPort) }, apiPort);
    const worker = new ManagedProcess(
      'worker-1',
      'dist/worker.js',
      { ...appEnv, WORKER_PORT: String(workerPort) },
      workerPort,
    );
    cleanups.push(
      () => api.stop('SIGKILL'),
      () => worker.stop('SIGKILL'),
    );
    await api.start(); // migrates the fresh database
    await worker.start();
    const reconcile = reconcilePasses(appEnv);

    return {
      kind: 'single-instance',
      baseUrl: `http://127.0.0.1:${apiPort}`,
      databaseUrl: dbUrl,
      maxAppConnections: 2 * Number(appEnv.DB_POOL_MAX ?? 10),
      apis: [api],
      workers: [worker],
      appEnv,
      provider: fakeProviderControl(provider.url),
      redis: {
        url: redis.url,
        keyPrefix,
        pause: () => redis.pause(),
        resume: () => redis.resume(),
        restart: () => redis.restart(),
      },
      reconcileNow: () => reconcile.run(),
      logLines: (): SourcedLine[] => [
        ...jsonLinesOf('api-1', api.lines()),
        ...jsonLinesOf('worker-1', worker.lines()),
        ...reconcile.lines(),
      ],
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
