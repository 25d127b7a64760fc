#!/usr/bin/env bash
# CI for workloads/serving: install the real servers the tests start (private instances on free
# loopback ports; the system services the packages may auto-start are neither needed nor used),
# install npm dependencies from the lockfile, typecheck, build and run the real-server test suite.
# Run from the repository root as root on a fresh Debian (bookworm) machine.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)

need_pkgs=()
for p in rabbitmq-server redis-server chromium; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need_pkgs+=("$p")
done
if ((${#need_pkgs[@]})); then
  echo "serving: apt-get install ${need_pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi

command -v node >/dev/null || { echo "serving: node (20.x) is required on PATH" >&2; exit 1; }
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' \
  || { echo "serving: node >= 20 required, found $(node --version)" >&2; exit 1; }

cd "$ROOT/workloads/serving"
export ONNXRUNTIME_NODE_INSTALL=skip
npm ci --no-audit --no-fund
npm run typecheck
npm test
# The benchmark itself, briefly (its figures are docs/benchmarks.md's business, not CI's): it must
# run, and every answer must be a 200 with its result stored.
npm run bench:serving -- --concurrency=1,32 --duration=3 --check
