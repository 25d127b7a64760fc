#!/usr/bin/env bash
# train-promote.sh <repo-dir> <ray-address host:port> [--trials N] [--time-budget S] [--seed S]
#                  [--families a,b] [--data D --target T]
#
# On the development machine (Ray head), as root: one command from "I want a new model" to
# "the gate of every production machine has spoken".
#  1. a tuning job on the Ray cluster (python -m rayswarm_tuning.tune --address ...): progress
#     lines while it runs (`tune: 5/16 trials done ..., best cv rmse ...`), the evaluation set
#     held out of the search and the fit;
#  2. the exported model is kept in ${TRAIN_RUNS:-/var/lib/rayswarm/tuning/runs}/<version>/
#     (promote it again later with promote.sh);
#  3. promote.sh commits it to the models repo; the post-commit hook pushes it to every
#     production machine, whose gate scores it against the live model on its evaluation set.
# The output ends with one verdict line per production machine:
#   verdict: <host> ACCEPTED gate: ACCEPT ... | verdict: <host> REJECTED gate: REJECT: ...
# Exit 0 = live everywhere; 1 = the job failed or some machine rejected it; 2 = usage.
# Defaults: --trials 16, --time-budget 600, --seed 7, all families, builtin:diabetes.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
# shellcheck source=scripts/promotion/lib/dev.sh
. "$here/lib/dev.sh"
usage() { echo "usage: $0 <repo-dir> <ray-address host:port> [--trials N] [--time-budget S] [--seed S] [--families a,b] [--data D --target T]" >&2; exit 2; }
[[ $# -ge 2 ]] || usage
repo=$1 address=$2
shift 2
trials=16 budget=600 seed=7 families='' data=builtin:diabetes target=target
while [[ $# -gt 0 ]]; do
  [[ $# -ge 2 ]] || usage
  case $1 in
    --trials) trials=$2 ;;
    --time-budget) budget=$2 ;;
    --seed) seed=$2 ;;
    --families) families=$2 ;;
    --data) data=$2 ;;
    --target) target=$2 ;;
    *) usage ;;
  esac
  shift 2
done
[[ $trials =~ ^[0-9]+$ && $budget =~ ^[0-9]+$ && $seed =~ ^[0-9]+$ ]] || { echo "--trials, --time-budget and --seed take whole numbers" >&2; exit 2; }
[[ $address =~ ^[A-Za-z0-9._-]+:[0-9]+$ ]] || { echo "ray address must be host:port (got '$address')" >&2; exit 2; }
check_repo "$repo"
ray_python=${RAY_PYTHON:-/opt/rayswarm/venv/bin/python}
[[ -x $ray_python ]] || die "no Ray venv python at $ray_python (is this the Ray head?)"
tuning_src=$(cd "$here/../tuning" && pwd -P)
runs=${TRAIN_RUNS:-/var/lib/rayswarm/tuning/runs}
mkdir -p "$runs"
tmp=$(mktemp -d "$runs/.run.XXXXXX")
trap 'rm -rf -- "$tmp"' EXIT

start=$(date +%s)
echo "train: tuning on the Ray cluster at $address: $trials trials, time budget ${budget}s, seed $seed"
extra=()
[[ -z $families ]] || extra+=(--families "$families")
if ! (cd "$tuning_src" && PYTHONPATH="$tuning_src" RAY_USAGE_STATS_ENABLED=0 "$ray_python" -m rayswarm_tuning.tune \
  --address "$address" --data "$data" --target "$target" --out "$tmp/model" \
  --trials "$trials" --time-budget "$budget" --seed "$seed" --progress-interval 5 "${extra[@]}" 2>&1 |
  grep --line-buffered -v -E '^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:,]+[[:space:]]+(INFO|WARNING) '); then
  die "the tuning job failed (see the lines above)"
fi
[[ -f $tmp/model/model.onnx && -f $tmp/model/model.json ]] || die "the tuning job wrote no model"
version=$(card_version "$tmp/model/model.json")
chmod -R a+rX "$tmp/model"
rm -rf -- "${runs:?}/$version"
mv -T "$tmp/model" "$runs/$version"
echo "train: model $version in $runs/$version after $(($(date +%s) - start))s; promoting it"

status="$repo/.git/promotion/last-push"
rm -f -- "$status"
set +e
bash "$here/promote.sh" "$repo" "$runs/$version"
rc=$?
set -e
if [[ -f $status ]]; then
  while read -r url state reason; do
    case $url in
      /* | file://*) host=$url ;;
      *) host=${url#ssh://} host=${host%%/*} host=${host%%:*} ;;
    esac
    if [[ $state == ok ]]; then
      echo "verdict: $host ACCEPTED ${reason:-}"
    else
      echo "verdict: $host REJECTED ${reason:-}"
    fi
  done <"$status"
fi
echo "train: $version $([[ $rc -eq 0 ]] && echo "is live on every production machine" || echo "was NOT promoted everywhere") ($(($(date +%s) - start))s in all)"
exit "$rc"
