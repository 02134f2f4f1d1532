import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort } from '../support/poll.support';
import { HOST_PATH, ROOT } from '../support/process.support';
import { startFixturePrometheus, type FixturePrometheus } from '../support/prometheus-fixture.support';

/**
 * scripts/canary-rollout.sh (F31), the deploy workflow's rollout driver, with the real gate and
 * a stand-in Prometheus; `kubectl` is a recording stand-in (no cluster here), so the test sees
 * exactly which promote / abort / undo commands a rollout would get.
 */
const SCRIPT = resolve(ROOT, 'scripts', 'canary-rollout.sh');
const NAMESPACE = 'shop';

describe('the canary rollout driver (F31)', () => {
  let prometheus: FixturePrometheus;
  let bin: string;
  beforeAll(async () => {
    prometheus = await startFixturePrometheus(`namespace="${NAMESPACE}"`);
    bin = mkdtempSync(join(tmpdir(), 'ra-kubectl-'));
    // Records its arguments; `status` fails when KUBECTL_STATUS_FAILS is set.
    writeFileSync(
      join(bin, 'kubectl'),
      '#!/bin/sh\necho "$*" >> "$KUBECTL_LOG"\ncase "$*" in *" status "*) [ -z "$KUBECTL_STATUS_FAILS" ] || exit 1;; esac\nexit 0\n',
    );
    chmodSync(join(bin, 'kubectl'), 0o755);
  });
  afterAll(async () => {
    await prometheus.close();
    rmSync(bin, { recursive: true, force: true });
  });

  function rollout(fixture: string, env: Record<string, string> = {}) {
    prometheus.serve(fixture);
    const log = join(bin, `kubectl-${fixture}-${Date.now()}.log`);
    writeFileSync(log, '');
    return new Promise<{ code: number; kubectl: string[]; stderr: string }>((done) => {
      execFile(
        'bash',
        [SCRIPT],
        {
          timeout: 30_000,
          env: {
            PATH: `${bin}:${HOST_PATH}`,
            KUBECTL_LOG: log,
            NAMESPACE,
            PROMETHEUS_URL: prometheus.url,
            BAKE_SECONDS: '0',
            POLL_SECONDS: '0',
            DECISION_DEADLINE_SECONDS: '0',
            ...env,
          },
        },
        (error, _stdout, stderr) =>
          done({
            code: error ? Number(error.code) : 0,
            kubectl: readFileSync(log, 'utf8').trim().split('\n').filter(Boolean),
            stderr,
          }),
      );
    });
  }
  const rollouts = (...args: string[]) => `argo rollouts --namespace ${NAMESPACE} ${args.join(' ')}`;

  it('promotes a healthy canary through every pause, then waits for the rollout to complete', async () => {
    const { code, kubectl } = await rollout('healthy');
    expect(code).toBe(0);
    expect(kubectl).toEqual([
      rollouts('status api --timeout 10m'),
      rollouts('promote api'),
      rollouts('status api --timeout 10m'),
      rollouts('promote api'),
      rollouts('status api --timeout 10m'),
    ]);
    expect(new Set(prometheus.asked)).toEqual(new Set(Object.values(prometheus.queries)));
  });

  it('aborts and undoes the rollout when the gate fails the canary', async () => {
    const { code, kubectl, stderr } = await rollout('canary-errors');
    expect(code).toBe(1);
    expect(kubectl).toEqual([rollouts('status api --timeout 10m'), rollouts('abort api'), rollouts('undo api')]);
    expect(stderr).toContain('rolling back: step 1: the gate failed the canary');
  });

  it.each(['no-data', 'low-traffic'])(
    'never promotes on %s: rolls back when the decision deadline passes',
    async (fixture) => {
      const { code, kubectl, stderr } = await rollout(fixture);
      expect(code).toBe(1);
      expect(kubectl).not.toContain(rollouts('promote api'));
      expect(kubectl.slice(-2)).toEqual([rollouts('abort api'), rollouts('undo api')]);
      expect(stderr).toContain('no promotion within 0s');
    },
  );

  it('rolls back when Prometheus cannot answer until the deadline', async () => {
    const { code, kubectl } = await rollout('healthy', { PROMETHEUS_URL: `http://127.0.0.1:${await freePort()}` });
    expect(code).toBe(1);
    expect(kubectl.slice(-2)).toEqual([rollouts('abort api'), rollouts('undo api')]);
  });

  it('rolls back when the rollout degrades before a pause (the in-cluster analysis aborted it)', async () => {
    const { code, kubectl } = await rollout('healthy', { KUBECTL_STATUS_FAILS: '1' });
    expect(code).toBe(1);
    expect(kubectl).toEqual([rollouts('status api --timeout 10m'), rollouts('abort api'), rollouts('undo api')]);
  });
});
