import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort } from '../support/poll.support';
import { HOST_PATH, ROOT } from '../support/process.support';
import {
  RECORDED_GATE_ARGS,
  startFixturePrometheus,
  type FixturePrometheus,
} from '../support/prometheus-fixture.support';

/**
 * scripts/canary-rollout.sh (F31), the deploy workflow's rollout driver, with the real gate and
 * Prometheus answers recorded from a real Prometheus (test/fixtures/prometheus). `kubectl` is the
 * stand-in test/support/kubectl-rollouts.stand-in.mjs: a rollout with the real plugin's and
 * controller's observable behaviour (a paused rollout is Paused, never Healthy; promote, abort,
 * undo; a lagging observedGeneration), so the test sees the commands a real rollout would get
 * and the weights it would go through. `npm run rehearse:rollout` runs the same driver live.
 */
const SCRIPT = resolve(ROOT, 'scripts', 'canary-rollout.sh');
const STAND_IN = resolve(ROOT, 'test', 'support', 'kubectl-rollouts.stand-in.mjs');
const NAMESPACE = 'shop';

interface RolloutState {
  phase: string;
  message: string;
  weight: number;
  currentStepIndex: number;
  history: { at: number; weight: number }[];
  [key: string]: unknown;
}

describe('the canary rollout driver (F31)', () => {
  let prometheus: FixturePrometheus;
  let bin: string;
  let initialState: (options: Record<string, unknown>) => RolloutState;
  beforeAll(async () => {
    prometheus = await startFixturePrometheus(`namespace="${NAMESPACE}"`);
    bin = mkdtempSync(join(tmpdir(), 'ra-kubectl-'));
    writeFileSync(join(bin, 'kubectl'), `#!/bin/sh\nexec '${process.execPath}' '${STAND_IN}' "$@"\n`);
    chmodSync(join(bin, 'kubectl'), 0o755);
    ({ initialState } = await import(STAND_IN));
  });
  afterAll(async () => {
    await prometheus.close();
    rmSync(bin, { recursive: true, force: true });
  });

  let runs = 0;
  function newRollout(change: Partial<RolloutState> = {}, observeAfterReads = 1) {
    const file = join(bin, `rollout-${++runs}.json`);
    writeFileSync(file, JSON.stringify({ ...initialState({ namespace: NAMESPACE, observeAfterReads }), ...change }));
    return file;
  }
  const stateOf = (file: string): RolloutState => JSON.parse(readFileSync(file, 'utf8'));

  function rollout(fixture: string, env: Record<string, string> = {}, state = newRollout()) {
    prometheus.serve(fixture);
    const log = join(bin, `kubectl-${runs}.log`);
    writeFileSync(log, '');
    const started = Date.now();
    return new Promise<{ code: number; kubectl: string[]; stderr: string; state: RolloutState; ms: number }>((done) => {
      execFile(
        'bash',
        [SCRIPT],
        {
          timeout: 30_000,
          env: {
            PATH: `${bin}:${HOST_PATH}`,
            KUBECTL_LOG: log,
            KUBECTL_STANDIN_STATE: state,
            NAMESPACE,
            PROMETHEUS_URL: prometheus.url,
            BAKE_SECONDS: '0',
            POLL_SECONDS: '0',
            DECISION_DEADLINE_SECONDS: '0',
            STEP_TIMEOUT_SECONDS: '5',
            GATE_ARGS: RECORDED_GATE_ARGS.join(' '),
            ...env,
          },
        },
        (error, _stdout, stderr) =>
          done({
            code: error ? Number(error.code) : 0,
            kubectl: readFileSync(log, 'utf8').trim().split('\n').filter(Boolean),
            stderr,
            state: stateOf(state),
            ms: Date.now() - started,
          }),
      );
    });
  }
  const rollouts = (...args: string[]) => `argo rollouts --namespace ${NAMESPACE} ${args.join(' ')}`;
  const commands = (kubectl: string[]) => kubectl.filter((line) => line.startsWith('argo rollouts'));

  it('the stand-in behaves like the plugin: status on a paused rollout waits, and never says Healthy', async () => {
    const state = newRollout({}, 0);
    const kubectl = (...args: string[]) =>
      new Promise<{ code: number; stdout: string; stderr: string }>((done) =>
        execFile(join(bin, 'kubectl'), args, { env: { KUBECTL_STANDIN_STATE: state } }, (error, stdout, stderr) =>
          done({ code: error ? Number(error.code) : 0, stdout, stderr }),
        ),
      );
    const watched = await kubectl('argo', 'rollouts', '-n', NAMESPACE, 'status', 'api', '--timeout', '1s');
    expect(watched).toEqual({
      code: 1,
      stdout: 'Paused - CanaryPauseStep\n',
      stderr: 'Error: Rollout status watch exceeded timeout\n',
    });
    expect(await kubectl('argo', 'rollouts', '-n', NAMESPACE, 'status', 'api', '--watch=false')).toMatchObject({
      code: 0,
      stdout: 'Paused - CanaryPauseStep\n',
    });
    expect(stateOf(state)).toMatchObject({ weight: 10, currentStepIndex: 1 });
  });

  it('promotes a healthy canary at each pause after the bake, following the phase to Healthy at 100%', async () => {
    const { code, kubectl, state, stderr } = await rollout('healthy', {}, newRollout({}, 2));
    expect(code).toBe(0);
    expect(commands(kubectl)).toEqual([rollouts('promote api'), rollouts('promote api')]);
    expect(kubectl.filter((line) => line.includes(' status '))).toEqual([]); // status --timeout rolls back every pause
    expect(state).toMatchObject({ phase: 'Healthy', weight: 100 });
    expect(state.history.map((h) => h.weight)).toEqual([10, 50, 100]);
    expect(stderr).toContain('step 1: promote');
    expect(stderr).toContain('step 3: promote');
    expect(new Set(prometheus.asked)).toEqual(new Set(Object.values(prometheus.queries)));
  });

  it('rolls back at the first "rollback" during the bake, without waiting for the bake to end', async () => {
    const { code, kubectl, stderr, state, ms } = await rollout('canary-errors', {
      BAKE_SECONDS: '60',
      POLL_SECONDS: '5',
    });
    expect(code).toBe(1);
    expect(commands(kubectl)).toEqual([rollouts('abort api'), rollouts('undo api')]);
    expect(stderr).toContain('rolling back: step 1: the gate failed the canary');
    expect(ms).toBeLessThan(20_000);
    expect(state.history.map((h) => h.weight)).toEqual([10, 0]);
    expect(state.phase).toBe('Healthy'); // undo: the previous revision back
  });

  it.each(['canary-down', 'canary-slow'])('rolls back on %s', async (fixture) => {
    const { code, kubectl } = await rollout(fixture);
    expect(code).toBe(1);
    expect(commands(kubectl)).toEqual([rollouts('abort api'), rollouts('undo api')]);
  });

  it('asks the gate through the bake and promotes only after it, even when the gate says promote early', async () => {
    const { code, ms, stderr } = await rollout('healthy', { BAKE_SECONDS: '2', POLL_SECONDS: '1' });
    expect(code).toBe(0);
    expect(ms).toBeGreaterThanOrEqual(4_000); // two pauses of 2 s
    expect(stderr.match(/baking 2s/g)).toHaveLength(2);
  });

  it.each(['no-data', 'low-traffic', 'idle'])(
    'never promotes on %s: rolls back when the decision deadline passes',
    async (fixture) => {
      const { code, kubectl, stderr } = await rollout(fixture);
      expect(code).toBe(1);
      expect(commands(kubectl)).toEqual([rollouts('abort api'), rollouts('undo api')]);
      expect(stderr).toContain('no promotion within 0s after the bake');
    },
  );

  it('rolls back when Prometheus cannot answer until the deadline', async () => {
    const { code, kubectl } = await rollout('healthy', { PROMETHEUS_URL: `http://127.0.0.1:${await freePort()}` });
    expect(code).toBe(1);
    expect(commands(kubectl)).toEqual([rollouts('abort api'), rollouts('undo api')]);
  });

  it('rolls back when the rollout is Degraded (the in-cluster analysis aborted it)', async () => {
    const { code, kubectl, stderr } = await rollout('healthy', {}, newRollout({ aborted: true }, 0));
    expect(code).toBe(1);
    expect(commands(kubectl)).toEqual([rollouts('abort api'), rollouts('undo api')]);
    expect(stderr).toContain('the rollout is degraded (RolloutAborted: Rollout aborted update to revision 2)');
  });

  it('rolls back when the rollout reaches no pause in time (the controller never observes the spec)', async () => {
    const { code, kubectl, stderr } = await rollout(
      'healthy',
      { STEP_TIMEOUT_SECONDS: '1', POLL_SECONDS: '1' },
      newRollout({}, 1_000),
    );
    expect(code).toBe(1);
    expect(commands(kubectl)).toEqual([rollouts('abort api'), rollouts('undo api')]);
    expect(stderr).toContain('no next pause and not Healthy within 1s (Progressing');
  });
});
