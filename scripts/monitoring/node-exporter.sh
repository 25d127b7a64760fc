#!/usr/bin/env bash
# Usage: node-exporter.sh <listen-addr> <port> <version>        (e.g. 10.42.0.12 9100 1.5.0)
#
# Debian's prometheus-node-exporter at <version> (the upstream part of the package version),
# listening on <listen-addr>:<port> only (the private address), with the textfile collector
# reading /var/lib/prometheus/node-exporter (model-metric.sh writes there). The package is
# installed with its service held, so it never listens on the default :9100 of every address.
# Enabled and started; restarted when its arguments change. Waits until /metrics answers.
# stdout: only changed=true|false.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
RAYSWARM_STEP=node-exporter

[[ $# -eq 3 ]] || usage_die "node-exporter.sh <listen-addr> <port> <version>"
addr=$1 port=$2 version=$3
valid_addr "$addr" || die "listen-addr '$addr' is not an address"
valid_port "$port" || die "port '$port' is not a port"
[[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "version '$version' is not a version such as 1.5.0"
require_root

ensure_cmd curl curl
apt_install_pinned prometheus-node-exporter "$version"
install -d -m 0755 -o prometheus -g prometheus /var/lib/prometheus/node-exporter

changed=false
args="--web.listen-address=$addr:$port --collector.textfile.directory=/var/lib/prometheus/node-exporter"
if write_if_changed /etc/default/prometheus-node-exporter 0644 <<<"# managed by rayswarm (scripts/monitoring/node-exporter.sh)
ARGS=\"$args\""; then
  log "listening on $addr:$port"
  changed=true
  mark_changed
fi
service_apply prometheus-node-exporter "$changed"
wait_until 60 "node exporter on $addr:$port" http_ok "http://$addr:$port/metrics"
finish
