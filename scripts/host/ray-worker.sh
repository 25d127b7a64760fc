#!/usr/bin/env bash
# Usage: ray-worker.sh <head-addr:port> <node-addr>
#
# Run a Ray worker as the systemd unit rayswarm-ray.service:
#   /opt/rayswarm/venv/bin/ray start --block --address <head-addr:port>
#     --node-ip-address <node-addr> --disable-usage-stats <RAY_FIXED_PORTS of common.sh>
# Enabled and started; rewritten + restarted only when the unit's content changes.
# systemd restarts it (every 5 s) while the head is unreachable, so workers may be
# bootstrapped in parallel with the head. Waits (RAY_WAIT_SECONDS, default 180) until
# the head's `ray status` answers and this node's raylet runs; use ray-wait.sh on the
# head for the cluster-wide count. stdout: only changed=true|false.
set -euo pipefail
# shellcheck source=common.sh
source "$(dirname "$0")/common.sh"

[[ $# -eq 2 ]] || usage_die "ray-worker.sh <head-addr:port> <node-addr>"
head="$1" addr="$2"
[[ "$head" =~ ^[A-Za-z0-9._-]+:[0-9]+$ ]] || die "head address '$head' is not host:port"
valid_addr "$addr" || die "node-addr '$addr' is not an address"
require_root
require_ray

ray_unit_apply worker --address "$head" --node-ip-address "$addr" --disable-usage-stats "${RAY_FIXED_PORTS[@]}"

raylet_running() { pgrep -f '/raylet( |$)' >/dev/null 2>&1 || pgrep -x raylet >/dev/null 2>&1; }
worker_up() { ray_unit_active && raylet_running && ray_status_ok "$head"; }
start=$SECONDS
limit="${RAY_WAIT_SECONDS:-180}"
until worker_up; do
  if ((SECONDS - start >= limit)); then
    ray_unit_logs
    die "Ray worker did not join $head within ${limit}s (raylet running: $(raylet_running && echo yes || echo no))"
  fi
  sleep 3
done
log "Ray worker $addr joined $head"
finish
