#!/usr/bin/env node
// A `kubectl` stand-in for one Argo Rollouts canary, with the real plugin's observable behaviour
// (kubectl-argo-rollouts v1.7, pkg/kubectl-argo-rollouts/cmd/status/status.go, and the controller's
// status.phase): used by test/meta/canary-rollout.meta-spec.ts and `npm run rehearse:rollout`,
// where no cluster runs. What matters to a driver, and what it reproduces:
//   - `argo rollouts status NAME` watches until Healthy (exit 0) or Degraded (exit 1, "Error: The
//     rollout is in a degraded state with message: ..."); a rollout paused at a canary step is
//     neither, so it waits until --timeout and fails ("Rollout status watch exceeded timeout"),
//     or forever without one; `--watch=false` prints "Paused - CanaryPauseStep" and exits 0;
//   - `get rollouts.argoproj.io NAME -o jsonpath=...` reads metadata.generation and status
//     (observedGeneration, phase, currentStepIndex, message); the controller observes a new
//     spec only after `observeAfterReads` reads, until then status is the previous revision's;
//   - `promote` leaves a canary pause, the controller runs the next setWeight steps up to the
//     next pause (Paused, CanaryPauseStep) or the end (Healthy, weight 100);
//     `abort` sends all traffic back to stable (weight 0): Degraded, "RolloutAborted: ...";
//     `undo` puts the previous revision back: Healthy at weight 0.
// State: the JSON file KUBECTL_STANDIN_STATE (see initialState below). Each call is appended to
// KUBECTL_LOG when set. KUBECTL_STANDIN_ON_WEIGHT, when set, is run with the new canary weight
// each time the weight changes (the rehearsal points its nginx there), before the call returns.
import { spawnSync } from 'node:child_process';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';

const STEPS = [{ setWeight: 10 }, { pause: {} }, { setWeight: 50 }, { pause: {} }, { setWeight: 100 }];

/** A rollout whose new revision was just applied (generation 2), not yet observed by the controller. */
export function initialState({ name = 'api', namespace = 'default', steps = STEPS, observeAfterReads = 0 } = {}) {
  return {
    name,
    namespace,
    steps,
    generation: 2,
    observedGeneration: '1',
    observeAfterReads,
    revision: 2,
    currentStepIndex: steps.length,
    phase: 'Healthy',
    message: '',
    weight: 0,
    promotedPause: -1,
    aborted: false,
    history: [],
  };
}

const stateFile = process.env.KUBECTL_STANDIN_STATE;

function load() {
  return JSON.parse(readFileSync(stateFile, 'utf8'));
}

function save(state) {
  writeFileSync(stateFile, `${JSON.stringify(state, null, 2)}\n`);
}

function setWeight(state, weight) {
  if (state.weight === weight) return;
  state.weight = weight;
  state.history.push({ at: Date.now(), weight });
  const hook = process.env.KUBECTL_STANDIN_ON_WEIGHT;
  if (hook) {
    const run = spawnSync(hook, [String(weight)], { stdio: ['ignore', 'ignore', 'inherit'] });
    if (run.status !== 0) throw new Error(`${hook} ${weight} exited ${run.status}`);
  }
}

/** What the controller does with the spec it has observed. */
function reconcile(state) {
  if (String(state.generation) !== state.observedGeneration) return;
  if (state.aborted) {
    setWeight(state, 0);
    state.phase = 'Degraded';
    state.message = `RolloutAborted: Rollout aborted update to revision ${state.revision}`;
    return;
  }
  while (state.currentStepIndex < state.steps.length) {
    const step = state.steps[state.currentStepIndex];
    if (step.pause && state.promotedPause !== state.currentStepIndex) {
      state.phase = 'Paused';
      state.message = 'CanaryPauseStep';
      return;
    }
    if (step.setWeight !== undefined) setWeight(state, step.setWeight);
    state.currentStepIndex += 1;
  }
  state.phase = 'Healthy';
  state.message = '';
}

/** Each read brings the controller closer to observing a new spec (a real controller lags too). */
function observe(state) {
  if (String(state.generation) === state.observedGeneration) return;
  if (state.observeAfterReads > 0) {
    state.observeAfterReads -= 1;
    return;
  }
  state.observedGeneration = String(state.generation);
  if (!state.aborted && state.currentStepIndex === state.steps.length && state.weight === 0) {
    state.currentStepIndex = 0; // a new revision: the canary steps start over
  }
  reconcile(state);
}

const fail = (message) => {
  process.stderr.write(`Error: ${message}\n`);
  process.exit(1);
};

function durationMs(text) {
  let total = 0;
  const parts = [...String(text).matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
  if (!parts.length) fail(`invalid argument "${text}" for "-t, --timeout" flag: time: invalid duration`);
  for (const [, n, unit] of parts) total += Number(n) * { ms: 1, s: 1e3, m: 6e4, h: 3.6e6 }[unit];
  return total;
}

function parse(argv) {
  const positional = [];
  const flags = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const [name, inline] = arg.split(/=(.*)/s, 2);
    if (name === '-n' || name === '--namespace') flags.namespace = inline ?? argv[++i];
    else if (name === '-o' || name === '--output') flags.output = inline ?? argv[++i];
    else if (name === '-t' || name === '--timeout') flags.timeout = inline ?? argv[++i];
    else if (name === '-w' || name === '--watch') flags.watch = inline === undefined ? true : inline === 'true';
    else if (name === '--full') flags.full = true;
    else if (arg.startsWith('-')) fail(`unknown flag: ${name}`);
    else positional.push(arg);
  }
  return { positional, flags };
}

function statusLine(state) {
  return state.phase === 'Healthy' ? 'Healthy' : `${state.phase} - ${state.message}`;
}

/** The subset of kubectl's JSONPath templates a driver needs: {.a.b} fields and {"literal"}. */
function jsonpath(template, object) {
  return template.replace(/\{([^}]*)\}/g, (_, expr) => {
    const literal = /^"(.*)"$/s.exec(expr);
    if (literal) return literal[1].replace(/\\t/g, '\t').replace(/\\n/g, '\n');
    if (!expr.startsWith('.')) fail(`error parsing jsonpath ${template}`);
    const value = expr
      .slice(1)
      .split('.')
      .reduce((o, key) => (o == null ? undefined : o[key]), object);
    return value === undefined || value === null ? '' : String(value);
  });
}

function asObject(state) {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Rollout',
    metadata: { name: state.name, namespace: state.namespace, generation: state.generation },
    spec: { strategy: { canary: { steps: state.steps } } },
    status: {
      observedGeneration: state.observedGeneration,
      phase: state.phase,
      message: state.message,
      currentStepIndex: state.currentStepIndex,
    },
  };
}

async function main(argv) {
  if (process.env.KUBECTL_LOG) appendFileSync(process.env.KUBECTL_LOG, `${argv.join(' ')}\n`);
  const { positional, flags } = parse(argv);
  const state = load();
  const namespace = flags.namespace ?? 'default';
  const name = positional.at(-1);
  const found = () => {
    if (namespace !== state.namespace || name !== state.name) {
      fail(`rollouts.argoproj.io "${name}" not found`);
    }
  };

  if (positional[0] === 'get' && /^rollouts?(\.argoproj\.io)?$/.test(positional[1] ?? '')) {
    found();
    observe(state);
    save(state);
    const object = asObject(state);
    if (flags.output?.startsWith('jsonpath=')) process.stdout.write(jsonpath(flags.output.slice(9), object));
    else if (flags.output === 'json') process.stdout.write(`${JSON.stringify(object, null, 2)}\n`);
    else fail('the stand-in answers -o jsonpath=... and -o json only');
    return;
  }
  if (positional[0] !== 'argo' || positional[1] !== 'rollouts')
    fail(`the stand-in does not do: kubectl ${argv.join(' ')}`);
  const command = positional[2];
  found();
  observe(state);
  switch (command) {
    case 'status': {
      save(state);
      if (flags.watch === false) {
        process.stdout.write(`${statusLine(state)}\n`);
        if (state.phase === 'Degraded') fail(`The rollout is in a degraded state with message: ${state.message}`);
        return;
      }
      const deadline = flags.timeout ? Date.now() + durationMs(flags.timeout) : Infinity;
      let printed = '';
      for (;;) {
        const now = load();
        observe(now);
        save(now);
        if (statusLine(now) !== printed) process.stdout.write(`${(printed = statusLine(now))}\n`);
        if (now.phase === 'Healthy') return;
        if (now.phase === 'Degraded') fail(`The rollout is in a degraded state with message: ${now.message}`);
        if (Date.now() >= deadline) fail('Rollout status watch exceeded timeout');
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    case 'promote': {
      if (flags.full) state.currentStepIndex = state.steps.length;
      else if (state.phase === 'Paused') state.promotedPause = state.currentStepIndex;
      reconcile(state);
      save(state);
      process.stdout.write(`rollout '${state.name}' promoted\n`);
      return;
    }
    case 'abort': {
      state.aborted = true;
      reconcile(state);
      save(state);
      process.stdout.write(`rollout '${state.name}' aborted\n`);
      return;
    }
    case 'undo': {
      // The previous revision's template is the stable one: the controller takes it back at once.
      state.aborted = false;
      state.generation += 1;
      state.observedGeneration = String(state.generation);
      state.revision += 1;
      state.currentStepIndex = state.steps.length;
      setWeight(state, 0);
      state.phase = 'Healthy';
      state.message = '';
      save(state);
      process.stdout.write(`rollout '${state.name}' undo\n`);
      return;
    }
    default:
      fail(`the stand-in does not do: kubectl argo rollouts ${command}`);
  }
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  main(process.argv.slice(2)).catch((error) => fail(error.message));
}
