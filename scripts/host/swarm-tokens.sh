#!/usr/bin/env bash
# Usage: swarm-tokens.sh
#
# On a manager: print one line of JSON
#   {"worker":"SWMTKN-…","manager":"SWMTKN-…","managerAddr":"<addr>:2377","clusterId":"…"}
# then changed=false. The output holds secrets: the caller must treat stdout as secret.
set -euo pipefail
# shellcheck source=common.sh
source "$(dirname "$0")/common.sh"

[[ $# -eq 0 ]] || usage_die "swarm-tokens.sh"
require_root
require_manager

worker="$(docker swarm join-token -q worker)" || die "cannot read the worker join token"
manager="$(docker swarm join-token -q manager)" || die "cannot read the manager join token"
manager_addr="$(docker node inspect self --format '{{.ManagerStatus.Addr}}')" ||
  die "cannot read this manager's address"
cluster_id="$(docker info --format '{{.Swarm.Cluster.ID}}')"
for v in "$worker" "$manager"; do
  [[ "$v" =~ ^SWMTKN-[A-Za-z0-9-]+$ ]] || die "unexpected join token format"
done
emit "$(printf '{"worker":"%s","manager":"%s","managerAddr":"%s","clusterId":"%s"}' \
  "$worker" "$manager" "$manager_addr" "$cluster_id")"
finish
