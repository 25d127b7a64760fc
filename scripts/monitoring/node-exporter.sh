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
# Filesystems: the package's defaults minus `overlay`, so a container's root (the local
# environment's machines are containers; / is overlay there) is measured like a VM's ext4 one.
# Docker's own overlay mounts stay out by mount point (/var/lib/docker/...), and so do the
# files Docker bind-mounts into a container (/etc/hostname, /etc/hosts, /etc/resolv.conf).
# No spaces, quotes or backslashes (systemd drops a backslash in /etc/default): ARGS is word-split as is.
fs_types='^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|iso9660|mqueue|nsfs|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|sysfs|tracefs)($|/)'
mount_points='^/(dev|proc|run|sys|mnt|media|var/lib/docker/.+|var/lib/containers/storage/.+|etc/hostname|etc/hosts|etc/resolv.conf)($|/)'
args="--web.listen-address=$addr:$port --collector.textfile.directory=/var/lib/prometheus/node-exporter"
args+=" --collector.filesystem.fs-types-exclude=$fs_types --collector.filesystem.mount-points-exclude=$mount_points"
if write_if_changed /etc/default/prometheus-node-exporter 0644 <<<"# managed by rayswarm (scripts/monitoring/node-exporter.sh)
ARGS=\"$args\""; then
  log "listening on $addr:$port"
  changed=true
  mark_changed
fi
service_apply prometheus-node-exporter "$changed"
wait_until 60 "node exporter on $addr:$port" http_ok "http://$addr:$port/metrics"
finish
