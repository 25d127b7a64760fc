#!/usr/bin/env bash
# Usage: stack-rm.sh <stack-name>
#
# On a manager (delete step): `docker stack rm` and wait (bounded) until its services and
# networks are gone, so the secrets and the swarm can be removed after it. Idempotent.
# stdout: only changed=true|false.
set -euo pipefail
# shellcheck source=common.sh
source "$(dirname "$0")/common.sh"
RAYSWARM_STEP="stack-rm"

[[ $# -eq 1 ]] || usage_die "stack-rm.sh <stack-name>"
stack=$1
require_root
if ! docker_ok || ! is_manager; then
  log "no swarm manager here: nothing to remove"
  finish
  exit 0
fi
if [[ -n "$(docker stack services "$stack" -q 2>/dev/null)" ]]; then
  docker stack rm "$stack" >&2
  mark_changed
fi
gone() { [[ -z "$(docker stack services "$stack" -q 2>/dev/null)" && -z "$(docker network ls -q --filter "label=com.docker.stack.namespace=$stack")" ]]; }
wait_until 120 "stack $stack to be removed" gone
rm -f "/opt/rayswarm/stacks/$stack.yml"
finish
