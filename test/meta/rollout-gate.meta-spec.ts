import { execFile } from 'node:child_process';
import { freePort } from '../support/poll.support';
import { HOST_PATH } from '../support/process.support';
import { ROLLOUT_GATE, startFixturePrometheus, type FixturePrometheus } from '../support/prometheus-fixture.support';

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

  const run = (fixture: string, ...extra: string[]) => {
    prometheus.serve(fixture);
    return gate(['--prometheus', prometheus.url, ...extra]);
  };

  it('queries the request count, 5xx ratio and p99 of canary and stable, by the app and track labels', () => {
    expect(Object.keys(queries).sort()).toEqual(
      ['canaryErrorRatio', 'canaryP99', 'canaryRequests', 'stableErrorRatio', 'stableP99', 'stableRequests'].sort(),
    );
    expect(queries.canaryErrorRatio).toBe(
      'sum(rate(http_server_request_duration_seconds_count{app="resilient-api",track="canary",http_response_status_code=~"5.."}[5m]))' +
        ' / sum(rate(http_server_request_duration_seconds_count{app="resilient-api",track="canary"}[5m]))',
    );
    expect(queries.stableP99).toBe(
      'histogram_quantile(0.99, sum by (le) (rate(http_server_request_duration_seconds_bucket{app="resilient-api",track="stable"}[5m])))',
    );
  });

  it('promotes a healthy canary (exit 0) after asking Prometheus every query', async () => {
    const run1 = await run('healthy');
    expect(run1.code).toBe(0);
    expect(run1.result).toMatchObject({ decision: 'promote', measured: { canaryRequests: 1520.4, canaryP99: 0.182 } });
    expect(new Set(prometheus.asked)).toEqual(new Set(Object.values(queries)));
  });

  it('rolls back (exit 2) when the canary 5xx ratio is over the absolute limit', async () => {
    const { code, result } = await run('canary-errors');
    expect(code).toBe(2);
    expect(result?.decision).toBe('rollback');
    expect(result?.reasons).toContain('canary 5xx ratio 0.0412 > 0.01');
  });

  it('rolls back when the canary 5xx ratio is under the absolute limit but far above stable', async () => {
    const { code, result } = await run('canary-errors-relative');
    expect(code).toBe(2);
    expect(result?.reasons).toEqual(['canary 5xx ratio 0.0085 > stable 0.0012 x 2 + 0.002']);
  });

  it('rolls back when the canary p99 is far above stable', async () => {
    const { code, result } = await run('canary-slow');
    expect(code).toBe(2);
    expect(result?.reasons).toEqual(['canary p99 0.62s > stable 0.171s x 1.5 + 0.05s']);
  });

  it('uses thresholds from options and environment', async () => {
    expect((await run('canary-slow', '--p99-factor', '4')).code).toBe(0);
    prometheus.serve('healthy');
    const strict = await gate(['--prometheus', prometheus.url], { ROLLOUT_MAX_ERROR_RATIO: '0.001' });
    expect(strict.code).toBe(2);
  });

  it.each([
    ['no-data', /canary served 0 requests in 5m, fewer than 100/],
    ['low-traffic', /canary served 42 requests in 5m, fewer than 100/],
    ['canary-nan', /canary served 0 requests/],
    ['no-baseline', /no stable traffic to compare with/],
  ])('holds (exit 1), never promotes, on %s', async (fixture, reason) => {
    const { code, result } = await run(fixture);
    expect(code).toBe(1);
    expect(result?.decision).toBe('hold');
    expect(result?.reasons.join('\n')).toMatch(reason);
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
