#!/usr/bin/env bash
# End to end (called by .ci/run after .ci/engine.sh installed the Pulumi engine and
# .ci/integration.sh built the images): the real `pulumi up` of the whole platform on five
# node containers, then promotion, a second up and destroy (tests/e2e/platform.test.ts).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PULUMI_HOME="${PULUMI_HOME:-$HOME/.pulumi}"
export PATH="$PULUMI_HOME/bin:$PATH"
command -v pulumi >/dev/null || bash scripts/install-pulumi.sh
bash .ci/images.sh
export RAYSWARM_E2E_TIMINGS="${RAYSWARM_E2E_TIMINGS:-$PWD/e2e-timings.json}"
npm run test:e2e
echo "e2e phase timings: $(cat "$RAYSWARM_E2E_TIMINGS")"
