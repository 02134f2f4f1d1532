import { randomBytes } from 'node:crypto';
import type { Type } from '@nestjs/common';
import { Client } from 'pg';
import { loadConfig, type AppConfig } from '../../src/config/config.schemas';
import type { PaymentsReconciler } from '../../src/reconciliation/reconciliation.types';
import { createWorker, type CreatedWorker } from '../../src/worker.factory';
import type { HttpClient } from './http-client.support';
import { LogCapture, type LogLine } from './log-capture.support';
import { freePort, pollUntil } from './poll.support';
import { runNode, type RunningProcess } from './process.support';
import type { TestDatabase } from './test-database.support';
import type { TestApp } from './test-app.support';
import { FAST_WORKER_ENV } from './test-env.support';

export { FAST_WORKER_ENV } from './test-env.support';

/** The environment a worker needs to share an app's database and queue (same Redis, same key prefix). */
export function workerEnvFor(
  t: Pick<TestApp, 'db' | 'config'>,
  env: Record<string, string> = {},
): Record<string, string> {
  return {
    NODE_ENV: 'test',
    DATABASE_URL: t.db.url,
    REDIS_URL: t.config.redis.url,
    REDIS_KEY_PREFIX: t.config.redis.keyPrefix,
    LOG_LEVEL: 'info',
    ...FAST_WORKER_ENV,
    ...env,
  };
}

export interface InProcessWorker extends CreatedWorker {
  logs: LogCapture;
  config: AppConfig;
  baseUrl: string;
}

/** The real worker (same factory as src/worker.ts) in this process, probes on a free port. */
export async function startInProcessWorker(
  env: Record<string, string>,
  options: { reconciler?: Type<PaymentsReconciler> } = {},
): Promise<InProcessWorker> {
  const config = loadConfig(env);
  const logs = new LogCapture();
  const worker = await createWorker(config, {
    logDestination: logs,
    port: 0,
    host: '127.0.0.1',
    reconciliation: options.reconciler ? { reconciler: options.reconciler } : undefined,
  });
  const address = worker.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return { ...worker, logs, config, baseUrl: `http://127.0.0.1:${port}` };
}

export interface WorkerProcess extends RunningProcess {
  port: number;
  baseUrl: string;
  /** Every JSON log line the process wrote so far. */
  lines(): LogLine[];
  waitForLine(predicate: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
}

/** The built worker (dist/worker.js) as its own process; resolves once `/health/ready` answers 200. */
export async function startWorkerProcess(env: Record<string, string>): Promise<WorkerProcess> {
  const port = await freePort();
  const proc = runNode('dist/worker.js', { ...env, WORKER_PORT: String(port) });
  const baseUrl = `http://127.0.0.1:${port}`;
  const lines = () =>
    proc
      .stdout()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as LogLine);
  const worker: WorkerProcess = {
    ...proc,
    port,
    baseUrl,
    lines,
    waitForLine: (predicate, timeoutMs = 10_000) =>
      pollUntil(() => lines().find(predicate), { timeoutMs, what: 'a worker log line' }),
  };
  try {
    await pollUntil(
      async () => {
        if (proc.proc.exitCode !== null) throw new Error(`worker exited early:\n${proc.stderr()}\n${proc.stdout()}`);
        const res = await fetch(`${baseUrl}/health/ready`).catch(() => undefined);
        return res?.status === 200;
      },
      { timeoutMs: 20_000, what: 'the worker to be ready' },
    );
  } catch (error) {
    proc.kill();
    throw error;
  }
  return worker;
}

/** A fresh account and its bearer token, through the real endpoints. */
export async function signUpWithToken(http: HttpClient): Promise<{ accountId: string; token: string }> {
  const email = `reports-${randomBytes(4).toString('hex')}@example.com`;
  const password = 'correct horse battery';
  const account = await http.post('/v1/accounts', { email, password, name: 'Reporter' });
  if (account.status !== 201) throw new Error(`sign-up failed: ${account.status} ${account.text}`);
  const login = await http.post('/v1/auth/token', { email, password });
  if (login.status !== 200) throw new Error(`login failed: ${login.status} ${login.text}`);
  return { accountId: account.body.id, token: login.body.accessToken };
}

export interface SeedOrder {
  status: 'paid' | 'payment_pending' | 'payment_failed';
  totalCents: number;
  currency?: string;
  createdAt: string;
}

/** Orders straight into the table (the orders feature is not what these tests exercise). */
export async function seedOrders(db: TestDatabase, accountId: string, orders: SeedOrder[]): Promise<void> {
  for (const order of orders) {
    await db.query(
      `INSERT INTO orders (account_id, status, total_cents, currency, created_at) VALUES ($1, $2, $3, $4, $5)`,
      [accountId, order.status, order.totalCents, order.currency ?? 'EUR', order.createdAt],
    );
  }
}

/** Polls `GET /v1/reports/{id}` until the report is finished (completed or failed). */
export function reportFinished(http: HttpClient, token: string, id: string, timeoutMs = 10_000) {
  return pollUntil(
    async () => {
      const res = await http.get(`/v1/reports/${id}`, { token });
      return ['completed', 'failed'].includes(res.body?.status) && res;
    },
    { timeoutMs, intervalMs: 50, what: `report ${id} to finish` },
  );
}

export interface HeldLock {
  release(): Promise<void>;
}

/**
 * Takes a lock in an open transaction on its own connection and holds it until `release()`:
 * a real, deterministic way to make a job wait (`LOCK TABLE orders`) or fail on a lock
 * timeout (`SELECT … FOR UPDATE` on its report row).
 */
export async function holdLock(db: TestDatabase, statement: string, params: unknown[] = []): Promise<HeldLock> {
  const client = new Client({ connectionString: db.url });
  await client.connect();
  await client.query('BEGIN');
  await client.query(statement, params);
  return {
    async release() {
      await client.query('ROLLBACK').catch(() => undefined);
      await client.end().catch(() => undefined);
    },
  };
}
