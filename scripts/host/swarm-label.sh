#!/usr/bin/env bash
# Usage: swarm-label.sh <node-hostname> <key=value>...
#        (<node-hostname> may also be the node's swarm address, e.g. its private IP)
#
# On a manager: make sure the swarm node(s) with that hostname carry the given labels
# (`docker node update --label-add`), only updating when a value differs. Labels not
# named are left alone. Waits up to SWARM_NODE_WAIT_SECONDS (default 90) for a node
# that has just joined to appear. stdout: the node as JSON (one line: hostname, role, status,
# availability, labels, id, addr), then the final changed=true|false line.
set -euo pipefail
# shellcheck source=common.sh
source "$(dirname "$0")/common.sh"

[[ $# -ge 2 ]] || usage_die "swarm-label.sh <node-hostname> <key=value>..."
node="$1"
shift
for kv in "$@"; do
  [[ "$kv" =~ ^[A-Za-z0-9][A-Za-z0-9._/-]*=.*$ ]] || die "label '$kv' is not key=value"
done
require_root
require_manager

node_present() { [[ -n "$(node_ids_by_hostname "$node")" ]]; }
wait_until "${SWARM_NODE_WAIT_SECONDS:-90}" "swarm node '$node' to appear in 'docker node ls'" node_present

while read -r id; do
  args=()
  current="$(docker node inspect "$id" --format '{{range $k, $v := .Spec.Labels}}{{$k}}={{$v}}{{println}}{{end}}')"
  for kv in "$@"; do
    grep -Fxq -- "$kv" <<<"$current" || args+=(--label-add "$kv")
  done
  if ((${#args[@]} > 0)); then
    log "labelling $node ($id): ${args[*]}"
    retry 3 docker node update "${args[@]}" "$id" >/dev/null || die "could not label node $node"
    mark_changed
  else
    log "$node ($id) already has the labels"
  fi
done < <(node_ids_by_hostname "$node")
# The node as the manager sees it now (one JSON line: the program's swarmNodes output).
template='{"hostname":{{json .Description.Hostname}},"role":{{json .Spec.Role}},"status":{{json .Status.State}},"availability":{{json .Spec.Availability}},"labels":{{if .Spec.Labels}}{{json .Spec.Labels}}{{else}}{}{{end}},"id":{{json .ID}},"addr":{{json .Status.Addr}}}'
emit "$(docker node inspect --format "$template" "$(node_ids_by_hostname "$node" | tail -n 1)")"
finish
