#!/usr/bin/env bash
# Usage: swarm-init.sh <advertise-addr> <management-port>     (e.g. 10.0.0.12 2377)
#
# On the first manager: create the swarm bound to the private address
# (`docker swarm init --advertise-addr <addr> --listen-addr <addr>:<management-port>`; the port
# is SwarmCluster's, from components/core/ports.ts SWARM_PORTS.management) unless this
# engine is already a swarm manager (then nothing changes). Fails if the engine is a
# worker of some swarm. The join tokens printed by `swarm init` are discarded; read
# them with swarm-tokens.sh. stdout: only the final changed=true|false line.
set -euo pipefail
# shellcheck source=common.sh
source "$(dirname "$0")/common.sh"

[[ $# -eq 2 && -n "$1" ]] || usage_die "swarm-init.sh <advertise-addr> <management-port>"
addr="$1" mport="$2"
[[ "$addr" != *:* ]] || die "advertise-addr must be an address without a port (got '$addr')"
valid_port "$mport" || die "management-port '$mport' is not a port"
require_root
require_docker

state="$(swarm_state)"
case "$state" in
  active)
    is_manager || die "already a worker in a swarm; run swarm-leave.sh first"
    current="$(docker info --format '{{.Swarm.NodeAddr}}')"
    [[ "$current" == "$addr" ]] || log "already a manager, advertising $current (not $addr); leaving it as is"
    log "already a swarm manager"
    ;;
  inactive)
    log "initialising swarm on $addr:$mport"
    # stdout carries the worker join command with its token: never log it.
    docker swarm init --advertise-addr "$addr" --listen-addr "$addr:$mport" >/dev/null ||
      die "docker swarm init --advertise-addr $addr failed"
    wait_until 60 "this node to become a swarm manager" is_manager
    mark_changed
    ;;
  *)
    die "swarm state is '$state'; expected inactive or active (inspect with: docker info)"
    ;;
esac
finish
