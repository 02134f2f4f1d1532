import { Client } from 'pg';
import type { FaultEvent, History } from './soak-history.support';
import type { Rng } from './seeded-random.support';
import type { ProcessHandle, SoakTopology } from './soak.topology';

/**
 * Every kind of fault the soak injects. A topology that lacks what a kind needs (no pooler in the
 * single instance) does not offer it: {@link availableFaults}.
 */
export const FAULT_KINDS = [
  'api-sigkill',
  'api-sigterm',
  'worker-sigkill',
  'worker-sigterm',
  'provider-slow',
  'provider-down',
  'provider-resetting',
  'provider-rate-limited',
  'provider-timeout-after-charge',
  'postgres-backends-killed',
  'postgres-table-locked',
  'pooler-paused',
  'redis-paused',
  'redis-restarted',
  'reconcile-forced',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export function availableFaults(topology: SoakTopology): FaultKind[] {
  return FAULT_KINDS.filter((kind) => {
    if (kind === 'pooler-paused') return topology.pooler !== undefined;
    if (kind.startsWith('redis-')) return topology.redis !== undefined;
    return true;
  });
}

/** The application name of the soak's own Postgres sessions: the backend killer spares them. */
export const SOAK_APPLICATION_NAME = 'ra-soak';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Faults on a schedule drawn from the seed, in two lanes that run at once, so a crash can race a
 * recovery elsewhere: the **process** lane (API and worker SIGKILL/SIGTERM and restart) and the
 * **dependency** lane (provider, Postgres, Redis, pooler, forced reconciliation). Within a lane,
 * one fault at a time, a pause between two (drawn around `meanGapMs`), each kind drawn from a
 * shuffled bag of the lane's kinds (so every kind comes once a round, in an order the seed
 * decides), held for a drawn time, then healed. The seed fixes what is drawn; how a loaded
 * machine times it is not replayable to the millisecond. A fault the system does not recover from
 * (a process that does not come back) is recorded with its failure.
 */
export class FaultSchedule {
  private stopping = false;
  private lanes: Promise<void>[] = [];

  constructor(
    private readonly topology: SoakTopology,
    private readonly history: History,
    private readonly rng: Rng,
    private readonly kinds: FaultKind[],
    private readonly meanGapMs: number,
  ) {}

  start(): void {
    const processLane = this.kinds.filter((k) => k.startsWith('api-') || k.startsWith('worker-'));
    const dependencyLane = this.kinds.filter((k) => !processLane.includes(k));
    this.lanes = [processLane, dependencyLane]
      .map((kinds, i) => ({ kinds, rng: this.rng.fork(100 + i) }))
      .filter((lane) => lane.kinds.length > 0)
      .map((lane) => this.run(lane.kinds, lane.rng));
  }

  /** Stops drawing faults, waits for the ones in progress to heal, and heals everything. */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.lanes);
    await this.healAll();
  }

  private async run(kinds: FaultKind[], rng: Rng): Promise<void> {
    let bag: FaultKind[] = [];
    while (!this.stopping) {
      await sleep(Math.round(this.meanGapMs * (0.4 + rng.next() * 1.2)));
      if (this.stopping) break;
      if (bag.length === 0) bag = rng.shuffle(kinds);
      await this.inject(bag.pop()!, rng);
    }
  }

  private async inject(kind: FaultKind, rng: Rng): Promise<void> {
    const event = this.history.fault(kind, '');
    try {
      event.detail = await this.apply(kind, event, rng);
    } catch (error) {
      event.failure = error instanceof Error ? error.message.split('\n')[0] : String(error);
      await this.healAll().catch(() => undefined);
    } finally {
      event.healedAt = this.history.now();
    }
  }

  private async apply(kind: FaultKind, event: FaultEvent, rng: Rng): Promise<string> {
    const t = this.topology;
    const hold = () => rng.int(800, 3_000);
    switch (kind) {
      case 'api-sigkill':
      case 'api-sigterm':
      case 'worker-sigkill':
      case 'worker-sigterm': {
        const target = rng.pick<ProcessHandle>(kind.startsWith('api') ? t.apis : t.workers);
        const signal = kind.endsWith('sigkill') ? 'SIGKILL' : 'SIGTERM';
        const { exitCode, ms } = await target.stop(signal);
        const down = rng.int(100, 1_500);
        await sleep(down);
        await target.start();
        return `${target.name} ${signal}: exit ${exitCode} after ${ms} ms, restarted after ${down} ms`;
      }
      case 'provider-slow': {
        const delayMs = rng.int(150, 700);
        return this.providerOutage({ mode: 'slow', delayMs }, hold(), `answers ${delayMs} ms late`);
      }
      case 'provider-down':
        return this.providerOutage({ mode: 'down' }, hold(), 'connections closed unanswered');
      case 'provider-resetting':
        return this.providerOutage({ mode: 'reset' }, hold(), 'charges made, connection reset mid-answer');
      case 'provider-rate-limited':
        return this.providerOutage(
          { mode: 'rate-limited', retryAfterSeconds: rng.int(1, 2) },
          hold(),
          '429 with Retry-After before charging',
        );
      case 'provider-timeout-after-charge':
        return this.providerOutage(
          { mode: 'slow', delayMs: 2_500 },
          hold(),
          'charges made, answers after the client timed out',
        );
      case 'reconcile-forced': {
        // The unlucky moment: charges are being made and their answers are late (orders pending,
        // their requests still deciding) while a reconciliation pass runs, twice.
        await t.provider.setOutage({ mode: 'slow', delayMs: 2_500 });
        try {
          await sleep(rng.int(300, 1_500));
          await Promise.all([t.reconcileNow(), sleep(rng.int(0, 400)).then(() => t.reconcileNow())]);
        } finally {
          await t.provider.clearOutage();
        }
        return 'two reconciliation passes while charges answered late';
      }
      case 'postgres-backends-killed': {
        const killed = await withSoakClient(t.databaseUrl, async (c) => {
          const { rows } = await c.query(
            `SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity
              WHERE datname = current_database() AND pid <> pg_backend_pid()
                AND application_name NOT LIKE '${SOAK_APPLICATION_NAME}%'`,
          );
          return rows.length;
        });
        return `${killed} backends terminated`;
      }
      case 'postgres-table-locked': {
        const table = rng.pick(['orders', 'products', 'reports', 'idempotency_keys']);
        const ms = hold();
        await withSoakClient(t.databaseUrl, async (c) => {
          await c.query('BEGIN');
          await c.query(`LOCK TABLE ${table} IN SHARE ROW EXCLUSIVE MODE`);
          await sleep(ms);
          await c.query('ROLLBACK');
        });
        return `${table} locked against writes for ${ms} ms`;
      }
      case 'pooler-paused': {
        const ms = hold();
        await t.pooler!.pause();
        await sleep(ms);
        await t.pooler!.resume();
        return `paused ${ms} ms`;
      }
      case 'redis-paused': {
        const ms = hold();
        t.redis!.pause();
        event.detail = 'paused';
        await sleep(ms);
        await t.redis!.resume();
        return `SIGSTOP for ${ms} ms`;
      }
      case 'redis-restarted':
        await t.redis!.restart();
        return 'killed and restarted empty';
    }
  }

  private async providerOutage(
    outage: Parameters<SoakTopology['provider']['setOutage']>[0],
    ms: number,
    what: string,
  ): Promise<string> {
    await this.topology.provider.setOutage(outage);
    await sleep(ms);
    await this.topology.provider.clearOutage();
    return `${what}, ${ms} ms`;
  }

  /** Every fault healed: provider healthy, Redis answering, every process running. */
  private async healAll(): Promise<void> {
    const t = this.topology;
    await t.provider.clearOutage();
    if (t.redis) await t.redis.resume().catch(() => undefined);
    if (t.pooler) await t.pooler.resume().catch(() => undefined);
    for (const p of [...t.apis, ...t.workers]) if (!p.running) await p.start();
  }
}

/** A Postgres session of the soak's own (spared by the backend killer). */
export async function withSoakClient<T>(url: string, fn: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url, application_name: SOAK_APPLICATION_NAME });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}
