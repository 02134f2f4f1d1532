// npm run docs:dashboard: a picture of deploy/grafana/resilient-api.dashboard.json for the README and docs/observability.md,
// made without Grafana (none can be installed on the machine this was built on):
//   1. a throwaway real Prometheus (Debian's `prometheus` binary, cached in .tools/bin like
//      promtool) scrapes a real API, worker and fake payments provider, each on a spare
//      loopback port, with their own throwaway database and Redis key prefix, and loads the
//      repo's recording and alert rules (deploy/prometheus/alerts.rules.yml);
//   2. about 80 s of mixed traffic (reads, 400/404/410s, sign-ups, logins with failures and a
//      rate-limited burst, orders over every fake payment token, a breaker-opening burst of
//      provider errors, reports) goes through the API over 127.0.0.1;
//   3. every panel's PromQL targets, taken verbatim from the dashboard JSON (variables set
//      to "All", $__rate_interval as Grafana computes it for the scrape interval), are
//      evaluated with Prometheus's query_range (query for the table panel);
//   4. the panels are drawn in the dashboard's own gridPos layout as HTML with inline SVG;
//   5. headless Chromium screenshots that page into docs/dashboard.png.
// It is not Grafana's renderer: colours, axes and legends are approximations of its look.
// Everything it starts (processes, temp dir, database, Redis keys) is removed on exit, also
// on failure or Ctrl-C; the whole run is bounded by DASHBOARD_DEADLINE_S (default 300 s).
//
// Needs: a built dist/ (the npm script builds), Postgres and Redis as for `npm test`,
// `chromium` on PATH (Debian: apt-get install chromium) and apt-get (for the Prometheus
// binary, the first time). Environment: DASHBOARD_TRAFFIC_S (default 80),
// DASHBOARD_OUT (default docs/dashboard.png), DASHBOARD_HTML (keep the HTML page at this
// path; by default it lives in the temp dir and is deleted), CHROMIUM (browser binary).
import { execFileSync, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import {
  copyFileSync,
  createWriteStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Redis from 'ioredis';
import pg from 'pg';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const trafficSeconds = Number(process.env.DASHBOARD_TRAFFIC_S ?? 80);
const deadlineSeconds = Number(process.env.DASHBOARD_DEADLINE_S ?? 300);
const outPng = resolve(root, process.env.DASHBOARD_OUT ?? 'docs/dashboard.png');
const chromiumBin = process.env.CHROMIUM ?? 'chromium';
const SCRAPE_S = 2; // Prometheus scrape and rule interval; also the panels' step
const started = Date.now();
const say = (msg) => console.log(`[${((Date.now() - started) / 1000).toFixed(1).padStart(5)} s] ${msg}`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- cleanup, bounded in time
const tmp = mkdtempSync(join(tmpdir(), 'ra-dashboard-'));
const children = [];
const dbName = `resilient_api_dashboard_${process.pid}`;
const redisPrefix = `ra-dashboard-${process.pid}:`;
let dbCreated = false;
let cleaning;

// Each child leads its own process group (detached), so whatever it forked (Chromium's
// renderer and zygote processes) is stopped with it.
const signalGroup = (child, sig) => {
  try {
    process.kill(-child.pid, sig);
  } catch {
    // the group is gone already
  }
};
const stopChild = (child) =>
  new Promise((done) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      signalGroup(child, 'SIGKILL');
      return done();
    }
    const hard = setTimeout(() => signalGroup(child, 'SIGKILL'), 5_000);
    child.once('exit', () => {
      clearTimeout(hard);
      signalGroup(child, 'SIGKILL');
      done();
    });
    signalGroup(child, 'SIGTERM');
  });

const cleanup = () =>
  (cleaning ??= (async () => {
    await Promise.all(children.map(stopChild));
    if (dbCreated) {
      const admin = new pg.Client({ connectionString: 'postgres://postgres@127.0.0.1:5432/postgres' });
      try {
        await admin.connect();
        await admin.query(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`);
      } catch (err) {
        console.error(`could not drop database ${dbName}: ${err.message}`);
      } finally {
        await admin.end().catch(() => {});
      }
    }
    const redis = new Redis('redis://127.0.0.1:6379', { lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      await redis.connect();
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${redisPrefix}*`, 'COUNT', 500);
        if (keys.length) await redis.del(...keys);
        cursor = next;
      } while (cursor !== '0');
    } catch (err) {
      console.error(`could not remove Redis keys ${redisPrefix}*: ${err.message}`);
    } finally {
      redis.disconnect();
    }
    rmSync(tmp, { recursive: true, force: true });
  })());

const fail = async (err) => {
  console.error(err instanceof Error ? err.stack : err);
  for (const name of ['api', 'worker', 'payments', 'prometheus', 'chromium']) {
    const file = join(tmp, `${name}.log`);
    if (existsSync(file))
      console.error(`--- last lines of ${name}.log\n${readFileSync(file, 'utf8').split('\n').slice(-15).join('\n')}`);
  }
  await cleanup();
  process.exit(1);
};
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => fail(new Error(`stopped by ${signal}`)));
const deadline = setTimeout(
  () => fail(new Error(`gave up after ${deadlineSeconds} s (DASHBOARD_DEADLINE_S)`)),
  deadlineSeconds * 1000,
);
deadline.unref();

const start = (name, command, args, env = {}) => {
  const child = spawn(command, args, {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const log = createWriteStream(join(tmp, `${name}.log`));
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  children.push(child);
  return child;
};

const freePort = () =>
  new Promise((res, rej) => {
    const server = createServer();
    server.once('error', rej);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => res(port));
    });
  });

const waitFor = async (url, what, ms = 30_000) => {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    try {
      if ((await fetch(url, { signal: AbortSignal.timeout(1_000) })).ok) return;
    } catch {
      // not listening yet
    }
    await sleep(200);
  }
  throw new Error(`${what} did not come up at ${url} within ${ms / 1000} s (see its log below)`);
};

// ---------------------------------------------------------------- the Prometheus binary
const prometheusBinary = () => {
  const cached = resolve(root, '.tools/bin/prometheus');
  if (existsSync(cached)) return cached;
  say("fetching the prometheus server from Debian's prometheus package into .tools/bin");
  const dl = join(tmp, 'deb');
  mkdirSync(dl);
  execFileSync('apt-get', ['download', '-qq', 'prometheus'], { cwd: dl, stdio: 'ignore', timeout: 120_000 });
  const deb = execFileSync('sh', ['-c', 'ls prometheus_*.deb'], { cwd: dl, encoding: 'utf8' }).trim();
  execFileSync('dpkg-deb', ['-x', join(dl, deb), join(dl, 'root')]);
  mkdirSync(dirname(cached), { recursive: true });
  copyFileSync(join(dl, 'root/usr/bin/prometheus'), cached);
  execFileSync('chmod', ['+x', cached]);
  return cached;
};

// ---------------------------------------------------------------- traffic
const trafficFor = (api, productIds, discontinuedId) => {
  const stats = new Map();
  const count = (key) => stats.set(key, (stats.get(key) ?? 0) + 1);
  const call = async (method, path, { body, token, headers = {} } = {}) => {
    try {
      const res = await fetch(`${api}${path}`, {
        method,
        headers: {
          ...(body ? { 'content-type': 'application/json' } : {}),
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...headers,
        },
        body: body ? JSON.stringify(body) : undefined,
        signal: AbortSignal.timeout(15_000),
      });
      const text = await res.text();
      count(`${method} ${res.status}`);
      return { status: res.status, json: text.startsWith('{') ? JSON.parse(text) : undefined };
    } catch (err) {
      count(`${method} ${err.name}`);
      return { status: 0 };
    }
  };
  const pick = (list) => list[Math.floor(Math.random() * list.length)];
  const accounts = [];
  const signUp = async () => {
    const email = `dash-${randomUUID().slice(0, 8)}@example.com`;
    const res = await call('POST', '/v1/accounts', {
      body: { email, password: 'correct-horse-1', name: 'Dash Board' },
    });
    if (res.status === 201) {
      const login = await call('POST', '/v1/auth/token', { body: { email, password: 'correct-horse-1' } });
      if (login.status === 200) accounts.push({ email, token: login.json.accessToken });
    }
  };
  const order = (paymentToken) => {
    const account = pick(accounts);
    return call('POST', '/v1/orders', {
      token: account.token,
      headers: { 'idempotency-key': randomUUID() },
      body: { items: [{ productId: pick(productIds), quantity: 1 }], paymentToken },
    });
  };
  const reportIds = [];
  // Weighted mix of what callers do; t is the fraction of the run elapsed.
  const actions = [
    [30, () => call('GET', `/v1/products/${pick(productIds)}`)],
    [10, () => call('GET', `/v1/products?limit=${pick([5, 20, 50])}`)],
    [3, () => call('GET', `/v1/products/${randomUUID()}`)], // 404
    [2, () => call('GET', '/v1/products?limit=1000')], // 400
    [1, () => call('GET', `/v1/products/${discontinuedId}`)], // 410
    [1, () => call('GET', `/v1/no-such-route/${randomUUID()}`)], // 404, unmatched route
    [3, signUp],
    [1, () => call('POST', '/v1/accounts', { body: { email: 'not-an-email', password: 'x' } })], // 400
    [
      1,
      () =>
        accounts.length &&
        call('POST', '/v1/accounts', {
          body: { email: pick(accounts).email, password: 'correct-horse-1', name: 'Again' },
        }),
    ], // 409
    [
      4,
      () =>
        accounts.length &&
        call('POST', '/v1/auth/token', { body: { email: pick(accounts).email, password: 'correct-horse-1' } }),
    ],
    [
      2,
      () =>
        accounts.length &&
        call('POST', '/v1/auth/token', { body: { email: pick(accounts).email, password: 'wrong-password' } }),
    ], // 401
    [4, () => accounts.length && call('GET', '/v1/orders?limit=10', { token: pick(accounts).token }), 'orders'],
    [5, () => accounts.length && order('tok_ok'), 'orders'],
    [1, () => accounts.length && order('tok_flaky'), 'orders'], // retried, invisible to the caller
    [1, () => accounts.length && order('tok_declined'), 'orders'], // 402
    [0.5, () => accounts.length && order('tok_invalid'), 'orders'], // 422
    [1, () => accounts.length && call('POST', '/v1/orders', { token: pick(accounts).token, body: {} }), 'orders'], // 400 (no key)
    [
      1,
      async () => {
        if (!accounts.length) return;
        const res = await call('POST', '/v1/reports', {
          token: pick(accounts).token,
          body: { type: 'sales-summary', from: '2026-01-01', to: '2026-12-31' },
        });
        if (res.status === 202) reportIds.push({ id: res.json.id, token: pick(accounts).token });
      },
    ],
    [1, () => reportIds.length && call('GET', `/v1/reports/${pick(reportIds).id}`, { token: pick(accounts).token })],
  ];
  let total = actions.reduce((n, [w]) => n + w, 0);
  const randomAction = () => {
    let r = Math.random() * total;
    for (const [w, act] of actions) if ((r -= w) < 0) return act;
    return actions[0][1];
  };

  return async () => {
    // Orders land with a later milestone: on a build without the route (404 for an
    // unauthenticated POST), skip the order traffic rather than count it as route misses.
    const ordersMounted = (await call('POST', '/v1/orders', { body: {} })).status !== 404;
    if (!ordersMounted) {
      say('POST /v1/orders is not mounted in this build: no order traffic');
      for (let i = actions.length - 1; i >= 0; i--) if (actions[i][2] === 'orders') actions.splice(i, 1);
      total = actions.reduce((n, [w]) => n + w, 0);
    }
    for (let i = 0; i < 5; i++) await signUp();
    const t0 = Date.now();
    const end = t0 + trafficSeconds * 1000;
    const elapsed = () => (Date.now() - t0) / (trafficSeconds * 1000);
    const loops = [];
    // Virtual users; the think time follows a hump (quiet, busy, quiet) like a compressed day.
    for (let user = 0; user < 6; user++) {
      loops.push(
        (async () => {
          while (Date.now() < end) {
            await randomAction()();
            const busy = Math.sin(Math.PI * Math.min(1, elapsed())) ** 2;
            await sleep(250 - 200 * busy + Math.random() * 50);
          }
        })(),
      );
    }
    // Scripted episodes: a login burst against one email (rate limited at 20 a minute), a
    // provider outage for one stretch (tok_error: retries, 502s, then the breaker opens and
    // fails fast), and two provider timeouts left for reconciliation.
    loops.push(
      (async () => {
        await sleep(trafficSeconds * 150);
        const victim = accounts[0].email;
        for (let i = 0; i < 30; i++)
          await call('POST', '/v1/auth/token', { body: { email: victim, password: `guess-${i}` } });
        if (!ordersMounted) return;
        await sleep(trafficSeconds * 200);
        const outageEnd = Date.now() + trafficSeconds * 150;
        while (Date.now() < outageEnd) {
          await Promise.all([order('tok_error'), order('tok_error')]);
          await sleep(300);
        }
        await Promise.all([order('tok_slow'), order('tok_slow')]);
      })(),
    );
    await Promise.all(loops);
    return Object.fromEntries([...stats].sort());
  };
};

// ---------------------------------------------------------------- queries
const dashboard = JSON.parse(readFileSync(resolve(root, 'deploy/grafana/resilient-api.dashboard.json'), 'utf8'));

const evaluate = async (prometheus, from, to) => {
  const rangeS = Math.round(to - from);
  // Grafana: $__interval = range / width, no lower than the data source's scrape interval;
  // $__rate_interval = max($__interval + scrape interval, 4 * scrape interval).
  const rateInterval = `${Math.max(2 * SCRAPE_S, 4 * SCRAPE_S)}s`;
  const expand = (expr) =>
    expr
      .replaceAll('$__rate_interval', rateInterval)
      .replaceAll('$__range', `${rangeS}s`)
      .replace(/\$\{?(job|instance|route)\}?/g, '.*');
  const api = async (path, params) => {
    const res = await fetch(`${prometheus}${path}?${new URLSearchParams(params)}`, {
      signal: AbortSignal.timeout(10_000),
    });
    const body = await res.json();
    if (body.status !== 'success') throw new Error(`${params.query}: ${body.error}`);
    return body.data.result;
  };
  const results = new Map();
  for (const panel of dashboard.panels) {
    if (!panel.targets) continue;
    const series = [];
    for (const target of panel.targets) {
      const query = expand(target.expr);
      const result =
        panel.type === 'table'
          ? await api('/api/v1/query', { query, time: String(to) })
          : await api('/api/v1/query_range', { query, start: String(from), end: String(to), step: String(SCRAPE_S) });
      for (const r of result) series.push({ target, metric: r.metric, values: r.values ?? [r.value] });
    }
    results.set(panel.id, series);
  }
  // Why a panel is empty: a metric this build does not export yet (a later milestone), or
  // nothing matched in this run (no 5xx responses, say).
  const exported = new Set((await (await fetch(`${prometheus}/api/v1/label/__name__/values`)).json()).data);
  const recorded = new Set(
    [...readFileSync(resolve(root, 'deploy/prometheus/alerts.rules.yml'), 'utf8').matchAll(/record:\s*(\S+)/g)].map(
      (m) => m[1],
    ),
  );
  const noData = new Map();
  for (const panel of dashboard.panels) {
    if (!panel.targets || results.get(panel.id).length) continue;
    const names = new Set(
      panel.targets.flatMap((t) => [...t.expr.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\{/g)].map((m) => m[1])),
    );
    const missing = [...names].filter(
      (n) => !exported.has(n) && !recorded.has(n) && !exported.has(n.replace(/_(bucket|count|sum)$/, '')),
    );
    noData.set(
      panel.id,
      missing.length ? `not exported by this build yet: ${missing.join(', ')}` : 'no series matched in this run',
    );
  }
  return { results, noData };
};

// ---------------------------------------------------------------- drawing
const PALETTE = [
  '#73BF69',
  '#F2CC0C',
  '#8AB8FF',
  '#FF780A',
  '#F2495C',
  '#5794F2',
  '#B877D9',
  '#FADE2A',
  '#C4162A',
  '#96D98D',
  '#FFB357',
  '#CA95E5',
  '#1F60C4',
  '#FF9830',
];
const COLORS = { green: '#73BF69', red: '#F2495C', orange: '#FF9830', yellow: '#FADE2A', blue: '#5794F2' };
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
const legendOf = (target, metric) =>
  target.legendFormat
    ? target.legendFormat.replace(/\{\{\s*(\w+)\s*\}\}/g, (_, k) => metric[k] ?? '')
    : `{${Object.entries(metric)
        .map(([k, v]) => `${k}="${v}"`)
        .join(', ')}}`;

const trim = (n) => String(Number(n.toPrecision(3)));
const formatValue = (v, unit) => {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  switch (unit) {
    case 'percentunit':
      return `${trim(v * 100)}%`;
    case 's':
      return a === 0 ? '0 s' : a < 1e-3 ? `${trim(v * 1e6)} µs` : a < 1 ? `${trim(v * 1e3)} ms` : `${trim(v)} s`;
    case 'bytes':
      return a >= 2 ** 30
        ? `${trim(v / 2 ** 30)} GiB`
        : a >= 2 ** 20
          ? `${trim(v / 2 ** 20)} MiB`
          : a >= 1024
            ? `${trim(v / 1024)} KiB`
            : `${trim(v)} B`;
    case 'reqps':
      return `${trim(v)} req/s`;
    case 'ops':
      return `${trim(v)} ops/s`;
    case 'x':
      return `${trim(v)}x`;
    default:
      return a >= 1e6 ? `${trim(v / 1e6)} M` : a >= 1e3 ? `${trim(v / 1e3)} K` : trim(v);
  }
};
const niceTicks = (min, max, count = 4) => {
  if (min === max) [min, max] = min === 0 ? [0, 1] : [Math.min(0, min), Math.max(0, max) * 1.1 || 1];
  const raw = (max - min) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw);
  const lo = Math.floor(min / step) * step;
  const hi = Math.ceil(max / step) * step;
  const ticks = [];
  for (let t = lo; t <= hi + step / 2; t += step) ticks.push(Number(t.toPrecision(12)));
  return ticks;
};
const clock = (t) => new Date(t * 1000).toISOString().slice(11, 19);

const PANEL_PAD = 8;
const timeseriesSvg = (panel, series, width, height, from, to) => {
  const unit = panel.fieldConfig?.defaults?.unit;
  const values = series.flatMap((s) => s.values.map(([, v]) => Number(v)).filter(Number.isFinite));
  if (!values.length) return `<div class="nodata">No data</div>`;
  const thresholds = (panel.fieldConfig?.defaults?.thresholds?.steps ?? []).filter(
    (s) =>
      s.value !== null &&
      panel.fieldConfig?.defaults?.custom?.thresholdsStyle?.mode &&
      panel.fieldConfig.defaults.custom.thresholdsStyle.mode !== 'off',
  );
  const ticks = niceTicks(Math.min(0, ...values), Math.max(...values));
  const [y0, y1] = [ticks[0], ticks.at(-1)];
  const left = 64;
  const bottom = 18;
  const plotW = width - left - 6;
  const plotH = height - bottom - 10;
  const x = (t) => left + ((t - from) / (to - from)) * plotW;
  const y = (v) => 8 + plotH - ((v - y0) / (y1 - y0)) * plotH;
  let svg = '';
  for (const t of ticks) {
    svg += `<line x1="${left}" x2="${left + plotW}" y1="${y(t)}" y2="${y(t)}" class="grid"/><text x="${left - 4}" y="${y(t) + 3}" text-anchor="end">${esc(formatValue(t, unit))}</text>`;
  }
  const xSteps = Math.max(2, Math.min(6, Math.floor(plotW / 110)));
  for (let i = 0; i <= xSteps; i++) {
    const t = from + ((to - from) * i) / xSteps;
    svg += `<line x1="${x(t)}" x2="${x(t)}" y1="8" y2="${8 + plotH}" class="grid"/><text x="${x(t)}" y="${height - 4}" text-anchor="${i === 0 ? 'start' : i === xSteps ? 'end' : 'middle'}">${clock(t)}</text>`;
  }
  for (const step of thresholds) {
    if (step.value >= y0 && step.value <= y1)
      svg += `<line x1="${left}" x2="${left + plotW}" y1="${y(step.value)}" y2="${y(step.value)}" stroke="${COLORS[step.color] ?? step.color}" stroke-dasharray="6 4" stroke-width="1"/>`;
  }
  series.forEach((s) => {
    let d = '';
    let prev;
    for (const [t, raw] of s.values) {
      const v = Number(raw);
      if (!Number.isFinite(v)) {
        prev = undefined;
        continue;
      }
      d += `${prev !== undefined && t - prev <= SCRAPE_S * 1.5 ? 'L' : 'M'}${x(t).toFixed(1)},${y(v).toFixed(1)}`;
      prev = t;
    }
    svg += `<path d="${d}" fill="none" stroke="${s.color}" stroke-width="1.5"/>`;
    if (s.values.length === 1)
      svg += `<circle cx="${x(s.values[0][0])}" cy="${y(Number(s.values[0][1]))}" r="2" fill="${s.color}"/>`;
  });
  return `<svg width="${width}" height="${height}">${svg}</svg>`;
};

const stateTimelineSvg = (panel, series, width, height, from, to) => {
  if (!series.length) return `<div class="nodata">No data</div>`;
  const mapping = Object.assign(
    {},
    ...(panel.fieldConfig?.defaults?.mappings ?? []).filter((m) => m.type === 'value').map((m) => m.options),
  );
  const left = Math.min(150, Math.max(...series.map((s) => s.label.length)) * 6.5 + 8);
  const plotW = width - left - 6;
  const bottom = 18;
  const rowH = Math.min(40, (height - bottom - 4) / series.length);
  const x = (t) => left + ((t - from) / (to - from)) * plotW;
  let svg = '';
  series.forEach((s, row) => {
    const top = 4 + row * rowH;
    svg += `<text x="${left - 6}" y="${top + rowH / 2 + 4}" text-anchor="end">${esc(s.label)}</text>`;
    // merge equal consecutive values into one segment (mergeValues)
    const segments = [];
    for (const [t, raw] of s.values) {
      const last = segments.at(-1);
      if (last && last.value === raw && t - last.end <= SCRAPE_S * 1.5) last.end = t;
      else segments.push({ value: raw, start: t, end: t });
    }
    segments.forEach((seg, i) => {
      const endT =
        segments[i + 1] && segments[i + 1].start - seg.end <= SCRAPE_S * 1.5
          ? segments[i + 1].start
          : seg.end + SCRAPE_S;
      const m = mapping[String(Number(seg.value))];
      const color = COLORS[m?.color] ?? m?.color ?? '#5794F2';
      const x0 = x(seg.start);
      const w = Math.max(1, x(Math.min(endT, to)) - x0);
      svg += `<rect x="${x0}" y="${top + 2}" width="${w}" height="${rowH - 4}" fill="${color}" fill-opacity="0.8"/>`;
      const text = m?.text ?? formatValue(Number(seg.value), panel.fieldConfig?.defaults?.unit);
      if (w > text.length * 7 + 8)
        svg += `<text x="${x0 + 4}" y="${top + rowH / 2 + 4}" class="state">${esc(text)}</text>`;
    });
  });
  const xSteps = Math.max(2, Math.min(6, Math.floor(plotW / 110)));
  for (let i = 0; i <= xSteps; i++) {
    const t = from + ((to - from) * i) / xSteps;
    svg += `<text x="${x(t)}" y="${height - 4}" text-anchor="${i === 0 ? 'start' : i === xSteps ? 'end' : 'middle'}">${clock(t)}</text>`;
  }
  return `<svg width="${width}" height="${height}">${svg}</svg>`;
};

const tableHtml = (panel, series) => {
  if (!series.length) return `<div class="nodata">No data</div>`;
  const excluded = new Set(
    Object.keys(panel.transformations?.find((t) => t.id === 'organize')?.options?.excludeByName ?? {}),
  );
  const labels = [...new Set(series.flatMap((s) => Object.keys(s.metric)))].filter((k) => !excluded.has(k));
  const rows = series
    .map((s) => ({ metric: s.metric, value: Number(s.values[0][1]) }))
    .sort((a, b) => b.value - a.value);
  return `<table><tr>${labels.map((l) => `<th>${esc(l)}</th>`).join('')}<th>Value ↓</th></tr>${rows
    .map(
      (r) =>
        `<tr>${labels.map((l) => `<td>${esc(r.metric[l] ?? '')}</td>`).join('')}<td class="num">${esc(formatValue(r.value, panel.fieldConfig?.defaults?.unit))}</td></tr>`,
    )
    .join('')}</table>`;
};

const renderHtml = ({ results, noData }, from, to, trafficNote) => {
  const PAGE_W = 1600;
  const CELL_H = 30;
  const MARGIN = 8;
  const HEADER = 64;
  const colW = (PAGE_W - MARGIN) / 24;
  const rows = Math.max(...dashboard.panels.map((p) => p.gridPos.y + p.gridPos.h));
  const pageH = HEADER + rows * (CELL_H + MARGIN) + MARGIN;
  let body = '';
  for (const panel of dashboard.panels) {
    const { x, y, w, h } = panel.gridPos;
    const left = MARGIN + x * colW;
    const top = HEADER + y * (CELL_H + MARGIN);
    const width = w * colW - MARGIN;
    const height = h * CELL_H + (h - 1) * MARGIN;
    if (panel.type === 'row') {
      body += `<div class="row" style="left:${left}px;top:${top}px;width:${width}px;height:${height}px">⌄ ${esc(panel.title)}</div>`;
      continue;
    }
    const series = (results.get(panel.id) ?? []).map((s, i) => ({
      ...s,
      label: legendOf(s.target, s.metric),
      color: PALETTE[i % PALETTE.length],
    }));
    const innerW = width - 2 * PANEL_PAD;
    let content;
    let legend = '';
    if (!series.length)
      content = `<div class="nodata">No data<br><small>${esc(noData.get(panel.id) ?? '')}</small></div>`;
    else if (panel.type === 'table') content = tableHtml(panel, series);
    else {
      const withData = series.filter((s) => s.values.some(([, v]) => Number.isFinite(Number(v))));
      if (panel.type === 'timeseries' && withData.length) {
        legend = `<div class="legend">${withData.map((s) => `<span><i style="background:${s.color}"></i>${esc(s.label)}</span>`).join('')}</div>`;
      }
      const legendLines = Math.ceil(withData.reduce((n, s) => n + s.label.length * 6.8 + 26, 0) / (innerW * 0.8));
      const chartH = height - 30 - (legend ? Math.min(4, legendLines) * 15 + 6 : 0) - PANEL_PAD;
      content =
        panel.type === 'state-timeline'
          ? stateTimelineSvg(panel, series, innerW, chartH, from, to)
          : timeseriesSvg(panel, withData, innerW, chartH, from, to);
    }
    body += `<div class="panel" style="left:${left}px;top:${top}px;width:${width}px;height:${height}px"><div class="title">${esc(panel.title)}</div>${content}${legend}</div>`;
  }
  return `<!doctype html><html><head><meta charset="utf-8"><style>
  body{margin:0;background:#111217;color:#ccccdc;font:12px Inter,'DejaVu Sans',Arial,sans-serif;width:${PAGE_W}px;height:${pageH}px;position:relative;overflow:hidden}
  .head{position:absolute;left:${MARGIN}px;top:8px;right:${MARGIN}px}
  .head h1{font-size:18px;font-weight:500;margin:0 0 4px;color:#d8d9da}
  .head p{margin:0;color:#8e8e8e;font-size:12px}
  .panel{position:absolute;box-sizing:border-box;background:#181b1f;border:1px solid #2c3235;border-radius:2px;padding:0 ${PANEL_PAD}px ${PANEL_PAD}px;overflow:hidden}
  .title{height:30px;line-height:30px;font-weight:500;font-size:13px;color:#d8d9da;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
  .row{position:absolute;font-size:14px;font-weight:500;color:#d8d9da;line-height:30px}
  svg text{fill:#9fa3a8;font-size:10px}
  svg text.state{fill:#111217;font-size:11px;font-weight:600}
  svg .grid{stroke:#2a2d33;stroke-width:1}
  .legend{font-size:10.5px;line-height:15px;margin-top:4px;max-height:60px;overflow:hidden}
  .legend span{display:inline-block;margin-right:12px;white-space:nowrap}
  .legend i{display:inline-block;width:12px;height:3px;margin-right:5px;vertical-align:middle}
  .nodata{color:#8e8e8e;text-align:center;padding-top:80px;font-size:14px}
  .nodata small{font-size:11px;color:#6e7176}
  table{border-collapse:collapse;width:100%;font-size:11px}
  th{text-align:left;color:#6e9fff;font-weight:500;border-bottom:1px solid #2c3235;padding:3px 6px}
  td{border-bottom:1px solid #22252b;padding:2px 6px;white-space:nowrap}
  td.num{text-align:right}
  </style></head><body><div class="head"><h1>${esc(dashboard.title)}</h1><p>${esc(
    `${new Date(from * 1000).toISOString().slice(0, 19)}Z – ${clock(to)}Z · the dashboard's panels and queries evaluated by a real Prometheus against the running API and worker (${trafficNote}); drawn by scripts/render-dashboard.mjs, not Grafana's renderer`,
  )}</p></div>${body}</body></html>`;
};

// ---------------------------------------------------------------- main
try {
  for (const need of [
    'dist/main.js',
    'dist/worker.js',
    'dist/payments/fake-provider/fake-provider.command.js',
    'dist/seed.command.js',
  ]) {
    if (!existsSync(resolve(root, need)))
      throw new Error(`${need} is missing: run npm run build (npm run docs:dashboard does)`);
  }
  execFileSync(chromiumBin, ['--version'], { stdio: 'ignore', timeout: 20_000 });
  const promBin = prometheusBinary();
  const [apiPort, workerPort, paymentsPort, promPort] = [
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
  ];
  const databaseUrl = `postgres://postgres@127.0.0.1:5432/${dbName}`;
  const env = {
    NODE_ENV: 'production',
    JWT_SECRET: 'dashboard-secret-dashboard-secret-0123',
    DATABASE_URL: databaseUrl,
    REDIS_KEY_PREFIX: redisPrefix,
    LOG_LEVEL: 'warn',
    PORT: String(apiPort),
    WORKER_PORT: String(workerPort),
    FAKE_PAYMENTS_PORT: String(paymentsPort),
    FAKE_PAYMENTS_SLOW_MS: '4000',
    PAYMENTS_BASE_URL: `http://127.0.0.1:${paymentsPort}`,
    PAYMENTS_BREAKER_HALF_OPEN_MS: '8000',
    RECONCILIATION_INTERVAL_MS: '10000',
    SHUTDOWN_DRAIN_MS: '0',
  };

  say(`database ${dbName} (created, migrated and seeded by the seed command)`);
  dbCreated = true;
  execFileSync(process.execPath, ['dist/seed.command.js'], {
    cwd: root,
    env: { ...process.env, ...env, NODE_ENV: 'development' },
    stdio: 'ignore',
    timeout: 60_000,
  });
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  const productIds = (
    await db.query(`SELECT id FROM products WHERE status = 'active' AND stock > 100 ORDER BY sku`)
  ).rows.map((r) => r.id);
  const discontinuedId = (await db.query(`SELECT id FROM products WHERE status = 'discontinued' LIMIT 1`)).rows[0].id;
  await db.end();
  if (!productIds.length) throw new Error('the seed left no active product with stock');

  say(`fake payments :${paymentsPort}, API :${apiPort}, worker :${workerPort}`);
  start('payments', process.execPath, ['dist/payments/fake-provider/fake-provider.command.js'], env);
  start('api', process.execPath, ['dist/main.js'], env);
  start('worker', process.execPath, ['dist/worker.js'], env);
  await waitFor(`http://127.0.0.1:${apiPort}/health/ready`, 'the API');
  await waitFor(`http://127.0.0.1:${workerPort}/metrics`, 'the worker');

  const promDir = join(tmp, 'prometheus');
  mkdirSync(promDir);
  copyFileSync(resolve(root, 'deploy/prometheus/alerts.rules.yml'), join(promDir, 'alerts.rules.yml'));
  writeFileSync(
    join(promDir, 'prometheus.yml'),
    `global: {scrape_interval: ${SCRAPE_S}s, evaluation_interval: ${SCRAPE_S}s, scrape_timeout: ${SCRAPE_S}s}
rule_files: [alerts.rules.yml]
scrape_configs:
  - {job_name: resilient-api, static_configs: [{targets: ['127.0.0.1:${apiPort}']}]}
  - {job_name: resilient-api-worker, static_configs: [{targets: ['127.0.0.1:${workerPort}']}]}
`,
  );
  say(`prometheus :${promPort} (${promBin}), scraping every ${SCRAPE_S} s`);
  start('prometheus', promBin, [
    `--config.file=${join(promDir, 'prometheus.yml')}`,
    `--storage.tsdb.path=${join(promDir, 'data')}`,
    `--web.listen-address=127.0.0.1:${promPort}`,
    '--storage.tsdb.retention.time=1h',
  ]);
  const prometheus = `http://127.0.0.1:${promPort}`;
  await waitFor(`${prometheus}/-/ready`, 'Prometheus');
  await sleep(SCRAPE_S * 2000); // a baseline before the traffic starts
  const from = Math.floor(Date.now() / 1000) - SCRAPE_S * 2;

  say(`traffic for ${trafficSeconds} s`);
  const stats = await trafficFor(`http://127.0.0.1:${apiPort}`, productIds, discontinuedId)();
  const sent = Object.values(stats).reduce((a, b) => a + b, 0);
  say(`sent ${sent} requests: ${JSON.stringify(stats)}`);
  await sleep(SCRAPE_S * 3000); // let the last scrapes and rule evaluations land
  const to = Math.floor(Date.now() / 1000);

  say('evaluating the panels');
  const results = await evaluate(prometheus, from, to);
  for (const [id, why] of results.noData)
    say(`no data in "${dashboard.panels.find((p) => p.id === id).title}": ${why}`);
  const html = renderHtml(results, from, to, `${sent} requests in ${trafficSeconds} s of generated traffic`);
  const htmlPath = join(tmp, 'dashboard.html');
  writeFileSync(htmlPath, html);
  if (process.env.DASHBOARD_HTML) copyFileSync(htmlPath, resolve(process.env.DASHBOARD_HTML));

  say('screenshot with headless chromium');
  const pageH = Number(/height:(\d+(?:\.\d+)?)px;position:relative/.exec(html)[1]);
  const shot = join(tmp, 'dashboard.png');
  const chromium = start('chromium', chromiumBin, [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--hide-scrollbars',
    '--force-device-scale-factor=1',
    `--user-data-dir=${join(tmp, 'chromium-profile')}`,
    `--window-size=1600,${Math.ceil(pageH)}`,
    `--screenshot=${shot}`,
    `file://${htmlPath}`,
  ]);
  const code = await Promise.race([new Promise((r) => chromium.once('exit', r)), sleep(60_000).then(() => 'timeout')]);
  if (!existsSync(shot)) throw new Error(`chromium made no screenshot (exit ${code})`);
  mkdirSync(dirname(outPng), { recursive: true });
  copyFileSync(shot, outPng);
  say(`wrote ${outPng} (${Math.round(statSync(outPng).size / 1024)} KB); cleaning up`);
  await cleanup();
  say('done');
  process.exit(0);
} catch (err) {
  await fail(err);
}
