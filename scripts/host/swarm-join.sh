#!/usr/bin/env bash
# Usage: swarm-join.sh <manager-addr:port> <advertise-addr> <listen-port>   (join token on STDIN)
#   (e.g. 10.0.0.12:2377 10.0.0.13 2377; the ports are SwarmCluster's, from ports.ts SWARM_PORTS)
#
# Join this engine to the swarm whose manager listens on <manager-addr:port>, with the
# worker or manager token read from stdin (one line). The token never reaches argv:
# the join goes to the Engine API (POST /swarm/join) over /var/run/docker.sock with
# the JSON body on curl's stdin. Nothing happens if this engine is already a member
# of that swarm (the manager address is among its known managers); if it is a member
# of a different swarm, it fails and says so. Retries while the manager is
# unreachable (SWARM_JOIN_ATTEMPTS, default 6, with backoff).
# stdout: only the final changed=true|false line.
set -euo pipefail
# shellcheck source=common.sh
source "$(dirname "$0")/common.sh"

[[ $# -eq 3 && "$1" == *:* && -n "$2" ]] ||
  usage_die "swarm-join.sh <manager-addr:port> <advertise-addr> <listen-port>  (token on stdin)"
manager="$1"
addr="$2"
lport="$3"
[[ "$addr" != *:* ]] || die "advertise-addr must be an address without a port (got '$addr')"
valid_port "$lport" || die "listen-port '$lport' is not a port"
require_root

token=""
IFS= read -r token || true
token="${token//[[:space:]]/}"
[[ -n "$token" ]] || die "no join token on stdin"
[[ "$token" =~ ^SWMTKN-1-[a-z0-9]+-[a-z0-9]+$ ]] || die "stdin does not hold a swarm join token (SWMTKN-1-…)"

require_docker
ensure_cmd curl curl

remote_managers() { docker info --format '{{range .Swarm.RemoteManagers}}{{.Addr}} {{end}}'; }

is_member_of_manager() {
  [[ "$(swarm_state)" == "active" ]] && [[ " $(remote_managers) " == *" $manager "* ]]
}

join_once() {
  local resp code
  resp="$(mktemp)"
  # printf is a shell builtin: the token goes from memory to curl's stdin only.
  code="$(printf '{"ListenAddr":"%s:%s","AdvertiseAddr":"%s","RemoteAddrs":["%s"],"JoinToken":"%s"}' \
    "$addr" "$lport" "$addr" "$manager" "$token" |
    curl -sS --unix-socket /var/run/docker.sock -o "$resp" -w '%{http_code}' \
      -H 'Content-Type: application/json' --data-binary @- http://localhost/swarm/join)" || code="000"
  if [[ "$code" == "200" ]]; then
    rm -f "$resp"
    return 0
  fi
  log "join via $manager failed (HTTP $code): $(head -c 400 "$resp")"
  rm -f "$resp"
  # A join that timed out may still complete in the background.
  [[ "$(swarm_state)" == "pending" ]] && sleep 10
  [[ "$(swarm_state)" == "active" ]]
}

state="$(swarm_state)"
case "$state" in
  active)
    if is_member_of_manager; then
      log "already a member of the swarm managed at $manager"
    else
      die "already a member of a different swarm (known managers: $(remote_managers)); run swarm-leave.sh first"
    fi
    ;;
  inactive | pending | error)
    log "joining the swarm at $manager, advertising $addr"
    retry "${SWARM_JOIN_ATTEMPTS:-6}" join_once || die "could not join the swarm at $manager"
    wait_until 60 "the swarm membership to become active" swarm_active
    mark_changed
    ;;
  *)
    die "swarm state is '$state' (inspect with: docker info)"
    ;;
esac
finish
