#!/usr/bin/env node
// Rollout gate: asks Prometheus how the canary compares with the stable version and decides
// whether a staged rollout may take its next step (F31). scripts/canary-rollout.sh asks it
// every gate interval during each bake; deploy/k8s/base/api.analysis.yaml runs the same
// queries in the cluster (test/meta/deploy-k8s.meta-spec.ts compares them).
//
// Usage: node scripts/rollout-gate.mjs --prometheus URL [options]
//        node scripts/rollout-gate.mjs --print-queries [options]   (the PromQL, as JSON)
//
// Exit codes (the decision is also printed as one JSON line on stdout):
//   0  promote   the canary is up, served enough user requests (in the window and recently),
//                and every threshold holds against a stable baseline
//   1  hold      not enough user traffic, no canary target or no baseline yet: measure again later
//   2  rollback  a canary target is down, or a threshold failed: the canary is worse than allowed
//   3  error     Prometheus unreachable or answered something unusable: no decision
//   64 usage     bad arguments
//
// The rules (docs/deploy.md "Staged rollout"), each learned from a live rehearsal (npm run rehearse:rollout):
// - user traffic only: probes (/health/*) and scrapes (/metrics) are left out of every query,
//   or an idle canary "serves" a hundred requests per pod per 5 minutes;
// - requests and 5xx are counted from a series' birth: a series that appears inside the window
//   (the first 503 of a new kind) counts its whole value, which increase() alone loses;
// - no 5xx series means a ratio of 0, not "no data" (`or vector(0)`), on canary and stable;
// - the canary must be up (every canary target answers scrapes) and serving now (user
//   requests in the recent window), not only in the 5-minute window that still holds its past.
// Series are selected by the pod labels `app` and `track` (canary | stable), which the Rollout
// sets (canaryMetadata / stableMetadata) and deploy/prometheus/prometheus.kubernetes.yml copies
// onto every series, with `namespace`. No Node dependency beyond the standard library.

const OPTIONS = {
  prometheus: { env: 'PROMETHEUS_URL', fallback: undefined, help: 'base URL of Prometheus' },
  app: { env: 'ROLLOUT_APP', fallback: 'resilient-api', help: 'value of the `app` label' },
  selector: { env: 'ROLLOUT_SELECTOR', fallback: '', help: 'extra label matchers, e.g. namespace="production"' },
  window: { env: 'ROLLOUT_WINDOW', fallback: '5m', help: 'range of every ratio, count and p99, e.g. 5m' },
  'recent-window': {
    env: 'ROLLOUT_RECENT_WINDOW',
    fallback: '1m',
    help: 'range in which the canary must be serving user requests now',
  },
  'min-requests': {
    env: 'ROLLOUT_MIN_REQUESTS',
    fallback: '100',
    help: 'canary user requests in the window before any judgement',
  },
  'min-recent-requests': {
    env: 'ROLLOUT_MIN_RECENT_REQUESTS',
    fallback: '10',
    help: 'canary user requests in the recent window before any promotion',
  },
  'max-error-ratio': {
    env: 'ROLLOUT_MAX_ERROR_RATIO',
    fallback: '0.01',
    help: 'canary 5xx ratio above this rolls back',
  },
  'error-ratio-factor': {
    env: 'ROLLOUT_ERROR_RATIO_FACTOR',
    fallback: '2',
    help: 'rolls back when canary 5xx ratio > stable x factor + slack',
  },
  'error-ratio-slack': {
    env: 'ROLLOUT_ERROR_RATIO_SLACK',
    fallback: '0.002',
    help: 'absolute slack of that comparison',
  },
  'max-p99-seconds': {
    env: 'ROLLOUT_MAX_P99_SECONDS',
    fallback: '1',
    help: 'canary p99 latency above this rolls back',
  },
  'p99-factor': {
    env: 'ROLLOUT_P99_FACTOR',
    fallback: '1.5',
    help: 'rolls back when canary p99 > stable p99 x factor + slack',
  },
  'p99-slack-seconds': {
    env: 'ROLLOUT_P99_SLACK_SECONDS',
    fallback: '0.05',
    help: 'absolute slack of that comparison',
  },
  'timeout-ms': { env: 'ROLLOUT_PROMETHEUS_TIMEOUT_MS', fallback: '5000', help: 'per query' },
};
const FLAGS = {
  'print-queries': 'print the PromQL as JSON and exit',
  'allow-no-baseline': 'promote without stable traffic to compare with (first deploy)',
  help: 'this text',
};

const EXIT = { promote: 0, hold: 1, rollback: 2, error: 3, usage: 64 };

class UsageError extends Error {}
class PrometheusError extends Error {}

function parseArgs(argv, env) {
  const values = {};
  const flags = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) throw new UsageError(`unexpected argument ${arg}`);
    const [name, inline] = arg.slice(2).split(/=(.*)/s, 2);
    if (name in FLAGS) {
      flags[name] = true;
    } else if (name in OPTIONS) {
      const value = inline ?? argv[++i];
      if (value === undefined) throw new UsageError(`--${name} needs a value`);
      values[name] = value;
    } else {
      throw new UsageError(`unknown option --${name}`);
    }
  }
  const options = {};
  for (const [name, { env: variable, fallback }] of Object.entries(OPTIONS)) {
    options[name] = values[name] ?? (env[variable] || undefined) ?? fallback;
  }
  const TEXT = ['prometheus', 'app', 'selector', 'window', 'recent-window'];
  for (const name of Object.keys(OPTIONS).filter((n) => !TEXT.includes(n))) {
    const number = Number(options[name]);
    if (!Number.isFinite(number) || number < 0)
      throw new UsageError(`--${name} must be a number >= 0 (got ${options[name]})`);
    options[name] = number;
  }
  for (const name of ['window', 'recent-window']) {
    if (!/^\d+[smhd]$/.test(options[name]) && !options[name].startsWith('{{')) {
      throw new UsageError(`--${name} must be a Prometheus duration such as 5m (got ${options[name]})`);
    }
  }
  return { options, flags };
}

/** Routes that are not user traffic: the kubelet's probes and Prometheus' scrapes. */
const NOT_USER_TRAFFIC = 'http_route!~"/health/.*|/metrics"';
const FIVE_XX = 'http_response_status_code=~"5.."';

/** The PromQL the gate and the Argo Rollouts AnalysisTemplate both run. */
function buildQueries({ app, selector, window, 'recent-window': recent }) {
  const matchers = (track, ...extra) =>
    [`app="${app}"`, `track="${track}"`, selector, ...extra].filter(Boolean).join(',');
  const count = (track, ...extra) =>
    `http_server_request_duration_seconds_count{${matchers(track, NOT_USER_TRAFFIC, ...extra)}}`;
  // Requests in the range. increase() needs two samples of a series, so the requests a series
  // already holds at its first scrape (a new status or problem code: the first 503s) never count;
  // a series born inside the range (absent `offset range` ago) counts its whole value instead.
  const served = (series, range) => `sum((increase(${series}[${range}]) and ${series} offset ${range}) or ${series})`;
  // No 5xx series at all is a ratio of 0, not "no data": a healthy process never answered a 5xx.
  const errorRatio = (track) =>
    `(${served(count(track, FIVE_XX), window)} or vector(0)) / ${served(count(track), window)}`;
  const p99 = (track) =>
    `histogram_quantile(0.99, sum by (le) (rate(http_server_request_duration_seconds_bucket{${matchers(track, NOT_USER_TRAFFIC)}}[${window}])))`;
  return {
    canaryUp: `min(up{${matchers('canary')}})`,
    canaryRequests: served(count('canary'), window),
    canaryRecentRequests: served(count('canary'), recent),
    stableRequests: served(count('stable'), window),
    canaryErrorRatio: errorRatio('canary'),
    stableErrorRatio: errorRatio('stable'),
    canaryP99: p99('canary'),
    stableP99: p99('stable'),
  };
}

/** One instant query; a number, or null when the answer is empty or NaN (no data). */
async function query(base, promql, timeoutMs) {
  const url = new URL('api/v1/query', base.endsWith('/') ? base : `${base}/`);
  url.searchParams.set('query', promql);
  let response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  } catch (error) {
    throw new PrometheusError(
      `Prometheus at ${url.origin} did not answer (${error.cause?.code ?? error.cause?.message ?? error.message})`,
    );
  }
  const body = await response.json().catch(() => undefined);
  if (!response.ok || body?.status !== 'success') {
    throw new PrometheusError(
      `Prometheus answered ${response.status}${body?.error ? `: ${body.errorType ?? 'error'}: ${body.error}` : ''}`,
    );
  }
  if (body.data?.resultType !== 'vector' || !Array.isArray(body.data.result)) {
    throw new PrometheusError(`Prometheus answered a ${body.data?.resultType ?? 'malformed'} result, not a vector`);
  }
  if (body.data.result.length === 0) return null;
  if (body.data.result.length > 1) throw new PrometheusError(`expected one series, got ${body.data.result.length}`);
  const value = Number(body.data.result[0].value?.[1]);
  return Number.isFinite(value) ? value : null;
}

/** promote | hold | rollback, with the reasons, from measured values (null = no data). */
function decide(m, o, allowNoBaseline = false) {
  const hold = (reason) => ({ decision: 'hold', reasons: [reason] });
  // Up and serving now: the window still holds a dead canary's healthy past.
  if (m.canaryUp === null) return hold('no canary target in Prometheus (not scheduled or not scraped yet)');
  if (m.canaryUp < 1) {
    return { decision: 'rollback', reasons: ['a canary target is down (up == 0): it does not answer scrapes'] };
  }
  const requests = m.canaryRequests ?? 0;
  if (requests < o['min-requests']) {
    return hold(`canary served ${requests} user requests in ${o.window}, fewer than ${o['min-requests']}`);
  }
  if (m.canaryErrorRatio === null || m.canaryP99 === null) return hold('no 5xx ratio or p99 for the canary yet');
  const failed = [];
  if (m.canaryErrorRatio > o['max-error-ratio']) {
    failed.push(`canary 5xx ratio ${m.canaryErrorRatio} > ${o['max-error-ratio']}`);
  }
  if (
    m.stableErrorRatio !== null &&
    m.canaryErrorRatio > m.stableErrorRatio * o['error-ratio-factor'] + o['error-ratio-slack']
  ) {
    failed.push(
      `canary 5xx ratio ${m.canaryErrorRatio} > stable ${m.stableErrorRatio} x ${o['error-ratio-factor']} + ${o['error-ratio-slack']}`,
    );
  }
  if (m.canaryP99 > o['max-p99-seconds']) failed.push(`canary p99 ${m.canaryP99}s > ${o['max-p99-seconds']}s`);
  if (m.stableP99 !== null && m.canaryP99 > m.stableP99 * o['p99-factor'] + o['p99-slack-seconds']) {
    failed.push(
      `canary p99 ${m.canaryP99}s > stable ${m.stableP99}s x ${o['p99-factor']} + ${o['p99-slack-seconds']}s`,
    );
  }
  if (failed.length) return { decision: 'rollback', reasons: failed };
  const recent = m.canaryRecentRequests ?? 0;
  if (recent < o['min-recent-requests']) {
    return hold(
      `canary served ${recent} user requests in the last ${o['recent-window']}, fewer than ${o['min-recent-requests']}: not serving now`,
    );
  }
  const baseline =
    m.stableRequests !== null &&
    m.stableRequests >= o['min-requests'] &&
    m.stableErrorRatio !== null &&
    m.stableP99 !== null;
  if (!baseline && !allowNoBaseline) {
    return hold('no stable traffic to compare with (pass --allow-no-baseline on a first deploy)');
  }
  return { decision: 'promote', reasons: ['every threshold holds'] };
}

function usage() {
  const lines = ['Usage: node scripts/rollout-gate.mjs --prometheus URL [options]', ''];
  for (const [name, { env, fallback, help }] of Object.entries(OPTIONS)) {
    lines.push(
      `  --${name.padEnd(20)} ${help} (env ${env}${fallback !== undefined ? `, default ${fallback || '""'}` : ''})`,
    );
  }
  for (const [name, help] of Object.entries(FLAGS)) lines.push(`  --${name.padEnd(20)} ${help}`);
  lines.push('', 'Exit: 0 promote, 1 hold, 2 rollback, 3 Prometheus error, 64 usage.');
  return lines.join('\n');
}

async function main(argv, env) {
  const { options, flags } = parseArgs(argv, env);
  if (flags.help) {
    process.stdout.write(`${usage()}\n`);
    return EXIT.promote;
  }
  const queries = buildQueries(options);
  if (flags['print-queries']) {
    process.stdout.write(`${JSON.stringify(queries, null, 2)}\n`);
    return EXIT.promote;
  }
  if (!options.prometheus) throw new UsageError('--prometheus (or PROMETHEUS_URL) is required');
  const entries = await Promise.all(
    Object.entries(queries).map(async ([name, promql]) => [
      name,
      await query(options.prometheus, promql, options['timeout-ms']),
    ]),
  );
  const measured = Object.fromEntries(entries);
  const { decision, reasons } = decide(measured, options, flags['allow-no-baseline']);
  process.stdout.write(`${JSON.stringify({ decision, reasons, measured })}\n`);
  return EXIT[decision];
}

main(process.argv.slice(2), process.env).then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    if (error instanceof UsageError) {
      process.stderr.write(`rollout-gate: ${error.message}\n\n${usage()}\n`);
      process.exitCode = EXIT.usage;
    } else if (error instanceof PrometheusError) {
      process.stdout.write(`${JSON.stringify({ decision: 'error', reasons: [error.message] })}\n`);
      process.stderr.write(`rollout-gate: ${error.message}; no decision\n`);
      process.exitCode = EXIT.error;
    } else {
      process.stderr.write(`rollout-gate: ${error?.stack ?? error}\n`);
      process.exitCode = EXIT.error;
    }
  },
);
