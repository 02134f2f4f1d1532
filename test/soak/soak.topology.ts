/**
 * What the soak needs from the system under test, whatever its shape: the fleet of the topology
 * harness (two APIs behind nginx, PgBouncer, two workers: fleet.topology.ts, the default) or one
 * API process and one worker (single-instance.topology.ts). The workload talks to `baseUrl` only; the fault
 * schedule uses the handles; the invariant checker reads `databaseUrl`, the provider's ledger, the
 * metrics endpoints, Redis and the logs. A capability a topology lacks is absent (`redis`,
 * `pooler`), and the faults that need it are reported as "not in this topology", never faked.
 */
import type { ChargeLedgerEntry, OutageMode } from '../../src/payments/fake-provider/fake-provider.server';
import { runNode, type RunningProcess } from '../support/process.support';

/** The built one-off reconciliation pass. */
const RECONCILE_COMMAND = 'dist/reconcile.command.js';

export interface ProcessHandle {
  /** `api-1`, `worker-1`, … */
  readonly name: string;
  readonly running: boolean;
  /** Sends `signal` and waits until the process is gone (SIGTERM: its graceful shutdown, bounded). */
  stop(signal: 'SIGKILL' | 'SIGTERM'): Promise<{ exitCode: number | null; ms: number }>;
  /** Starts it again with the same port and environment; resolves once it is ready. */
  start(): Promise<void>;
  /** Its `/metrics` URL (Prometheus text). */
  readonly metricsUrl: string;
}

export interface ProviderControl {
  readonly url: string;
  setOutage(outage: OutageMode): Promise<void>;
  clearOutage(): Promise<void>;
  /** Every idempotency key the provider saw, with the charge made under it. */
  ledger(): Promise<ChargeLedgerEntry[]>;
}

/** The control of the repo's fake provider at `url`, over its admin endpoints (any topology runs one). */
export function fakeProviderControl(url: string): ProviderControl {
  const admin = (path: string, init?: RequestInit) => fetch(`${url}${path}`, init);
  return {
    url,
    async setOutage(outage) {
      const res = await admin('/__admin/outage', {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(outage),
      });
      if (!res.ok) throw new Error(`provider outage ${outage.mode}: ${res.status}`);
    },
    async clearOutage() {
      await admin('/__admin/outage', { method: 'DELETE' });
    },
    async ledger() {
      const res = await admin('/__admin/charges');
      return ((await res.json()) as { keys: ChargeLedgerEntry[] }).keys;
    },
  };
}

/**
 * Sends `signal` to a process of the topology and waits until it is gone: a SIGTERM gets 30 s for
 * the graceful shutdown, then a SIGKILL. The exit code and how long it took.
 */
export async function stopProcess(
  proc: RunningProcess,
  signal: 'SIGKILL' | 'SIGTERM',
): Promise<{ exitCode: number | null; ms: number }> {
  const started = Date.now();
  proc.kill(signal);
  let exitCode: number | null;
  try {
    exitCode = await proc.exited(30_000);
  } catch {
    proc.kill('SIGKILL');
    exitCode = await proc.exited(10_000);
  }
  return { exitCode, ms: Date.now() - started };
}

/** JSON log lines of one source, out of a process's output lines. */
export const jsonLinesOf = (source: string, lines: string[]): SourcedLine[] =>
  lines.filter((text) => text.startsWith('{')).map((text) => ({ source, text }));

/**
 * Reconciliation passes run on demand (`npm run payments:reconcile`, built) with the apps' settings,
 * and the log lines of every pass so far (source `reconcile`).
 */
export function reconcilePasses(appEnv: Record<string, string>) {
  const outputs: string[] = [];
  return {
    async run(): Promise<void> {
      const pass = runNode(RECONCILE_COMMAND, appEnv);
      try {
        // Generous: it boots a whole process, on a box where restarts are being forced meanwhile.
        await pass.exited(90_000);
      } finally {
        pass.kill('SIGKILL');
        outputs.push(pass.stdout());
      }
    },
    lines: (): SourcedLine[] =>
      jsonLinesOf(
        'reconcile',
        outputs.flatMap((out) => out.split('\n')),
      ),
  };
}

/** A Redis of the topology's own (never the shared one): safe to pause and restart. */
export interface RedisControl {
  readonly url: string;
  readonly keyPrefix: string;
  /** SIGSTOP: connections stay open, nothing answers. */
  pause(): void;
  resume(): Promise<void>;
  /** SIGKILL and a fresh, empty server on the same port. */
  restart(): Promise<void>;
}

/** The connection pooler between the apps and Postgres (fleet only). */
export interface PoolerControl {
  /** Clients keep their connections; their queries wait (up to the pooler's query_wait_timeout). */
  pause(): Promise<void>;
  resume(): Promise<void>;
  /** At rest: what the pooler's own view shows wrong (clients waiting, servers busy, over the pool size). */
  problemsAtRest(): Promise<string[]>;
}

/** One JSON log line of a process of the topology (every incarnation of it, restarts included). */
export interface SourcedLine {
  source: string;
  text: string;
}

export interface SoakTopology {
  /** `single-instance` or `fleet`: printed in the report. */
  readonly kind: string;
  /** Where callers send requests (the API, or the balancer in front of the APIs). */
  readonly baseUrl: string;
  /** Postgres itself, the topology's own database: rows, pg_stat_activity, pg_locks, pg_terminate_backend. */
  readonly databaseUrl: string;
  /** The most Postgres connections the apps may hold between them at rest (pools). */
  readonly maxAppConnections: number;
  readonly apis: readonly ProcessHandle[];
  readonly workers: readonly ProcessHandle[];
  readonly provider: ProviderControl;
  readonly redis?: RedisControl;
  readonly pooler?: PoolerControl;
  /** The settings the apps run with (the invariant checker derives its bounds from them). */
  readonly appEnv: Readonly<Record<string, string>>;
  /** One reconciliation pass now (`npm run payments:reconcile`), beside the worker's own schedule. */
  reconcileNow(): Promise<void>;
  /** Every JSON log line of the APIs, workers and reconcile passes so far. */
  logLines(): SourcedLine[];
  /** Stops every process and removes the database and private servers. */
  stop(): Promise<void>;
}
