#!/usr/bin/env bash
# Usage: model-root.sh <model-root>
#
# On every production machine: make sure the model folder the serving workers mount
# (read-only) exists, world-readable, before the stack is deployed; the promotion hooks fill
# it later (versions/<id>/ and the `current` link). Idempotent. stdout: only changed=true|false.
set -euo pipefail
# shellcheck source=common.sh
source "$(dirname "$0")/common.sh"
RAYSWARM_STEP=model-root

[[ $# -eq 1 && $1 == /* ]] || usage_die "model-root.sh <absolute model-root>"
root=$1
require_root
if [[ ! -d "$root/versions" ]]; then
  install -d -m 0755 "$root" "$root/versions"
  mark_changed
fi
chmod a+rx "$root" "$root/versions"
finish
