#!/usr/bin/env node
// Rollout gate: asks Prometheus how the canary compares with the stable version and decides
// whether a staged rollout may take its next step (F31). Used by .github/workflows/deploy.yml
// after each bake time; deploy/k8s/base/api-analysis.yml runs the same queries in the cluster.
//
// Usage: node scripts/rollout-gate.mjs --prometheus URL [options]
//        node scripts/rollout-gate.mjs --print-queries [options]   (the PromQL, as JSON)
//
// Exit codes (the decision is also printed as one JSON line on stdout):
//   0  promote   enough canary traffic, and every threshold holds
//   1  hold      not enough traffic or no data yet (never a promotion): measure again later
//   2  rollback  a threshold failed: the canary is worse than allowed
//   3  error     Prometheus unreachable or answered something unusable: no decision
//   64 usage     bad arguments
//
// Series are selected by the pod labels `app` and `track` (canary | stable), which the
// Rollout sets (canaryMetadata / stableMetadata) and Prometheus copies onto every series.
// No Node dependency beyond the standard library: CI runs it with a bare `node`.

const OPTIONS = {
  prometheus: { env: 'PROMETHEUS_URL', fallback: undefined, help: 'base URL of Prometheus' },
  app: { env: 'ROLLOUT_APP', fallback: 'resilient-api', help: 'value of the `app` label' },
  selector: { env: 'ROLLOUT_SELECTOR', fallback: '', help: 'extra label matchers, e.g. namespace="production"' },
  window: { env: 'ROLLOUT_WINDOW', fallback: '5m', help: 'range of every rate, e.g. 5m' },
  'min-requests': {
    env: 'ROLLOUT_MIN_REQUESTS',
    fallback: '100',
    help: 'canary requests in the window before any promotion',
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
  for (const name of Object.keys(OPTIONS).filter((n) => !['prometheus', 'app', 'selector', 'window'].includes(n))) {
    const number = Number(options[name]);
    if (!Number.isFinite(number) || number < 0)
      throw new UsageError(`--${name} must be a number >= 0 (got ${options[name]})`);
    options[name] = number;
  }
  if (!/^\d+[smhd]$/.test(options.window) && !options.window.startsWith('{{')) {
    throw new UsageError(`--window must be a Prometheus duration such as 5m (got ${options.window})`);
  }
  return { options, flags };
}

/** The PromQL the gate and the Argo Rollouts AnalysisTemplate both run. */
function buildQueries({ app, selector, window }) {
  const matchers = (track, extra = '') =>
    [`app="${app}"`, `track="${track}"`, selector, extra].filter(Boolean).join(',');
  const count = (track, extra) => `http_server_request_duration_seconds_count{${matchers(track, extra)}}`;
  const errorRatio = (track) =>
    `sum(rate(${count(track, 'http_response_status_code=~"5.."')}[${window}])) / sum(rate(${count(track)}[${window}]))`;
  const p99 = (track) =>
    `histogram_quantile(0.99, sum by (le) (rate(http_server_request_duration_seconds_bucket{${matchers(track)}}[${window}])))`;
  return {
    canaryRequests: `sum(increase(${count('canary')}[${window}]))`,
    stableRequests: `sum(increase(${count('stable')}[${window}]))`,
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
  if (m.canaryRequests === null || m.canaryRequests < o['min-requests']) {
    return {
      decision: 'hold',
      reasons: [`canary served ${m.canaryRequests ?? 0} requests in ${o.window}, fewer than ${o['min-requests']}`],
    };
  }
  if (m.canaryErrorRatio === null || m.canaryP99 === null) {
    return { decision: 'hold', reasons: ['no 5xx ratio or p99 for the canary yet'] };
  }
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
  const baseline =
    m.stableRequests !== null &&
    m.stableRequests >= o['min-requests'] &&
    m.stableErrorRatio !== null &&
    m.stableP99 !== null;
  if (!baseline && !allowNoBaseline) {
    return {
      decision: 'hold',
      reasons: ['no stable traffic to compare with (pass --allow-no-baseline on a first deploy)'],
    };
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
