#!/usr/bin/env bash
# models.sh <serving-api-url>... [--history N] [--json]
#
# On the development machine: the model registry of each production machine, read from its
# serving API (GET /v1/models): the live version, every version kept there with its card
# summary (created, family, params, the gate's score on the evaluation set, the card's own
# metric, tuning run id, data checksum, git commit) and the last promotions and rollbacks.
# Runs rayswarm_tuning.registry (standard library only) with the system python3.
# Exit 0 = at least one machine answered.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
[[ $# -ge 1 ]] || { echo "usage: $0 <serving-api-url>... [--history N] [--json]" >&2; exit 2; }
PYTHONPATH="$here/../tuning${PYTHONPATH:+:$PYTHONPATH}" exec "${PROMOTION_PYTHON:-python3}" -m rayswarm_tuning.registry "$@"
