#!/usr/bin/env bash
# Usage: swarm-nodes.sh
#
# On a manager: print one line with a JSON array of the swarm's nodes, sorted by
# hostname: [{"hostname","role","status","availability","labels","id","addr"}...]
# (status: ready|down|…, labels: an object), then changed=false.
set -euo pipefail
# shellcheck source=common.sh
source "$(dirname "$0")/common.sh"

[[ $# -eq 0 ]] || usage_die "swarm-nodes.sh"
require_root
require_manager

template='{{json .Description.Hostname}} {"hostname":{{json .Description.Hostname}},"role":{{json .Spec.Role}},"status":{{json .Status.State}},"availability":{{json .Spec.Availability}},"labels":{{if .Spec.Labels}}{{json .Spec.Labels}}{{else}}{}{{end}},"id":{{json .ID}},"addr":{{json .Status.Addr}}}'
mapfile -t ids < <(docker node ls -q)
((${#ids[@]} > 0)) || die "docker node ls returned no nodes"
lines="$(docker node inspect --format "$template" "${ids[@]}" | LC_ALL=C sort | cut -d' ' -f2-)"
emit "[$(paste -sd, <<<"$lines")]"
finish
