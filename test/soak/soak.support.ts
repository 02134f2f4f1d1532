import { mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ROOT } from '../support/process.support';
import { FAULT_KINDS, FaultSchedule, availableFaults, withSoakClient, type FaultKind } from './faults.scheduler';
import { History, describeFault } from './soak-history.support';
import {
  checkAnswers,
  checkAtRest,
  checkLogs,
  checkState,
  countByStatus,
  readFinalState,
  type InvariantResult,
} from './soak.invariants';
import { Rng } from './seeded-random.support';
import { startFleetTopology } from './fleet.topology';
import { startSingleInstance } from './single-instance.topology';
import type { SoakTopology } from './soak.topology';
import { Workload } from './customers.workload';

export interface SoakOptions {
  /** How long customers and faults run (the settle phase comes after). */
  minutes: number;
  seed: number;
  /** Target requests per second over all customers. */
  rate: number;
  customers: number;
  /** Faults drawn per minute (one at a time; a fault lasts about 1-4 s). */
  faultsPerMinute: number;
  /** The fault kinds to draw from (default: every kind the topology offers). */
  faultKinds?: FaultKind[];
  /** Keep drawing past `minutes` until every kind was injected this many times (0: stop on time). */
  minRounds: number;
  /** Keep drawing past `minutes` until this many faults were injected in all (default 0). */
  minFaults?: number;
  /** Where the report goes (default soak/results/); undefined with `writeResults: false`. */
  writeResults: boolean;
  /**
   * The system under test: `fleet` (default: nginx, two APIs, two workers, PgBouncer; fleet.topology.ts),
   * `single-instance` (one API, one worker; single-instance.topology.ts), or a topology of the caller's.
   */
  topology?: TopologyName | (() => Promise<SoakTopology>);
  /** Progress lines (default: none). */
  progress?: (line: string) => void;
}

export const TOPOLOGIES = ['fleet', 'single-instance'] as const;
export type TopologyName = (typeof TOPOLOGIES)[number];

const STARTERS: Record<TopologyName, () => Promise<SoakTopology>> = {
  fleet: () => startFleetTopology(),
  'single-instance': () => startSingleInstance(),
};

/**
 * The defaults that make a run of `minutes` a fair sample of every fault: each kind at least once
 * per three minutes (10 times in 30 minutes) and ten faults a minute in all (300 in 30 minutes).
 * The run goes on past `minutes` until both are met.
 */
export const defaultRounds = (minutes: number) => ({
  minRounds: Math.max(1, Math.floor(minutes / 3)),
  minFaults: Math.ceil(minutes * 10),
});

export interface SoakReport {
  seed: number;
  topology: string;
  options: Omit<SoakOptions, 'topology' | 'progress'> & { topology: string };
  startedAt: string;
  durationS: number;
  settleS: number;
  requests: number;
  statuses: Record<string, number>;
  faults: { kind: string; injected: number; failed: number; meanS: number }[];
  faultsTotal: number;
  notAvailable: string[];
  orders: Record<string, number>;
  reports: Record<string, number>;
  invariants: InvariantResult[];
  violations: number;
  /** Per failing invariant, its first example's history slice. */
  slices: { invariant: string; example: string; slice: string[] }[];
  logLines: number;
  /** Report runs that recomputed a finished report and stored nothing (at-least-once jobs, by design). */
  reportsRecomputed: number;
  table: string;
  summaryLine: string;
  resultFile?: string;
}

const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The soak's catalog: stock enough for the run, one product scarce (OUT_OF_STOCK races), one discontinued. */
async function seedCatalog(
  databaseUrl: string,
): Promise<{ productIds: string[]; discontinuedId: string; stock: Map<string, number> }> {
  return withSoakClient(databaseUrl, async (c) => {
    const rows: [string, number, number, string][] = [
      ['SOAK-TEA', 450, 100_000, 'active'],
      ['SOAK-MUG', 1_250, 100_000, 'active'],
      ['SOAK-PEN', 199, 100_000, 'active'],
      ['SOAK-LAMP', 4_900, 100_000, 'active'],
      ['SOAK-BOOK', 2_300, 100_000, 'active'],
      ['SOAK-RARE', 9_900, 25, 'active'],
      ['SOAK-OLD', 700, 10, 'discontinued'],
    ];
    for (const [sku, price, stock, status] of rows) {
      await c.query(
        `INSERT INTO products (sku, name, price_cents, currency, stock, status) VALUES ($1, $2, $3, 'EUR', $4, $5)`,
        [sku, `Soak ${sku.toLowerCase()}`, price, stock, status],
      );
    }
    const { rows: products } = await c.query<{ id: string; stock: number; status: string }>(
      `SELECT id, stock, status FROM products`,
    );
    return {
      productIds: products.filter((p) => p.status === 'active').map((p) => p.id),
      discontinuedId: products.find((p) => p.status === 'discontinued')!.id,
      stock: new Map(products.map((p) => [p.id, p.stock])),
    };
  });
}

/** Polls until no order is pending and no report unfinished, or the bound passes; returns the seconds it took. */
async function settle(databaseUrl: string, boundMs: number): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < boundMs) {
    const open = await withSoakClient(databaseUrl, async (c) => {
      const { rows } = await c.query<{ n: number }>(
        `SELECT (SELECT count(*) FROM orders WHERE status = 'payment_pending')
              + (SELECT count(*) FROM reports WHERE status IN ('queued', 'running'))::int AS n`,
      );
      return Number(rows[0].n);
    }).catch(() => 1);
    if (open === 0) break;
    await sleep(500);
  }
  return (Date.now() - started) / 1000;
}

export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  const say = options.progress ?? (() => undefined);
  const rng = new Rng(options.seed);
  const workloadRng = rng.fork(1);
  const faultRng = rng.fork(2);
  const startedAt = new Date().toISOString();
  const chosen = options.topology ?? 'fleet';
  say(`soak: starting the ${typeof chosen === 'string' ? chosen : 'given'} topology`);
  const topology = await (typeof chosen === 'string' ? STARTERS[chosen] : chosen)();
  try {
    const catalog = await seedCatalog(topology.databaseUrl);
    const history = new History();
    const kinds = (options.faultKinds ?? availableFaults(topology)).filter((k) =>
      availableFaults(topology).includes(k),
    );
    const notAvailable = FAULT_KINDS.filter((k) => !availableFaults(topology).includes(k));
    const workload = new Workload(
      { baseUrl: topology.baseUrl, customers: options.customers, rate: options.rate, ...catalog },
      history,
      workloadRng,
    );
    const meanGapMs = Math.max(300, 60_000 / options.faultsPerMinute - 2_500);
    const schedule = new FaultSchedule(topology, history, faultRng, kinds, meanGapMs);
    say(
      `soak: seed ${options.seed}, ${options.customers} customers at ~${options.rate} req/s, faults ${kinds.join(' ')}`,
    );
    workload.start();
    schedule.start();
    const endAt = Date.now() + options.minutes * 60_000;
    let lastProgress = 0;
    for (;;) {
      const counts = new Map<string, number>();
      for (const f of history.faults) counts.set(f.kind, (counts.get(f.kind) ?? 0) + 1);
      const rounds = Math.min(...kinds.map((k) => counts.get(k) ?? 0));
      if (Date.now() >= endAt && rounds >= options.minRounds && history.faults.length >= (options.minFaults ?? 0))
        break;
      if (Date.now() - lastProgress > 30_000) {
        lastProgress = Date.now();
        say(
          `soak: t=${Math.round(history.now() / 1000)}s requests=${history.exchanges.length} faults=${history.faults.length}`,
        );
      }
      await sleep(250);
    }
    say('soak: faults stop; healing');
    await schedule.stop();
    say('soak: customers finish what they are doing');
    await workload.stop();
    const runS = history.now() / 1000;
    const settleBoundMs = Number(topology.appEnv.RECONCILE_GRACE_MS) + 60_000;
    say('soak: waiting for every order and report to settle');
    const settleS = await settle(topology.databaseUrl, settleBoundMs);

    const secrets = workload.secrets();
    const hangBoundMs =
      Math.max(Number(topology.appEnv.REQUEST_DEADLINE_MS), Number(topology.appEnv.ORDERS_REQUEST_DEADLINE_MS)) + 4_000;
    const state = await readFinalState(topology.databaseUrl);
    const logs = checkLogs(topology, secrets);
    const recovered = {
      name: 'faults-recovered',
      checks: 'every fault was injected and healed: each killed process came back ready',
      violations: history.faults.filter((f) => f.failure).length,
      examples: history.faults
        .filter((f) => f.failure)
        .slice(0, 5)
        .map((f) => ({ text: describeFault(f).trim(), ids: [] })),
    };
    const invariants = [
      ...(await checkState(topology, history, state, catalog.stock)),
      ...checkAnswers(history, secrets, hangBoundMs),
      ...logs.results,
      ...(await checkAtRest(topology)),
      recovered,
    ];
    const violations = invariants.reduce((sum, r) => sum + r.violations, 0);
    const faultCounts = kinds.map((kind) => ({
      kind,
      injected: history.faults.filter((f) => f.kind === kind).length,
      failed: history.faults.filter((f) => f.kind === kind && f.failure).length,
      meanS: mean(history.faults.filter((f) => f.kind === kind).map((f) => ((f.healedAt ?? f.at) - f.at) / 1000)),
    }));
    const allLines = topology.logLines();
    /** The log lines (any process) that name one of `ids`: what the processes said about it. */
    const logsNaming = (ids: string[]) =>
      ids.length === 0
        ? []
        : allLines
            .filter((l) => ids.some((id) => l.text.includes(id)))
            .slice(0, 10)
            .map((l) => `  log ${l.source}: ${l.text.slice(0, 300)}`);
    const slices = invariants
      .filter((r) => r.violations > 0)
      .flatMap((r) =>
        r.examples.slice(0, 2).map((ex) => ({
          invariant: r.name,
          example: ex.text,
          slice: [...history.slice(ex.ids), ...logsNaming(ex.ids)],
        })),
      );
    const tally = <T>(items: T[], key: (t: T) => string) =>
      items.reduce<Record<string, number>>((acc, item) => ((acc[key(item)] = (acc[key(item)] ?? 0) + 1), acc), {});
    const { topology: _t, progress: _p, ...rest } = options;
    const plainOptions = { ...rest, topology: topology.kind };
    const report: SoakReport = {
      seed: options.seed,
      topology: topology.kind,
      options: plainOptions,
      startedAt,
      durationS: Math.round(runS),
      settleS: Math.round(settleS * 10) / 10,
      requests: history.exchanges.length,
      statuses: Object.fromEntries([...countByStatus(history.exchanges)].sort()),
      faults: faultCounts,
      faultsTotal: history.faults.length,
      notAvailable: [...notAvailable],
      orders: tally(state.orders, (o) => o.status),
      reports: tally(state.reports, (r) => r.status),
      invariants,
      violations,
      slices,
      logLines: logs.lines,
      reportsRecomputed: logs.recomputed,
      table: '',
      summaryLine: `SOAK violations=${violations} faults=${history.faults.length} requests=${history.exchanges.length} seed=${options.seed}`,
    };
    report.table = formatReport(report);
    if (options.writeResults) report.resultFile = writeResults(report, history);
    return report;
  } finally {
    await topology.stop();
  }
}

function pad(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => `| ${r.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`).join('\n');
}

/** The report as Markdown tables: what `npm run soak` prints and writes. */
export function formatReport(r: SoakReport): string {
  const invariantRows = [
    ['invariant', 'violations', 'first example'],
    ...r.invariants.map((i) => [
      i.name,
      String(i.violations),
      (i.examples[0]?.text ?? '').replace(/\|/g, '/').slice(0, 110),
    ]),
  ];
  const faultRows = [
    ['fault', 'injected', 'not recovered', 'mean duration (s)'],
    ...r.faults.map((f) => [f.kind, String(f.injected), String(f.failed), f.meanS.toFixed(1)]),
    ...r.notAvailable.map((k) => [k, 'n/a (not in this topology)', '-', '-']),
  ];
  const lines = [
    `## Soak ${r.startedAt} — seed ${r.seed}`,
    '',
    `topology ${r.topology}; ${r.options.customers} customers at ~${r.options.rate} req/s; ${r.durationS} s of faults and traffic, settled in ${r.settleS} s`,
    `requests ${r.requests} (${Object.entries(r.statuses)
      .map(([s, n]) => `${s}: ${n}`)
      .join(', ')})`,
    `orders ${Object.entries(r.orders)
      .map(([s, n]) => `${s} ${n}`)
      .join(', ')}; reports ${Object.entries(r.reports)
      .map(([s, n]) => `${s} ${n}`)
      .join(
        ', ',
      )}; ${r.logLines} log lines checked; ${r.reportsRecomputed} report runs recomputed a finished report and stored nothing`,
    '',
    pad(invariantRows),
    '',
    pad(faultRows),
  ];
  if (r.slices.length > 0) {
    lines.push('', `Violations: replay with --seed ${r.seed}. Minimal history slices:`);
    for (const s of r.slices)
      lines.push('', `[${s.invariant}] ${s.example}`, ...(s.slice.length ? s.slice : ['  (no exchange names it)']));
  }
  return lines.join('\n');
}

function writeResults(report: SoakReport, history: History): string {
  const dir = resolve(ROOT, 'soak', 'results');
  mkdirSync(dir, { recursive: true });
  const stem = `${report.startedAt.replace(/[:.]/g, '-')}-seed-${report.seed}`;
  const file = resolve(dir, `${stem}.md`);
  writeFileSync(file, `${report.table}\n\n${report.summaryLine}\n`);
  writeFileSync(
    resolve(dir, `${stem}.json`),
    JSON.stringify({ ...report, table: undefined, faultLog: history.faults }, null, 2),
  );
  return file;
}
