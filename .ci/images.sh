#!/usr/bin/env bash
# Usage: .ci/images.sh
# Docker engine up, debian:bookworm base image present, local images built.
# Idempotent and cached (apt, debootstrap tarball, Docker layer cache).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/images/start-dockerd.sh
bash scripts/images/base-image.sh
bash scripts/images/build-images.sh
