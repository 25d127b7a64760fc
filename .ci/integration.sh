#!/usr/bin/env bash
# Usage: .ci/integration.sh
# Integration tests on this machine: Docker engine + local images (.ci/images.sh,
# cached), then `npm run test:integration` (root `npm ci` is done by .ci/run).
# Caches: ${RAYSWARM_CACHE:-/var/cache/rayswarm} (debootstrap rootfs, pip wheelhouse).
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
bash .ci/images.sh
echo "integration: images ready after $((SECONDS - start))s" >&2
npm run test:integration
echo "integration: done after $((SECONDS - start))s" >&2
