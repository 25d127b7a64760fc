#!/usr/bin/env bash
# Usage: ray-worker.sh <head-addr:port> <node-addr> <ray start port options...>
#
# Run a Ray worker as the systemd unit rayswarm-ray.service:
#   /opt/rayswarm/venv/bin/ray start --block --address <head-addr:port>
#     --node-ip-address <node-addr> --disable-usage-stats <port options>
# The port options (--<name>-port <port> pairs): components/core/ports.ts rayStartPortArgs.
# Enabled and started; rewritten + restarted only when the unit's content changes.
# systemd restarts it (every 5 s) while the head is unreachable, so workers may be
# bootstrapped in parallel with the head. Waits (RAY_WAIT_SECONDS, default 180) until
# this node's raylet runs and the head's `ray status` lists this node (its node id, from
# the raylet's log) as Active, so an operator's `ray status` right after counts it; use
# ray-wait.sh on the head for the cluster-wide count. stdout: only changed=true|false.
set -euo pipefail
# shellcheck source=common.sh
source "$(dirname "$0")/common.sh"

[[ $# -ge 4 ]] || usage_die "ray-worker.sh <head-addr:port> <node-addr> <ray start port options...>"
head="$1" addr="$2"
shift 2
[[ "$head" =~ ^[A-Za-z0-9._-]+:[0-9]+$ ]] || die "head address '$head' is not host:port"
valid_addr "$addr" || die "node-addr '$addr' is not an address"
ray_port_options "$@"
require_root
require_ray

ray_unit_apply worker --address "$head" --node-ip-address "$addr" --disable-usage-stats "$@"

raylet_running() { pgrep -f '/raylet( |$)' >/dev/null 2>&1 || pgrep -x raylet >/dev/null 2>&1; }
# node_id: this node's id as its raylet logged it ("Setting node ID node_id=<hex>") in the
# current session; empty until the raylet got that far.
node_id() { sed -n 's/.*Setting node ID node_id=\([0-9a-f]\{8,\}\).*/\1/p' /tmp/ray/session_latest/logs/raylet.out 2>/dev/null | tail -n 1; }
# listed_active ID: the head's `ray status` lists node_ID in its Active section (the
# autoscaler's view, refreshed every few seconds, lags the raylet's registration).
listed_active() {
  local out
  out="$(timeout 60 "$RAY_VENV/bin/ray" status --address "$head" 2>/dev/null)" || return 1
  awk -v id="node_$1" '/^Active:/ { a = 1; next } /^[A-Za-z]/ { a = 0 } a && $2 == id { found = 1 } END { exit !found }' <<<"$out"
}
worker_up() {
  local id
  ray_unit_active && raylet_running && id="$(node_id)" && [[ -n "$id" ]] && listed_active "$id"
}
start=$SECONDS
limit="${RAY_WAIT_SECONDS:-180}"
until worker_up; do
  if ((SECONDS - start >= limit)); then
    ray_unit_logs
    die "Ray worker did not join $head within ${limit}s (raylet running: $(raylet_running && echo yes || echo no); node id: $(node_id || true); head's ray status lists it active: $(listed_active "$(node_id)" && echo yes || echo no))"
  fi
  sleep 3
done
log "Ray worker $addr (node $(node_id)) joined $head: listed Active"
finish
