#!/usr/bin/env bash
# Usage: scripts/deploy-local.sh [up|destroy]        (default: up)
#
# The main job on the embedded default: the whole platform on this machine's Docker engine.
# Builds the images (debootstrap base, node/rabbitmq/redis/serving), starts five node
# containers (orchestration, Ray head, Ray worker, Swarm manager, Swarm worker) and deploys the
# program onto them as the `existing` environment: with `pulumi up` when the full Pulumi engine
# is installed, else with the engine-less runner (tools/runner; see README). Prints the web URL.
# State, SSH key and logs: ${RAYSWARM_LOCAL_DIR:-$HOME/.rayswarm/local}. Run as root.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
action=${1:-up}
case "$action" in up | destroy) ;; *) echo "usage: scripts/deploy-local.sh [up|destroy]" >&2; exit 2 ;; esac
[[ $(id -u) -eq 0 ]] || { echo "deploy-local.sh: run as root (it starts dockerd and containers)" >&2; exit 1; }
command -v node >/dev/null || { echo "deploy-local.sh: Node.js 20 is required" >&2; exit 1; }
if [[ ! -d node_modules/@pulumi/pulumi ]]; then npm ci --no-audit --no-fund; fi
if [[ $action == up ]]; then
  bash scripts/images/start-dockerd.sh
  bash scripts/images/base-image.sh
  bash scripts/images/build-images.sh node rabbitmq redis serving
fi
exec npx ts-node --transpile-only tools/deploy-local.ts "$action"
