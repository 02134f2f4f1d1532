import { execFile } from 'node:child_process';
import { freePort } from '../support/poll.support';
import { HOST_PATH } from '../support/process.support';
import { execFileSync } from 'node:child_process';
import {
  RECORDED_GATE_ARGS,
  ROLLOUT_GATE,
  startFixturePrometheus,
  type FixturePrometheus,
} from '../support/prometheus-fixture.support';

/**
 * scripts/rollout-gate.mjs (F31) against recorded Prometheus answers served over real HTTP
 * (test/fixtures/prometheus): the exit code is what the deploy workflow acts on
 * (0 promote, 1 hold, 2 rollback, 3 error, 64 usage).
 */
interface GateRun {
  code: number | null;
  stdout: string;
  stderr: string;
  result: { decision: string; reasons: string[]; measured?: Record<string, number | null> } | undefined;
}

function gate(args: string[], env: Record<string, string> = {}): Promise<GateRun> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [ROLLOUT_GATE, ...args],
      { env: { PATH: HOST_PATH, ...env }, timeout: 20_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
        const last = stdout.trim().split('\n').pop() ?? '';
        let result: GateRun['result'];
        try {
          result = JSON.parse(last);
        } catch {
          result = undefined;
        }
        done({ code, stdout, stderr, result });
      },
    );
  });
}

describe('the rollout gate (F31)', () => {
  let prometheus: FixturePrometheus;
  let queries: Record<string, string>;
  beforeAll(async () => {
    prometheus = await startFixturePrometheus();
    queries = prometheus.queries;
  });
  afterAll(() => prometheus.close());

  // With the options the answers were recorded with (the rehearsal's compressed windows).
  const run = (fixture: string, ...extra: string[]) => {
    prometheus.serve(fixture);
    return gate(['--prometheus', prometheus.url, ...RECORDED_GATE_ARGS, ...extra]);
  };

  it('queries user traffic only, by the app and track labels: up, requests, 5xx ratio and p99 of canary and stable', () => {
    const defaults: Record<string, string> = JSON.parse(
      execFileSync(process.execPath, [ROLLOUT_GATE, '--print-queries'], { encoding: 'utf8' }),
    );
    expect(Object.keys(queries).sort()).toEqual(Object.keys(defaults).sort());
    expect(Object.keys(defaults).sort()).toEqual(
      [
        'canaryUp',
        'canaryRequests',
        'canaryRecentRequests',
        'stableRequests',
        'canaryErrorRatio',
        'stableErrorRatio',
        'canaryP99',
        'stableP99',
      ].sort(),
    );
    const user = 'app="resilient-api",track="canary",http_route!~"/health/.*|/metrics"';
    const requests = `http_server_request_duration_seconds_count{${user}}`;
    const errors = `http_server_request_duration_seconds_count{${user},http_response_status_code=~"5.."}`;
    // Counted from a series' birth: a series absent `offset 5m` ago counts its whole value.
    const served = (series: string, range: string) =>
      `sum((increase(${series}[${range}]) and ${series} offset ${range}) or ${series})`;
    expect(defaults.canaryRequests).toBe(served(requests, '5m'));
    expect(defaults.canaryRecentRequests).toBe(served(requests, '1m'));
    // No 5xx series is a ratio of 0, not "no data".
    expect(defaults.canaryErrorRatio).toBe(`(${served(errors, '5m')} or vector(0)) / ${served(requests, '5m')}`);
    expect(defaults.stableP99).toBe(
      'histogram_quantile(0.99, sum by (le) (rate(http_server_request_duration_seconds_bucket{app="resilient-api",track="stable",http_route!~"/health/.*|/metrics"}[5m])))',
    );
    expect(defaults.canaryUp).toBe('min(up{app="resilient-api",track="canary"})');
    for (const [name, promql] of Object.entries(defaults)) {
      if (name !== 'canaryUp') expect(promql).not.toMatch(/_count\{(?![^}]*http_route!~"\/health\/\.\*\|\/metrics")/);
    }
  });

  // The fixtures are Prometheus 2.42's own answers, recorded by `REHEARSAL_RECORD=test/fixtures/prometheus
  // npm run rehearse:rollout` at a moment of each scenario.
  it('promotes a healthy canary with no 5xx anywhere (ratios 0, not empty) after asking every query', async () => {
    const run1 = await run('healthy');
    expect(run1.code).toBe(0);
    expect(run1.result).toMatchObject({
      decision: 'promote',
      measured: { canaryUp: 1, canaryErrorRatio: 0, stableErrorRatio: 0 },
    });
    expect(run1.result?.measured?.canaryRequests).toBeGreaterThanOrEqual(60);
    expect(new Set(prometheus.asked)).toEqual(new Set(Object.values(queries)));
  });

  it('rolls back (exit 2) when the canary 5xx ratio is over the absolute limit and above stable', async () => {
    const { code, result } = await run('canary-errors');
    expect(code).toBe(2);
    expect(result?.decision).toBe('rollback');
    expect(result?.reasons.join('\n')).toMatch(
      /^canary 5xx ratio 0\.\d+ > 0\.01\ncanary 5xx ratio 0\.\d+ > stable 0 x 2 \+ 0\.002/,
    );
  });

  it('rolls back when the canary 5xx ratio is under the absolute limit but far above stable (stable at 0)', async () => {
    const { code, result } = await run('canary-errors', '--max-error-ratio', '0.9');
    expect(code).toBe(2);
    expect(result?.reasons).toEqual([expect.stringMatching(/^canary 5xx ratio 0\.\d+ > stable 0 x 2 \+ 0\.002$/)]);
  });

  it('rolls back when the canary p99 is far above stable (a CPU-starved canary)', async () => {
    const { code, result } = await run('canary-slow');
    expect(code).toBe(2);
    expect(result?.reasons.join('\n')).toMatch(/canary p99 [\d.]+s > /);
  });

  it('rolls back when a canary target is down, whatever the window still holds', async () => {
    const { code, result } = await run('canary-down');
    expect(code).toBe(2);
    expect(result?.reasons).toEqual(['a canary target is down (up == 0): it does not answer scrapes']);
    expect(result?.measured?.canaryUp).toBe(0);
  });

  it('uses thresholds from options and environment', async () => {
    expect((await run('canary-slow', '--p99-factor', '1000', '--max-p99-seconds', '1000')).code).toBe(0);
    prometheus.serve('healthy');
    const strict = await gate(['--prometheus', prometheus.url, ...RECORDED_GATE_ARGS], {
      ROLLOUT_MAX_P99_SECONDS: '0.001',
    });
    expect(strict.code).toBe(2);
  });

  it.each([
    ['no-data', /no canary target in Prometheus/],
    ['low-traffic', /canary served \d+ user requests in 30s, fewer than 60/],
    // Probes and scrapes only: hundreds of requests, none of them a user's.
    ['idle', /canary served 0 user requests in 30s, fewer than 60/],
    ['no-baseline', /no stable traffic to compare with/],
  ])('holds (exit 1), never promotes, on %s', async (fixture, reason) => {
    const { code, result } = await run(fixture);
    expect(code).toBe(1);
    expect(result?.decision).toBe('hold');
    expect(result?.reasons.join('\n')).toMatch(reason);
  });

  it('holds when the canary served enough in the window but not recently (not serving now)', async () => {
    const { code, result } = await run('healthy', '--min-recent-requests', '100000');
    expect(code).toBe(1);
    expect(result?.reasons.join('\n')).toMatch(/user requests in the last 5s, fewer than 100000: not serving now/);
  });

  it('promotes without a baseline only when told it is a first deploy', async () => {
    expect((await run('no-baseline', '--allow-no-baseline')).code).toBe(0);
  });

  it('makes no decision (exit 3) when Prometheus rejects the query', async () => {
    const { code, result, stderr } = await run('bad-query');
    expect(code).toBe(3);
    expect(result?.decision).toBe('error');
    expect(stderr).toMatch(/Prometheus answered 400: bad_data: invalid parameter/);
  });

  it('makes no decision (exit 3) when Prometheus is unreachable', async () => {
    const port = await freePort();
    const { code, result } = await gate(['--prometheus', `http://127.0.0.1:${port}`]);
    expect(code).toBe(3);
    expect(result?.reasons[0]).toMatch(new RegExp(`Prometheus at http://127\\.0\\.0\\.1:${port} did not answer`));
  });

  it('refuses bad arguments (exit 64) with the usage text', async () => {
    const missing = await gate([]);
    expect(missing.code).toBe(64);
    expect(missing.stderr).toMatch(/--prometheus \(or PROMETHEUS_URL\) is required/);
    const bad = await gate(['--prometheus', prometheus.url, '--min-requests', 'lots']);
    expect(bad.code).toBe(64);
    expect(bad.stderr).toMatch(/Exit: 0 promote, 1 hold, 2 rollback, 3 Prometheus error, 64 usage/);
  });
});
