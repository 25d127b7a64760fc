#!/usr/bin/env bash
# Usage: ray-head.sh <bind-addr> <port> <dashboard-port> <ray start port options...>
#   (e.g. 10.0.0.5 6379 8265 --node-manager-port 6380 ... --ray-client-server-port 10001)
#
# Run the Ray head as the systemd unit rayswarm-ray.service:
#   /opt/rayswarm/venv/bin/ray start --block --head --node-ip-address <addr>
#     --port <port> --dashboard-host <addr> --dashboard-port <dashboard-port>
#     --disable-usage-stats <port options>
# The port options (--<name>-port <port> pairs) are the fixed ports the security rules allow
# (components/core/ports.ts rayStartPortArgs, passed by RayCluster); Ray's defaults are random.
# The dashboard binds to the private address only and the cluster is advertised on it.
# Note: Ray's GCS gRPC server itself listens on 0.0.0.0:<port> (Ray has no option to
# change that), as do the raylet/object-manager ports: restrict them to the private
# network with the security group / firewall. Enabled (survives reboots) and
# started; rewritten + restarted only when the unit's content changes. Waits until
# `ray status --address <addr>:<port>` answers (RAY_WAIT_SECONDS, default 180).
# Without systemd the same command runs detached (see common.sh).
# stdout: only changed=true|false.
set -euo pipefail
# shellcheck source=common.sh
source "$(dirname "$0")/common.sh"

[[ $# -ge 5 ]] || usage_die "ray-head.sh <bind-addr> <port> <dashboard-port> <ray start port options...>"
addr="$1" port="$2" dport="$3"
shift 3
valid_addr "$addr" || die "bind-addr '$addr' is not an address"
valid_port "$port" || die "port '$port' is not a port"
valid_port "$dport" || die "dashboard-port '$dport' is not a port"
ray_port_options "$@"
require_root
require_ray

ray_unit_apply head --head --node-ip-address "$addr" --port "$port" \
  --dashboard-host "$addr" --dashboard-port "$dport" --disable-usage-stats "$@"

head_up() { ray_unit_active && ray_status_ok "$addr:$port"; }
start=$SECONDS
limit="${RAY_WAIT_SECONDS:-180}"
until head_up; do
  if ((SECONDS - start >= limit)); then
    ray_unit_logs
    die "Ray head did not answer 'ray status --address $addr:$port' within ${limit}s"
  fi
  sleep 3
done
log "Ray head up at $addr:$port (dashboard $addr:$dport)"
finish
