#!/usr/bin/env bash
# Usage: swarm-leave.sh
#
# On the node itself (used on delete): leave the swarm. A worker leaves plainly; a
# manager with other managers is demoted first and then leaves; only the last manager
# (whose leaving ends the swarm) or a node whose plain leave fails uses --force.
# Idempotent: nothing to do when not in a swarm. stdout: only changed=true|false.
set -euo pipefail
# shellcheck source=common.sh
source "$(dirname "$0")/common.sh"

[[ $# -eq 0 ]] || usage_die "swarm-leave.sh"
require_root
require_docker

state="$(swarm_state)"
if [[ "$state" == "inactive" ]]; then
  log "not in a swarm"
  finish
  exit 0
fi

not_manager() { ! is_manager; }

if is_manager; then
  managers="$(docker info --format '{{.Swarm.Managers}}')"
  if [[ "$managers" =~ ^[0-9]+$ ]] && ((managers > 1)); then
    log "demoting this manager before leaving ($managers managers)"
    self="$(docker info --format '{{.Swarm.NodeID}}')"
    docker node demote "$self" >/dev/null || die "could not demote this manager"
    wait_until 60 "this node to be demoted" not_manager
  fi
fi

log "leaving the swarm"
if ! docker swarm leave >/dev/null; then
  log "plain leave refused (last manager or no quorum): leaving with --force"
  docker swarm leave --force >/dev/null || die "docker swarm leave --force failed"
fi
swarm_inactive() { [[ "$(swarm_state)" == "inactive" ]]; }
wait_until 30 "the swarm state to become inactive" swarm_inactive
mark_changed
finish
