import { parseArgs } from 'node:util';
import { FAULT_KINDS, type FaultKind } from './faults.scheduler';
import { TOPOLOGIES, defaultRounds, runSoak, type TopologyName } from './soak.support';

/**
 * `npm run soak -- --minutes N --seed S [--topology fleet|single-instance] [--rate R] [--customers C]
 * [--faults F] [--fault-kinds a,b] [--min-rounds K] [--min-faults N]`: the invariant soak
 * (docs/reliability.md), on the fleet by default. Without --min-rounds/--min-faults a run goes on
 * past its minutes until every kind was injected once per three minutes and ten faults a minute
 * in all (30 minutes: every kind 10 times, 300 faults). Prints the report table, writes it
 * under soak/results/, and ends with `SOAK violations=<n> faults=<n> requests=<n> seed=<seed>`;
 * exits 1 when any invariant was violated (2 when the soak itself could not run).
 */
/** A bad option: one line on stderr, no stack. */
class UsageError extends Error {}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      minutes: { type: 'string', default: '5' },
      seed: { type: 'string' },
      rate: { type: 'string', default: '12' },
      customers: { type: 'string', default: '10' },
      faults: { type: 'string', default: '12' },
      'fault-kinds': { type: 'string' },
      'min-rounds': { type: 'string' },
      'min-faults': { type: 'string' },
      topology: { type: 'string', default: 'fleet' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(
      'npm run soak -- --minutes N --seed S [--topology fleet|single-instance] [--rate req/s] [--customers N] [--faults per-minute] [--fault-kinds a,b,…] [--min-rounds K] [--min-faults N]\n' +
        'defaults: --minutes 5 --topology fleet --rate 12 --customers 10 --faults 12, --min-rounds minutes/3, --min-faults 10 a minute\n' +
        `fault kinds: ${FAULT_KINDS.join(' ')}\n`,
    );
    return 0;
  }
  const number = (name: string, text: string, min: number) => {
    const n = Number(text);
    if (!Number.isFinite(n) || n < min) throw new UsageError(`--${name} must be a number >= ${min} (got ${text})`);
    return n;
  };
  const kinds = values['fault-kinds']
    ?.split(',')
    .map((k) => k.trim())
    .filter(Boolean);
  const unknown = kinds?.filter((k) => !(FAULT_KINDS as readonly string[]).includes(k)) ?? [];
  if (unknown.length)
    throw new UsageError(`--fault-kinds: unknown ${unknown.join(', ')} (known: ${FAULT_KINDS.join(' ')})`);
  if (!(TOPOLOGIES as readonly string[]).includes(values.topology))
    throw new UsageError(`--topology must be one of ${TOPOLOGIES.join(', ')} (got ${values.topology})`);
  const minutes = number('minutes', values.minutes, 0.1);
  const rounds = defaultRounds(minutes);
  const seed = values.seed === undefined ? Date.now() % 1_000_000_007 : Math.trunc(number('seed', values.seed, 0));
  const report = await runSoak({
    minutes,
    topology: values.topology as TopologyName,
    seed,
    rate: number('rate', values.rate, 0.5),
    customers: Math.trunc(number('customers', values.customers, 1)),
    faultsPerMinute: number('faults', values.faults, 0.1),
    faultKinds: kinds as FaultKind[] | undefined,
    minRounds:
      values['min-rounds'] === undefined ? rounds.minRounds : Math.trunc(number('min-rounds', values['min-rounds'], 0)),
    minFaults:
      values['min-faults'] === undefined ? rounds.minFaults : Math.trunc(number('min-faults', values['min-faults'], 0)),
    writeResults: true,
    progress: (line) => process.stderr.write(`${line}\n`),
  });
  process.stdout.write(`${report.table}\n\n`);
  if (report.resultFile) process.stdout.write(`report written to ${report.resultFile}\n`);
  process.stdout.write(`${report.summaryLine}\n`);
  return report.violations === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    const text = error instanceof UsageError ? error.message : error instanceof Error ? error.stack : String(error);
    process.stderr.write(`soak failed to run: ${text}\n`);
    process.stdout.write('SOAK violations=-1 faults=0 requests=0 seed=unknown\n');
    process.exit(2);
  },
);
