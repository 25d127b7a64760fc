#!/usr/bin/env bash
# Usage: swarm-node-rm.sh <node-hostname>
#        (<node-hostname> may also be the node's swarm address, e.g. its private IP)
#
# On a manager (used on delete, after swarm-leave.sh ran on that node): drain the
# node(s) with that hostname, wait until they are no longer Ready (they left, or
# their machine is gone; SWARM_NODE_RM_WAIT_SECONDS, default 120), demote a manager,
# then `docker node rm`. Idempotent: nothing to do when no such node exists. If a
# Ready node and stale ones share the name (a replaced host that already re-joined),
# only the stale ones are removed.
# Refuses to remove the manager it runs on. stdout: only changed=true|false.
set -euo pipefail
# shellcheck source=common.sh
source "$(dirname "$0")/common.sh"

[[ $# -eq 1 && -n "$1" ]] || usage_die "swarm-node-rm.sh <node-hostname>"
node="$1"
require_root
require_manager

self="$(docker info --format '{{.Swarm.NodeID}}')"
ids="$(node_ids_by_hostname "$node")"
if [[ -z "$ids" ]]; then
  log "no swarm node named $node"
  finish
  exit 0
fi

node_state() { docker node inspect "$1" --format '{{.Status.State}}' 2>/dev/null; }

# A replaced host (create-before-delete) may already have re-joined under the same
# name: when some matching nodes are Ready and others are not, only the stale (not
# Ready) ones are removed and the live one is left alone.
stale=""
live=""
for id in $ids; do
  if [[ "$(node_state "$id")" == "ready" ]]; then live+=" $id"; else stale+=" $id"; fi
done
if [[ -n "$stale" && -n "$live" ]]; then
  log "leaving the Ready node(s)$live named $node alone (a newer member); removing the stale one(s)$stale"
  ids="$stale"
fi

for id in $ids; do
  [[ "$id" != "$self" ]] || die "refusing to remove the manager this runs on ($node); run swarm-node-rm.sh on another manager"
  if [[ "$(docker node inspect "$id" --format '{{.Spec.Availability}}')" != "drain" ]]; then
    log "draining $node ($id)"
    docker node update --availability drain "$id" >/dev/null || die "could not drain $node"
  fi
  node_not_ready() { [[ "$(node_state "$1")" != "ready" ]]; }
  wait_until "${SWARM_NODE_RM_WAIT_SECONDS:-120}" \
    "node $node ($id) to leave (still Ready: run swarm-leave.sh on it)" node_not_ready "$id"
  if [[ "$(docker node inspect "$id" --format '{{.Spec.Role}}')" == "manager" ]]; then
    log "demoting $node ($id)"
    docker node demote "$id" >/dev/null || die "could not demote $node"
  fi
  log "removing $node ($id)"
  retry 3 docker node rm "$id" >/dev/null || die "docker node rm $node failed"
  mark_changed
done
finish
