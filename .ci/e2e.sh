#!/usr/bin/env bash
# End to end (called by .ci/run after .ci/engine.sh installed the Pulumi engine and
# .ci/integration.sh built the images): the real `pulumi up` of a local-environment stack (five
# node containers made by the program), promotion under load, a second preview/up with no
# changes, a scale-out, a script-edit preview and destroy (tests/e2e/platform.test.ts).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
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
