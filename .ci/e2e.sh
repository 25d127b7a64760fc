#!/usr/bin/env bash
# End to end (called by .ci/run after .ci/engine.sh installed the Pulumi engine and
# .ci/integration.sh built the images): the real `pulumi up` of a local-environment stack (five
# node containers made by the program; first the base commit's program, then this one, whose
# preview must replace and delete nothing), promotion under load, a second preview/up with no
# changes, a scale-out, a script-edit preview and destroy (tests/e2e/platform.test.ts).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# One run at a time on a machine: it needs 127.0.0.1:2222 and :8080 (the local stack's bastion and web ports; scripts/deploy-local.sh uses them too). A second run waits here.
# (flock -o: the lock stays with flock itself, not with daemons this run starts.)
if [[ -z ${RAYSWARM_E2E_PORTS_LOCKED:-} ]]; then
  flock -n /tmp/rayswarm-e2e-ports.lock true || echo "$(basename "$0"): another run holds /tmp/rayswarm-e2e-ports.lock; waiting for it" >&2
  RAYSWARM_E2E_PORTS_LOCKED=1 exec flock -o /tmp/rayswarm-e2e-ports.lock bash "$(realpath "${BASH_SOURCE[0]}")" "$@"
fi
# The first up deploys the base commit's program (the alias proof of #15, tests/e2e/platform.test.ts): it must be in the history.
base=${RAYSWARM_E2E_BASE:-03aff1e}
if ! git cat-file -e "$base^{commit}" 2>/dev/null; then
  echo "$(basename "$0"): the base commit $base (the deployed program the e2e upgrades from) is not in this clone's history: clone with full history (git fetch --unshallow) or set RAYSWARM_E2E_BASE" >&2
  exit 1
fi
export PULUMI_HOME="${PULUMI_HOME:-$HOME/.pulumi}"
export PATH="$PULUMI_HOME/bin:$PATH"
archives=${RAYSWARM_ENGINE_ARCHIVES:-}
[[ -z $archives && -f ../shared/engine/manifest.json ]] && archives=../shared/engine
args=()
[[ -n $archives ]] && args=(--archives "$archives")
bash scripts/install-pulumi.sh "${args[@]}" # seconds when .ci/engine.sh installed it
bash .ci/images.sh
export RAYSWARM_E2E_TIMINGS="${RAYSWARM_E2E_TIMINGS:-$PWD/e2e-timings.json}"
npm run test:e2e
echo "e2e phase timings: $(cat "$RAYSWARM_E2E_TIMINGS")"
