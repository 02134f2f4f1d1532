// npm run bench: the whole API (every safeguard on, logs written) against the raw
// node:http baseline (bench/raw-server.mjs) doing the same I/O, in the same run, on
// the same machine. Prints requests/s, p99 latency and the ratio; the target is a
// ratio of at least 0.5 on every route.
//
// Noise control: the servers run pinned to CPU 0 and the load generator to CPU 1 (when
// `taskset` exists); each of BENCH_ROUNDS rounds starts every server afresh and measures them
// one after another (raw, api, raw, api, ...), and the medians over rounds are compared.
//
// Besides requests/s, each round reads the server process's CPU time (/proc/<pid>/stat) and
// divides it by the requests served: CPU µs per request is steadier than throughput on a VM
// whose neighbours steal time, and its ratio (raw CPU/request over the API's) is printed too.
//
// BENCH_COMPARE=<git ref> also builds that ref in a temporary worktree (sharing this
// checkout's node_modules) and runs it as a third server in the same interleaved rounds
// (raw, API, ref, raw, ...), so "before and after a change" is one run under one set of
// conditions instead of two runs minutes apart: `BENCH_COMPARE=main npm run bench`.
//
// BENCH_TRACING=1 adds two more servers of this checkout with OpenTelemetry tracing on, exporting
// (OTLP/HTTP protobuf, default batch settings) to a stand-in collector (bench/otlp-sink.mjs):
// `traced` with the default sampler (parent-based, 10 % of new traces) and `traced100` sampling
// every request; the `api` server is this checkout with tracing off (no endpoint). Prices tracing
// in one run: `BENCH_TRACING=1 BENCH_COMPARE=main BENCH_ROUTE=Redis npm run bench` also shows
// that tracing off costs nothing against main.
//
// Environment: BENCH_DURATION (seconds per round, default 5), BENCH_ROUNDS (default 3),
// BENCH_CONNECTIONS (default 50), BENCH_ROUTE (only routes whose name contains it), BENCH_DATABASE_URL
// (default a throwaway database on the local Postgres), BENCH_COMPARE (a git ref to run alongside).
import autocannon from 'autocannon';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const hasTaskset = spawnSync('taskset', ['-c', '0', 'true']).status === 0;
if (hasTaskset && !process.env.BENCH_PINNED) {
  // Re-run this script pinned to CPU 1; the servers get CPU 0.
  const run = spawnSync('taskset', ['-c', '1', process.execPath, fileURLToPath(import.meta.url)], {
    stdio: 'inherit',
    env: { ...process.env, BENCH_PINNED: '1' },
  });
  process.exit(run.status ?? 1);
}
const pinned = (args) => (hasTaskset ? ['taskset', ['-c', '0', process.execPath, ...args]] : [process.execPath, args]);
const duration = Number(process.env.BENCH_DURATION ?? 5);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 50);
const databaseUrl = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/resilient_api_bench';
const env = {
  ...process.env,
  NODE_ENV: 'production',
  JWT_SECRET: 'bench-secret-bench-secret-bench-secret',
  DATABASE_URL: databaseUrl,
  REDIS_KEY_PREFIX: 'ra-bench:',
  LOG_LEVEL: 'info',
};
mkdirSync(resolve(root, 'bench/results'), { recursive: true });

const compareRef = process.env.BENCH_COMPARE;
const SINK_PORT = 3902;
/** BENCH_TRACING=1: the traced servers (this checkout, tracing on), each with its sampler. */
const tracedServers =
  process.env.BENCH_TRACING === '1'
    ? [
        {
          name: 'traced',
          port: 3900,
          env: { OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.1' },
        },
        { name: 'traced100', port: 3901, env: { OTEL_TRACES_SAMPLER: 'parentbased_always_on' } },
      ]
    : [];
const sink =
  tracedServers.length > 0
    ? spawn(process.execPath, [resolve(root, 'bench/otlp-sink.mjs'), String(SINK_PORT)], { stdio: 'ignore' })
    : undefined;
process.on('exit', () => sink?.kill());
const tracingEnv = {
  OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${SINK_PORT}`,
  OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
};

/** CPU time (user + system, µs) the process has used so far; 0 where /proc is missing. */
const cpuMicros = (pid) => {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) * (1_000_000 / 100);
  } catch {
    return 0;
  }
};

const waitFor = async (url, what) => {
  const deadline = Date.now() + 90_000; // four or five Nest apps boot at once on one pinned core
  while (Date.now() < deadline) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not come up`);
};

const load = (url) =>
  new Promise((resolveRun, reject) =>
    autocannon({ url, connections, duration, pipelining: 1 }, (err, result) =>
      err ? reject(err) : resolveRun(result),
    ),
  );

// 0. the ref to compare with, built in a temporary worktree that shares node_modules
let compareDir;
if (compareRef) {
  compareDir = mkdtempSync(resolve(tmpdir(), 'ra-bench-'));
  execFileSync('git', ['worktree', 'add', '--detach', compareDir, compareRef], { cwd: root, stdio: 'ignore' });
  // The same lockfile: share node_modules. Another one (a dependency added or removed since): the ref
  // gets its own install, or it would build and run against packages it never had.
  const lockOf = (dir) => readFileSync(resolve(dir, 'package-lock.json'), 'utf8');
  if (lockOf(compareDir) === lockOf(root)) {
    symlinkSync(resolve(root, 'node_modules'), resolve(compareDir, 'node_modules'));
  } else {
    console.error(`bench: ${compareRef} has another package-lock.json: npm ci in its worktree`);
    execFileSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: compareDir, stdio: 'ignore' });
  }
  execFileSync(resolve(compareDir, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.build.json'], {
    cwd: compareDir,
    stdio: 'inherit',
  });
}
const removeCompareDir = () => {
  if (!compareDir) return;
  execFileSync('git', ['worktree', 'remove', '--force', compareDir], { cwd: root, stdio: 'ignore' });
  rmSync(compareDir, { recursive: true, force: true });
};

// 1. a database with the demo catalog (the seed creates and migrates it like npm start does);
// the compared ref gets its own (its migrations may differ) and its own cache prefix
const seed = async (dir, url, prefix) => {
  // Refs before the entry points moved to src/ (issue 18) built the seed under dist/products/.
  const command = ['dist/seed.command.js', 'dist/products/seed.command.js'].find((path) =>
    existsSync(resolve(dir, path)),
  );
  execFileSync(process.execPath, [command], {
    cwd: dir,
    env: { ...env, DATABASE_URL: url, REDIS_KEY_PREFIX: prefix, NODE_ENV: 'development' },
    stdio: 'ignore',
  });
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  const { rows } = await db.query(`SELECT id FROM products WHERE status = 'active' ORDER BY sku LIMIT 1`);
  await db.end();
  return rows[0].id;
};
const productId = await seed(root, databaseUrl, env.REDIS_KEY_PREFIX);
const refEnv = { ...env, DATABASE_URL: `${databaseUrl}_ref`, REDIS_KEY_PREFIX: 'ra-bench-ref:' };
// The compared ref's database starts empty every run: one left by a run of another ref may hold
// migrations this ref does not know, and its readiness would then (rightly) never answer 200.
const recreateDatabase = async (url) => {
  const name = new URL(url).pathname.slice(1);
  const admin = new pg.Client({ connectionString: url.replace(/\/[^/?]*(\?.*)?$/, '/postgres') });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  await admin.end();
};
if (compareDir) await recreateDatabase(refEnv.DATABASE_URL);
const refProductId = compareDir ? await seed(compareDir, refEnv.DATABASE_URL, refEnv.REDIS_KEY_PREFIX) : undefined;

// 2. the servers: the API (logging to a file as in production: stdout to a file, not a
// terminal), the raw baseline and, with BENCH_COMPARE, the API built from that ref. Every round
// starts all of them afresh: two processes of the same build differ by up to ±5 % (JIT and heap
// layout), so a median over rounds of one long-lived process would measure that process.
const stopped = (child) => new Promise((done) => (child.exitCode !== null ? done() : child.once('exit', done)));
const startServers = async (round) => {
  const api = spawn(...pinned(['dist/main.js']), {
    cwd: root,
    env: { ...env, PORT: '3898', SHUTDOWN_DRAIN_MS: '0' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  api.stdout.pipe(createWriteStream(resolve(root, 'bench/results/api.log'), { flags: round === 0 ? 'w' : 'a' }));
  const raw = spawn(...pinned([resolve(root, 'bench/raw-server.mjs'), '3897']), { env, stdio: 'ignore' });
  const ref =
    compareDir &&
    spawn(...pinned(['dist/main.js']), {
      cwd: compareDir,
      env: { ...refEnv, PORT: '3899', SHUTDOWN_DRAIN_MS: '0' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
  ref?.stdout.pipe(createWriteStream(resolve(root, 'bench/results/ref.log'), { flags: round === 0 ? 'w' : 'a' }));
  const traced = tracedServers.map((server) => {
    const child = spawn(...pinned(['dist/main.js']), {
      cwd: root,
      env: { ...env, ...tracingEnv, ...server.env, PORT: String(server.port), SHUTDOWN_DRAIN_MS: '0' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    child.stdout.pipe(
      createWriteStream(resolve(root, `bench/results/${server.name}.log`), { flags: round === 0 ? 'w' : 'a' }),
    );
    return { name: server.name, port: server.port, process: child, productId };
  });
  const servers = [
    { name: 'raw', port: 3897, process: raw, productId },
    { name: 'api', port: 3898, process: api, productId },
    ...(ref ? [{ name: 'ref', port: 3899, process: ref, productId: refProductId }] : []),
    ...traced,
  ];
  try {
    await waitFor('http://127.0.0.1:3898/health/ready', 'the API');
    for (const server of traced)
      await waitFor(`http://127.0.0.1:${server.port}/health/ready`, `the ${server.name} API`);
    await waitFor('http://127.0.0.1:3897/v1/products?limit=1', 'the raw server');
    if (ref) await waitFor('http://127.0.0.1:3899/health/ready', `the API built from ${compareRef}`);
  } catch (error) {
    // None of them may outlive a failed start (they would hold the ports and the databases).
    await stopServers(servers);
    throw error;
  }
  return servers;
};
const stopServers = async (servers) => {
  for (const server of servers) server.process.kill('SIGTERM');
  await Promise.all(servers.map((server) => stopped(server.process)));
};

/** One measurement against one server: requests/s, p99, failures and CPU µs per request (taskset exec()s node: same pid). */
const measure = async (server, path) => {
  const before = cpuMicros(server.process.pid);
  const result = await load(`http://127.0.0.1:${server.port}${path}`);
  const cpu = cpuMicros(server.process.pid) - before;
  return { result, cpuPerRequest: result.requests.total > 0 ? cpu / result.requests.total : 0 };
};

const routes = [
  { name: 'GET /v1/products/{id} (Redis)', path: (server) => `/v1/products/${server.productId}` },
  { name: 'GET /v1/products?limit=20 (Postgres)', path: () => '/v1/products?limit=20' },
].filter((r) => !process.env.BENCH_ROUTE || r.name.includes(process.env.BENCH_ROUTE));
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const runs = routes.map(() => ({ raw: [], api: [], ref: [], traced: [], traced100: [] }));
try {
  for (let round = 0; round < rounds; round++) {
    const servers = await startServers(round);
    try {
      for (const [i, route] of routes.entries()) {
        // Warm every server (cache entry, JIT, pools) as long as a measurement, then measure them one after another.
        for (const server of servers) await load(`http://127.0.0.1:${server.port}${route.path(server)}`);
        for (const server of servers) runs[i][server.name].push(await measure(server, route.path(server)));
      }
    } finally {
      await stopServers(servers);
    }
  }
} finally {
  removeCompareDir();
  sink?.kill();
}
const results = routes.map((route, i) => {
  const rps = (name) => median(runs[i][name].map((r) => r.result.requests.average));
  const cpu = (name) => median(runs[i][name].map((r) => r.cpuPerRequest));
  const p99 = (name) => median(runs[i][name].map((r) => r.result.latency.p99));
  const bad = Object.values(runs[i])
    .flat()
    .reduce((n, r) => n + r.result.non2xx + r.result.errors, 0);
  return {
    route: route.name,
    'raw req/s': Math.round(rps('raw')),
    'api req/s': Math.round(rps('api')),
    ratio: Number((rps('api') / rps('raw')).toFixed(2)),
    'raw p99 ms': p99('raw'),
    'api p99 ms': p99('api'),
    'cpu µs/req raw/api': `${cpu('raw').toFixed(1)} / ${cpu('api').toFixed(1)}`,
    'cpu ratio': Number((cpu('raw') / cpu('api')).toFixed(2)),
    ...(compareRef && {
      [`${compareRef} req/s`]: Math.round(rps('ref')),
      [`${compareRef} ratio`]: Number((rps('ref') / rps('raw')).toFixed(2)),
      [`${compareRef} cpu ratio`]: Number((cpu('raw') / cpu('ref')).toFixed(2)),
    }),
    ...Object.fromEntries(
      tracedServers.flatMap(({ name }) => [
        [`${name} req/s`, Math.round(rps(name))],
        [`${name} ratio`, Number((rps(name) / rps('raw')).toFixed(2))],
        [`${name} cpu ratio`, Number((cpu('raw') / cpu(name)).toFixed(2))],
        [
          `${name} cost`,
          `${(100 * (1 - rps(name) / rps('api'))).toFixed(1)} % req/s, +${(cpu(name) - cpu('api')).toFixed(1)} µs/req`,
        ],
      ]),
    ),
    'errors/non-2xx': bad,
  };
});
console.log(
  `\nmedian of ${rounds} rounds (fresh server processes each round, ${duration}s per server and route), ${connections} connections, Node ${process.version}, ${hasTaskset ? 'servers on CPU 0, load on CPU 1' : 'unpinned'}`,
);
console.table(results);
if (compareRef) {
  for (const r of results) {
    const delta = r.ratio - r[`${compareRef} ratio`];
    const cpuDelta = r['cpu ratio'] - r[`${compareRef} cpu ratio`];
    console.log(
      `${r.route}: this checkout ${r.ratio}x vs ${compareRef} ${r[`${compareRef} ratio`]}x (${delta >= 0 ? '+' : ''}${delta.toFixed(2)}); ` +
        `CPU per request ${r['cpu ratio']}x vs ${r[`${compareRef} cpu ratio`]}x (${cpuDelta >= 0 ? '+' : ''}${cpuDelta.toFixed(2)})`,
    );
  }
}
for (const r of results) {
  for (const { name } of tracedServers)
    console.log(
      `${r.route}: tracing ${name === 'traced' ? 'on, default sampler (10 %)' : 'on, every request sampled'}: ${r[`${name} cost`]} against tracing off`,
    );
}
const worst = Math.min(...results.map((r) => r.ratio));
console.log(
  worst >= 0.5
    ? `OK: every route at >= 0.5x raw (worst ${worst}x)`
    : `BELOW TARGET: worst route at ${worst}x raw (target 0.5x)`,
);
process.exitCode = worst >= 0.5 && results.every((r) => r['errors/non-2xx'] === 0) ? 0 : 1;
