#!/usr/bin/env bash
# Usage: stack-deploy.sh <stack-name> <timeout-seconds>      (the stack file on STDIN)
#
# On a manager: write the stack file to /opt/rayswarm/stacks/<stack>.yml and run
# `docker stack deploy --prune` when it differs from the deployed one (or a service is
# missing), then wait until every service of the stack has converged: all desired tasks
# running (and healthy where a healthcheck exists), no update in progress or rolled back.
# On failure or timeout it names each service that did not converge with its last task
# errors. The stack file holds no secrets (they are Docker secrets).
# stdout: only changed=true|false.
set -euo pipefail
# shellcheck source=common.sh
source "$(dirname "$0")/common.sh"
RAYSWARM_STEP="stack-deploy"

[[ $# -eq 2 ]] || usage_die "stack-deploy.sh <stack-name> <timeout-seconds>"
stack=$1 timeout=$2
require_root
require_manager

dir=/opt/rayswarm/stacks
install -d -m 0755 "$dir"
file="$dir/$stack.yml"
services_missing() {
  local want have
  # the keys directly under the top-level `services:` block
  want=$(awk '/^[^ #]/ { in_services = ($0 ~ /^services:/) } in_services && /^  [A-Za-z0-9_-]+:/ { n++ } END { print n + 0 }' "$file")
  have=$(docker stack services "$stack" --format '{{.Name}}' 2>/dev/null | wc -l)
  ((have < want))
}
if write_if_changed "$file" 0644 || services_missing; then
  log "deploying stack $stack"
  retry 3 docker stack deploy --prune -c "$file" "$stack" >&2 || die "docker stack deploy $stack failed"
  mark_changed
else
  log "stack $stack is up to date"
fi

# service_problem <service>: prints why it has not converged, or nothing when it has.
service_problem() {
  local svc=$1 mode replicas running desired state
  mode=$(docker service inspect "$svc" --format '{{if .Spec.Mode.Global}}global{{else}}replicated{{end}}')
  state=$(docker service inspect "$svc" --format '{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}')
  case "$state" in
    updating | rollback_started | paused | rollback_paused) echo "update $state"; return ;;
    rollback_completed) echo "the update failed and was rolled back"; return ;;
  esac
  replicas=$(docker service ls --filter "name=$svc" --format '{{.Name}} {{.Replicas}}' | awk -v s="$svc" '$1 == s {print $2}')
  running=${replicas%%/*}
  desired=${replicas#*/}
  desired=${desired%% *}
  if [[ $mode == replicated && "$running" != "$desired" ]] || [[ -z "$running" || "$running" == 0 && "$desired" != 0 ]]; then
    echo "$running/$desired tasks running"
    return
  fi
  # healthchecks: a running task that is still starting or unhealthy does not count
  if docker service ps "$svc" --filter desired-state=running --format '{{.CurrentState}}' | grep -qv '^Running'; then
    echo "tasks not running yet: $(docker service ps "$svc" --filter desired-state=running --format '{{.CurrentState}}' | sort | uniq -c | tr -s ' ' | paste -sd, -)"
  fi
}

deadline=$((SECONDS + timeout))
while :; do
  pending=()
  while read -r svc; do
    [[ -n "$svc" ]] || continue
    why=$(service_problem "$svc")
    [[ -z "$why" ]] || pending+=("$svc: $why")
  done < <(docker stack services "$stack" --format '{{.Name}}')
  if ((${#pending[@]} == 0)); then
    log "every service of $stack converged"
    break
  fi
  if ((SECONDS >= deadline)); then
    for p in "${pending[@]}"; do
      svc=${p%%:*}
      log "not converged: $p"
      docker service ps "$svc" --no-trunc --format '  {{.Name}} on {{.Node}}: {{.CurrentState}} {{.Error}}' 2>/dev/null | head -n 5 >&2 || true
    done
    die "stack $stack did not converge within ${timeout}s: ${pending[*]}"
  fi
  sleep 3
done
finish
