// npm run bench: the whole API (every safeguard on, logs written) against the raw
// node:http baseline (bench/raw-server.mjs) doing the same I/O, in the same run, on
// the same machine. Prints requests/s, p99 latency and the ratio; the target is a
// ratio of at least 0.5 on every route.
//
// Noise control: the servers run pinned to CPU 0 and the load generator to CPU 1 (when
// `taskset` exists), and each route is measured in BENCH_ROUNDS interleaved rounds
// (raw, api, raw, api, ...) whose medians are compared.
//
// Environment: BENCH_DURATION (seconds per round, default 5), BENCH_ROUNDS (default 3),
// BENCH_CONNECTIONS (default 50), BENCH_ROUTE (only routes whose name contains it), BENCH_DATABASE_URL (default a throwaway database on the local Postgres).
import autocannon from 'autocannon';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
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

const waitFor = async (url, what) => {
  const deadline = Date.now() + 30_000;
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

// 1. a database with the demo catalog (the seed creates and migrates it like npm start does)
execFileSync(process.execPath, ['dist/products/seed.command.js'], {
  cwd: root,
  env: { ...env, NODE_ENV: 'development' },
  stdio: 'ignore',
});
const db = new pg.Client({ connectionString: databaseUrl });
await db.connect();
const { rows } = await db.query(`SELECT id FROM products WHERE status = 'active' ORDER BY sku LIMIT 1`);
await db.end();
const productId = rows[0].id;

// 2. the API, logging to a file as in production (stdout to a file, not a terminal)
const log = createWriteStream(resolve(root, 'bench/results/api.log'));
const api = spawn(...pinned(['dist/main.js']), {
  cwd: root,
  env: { ...env, PORT: '3898', SHUTDOWN_DRAIN_MS: '0' },
  stdio: ['ignore', 'pipe', 'inherit'],
});
api.stdout.pipe(log);
await waitFor('http://127.0.0.1:3898/health/ready', 'the API');
const raw = spawn(...pinned([resolve(root, 'bench/raw-server.mjs'), '3897']), { env, stdio: 'ignore' });
await waitFor(`http://127.0.0.1:3897/v1/products?limit=1`, 'the raw server');

const routes = [
  { name: 'GET /v1/products/{id} (Redis)', path: `/v1/products/${productId}` },
  { name: 'GET /v1/products?limit=20 (Postgres)', path: '/v1/products?limit=20' },
];
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const results = [];
try {
  for (const route of routes.filter((r) => !process.env.BENCH_ROUTE || r.name.includes(process.env.BENCH_ROUTE))) {
    // Warm both (cache entry, JIT, pools), then alternate so drift hits both alike.
    await load(`http://127.0.0.1:3898${route.path}`);
    await load(`http://127.0.0.1:3897${route.path}`);
    const rawRuns = [];
    const apiRuns = [];
    for (let round = 0; round < rounds; round++) {
      rawRuns.push(await load(`http://127.0.0.1:3897${route.path}`));
      apiRuns.push(await load(`http://127.0.0.1:3898${route.path}`));
    }
    const rawRps = median(rawRuns.map((r) => r.requests.average));
    const apiRps = median(apiRuns.map((r) => r.requests.average));
    const bad = [...rawRuns, ...apiRuns].reduce((n, r) => n + r.non2xx + r.errors, 0);
    results.push({
      route: route.name,
      'raw req/s': Math.round(rawRps),
      'api req/s': Math.round(apiRps),
      ratio: Number((apiRps / rawRps).toFixed(2)),
      'raw p99 ms': median(rawRuns.map((r) => r.latency.p99)),
      'api p99 ms': median(apiRuns.map((r) => r.latency.p99)),
      'errors/non-2xx': bad,
    });
  }
} finally {
  api.kill('SIGTERM');
  raw.kill();
}
console.log(
  `\nmedian of ${rounds} interleaved ${duration}s rounds, ${connections} connections, Node ${process.version}, ${hasTaskset ? 'servers on CPU 0, load on CPU 1' : 'unpinned'}`,
);
console.table(results);
const worst = Math.min(...results.map((r) => r.ratio));
console.log(
  worst >= 0.5
    ? `OK: every route at >= 0.5x raw (worst ${worst}x)`
    : `BELOW TARGET: worst route at ${worst}x raw (target 0.5x)`,
);
process.exitCode = worst >= 0.5 && results.every((r) => r['errors/non-2xx'] === 0) ? 0 : 1;
