#!/usr/bin/env bash
# Regenerate the serving workload's test models with the real exporter (skl2onnx + card writer):
#   workloads/serving/test/fixtures/models/v1/{model.onnx,model.json}  small random forest
#   workloads/serving/test/fixtures/models/v2/{model.onnx,model.json}  ridge: same features, lower rmse
# Deterministic: fixed configs, seeds and SOURCE_DATE_EPOCH, so a re-run on one machine gives the
# same bytes (another CPU can differ in a weight's last bits: tests/test_fixtures.py).
# Both hold out the shipped evaluation set (rayswarm_tuning/evalsets/diabetes-v1.json), so the
# production gate accepts them and judges v2 over v1 on its rows.
# Usage: workloads/tuning/scripts/make-serving-fixture.sh [output-folder]
# Python: $PYTHON, else workloads/tuning/.venv/bin/python (run .ci/tuning.sh once to create it).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
tuning="$(cd "${here}/.." && pwd)"
repo="$(cd "${tuning}/../.." && pwd)"
out="${1:-${repo}/workloads/serving/test/fixtures/models}"
python="${PYTHON:-${tuning}/.venv/bin/python}"

if [[ ! -x "${python}" ]]; then
  echo "make-serving-fixture: no Python at ${python}; run .ci/tuning.sh first or set PYTHON" >&2
  exit 1
fi

export PYTHONPATH="${tuning}${PYTHONPATH:+:${PYTHONPATH}}"
export PYTHONHASHSEED=0

# 2026-01-01T00:00:00Z and one day later: versions sort v1 < v2, and before any model tuned
# after that date.
v1_epoch=1767225600
v2_epoch=$((v1_epoch + 86400))

SOURCE_DATE_EPOCH="${v1_epoch}" "${python}" -m rayswarm_tuning.export \
  --data builtin:diabetes --target target --seed 42 \
  --family random_forest \
  --params '{"n_estimators": 10, "max_depth": 2, "min_samples_leaf": 5, "max_features": 1.0}' \
  --out "${out}/v1"

SOURCE_DATE_EPOCH="${v2_epoch}" "${python}" -m rayswarm_tuning.export \
  --data builtin:diabetes --target target --seed 42 \
  --family ridge --params '{"alpha": 1.0}' \
  --out "${out}/v2"

# The fixtures must pass the same gate as production models: v1 first, then v2 over v1, with
# and without the evaluation set.
eval_set="${tuning}/rayswarm_tuning/evalsets/diabetes-v1.json"
for extra in "" "--eval-set ${eval_set}"; do
  # shellcheck disable=SC2086 # ${extra} is two words or none
  "${python}" -m rayswarm_tuning.gate --candidate "${out}/v1" ${extra}
  # shellcheck disable=SC2086
  "${python}" -m rayswarm_tuning.gate --candidate "${out}/v2" --current "${out}/v1" ${extra}
  # shellcheck disable=SC2086
  if "${python}" -m rayswarm_tuning.gate --candidate "${out}/v1" --current "${out}/v2" ${extra} 2>/dev/null; then
    echo "make-serving-fixture: v1 should not be accepted over v2 (v2 must be better)" >&2
    exit 1
  fi
done
echo "make-serving-fixture: wrote ${out}/v1 and ${out}/v2"
