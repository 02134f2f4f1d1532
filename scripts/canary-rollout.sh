#!/usr/bin/env bash
# Drives an Argo Rollouts canary through its pauses (deploy/k8s/base/api.rollout.yaml:
# 10% -> pause -> 50% -> pause -> 100%) with scripts/rollout-gate.mjs as the judge (F31):
#   at each pause: bake BAKE_SECONDS, then ask the gate every POLL_SECONDS;
#   promote (gate exit 0) -> next step; rollback (exit 2) -> abort + undo, exit 1;
#   hold or no answer (exit 1 or 3) until DECISION_DEADLINE_SECONDS -> abort + undo, exit 1.
# Used by .github/workflows/deploy.yml once the new image is applied; runnable by hand.
#
# Environment: NAMESPACE (required), PROMETHEUS_URL (required), ROLLOUT (default api),
# PAUSES (default 2), BAKE_SECONDS (300), POLL_SECONDS (60), DECISION_DEADLINE_SECONDS (1800),
# STATUS_TIMEOUT (10m), GATE_ARGS (extra gate options, e.g. --allow-no-baseline).
set -euo pipefail

: "${NAMESPACE:?set NAMESPACE}"
: "${PROMETHEUS_URL:?set PROMETHEUS_URL}"
ROLLOUT=${ROLLOUT:-api}
PAUSES=${PAUSES:-2}
BAKE_SECONDS=${BAKE_SECONDS:-300}
POLL_SECONDS=${POLL_SECONDS:-60}
DECISION_DEADLINE_SECONDS=${DECISION_DEADLINE_SECONDS:-1800}
STATUS_TIMEOUT=${STATUS_TIMEOUT:-10m}
GATE_ARGS=${GATE_ARGS:-}
GATE="$(dirname "${BASH_SOURCE[0]}")/rollout-gate.mjs"

log() { printf 'canary-rollout: %s\n' "$*" >&2; }
rollouts() { kubectl argo rollouts --namespace "$NAMESPACE" "$@"; }

rollback() {
  log "rolling back: $*"
  rollouts abort "$ROLLOUT"
  rollouts undo "$ROLLOUT"
  exit 1
}

# Waits until the rollout pauses at its next step (or completes); a degraded rollout
# (the in-cluster analysis aborted it, pods crash) rolls back.
wait_for_rollout() {
  rollouts status "$ROLLOUT" --timeout "$STATUS_TIMEOUT" >&2 || rollback "rollout did not reach its next step"
}

# Asks the gate until it decides or the deadline passes.
judge_step() {
  local step=$1 deadline code
  log "step $step: baking ${BAKE_SECONDS}s"
  sleep "$BAKE_SECONDS"
  deadline=$((SECONDS + DECISION_DEADLINE_SECONDS))
  while :; do
    code=0
    # shellcheck disable=SC2086 # GATE_ARGS is a list of options
    node "$GATE" --prometheus "$PROMETHEUS_URL" --selector "namespace=\"$NAMESPACE\"" $GATE_ARGS || code=$?
    case $code in
      0)
        log "step $step: promote"
        rollouts promote "$ROLLOUT"
        return
        ;;
      2) rollback "step $step: the gate failed the canary" ;;
      1 | 3) log "step $step: no decision yet (gate exit $code)" ;;
      *) rollback "step $step: the gate could not run (exit $code)" ;;
    esac
    if [ "$SECONDS" -ge "$deadline" ]; then
      rollback "step $step: no promotion within ${DECISION_DEADLINE_SECONDS}s"
    fi
    sleep "$POLL_SECONDS"
  done
}

for step in $(seq 1 "$PAUSES"); do
  wait_for_rollout
  judge_step "$step"
done
wait_for_rollout
log "rollout of $ROLLOUT in $NAMESPACE complete"
