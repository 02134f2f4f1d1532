#!/usr/bin/env bash
# Drives an Argo Rollouts canary through its pauses (deploy/k8s/base/api.rollout.yaml:
# 10% -> pause -> 50% -> pause -> 100%) with scripts/rollout-gate.mjs as the judge (F31).
#
# It follows the rollout's own phase (status.phase: Progressing, Paused, Healthy, Degraded), read
# every POLL_SECONDS; `kubectl argo rollouts status` is no use here: it waits for Healthy or
# Degraded, and a rollout paused at a canary step is neither (argoproj/argo-rollouts#1390).
#   Paused at a new canary step: bake BAKE_SECONDS, asking the gate every POLL_SECONDS:
#     rollback (gate exit 2) at any time -> abort + undo, exit 1 (no waiting for the bake's end);
#     after the bake, the first promote (exit 0) -> `promote`, the rollout goes on;
#     hold or no answer (exit 1 or 3) until DECISION_DEADLINE_SECONDS after the bake -> rollback.
#   Degraded (the in-cluster analysis aborted it, the progress deadline passed) -> rollback.
#   No next pause (or Healthy) within STEP_TIMEOUT_SECONDS -> rollback.
#   Healthy once every pause was judged -> done, exit 0.
# Used by .github/workflows/deploy.yml once the new image is applied; runnable by hand.
#
# Environment: NAMESPACE (required), PROMETHEUS_URL (required), ROLLOUT (default api),
# BAKE_SECONDS (300), POLL_SECONDS (30), DECISION_DEADLINE_SECONDS (900), STEP_TIMEOUT_SECONDS
# (600), GATE_ARGS (extra gate options, e.g. --allow-no-baseline).
set -euo pipefail

: "${NAMESPACE:?set NAMESPACE}"
: "${PROMETHEUS_URL:?set PROMETHEUS_URL}"
ROLLOUT=${ROLLOUT:-api}
BAKE_SECONDS=${BAKE_SECONDS:-300}
POLL_SECONDS=${POLL_SECONDS:-30}
DECISION_DEADLINE_SECONDS=${DECISION_DEADLINE_SECONDS:-900}
STEP_TIMEOUT_SECONDS=${STEP_TIMEOUT_SECONDS:-600}
GATE_ARGS=${GATE_ARGS:-}
GATE="$(dirname "${BASH_SOURCE[0]}")/rollout-gate.mjs"

log() { printf 'canary-rollout: %s %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
rollouts() { kubectl argo rollouts --namespace "$NAMESPACE" "$@"; }

rollback() {
  log "rolling back: $*"
  rollouts abort "$ROLLOUT" >&2
  rollouts undo "$ROLLOUT" >&2
  exit 1
}

# Reads the rollout into PHASE, STEP (status.currentStepIndex) and MESSAGE. Until the controller
# has observed the latest spec (status.observedGeneration = metadata.generation) the status is
# the previous revision's: a freshly applied rollout still says Healthy. That reads as Progressing.
read_rollout() {
  local state generation observed
  state=$(kubectl --namespace "$NAMESPACE" get rollouts.argoproj.io "$ROLLOUT" -o \
    jsonpath='{.metadata.generation}{"\t"}{.status.observedGeneration}{"\t"}{.status.phase}{"\t"}{.status.currentStepIndex}{"\t"}{.status.message}') ||
    {
      PHASE=Unknown STEP='' MESSAGE='kubectl get failed'
      return
    }
  IFS=$'\t' read -r generation observed PHASE STEP MESSAGE <<<"$state" || true
  if [ "$generation" != "$observed" ]; then
    PHASE=Progressing MESSAGE="waiting for the controller to observe generation $generation"
  fi
}

# Asks the gate once; sets GATE_CODE (0 promote, 1 hold, 2 rollback, 3 no answer, other: broken).
ask_gate() {
  GATE_CODE=0
  # shellcheck disable=SC2086 # GATE_ARGS is a list of options
  node "$GATE" --prometheus "$PROMETHEUS_URL" --selector "namespace=\"$NAMESPACE\"" $GATE_ARGS || GATE_CODE=$?
  case $GATE_CODE in
    0 | 1 | 2 | 3) ;;
    *) rollback "step $1: the gate could not run (exit $GATE_CODE)" ;;
  esac
}

# The rollout must stay paused while it is judged: the in-cluster analysis may abort it.
still_paused() {
  read_rollout
  case $PHASE in
    Degraded) rollback "step $1: the rollout degraded while baking (${MESSAGE})" ;;
    Paused) ;;
    *) rollback "step $1: the rollout left its pause while baking (${PHASE}: ${MESSAGE})" ;;
  esac
}

# Milliseconds since the epoch (bash 5's EPOCHREALTIME; its separator follows the locale).
now_ms() { local t=${EPOCHREALTIME/[.,]/}; echo $((t / 1000)); }

# Sleeps until the next gate tick: one question every POLL_SECONDS, however long the last one took.
TICK_MS=0
next_tick() {
  local left
  TICK_MS=$((TICK_MS + POLL_SECONDS * 1000))
  left=$((TICK_MS - $(now_ms)))
  if [ "$left" -gt 0 ]; then sleep "$((left / 1000)).$(printf '%03d' $((left % 1000)))"; else TICK_MS=$(now_ms); fi
}

# Bakes one paused step while asking the gate, then promotes on the first promote.
judge_step() {
  local step=$1 bake_end deadline
  bake_end=$(($(now_ms) + BAKE_SECONDS * 1000))
  TICK_MS=$(now_ms)
  log "step $step: paused; baking ${BAKE_SECONDS}s, asking the gate every ${POLL_SECONDS}s"
  while [ "$(now_ms)" -lt "$bake_end" ]; do
    ask_gate "$step"
    [ "$GATE_CODE" -ne 2 ] || rollback "step $step: the gate failed the canary"
    still_paused "$step"
    next_tick
  done
  deadline=$((SECONDS + DECISION_DEADLINE_SECONDS))
  while :; do
    ask_gate "$step"
    case $GATE_CODE in
      0)
        still_paused "$step"
        log "step $step: promote"
        rollouts promote "$ROLLOUT" >&2
        return
        ;;
      2) rollback "step $step: the gate failed the canary" ;;
      *) log "step $step: no decision yet (gate exit $GATE_CODE)" ;;
    esac
    [ "$SECONDS" -lt "$deadline" ] || rollback "step $step: no promotion within ${DECISION_DEADLINE_SECONDS}s after the bake"
    still_paused "$step"
    next_tick
  done
}

judged=-1
step_deadline=$((SECONDS + STEP_TIMEOUT_SECONDS))
while :; do
  read_rollout
  case $PHASE in
    Degraded) rollback "the rollout is degraded (${MESSAGE})" ;;
    Healthy)
      log "rollout of $ROLLOUT in $NAMESPACE complete (Healthy)"
      exit 0
      ;;
    Paused)
      # A pause already judged and promoted, not yet observed by the controller, is not a new step.
      if [ "${STEP:--1}" -gt "$judged" ] && [ "$MESSAGE" = CanaryPauseStep ]; then
        judge_step "$STEP"
        judged=$STEP
        step_deadline=$((SECONDS + STEP_TIMEOUT_SECONDS))
        continue
      fi
      ;;
  esac
  [ "$SECONDS" -lt "$step_deadline" ] ||
    rollback "no next pause and not Healthy within ${STEP_TIMEOUT_SECONDS}s (${PHASE}: ${MESSAGE})"
  sleep "$POLL_SECONDS"
done
