#!/usr/bin/env node
// `npm run rehearse:rollout`: the staged rollout rehearsed live on one machine, with the repo's own
// scripts/canary-rollout.sh and scripts/rollout-gate.mjs called as deploy.yml calls them (F31).
//
// Real parts: a throwaway Prometheus (Debian's, .tools/bin) running the shipped scrape config
// deploy/prometheus/prometheus.kubernetes.yml, its kubernetes_sd_configs swapped for file discovery
// whose targets carry the pod's __meta_kubernetes_* labels (the relabeling runs unchanged); a stable
// and a canary API process (the built dist/main.js) on a throwaway database and the fake payments
// provider; nginx (Debian's, .tools/bin) splitting user traffic by weight per request, as the NGINX
// ingress controller does for Argo Rollouts' canary ingress; kubelet-like probe loops; steady load.
// The `kubectl` is the stand-in (test/support/kubectl-rollouts.stand-in.mjs) with the real
// plugin's behaviour; its weight changes rewrite nginx's split and reload it.
//
// Scenarios (--scenarios a,b,...; default all): bad (orders answer 503: a broken provider URL),
// slow (the canary's orders wait 1.2 s on its provider: a release that added a slow call; no
// error, only latency, whatever the machine's load), healthy (no error anywhere), idle (no
// user traffic, probes and scrapes only), dying (the canary is killed mid-bake). Each prints its
// decision, the time from the first traffic shift to the decision, and the requests callers saw
// fail on the canary; the run fails (exit 1) when a scenario ends otherwise than it must.
// Everything binds 127.0.0.1 on spare ports; every process started is stopped at the end, on
// failure and on the overall deadline (REHEARSAL_DEADLINE_SECONDS, default 600) too.
import { execFile, execFileSync, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { load as loadYaml, dump as dumpYaml } from 'js-yaml';
import pg from 'pg';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const TOOLS = join(ROOT, '.tools', 'bin');
const STAND_IN = join(ROOT, 'test', 'support', 'kubectl-rollouts.stand-in.mjs');
const ADMIN_DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const SCENARIOS = ['bad', 'slow', 'healthy', 'idle', 'dying'];

/** Minutes compressed into seconds; the gate's and the driver's defaults scaled down alike. */
export const TIMING = {
  scrapeSeconds: 1,
  window: '30s',
  recentWindow: '5s',
  minRequests: 60,
  minRecentRequests: 5,
  gateIntervalSeconds: 2, // the driver's POLL_SECONDS
  bakeSeconds: 12,
  decisionDeadlineSeconds: 15,
  stepTimeoutSeconds: 20,
  requestsPerSecond: 40,
  orderShare: 0.1, // the rest are product reads
  p99SlackSeconds: 0.25,
  scenarioDeadlineSeconds: 120,
};

/** The gate's options at this scale (the driver passes them as GATE_ARGS). */
function gateOptions() {
  return [
    '--window',
    TIMING.window,
    '--recent-window',
    TIMING.recentWindow,
    '--min-requests',
    String(TIMING.minRequests),
    '--min-recent-requests',
    String(TIMING.minRecentRequests),
    // A shared 2-core box stalls now and then for a few hundred ms; at 60 canary requests one
    // stall is the p99. The slack absorbs one stall; the slow canary is ten times slower.
    '--p99-slack-seconds',
    String(TIMING.p99SlackSeconds),
  ];
}

const log = (...parts) => process.stderr.write(`rehearsal: ${parts.join(' ')}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// --- processes ------------------------------------------------------------------------------

const children = new Set();

/** Starts a process in its own process group (so stopping it stops its children too). */
function start(name, command, args, { env = {}, cwd = ROOT, quiet = true } = {}) {
  const child = spawn(command, args, {
    cwd,
    env: { PATH: process.env.PATH ?? '', ...env },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (chunk) => {
    output = (output + chunk.toString()).slice(-20_000);
    if (!quiet) process.stderr.write(chunk);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise((done) => child.once('exit', (code, signal) => done({ code, signal })));
  const handle = {
    name,
    child,
    exited,
    output: () => output,
    running: () => child.exitCode === null && child.signalCode === null,
    stop(signal = 'SIGKILL') {
      if (handle.running()) {
        try {
          process.kill(-child.pid, signal);
        } catch {
          /* already gone */
        }
      }
      children.delete(handle);
    },
  };
  children.add(handle);
  child.once('exit', () => children.delete(handle));
  return handle;
}

function stopAll() {
  for (const handle of [...children]) handle.stop('SIGKILL');
}

async function pollUntil(check, { timeoutMs, intervalMs = 100, what }) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

function freePort() {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => done(port));
    });
  });
}

const answers = (url) => fetch(url, { signal: AbortSignal.timeout(2_000) }).then((r) => r.ok);

// --- the pieces -----------------------------------------------------------------------------

/** A tool on PATH, else in .tools/bin (where scripts/ensure-test-tools.sh puts it). */
function tool(name) {
  for (const dir of (process.env.PATH ?? '').split(':').filter(Boolean)) {
    if (existsSync(join(dir, name))) return join(dir, name);
  }
  const path = join(TOOLS, name);
  if (!existsSync(path)) {
    throw new Error(
      `${path} is missing: run \`bash scripts/ensure-test-tools.sh\` (it extracts it from Debian's package)`,
    );
  }
  return path;
}

async function createDatabase(id) {
  const name = `ra_rehearsal_${id}`;
  const admin = new pg.Client({ connectionString: ADMIN_DATABASE_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(ADMIN_DATABASE_URL);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    async drop() {
      const client = new pg.Client({ connectionString: ADMIN_DATABASE_URL });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}

/** The shipped scrape config with file discovery in place of the Kubernetes API, scrapes compressed. */
function prometheusConfig(dir) {
  const shipped = loadYaml(readFileSync(join(ROOT, 'deploy', 'prometheus', 'prometheus.kubernetes.yml'), 'utf8'));
  const scrape = `${TIMING.scrapeSeconds}s`;
  return {
    ...shipped,
    global: { ...shipped.global, scrape_interval: scrape, evaluation_interval: scrape, scrape_timeout: scrape },
    rule_files: [join(ROOT, 'deploy', 'prometheus', 'alerts.rules.yml')],
    scrape_configs: shipped.scrape_configs.map(({ kubernetes_sd_configs: sd, ...job }) => {
      if (!sd) throw new Error(`scrape job ${job.job_name} does not discover pods through Kubernetes`);
      return { ...job, file_sd_configs: [{ files: [join(dir, 'pods.json')], refresh_interval: '1s' }] };
    }),
  };
}

/** A pod as Kubernetes service discovery (role: pod) describes it to the relabeling. */
function podTarget({ namespace, pod, port, track }) {
  return {
    targets: [`127.0.0.1:${port}`],
    labels: {
      __meta_kubernetes_namespace: namespace,
      __meta_kubernetes_pod_name: pod,
      __meta_kubernetes_pod_phase: 'Running',
      __meta_kubernetes_pod_label_app: 'resilient-api',
      __meta_kubernetes_pod_label_component: 'api',
      __meta_kubernetes_pod_label_track: track,
      __meta_kubernetes_pod_annotation_prometheus_io_scrape: 'true',
      __meta_kubernetes_pod_annotation_prometheus_io_port: String(port),
      __meta_kubernetes_pod_annotation_prometheus_io_path: '/metrics',
    },
  };
}

function nginxConfig(dir, port, stablePort, canaryPort) {
  return `daemon off;
master_process on;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/nginx-error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/tmp/body;
  proxy_temp_path ${dir}/tmp/proxy;
  fastcgi_temp_path ${dir}/tmp/fastcgi;
  uwsgi_temp_path ${dir}/tmp/uwsgi;
  scgi_temp_path ${dir}/tmp/scgi;
  # The canary weight, per request (the NGINX ingress canary-weight does the same).
  include ${dir}/split.conf;
  upstream stable { server 127.0.0.1:${stablePort}; keepalive 16; }
  upstream canary { server 127.0.0.1:${canaryPort}; keepalive 16; }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://$track;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_connect_timeout 1s;
      proxy_read_timeout 15s;
      proxy_next_upstream off;
      add_header X-Track $track always;
    }
  }
}
`;
}

/** The kubectl stand-in's weight hook: rewrite the split, reload nginx (graceful). */
function weightHook(dir, nginx) {
  const hook = join(dir, 'set-weight');
  writeFileSync(
    hook,
    `#!/bin/sh
set -e
weight=$1
if [ "$weight" -ge 100 ]; then split='* canary;'
elif [ "$weight" -le 0 ]; then split='* stable;'
else split="$weight% canary; * stable;"; fi
printf 'split_clients "$request_id" $track { %s }\\n' "$split" > '${dir}/split.conf'
echo "$weight" > '${dir}/weight'
exec '${nginx}' -p '${dir}' -c '${dir}/nginx.conf' -s reload 2>>'${dir}/nginx-error.log'
`,
  );
  chmodSync(hook, 0o755);
  return hook;
}

// --- traffic ---------------------------------------------------------------------------------

/** Kubelet-like probes on one process: liveness and readiness every second. */
function probe(port, stopped) {
  (async () => {
    while (!stopped()) {
      await Promise.all(
        ['/health/live', '/health/ready'].map((path) =>
          fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(1_000) })
            .then((r) => r.arrayBuffer())
            .catch(() => undefined),
        ),
      );
      await sleep(1_000);
    }
  })();
}

/**
 * One request through the proxy on a connection of its own (`Connection: close`): nginx's reloads
 * on a weight change close idle keep-alive connections, a race the NGINX ingress controller does
 * not have (it changes canary weights without a reload), so it must not count as a failure here.
 */
function send(url, { method = 'GET', headers = {}, body } = {}) {
  return new Promise((done) => {
    const request = httpRequest(url, { method, headers, agent: false, timeout: 15_000 }, (response) => {
      response.resume();
      response.on('end', () => done({ status: response.statusCode, track: response.headers['x-track'] ?? null }));
      response.on('error', (error) => done({ status: 0, track: null, error: error.message }));
    });
    request.on('timeout', () => request.destroy(new Error('timed out')));
    request.on('error', (error) => done({ status: 0, track: null, error: error.message }));
    request.end(body);
  });
}

/** Steady open-model load through the proxy: product reads and orders, every answer recorded. */
function steadyLoad(proxyUrl, fixture, stopped) {
  const results = [];
  let n = 0;
  const one = async () => {
    const i = n++;
    const buyer = fixture.buyers[i % fixture.buyers.length];
    const order = i % Math.round(1 / TIMING.orderShare) === 0;
    const at = Date.now();
    const answer = order
      ? await send(`${proxyUrl}/v1/orders`, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${buyer.token}`,
            'content-type': 'application/json',
            'idempotency-key': randomUUID(),
          },
          body: JSON.stringify({ items: [{ productId: fixture.productId, quantity: 1 }], paymentToken: 'tok_ok' }),
        })
      : await send(`${proxyUrl}/v1/products/${fixture.productId}`);
    results.push({ at, ms: Date.now() - at, order, ...answer });
  };
  (async () => {
    const every = 1000 / TIMING.requestsPerSecond;
    let next = Date.now();
    while (!stopped()) {
      void one();
      next += every;
      await sleep(Math.max(0, next - Date.now()));
    }
  })();
  return results;
}

async function json(url, init) {
  const response = await fetch(url, init);
  const body = await response.json().catch(() => undefined);
  if (!response.ok) throw new Error(`${init?.method ?? 'GET'} ${url}: ${response.status} ${JSON.stringify(body)}`);
  return body;
}

/** Buyers signed up and logged in over HTTP, a product with plenty of stock. */
async function shopFixture(apiUrl, database) {
  const buyers = [];
  for (let i = 0; i < 4; i++) {
    const email = `rehearsal-${randomUUID()}@example.com`;
    const password = 'correct horse battery';
    await json(`${apiUrl}/v1/accounts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password, name: 'Rehearsal' }),
    });
    const login = await json(`${apiUrl}/v1/auth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password }),
    });
    buyers.push({ token: login.accessToken });
  }
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  try {
    const { rows } = await client.query(
      `INSERT INTO products (sku, name, price_cents, currency, stock, status)
       VALUES ($1, 'Rehearsal product', 1000, 'EUR', 1000000, 'active') RETURNING id`,
      [`R-${randomUUID()}`],
    );
    return { buyers, productId: rows[0].id };
  } finally {
    await client.end();
  }
}

// --- recording the meta tests' fixtures ---------------------------------------------------------

/**
 * REHEARSAL_RECORD=<dir>: Prometheus's answers to every gate query at a moment of a scenario, as
 * test/fixtures/prometheus/<fixture>.json (query name -> response body), for the meta tests.
 */
const RECORD = process.env.REHEARSAL_RECORD;
const recorded = {};

async function snapshot(prometheusUrl, gateArgs) {
  const queries = JSON.parse(
    execFileSync(process.execPath, ['scripts/rollout-gate.mjs', '--print-queries', ...gateArgs.slice(2)], {
      cwd: ROOT,
      encoding: 'utf8',
    }),
  );
  const answers = {};
  for (const [name, query] of Object.entries(queries)) {
    const url = new URL('/api/v1/query', prometheusUrl);
    url.searchParams.set('query', query);
    answers[name] = await (await fetch(url)).json();
  }
  return answers;
}

function record(fixture, answers) {
  if (!RECORD || recorded[fixture]) return;
  recorded[fixture] = answers;
  writeFileSync(join(RECORD, `${fixture}.json`), `${JSON.stringify(answers, null, 2)}\n`);
  log(`recorded ${fixture}`);
}

/** The fixture a gate answer is worth recording as, in a scenario (undefined: none). */
function fixtureOf(scenario, answer) {
  const m = answer.measured ?? {};
  if (scenario === 'healthy' && answer.decision === 'promote') return 'healthy';
  if (scenario === 'healthy' && answer.decision === 'hold' && m.canaryRequests > 0) return 'low-traffic';
  if (scenario === 'bad' && answer.decision === 'rollback') return 'canary-errors';
  if (scenario === 'slow' && answer.decision === 'rollback') return 'canary-slow';
  if (scenario === 'dying' && answer.decision === 'rollback') return 'canary-down';
  if (scenario === 'idle' && answer.decision === 'hold' && m.canaryUp === 1) return 'idle';
  return undefined;
}

// --- one scenario ------------------------------------------------------------------------------

async function runScenario(name, run) {
  const namespace = `rehearsal-${name}`;
  const [stablePort, canaryPort] = [await freePort(), await freePort()];
  const canaryEnv = {
    bad: { PAYMENTS_BASE_URL: `http://127.0.0.1:${run.closedPort}`, PAYMENTS_BREAKER_FAILURES: '3' },
    slow: { PAYMENTS_BASE_URL: run.slowProviderUrl },
  }[name];
  const api = (track, port, extra = {}) =>
    start(`${track}-${name}`, process.execPath, ['dist/main.js'], {
      env: { ...run.appEnv, PORT: String(port), ...extra },
    });
  const stable = api('stable', stablePort);
  const canary = api('canary', canaryPort, canaryEnv);
  for (const [p, port] of [
    [stable, stablePort],
    [canary, canaryPort],
  ]) {
    await pollUntil(
      async () => {
        if (!p.running()) throw new Error(`${p.name} exited:\n${p.output()}`);
        return answers(`http://127.0.0.1:${port}/health/ready`);
      },
      { timeoutMs: 30_000, what: `${p.name} to be ready` },
    ).catch((error) => {
      throw new Error(`${error.message}\n${p.output().slice(-3000)}`);
    });
  }
  writeFileSync(
    join(run.dir, 'pods.json'),
    JSON.stringify([
      podTarget({ namespace, pod: `api-stable-${name}`, port: stablePort, track: 'stable' }),
      podTarget({ namespace, pod: `api-canary-${name}`, port: canaryPort, track: 'canary' }),
    ]),
  );
  // A proxy of its own per scenario (a reload would leave old workers on the previous upstreams).
  writeFileSync(join(run.dir, 'nginx.conf'), nginxConfig(run.dir, run.proxyPort, stablePort, canaryPort));
  writeFileSync(join(run.dir, 'split.conf'), 'split_clients "$request_id" $track { * stable; }\n');
  const proxy = start(`nginx-${name}`, run.nginx, ['-p', run.dir, '-c', join(run.dir, 'nginx.conf')]);
  await pollUntil(async () => (await send(`${run.proxyUrl}/health/live`)).status === 200, {
    timeoutMs: 10_000,
    what: 'nginx to route to the stable process',
  }).catch((error) => {
    throw new Error(`${error.message}\n${proxy.output()}`);
  });

  let stopped = false;
  const isStopped = () => stopped;
  probe(stablePort, isStopped);
  probe(canaryPort, isStopped);
  const results = name === 'idle' ? [] : steadyLoad(run.proxyUrl, run.fixture, isStopped);
  const gateArgs = ['--prometheus', run.prometheusUrl, '--selector', `namespace="${namespace}"`, ...gateOptions()];
  // Asynchronous: the load and the probes run in this process and must not stall.
  const gate = () =>
    new Promise((done) =>
      execFile(process.execPath, ['scripts/rollout-gate.mjs', ...gateArgs], { cwd: ROOT }, (_, stdout) => {
        try {
          done(JSON.parse(String(stdout).trim().split('\n').pop()));
        } catch {
          done({ decision: 'error' });
        }
      }),
    );
  try {
    // Both targets scraped, a stable baseline in the window (the idle one has none: it never will).
    await pollUntil(
      async () => {
        const d = await gate();
        return (
          d.measured?.canaryUp === 1 && (name === 'idle' || (d.measured?.stableRequests ?? 0) >= TIMING.minRequests)
        );
      },
      { timeoutMs: 40_000, intervalMs: 500, what: `${name}: both targets up and a stable baseline` },
    );

    const state = join(run.dir, `rollout-${name}.json`);
    const { initialState } = await import(STAND_IN);
    writeFileSync(state, JSON.stringify(initialState({ namespace, observeAfterReads: 1 })));
    const kubectlLog = join(run.dir, `kubectl-${name}.log`);
    writeFileSync(kubectlLog, '');
    const driver = start(`driver-${name}`, 'bash', ['scripts/canary-rollout.sh'], {
      env: {
        PATH: `${run.bin}:${process.env.PATH}`,
        KUBECTL_STANDIN_STATE: state,
        KUBECTL_STANDIN_ON_WEIGHT: run.hook,
        KUBECTL_LOG: kubectlLog,
        NAMESPACE: namespace,
        PROMETHEUS_URL: run.prometheusUrl,
        BAKE_SECONDS: String(TIMING.bakeSeconds),
        POLL_SECONDS: String(TIMING.gateIntervalSeconds),
        DECISION_DEADLINE_SECONDS: String(TIMING.decisionDeadlineSeconds),
        STEP_TIMEOUT_SECONDS: String(TIMING.stepTimeoutSeconds),
        GATE_ARGS: gateOptions().join(' '),
      },
    });
    const history = () => JSON.parse(readFileSync(state, 'utf8')).history;
    const shiftAt = await pollUntil(async () => history().find((h) => h.weight > 0)?.at, {
      timeoutMs: 20_000,
      what: `${name}: the first traffic shift`,
    });

    // What happens to the canary, and an observer asking the gate every second: the first
    // "rollback" it hears is the signal the driver must act on within one gate interval.
    let signalAt;
    const observer = (async () => {
      while (!stopped && driver.running()) {
        const started = Date.now();
        const answer = await gate();
        if (signalAt === undefined && answer.decision === 'rollback') signalAt = started;
        const fixture = RECORD && fixtureOf(name, answer);
        if (fixture && !recorded[fixture]) record(fixture, await snapshot(run.prometheusUrl, gateArgs));
        await sleep(Math.max(0, 1_000 - (Date.now() - started)));
      }
    })();
    if (name === 'dying') {
      setTimeout(() => canary.stop('SIGKILL'), 4_000);
    }

    let scenarioTimer;
    const exit = await Promise.race([
      driver.exited,
      new Promise((done) => {
        scenarioTimer = setTimeout(() => done({ code: 'deadline' }), TIMING.scenarioDeadlineSeconds * 1000);
      }),
    ]);
    clearTimeout(scenarioTimer);
    driver.stop();
    stopped = true;
    await observer;

    // The alert rules match the shipped jobs: the dead canary's TargetDown is pending (for: 2m).
    const alertQuery = `ALERTS{alertname="TargetDown",namespace="${namespace}"}`;
    let targetDown = [];
    for (let tries = name === 'dying' ? 20 : 1; tries > 0 && targetDown.length === 0; tries--) {
      const alerts = await fetch(`${run.prometheusUrl}/api/v1/query?query=${encodeURIComponent(alertQuery)}`);
      targetDown = (await alerts.json()).data.result.map((a) => `${a.metric.track} ${a.metric.alertstate}`);
      if (targetDown.length === 0 && tries > 1) await sleep(250);
    }

    const final = JSON.parse(readFileSync(state, 'utf8'));
    const last = final.history.at(-1);
    const maxWeight = Math.max(...final.history.map((h) => h.weight));
    const decision =
      exit.code === 0 && final.phase === 'Healthy' && final.weight === 100
        ? 'promoted to 100%'
        : exit.code === 1 && final.weight === 0
          ? `rolled back at ${final.history.at(-2)?.weight ?? 0}%`
          : `driver exit ${exit.code}, weight ${final.weight}`;
    if (process.env.REHEARSAL_DUMP)
      writeFileSync(`${process.env.REHEARSAL_DUMP}-${name}.json`, JSON.stringify(results));
    const canaryFailures = results.filter((r) => r.track === 'canary' && r.status >= 500).length;
    const canaryRequests = results.filter((r) => r.track === 'canary').length;
    const otherFailures = results.filter((r) => r.track !== 'canary' && (r.status >= 500 || r.status === 0)).length;
    const failures = {};
    for (const r of results.filter((r) => r.status >= 500 || r.status === 0)) {
      const key = `${r.track ?? 'no answer'} ${r.status || r.error}`;
      failures[key] = (failures[key] ?? 0) + 1;
    }
    // Why: the driver's own words, and the gate's reasons at its last answer.
    const lines = driver.output().split('\n');
    const answers = lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
    const why = [
      lines.find((l) => l.includes('rolling back:'))?.replace(/^.*rolling back: /, ''),
      answers.at(-1)?.reasons?.join('; '),
    ]
      .filter(Boolean)
      .join(': ');
    return {
      name,
      decision,
      why,
      targetDown,
      failures,
      promoted: maxWeight === 100,
      rolledBack: exit.code === 1 && final.weight === 0,
      shiftToDecisionSeconds: (last.at - shiftAt) / 1000,
      signalToDecisionSeconds: signalAt === undefined ? undefined : (last.at - signalAt) / 1000,
      canaryFailures,
      canaryRequests,
      otherFailures,
      driverOutput: driver.output(),
      kubectl: readFileSync(kubectlLog, 'utf8').trim().split('\n'),
    };
  } finally {
    stopped = true;
    stable.stop();
    canary.stop();
    proxy.stop('SIGTERM');
    await Promise.race([proxy.exited, sleep(5_000)]);
    proxy.stop();
  }
}

/** What each scenario must end with; an empty list is a pass. */
function problemsOf(r) {
  const problems = [];
  const rolledBackInTime = () => {
    if (!r.rolledBack) problems.push(`not rolled back (${r.decision})`);
    if (r.promoted) problems.push('promoted to 100%');
  };
  switch (r.name) {
    case 'bad':
      rolledBackInTime();
      if (r.signalToDecisionSeconds === undefined) problems.push('the gate never said rollback');
      // One gate interval, plus the observer's own 1 s resolution and a gate run.
      else if (r.signalToDecisionSeconds > TIMING.gateIntervalSeconds + 1.5)
        problems.push(`rolled back ${r.signalToDecisionSeconds}s after the signal, more than one gate interval`);
      break;
    case 'slow':
      rolledBackInTime();
      break;
    case 'dying':
      rolledBackInTime();
      if (!r.targetDown.includes('canary pending'))
        problems.push(`TargetDown not pending for the dead canary (${r.targetDown})`);
      break;
    case 'healthy':
      if (r.decision !== 'promoted to 100%') problems.push(`not promoted (${r.decision})`);
      if (r.canaryFailures + r.otherFailures > 0)
        problems.push(`callers saw failures on a healthy rollout: ${JSON.stringify(r.failures)}`);
      break;
    case 'idle':
      if (r.kubectl.some((line) => / promote /.test(`${line} `))) problems.push('promoted with no user traffic');
      if (!r.rolledBack) problems.push(`not rolled back at the decision deadline (${r.decision})`);
      break;
  }
  return problems;
}

// --- the run ---------------------------------------------------------------------------------

async function main(argv) {
  const flag = argv.indexOf('--scenarios');
  const chosen = flag >= 0 ? argv[flag + 1].split(',') : SCENARIOS;
  const unknown = chosen.filter((s) => !SCENARIOS.includes(s));
  if (unknown.length) throw new Error(`unknown scenario(s) ${unknown.join(', ')}; known: ${SCENARIOS.join(', ')}`);
  if (!existsSync(join(ROOT, 'dist', 'main.js'))) throw new Error('dist/main.js is missing: npm run build');
  const [prometheus, nginx] = [tool('prometheus'), tool('nginx')];

  const id = randomBytes(4).toString('hex');
  const dir = mkdtempSync(join(tmpdir(), 'ra-rehearsal-'));
  for (const sub of ['tmp', 'tsdb', 'bin']) mkdirSync(join(dir, sub));
  chmodSync(join(dir, 'tmp'), 0o777);
  const database = await createDatabase(id);
  const cleanUp = async () => {
    stopAll();
    await database.drop().catch((error) => log(`could not drop ${database.name}: ${error.message}`));
    await dropRedisKeys(`ra-rehearsal-${id}:`).catch((error) => log(`could not delete Redis keys: ${error.message}`));
    if (process.env.REHEARSAL_KEEP) log(`kept ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  };
  onDeadline = cleanUp;
  try {
    const [prometheusPort, proxyPort, providerPort, slowProviderPort, closedPort] = await Promise.all([
      freePort(),
      freePort(),
      freePort(),
      freePort(),
      freePort(),
    ]);
    const run = {
      dir,
      bin: join(dir, 'bin'),
      proxyPort,
      closedPort,
      proxyUrl: `http://127.0.0.1:${proxyPort}`,
      slowProviderUrl: `http://127.0.0.1:${slowProviderPort}`,
      prometheusUrl: `http://127.0.0.1:${prometheusPort}`,
      appEnv: {
        NODE_ENV: 'production',
        JWT_SECRET: randomBytes(32).toString('hex'),
        DATABASE_URL: database.url,
        REDIS_URL,
        REDIS_KEY_PREFIX: `ra-rehearsal-${id}:`,
        PAYMENTS_BASE_URL: `http://127.0.0.1:${providerPort}`,
        LOG_LEVEL: 'warn',
        SHUTDOWN_DRAIN_MS: '0',
        DB_POOL_MAX: '5',
        // No shedding on event-loop lag: a busy shared box stalls both tracks alike, which would
        // shed on stable too; the slow canary must be caught by its latency.
        SHED_MAX_EVENT_LOOP_DELAY_MS: '0',
      },
    };
    writeFileSync(join(run.bin, 'kubectl'), `#!/bin/sh\nexec '${process.execPath}' '${STAND_IN}' "$@"\n`);
    chmodSync(join(run.bin, 'kubectl'), 0o755);
    run.hook = weightHook(dir, nginx);

    log(`migrating ${database.name}; starting the fake provider, Prometheus and nginx`);
    execFileSync(process.execPath, ['dist/migrate.command.js'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, ...run.appEnv },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    for (const port of [providerPort, slowProviderPort]) {
      start(`fake-provider-${port}`, process.execPath, ['dist/payments/fake-provider/fake-provider.command.js'], {
        env: { NODE_ENV: 'test', FAKE_PAYMENTS_PORT: String(port) },
      });
    }
    writeFileSync(join(dir, 'pods.json'), '[]');
    writeFileSync(join(dir, 'prometheus.yml'), dumpYaml(prometheusConfig(dir)));
    const prom = start('prometheus', prometheus, [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'tsdb')}`,
      `--web.listen-address=127.0.0.1:${prometheusPort}`,
      '--storage.tsdb.retention.time=1h',
    ]);
    run.nginx = nginx;
    await pollUntil(() => answers(`${run.prometheusUrl}/-/ready`), { timeoutMs: 30_000, what: 'Prometheus' }).catch(
      (error) => {
        throw new Error(`${error.message}\n${prom.output().slice(-3000)}`);
      },
    );
    await pollUntil(() => answers(`http://127.0.0.1:${providerPort}/health`), {
      timeoutMs: 15_000,
      what: 'the provider',
    });
    await pollUntil(() => answers(`${run.slowProviderUrl}/health`), { timeoutMs: 15_000, what: 'the slow provider' });
    // Under PAYMENTS_TIMEOUT_MS (2 s): slow, never failed.
    const slow = await fetch(`${run.slowProviderUrl}/__admin/outage`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ mode: 'slow', delayMs: 1_200 }),
    });
    if (!slow.ok) throw new Error(`the slow provider refused its outage: ${slow.status}`);

    // The shop's fixture, made once through a throwaway API process.
    const setupPort = await freePort();
    const setup = start('setup-api', process.execPath, ['dist/main.js'], {
      env: { ...run.appEnv, PORT: String(setupPort) },
    });
    await pollUntil(() => answers(`http://127.0.0.1:${setupPort}/health/ready`), {
      timeoutMs: 30_000,
      what: 'the API',
    });
    run.fixture = await shopFixture(`http://127.0.0.1:${setupPort}`, database);
    setup.stop();

    if (RECORD) {
      // The gate options the answers go with (test/support/prometheus-fixture.support.ts reads them).
      writeFileSync(join(RECORD, 'gate-args.json'), `${JSON.stringify(gateOptions())}\n`);
      const none = ['--prometheus', run.prometheusUrl, '--selector', 'namespace="rehearsal-none"', ...gateOptions()];
      record('no-data', await snapshot(run.prometheusUrl, none));
      const bad = new URL('/api/v1/query', run.prometheusUrl);
      bad.searchParams.set('query', 'sum(rate(');
      record('bad-query', await (await fetch(bad)).json());
    }
    const reports = [];
    for (const name of chosen) {
      log(`scenario ${name}: starting`);
      const report = await runScenario(name, run);
      report.problems = problemsOf(report);
      reports.push(report);
      log(
        `scenario ${name}: ${report.decision}${report.problems.length ? ` — FAILED: ${report.problems.join('; ')}` : ''}`,
      );
      if (report.problems.length || process.env.REHEARSAL_VERBOSE) process.stderr.write(report.driverOutput);
    }
    if (recorded.healthy && recorded.idle) {
      // A first deploy: the canary's answers at a healthy moment, the stable's with no user traffic.
      const stable = Object.entries(recorded.idle).filter(([name]) => name.startsWith('stable'));
      record('no-baseline', { ...recorded.healthy, ...Object.fromEntries(stable) });
    }
    printTable(reports);
    return reports.every((r) => r.problems.length === 0) ? 0 : 1;
  } finally {
    await cleanUp();
  }
}

async function dropRedisKeys(prefix) {
  const { Redis } = await import('ioredis');
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      if (keys.length) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

function printTable(reports) {
  const rows = [
    [
      'scenario',
      'decision',
      'shift → decision',
      'signal → decision',
      'canary requests',
      'failed on canary',
      'result',
      'why',
    ],
    ...reports.map((r) => [
      r.name,
      r.decision,
      `${r.shiftToDecisionSeconds.toFixed(1)} s`,
      r.signalToDecisionSeconds === undefined ? '-' : `${r.signalToDecisionSeconds.toFixed(1)} s`,
      String(r.canaryRequests),
      String(r.canaryFailures),
      r.problems.length ? `FAIL: ${r.problems.join('; ')}` : 'ok',
      r.why.slice(0, 160),
    ]),
  ];
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  const line = (row) => `| ${row.map((cell, i) => cell.padEnd(widths[i])).join(' | ')} |`;
  process.stdout.write(
    `\n${[line(rows[0]), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.slice(1).map(line)].join('\n')}\n`,
  );
}

// Replaced by main() once there is a database and a directory to clean up.
let onDeadline = async () => stopAll();
const deadline = setTimeout(
  () => {
    log(`the rehearsal passed its deadline: stopping everything`);
    stopAll();
    setTimeout(() => process.exit(1), 10_000).unref();
    onDeadline().finally(() => process.exit(1));
  },
  Number(process.env.REHEARSAL_DEADLINE_SECONDS ?? 600) * 1000,
);
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    stopAll();
    process.exit(130);
  });
}
main(process.argv.slice(2)).then(
  (code) => {
    clearTimeout(deadline);
    process.exitCode = code;
  },
  (error) => {
    clearTimeout(deadline);
    log(error.stack ?? error.message);
    stopAll();
    process.exitCode = 1;
  },
);
