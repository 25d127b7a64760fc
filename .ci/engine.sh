#!/usr/bin/env bash
# CI stage for the real Pulumi engine. Run from the repository root (by .ci/run):
#   bash .ci/engine.sh            install/build the engine, lint the scripts and workflows,
#                                 smoke-test the engine, run the stack previews
#
# The engine is required: a missing CLI, language host or plugin fails this stage. It is built
# from the source archives in ${RAYSWARM_ENGINE_ARCHIVES:-../shared/engine} where the release
# download is unreachable, and cached in ${RAYSWARM_CACHE:-/var/cache/rayswarm} (a cold build
# takes 20-30 minutes here, a warm run seconds).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
say() { printf '\n=== engine: %s\n' "$*"; }

CACHE="${RAYSWARM_CACHE:-/var/cache/rayswarm}"
ACTIONLINT_VERSION=v1.7.12
export PULUMI_HOME="${PULUMI_HOME:-$HOME/.pulumi}"
export PULUMI_INSTALL_BIN="${PULUMI_INSTALL_BIN:-$PULUMI_HOME/bin}"
export PATH="$PULUMI_INSTALL_BIN:$PATH"
export PULUMI_SKIP_UPDATE_CHECK=true

# --- lint: shellcheck the engine scripts ---------------------------------------------------
say "shellcheck"
if ! command -v shellcheck >/dev/null; then
  apt-get install -y -qq shellcheck >/dev/null 2>&1 ||
    { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq shellcheck >/dev/null; }
fi
shellcheck scripts/install-pulumi.sh .ci/engine.sh
echo "shellcheck: ok"

# --- install (or build) the engine ---------------------------------------------------------
say "install the Pulumi engine"
t0=$SECONDS
archives=${RAYSWARM_ENGINE_ARCHIVES:-}
[[ -z $archives && -f ../shared/engine/manifest.json ]] && archives=../shared/engine
args=()
[[ -n $archives ]] && args=(--archives "$archives")
bash scripts/install-pulumi.sh "${args[@]}"
echo "install-pulumi.sh took $((SECONDS - t0))s"

say "pulumi version"
pulumi version
say "pulumi plugin ls"
pulumi plugin ls
ls -1 "$PULUMI_INSTALL_BIN"

# --- lint the GitHub workflows with actionlint (built once, cached) ------------------------
say "actionlint"
actionlint="$CACHE/tools/actionlint-$ACTIONLINT_VERSION/actionlint"
if [[ ! -x "$actionlint" ]]; then
  t0=$SECONDS
  mkdir -p "$(dirname "$actionlint")"
  GOBIN="$(dirname "$actionlint")" GOFLAGS=-buildvcs=false \
    go install -trimpath "github.com/rhysd/actionlint/cmd/actionlint@$ACTIONLINT_VERSION"
  echo "built actionlint $ACTIONLINT_VERSION in $((SECONDS - t0))s"
fi
"$actionlint" -version | head -n 1
workflows=(.github/workflows/*.yml)
"$actionlint" "${workflows[@]}"
echo "actionlint: ok (${#workflows[@]} workflows)"

# --- the engine itself, then the stack previews (tests/engine) -----------------------------
say "engine tests (jest --config jest.engine.config.js)"
npx jest --config jest.engine.config.js --runInBand

say "the engine ran the smoke test, the program's config checks and the dev/prod previews"
