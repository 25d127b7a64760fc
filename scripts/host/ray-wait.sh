#!/usr/bin/env bash
# Usage: ray-wait.sh <head-addr:port> <expected-nodes> <timeout-seconds>
#
# Wait until `ray status --address <head-addr:port>` lists exactly <expected-nodes>
# alive (Active) nodes. Prints `nodes=<n>` on stdout, then changed=false. On timeout
# it fails naming the count it saw last.
set -euo pipefail
# shellcheck source=common.sh
source "$(dirname "$0")/common.sh"

[[ $# -eq 3 ]] || usage_die "ray-wait.sh <head-addr:port> <expected-nodes> <timeout-seconds>"
head="$1" want="$2" limit="$3"
[[ "$head" =~ ^[A-Za-z0-9._-]+:[0-9]+$ ]] || die "head address '$head' is not host:port"
[[ "$want" =~ ^[0-9]+$ ]] || die "expected-nodes '$want' is not a number"
[[ "$limit" =~ ^[0-9]+$ ]] || die "timeout-seconds '$limit' is not a number"
require_ray

# alive_nodes: sum of the counts in the "Active:" section of `ray status`
# (lines like " 1 node_0123abcd…"); empty when ray status fails.
alive_nodes() {
  local out
  out="$(timeout 60 "$RAY_VENV/bin/ray" status --address "$head" 2>/dev/null)" || return 1
  awk '
    /^Active:/ { active = 1; next }
    /^[A-Za-z]/ { active = 0 }
    active && $1 ~ /^[0-9]+$/ && $2 ~ /^node_/ { n += $1 }
    END { print n + 0 }' <<<"$out"
}

start=$SECONDS
seen="none (ray status failed)"
while :; do
  if n="$(alive_nodes)"; then
    seen="$n"
    if ((n == want)); then
      break
    fi
  fi
  if ((SECONDS - start >= limit)); then
    die "Ray cluster at $head has $seen alive nodes after ${limit}s, expected $want"
  fi
  sleep 3
done
log "Ray cluster at $head has $seen alive nodes"
emit "nodes=$seen"
finish
