#!/usr/bin/env bash
# CI for the Python tuning workload (workloads/tuning). Called from the repo root by .ci/run:
#   bash .ci/tuning.sh
# Idempotent: creates workloads/tuning/.venv (Python 3.11) if needed, installs the pinned
# requirements only when requirements.txt changed, then runs pytest. Exits non-zero on any
# failure, including "pytest collected no tests" (exit 5).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tuning="${repo}/workloads/tuning"
venv="${tuning}/.venv"
python_bin="${PYTHON:-python3}"

if ! "${python_bin}" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)'; then
  echo "tuning.sh: ${python_bin} is not Python 3.11 (the Ray hosts run 3.11)" >&2
  exit 1
fi

# A venv whose interpreter is gone or a different minor version is rebuilt.
if [[ -x "${venv}/bin/python" ]] && ! "${venv}/bin/python" -c \
  'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)' 2>/dev/null; then
  echo "tuning.sh: rebuilding ${venv} (broken or wrong Python)"
  rm -rf "${venv}"
fi
if [[ ! -x "${venv}/bin/python" ]]; then
  echo "tuning.sh: creating ${venv}"
  if ! "${python_bin}" -c 'import ensurepip, venv' 2>/dev/null; then
    # Debian's python3 ships venv/ensurepip separately.
    if [[ "$(id -u)" -eq 0 ]] && command -v apt-get >/dev/null; then
      echo "tuning.sh: installing python3-venv (ensurepip missing)"
      apt-get install -y -qq python3-venv >/dev/null || {
        apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null; }
    else
      echo "tuning.sh: ${python_bin} has no venv/ensurepip; install python3-venv" >&2
      exit 1
    fi
  fi
  "${python_bin}" -m venv "${venv}"
fi

stamp="${venv}/.requirements.sha256"
want="$(sha256sum < "${tuning}/requirements.txt" | cut -d" " -f1)"
if [[ ! -f "${stamp}" || "$(cat "${stamp}")" != "${want}" ]]; then
  echo "tuning.sh: installing pinned requirements"
  "${venv}/bin/python" -m pip install --quiet --disable-pip-version-check \
    -r "${tuning}/requirements.txt"
  echo "${want}" > "${stamp}"
else
  echo "tuning.sh: requirements up to date"
fi

echo "tuning.sh: running pytest"
cd "${tuning}"
set +e
RAY_USAGE_STATS_ENABLED=0 "${venv}/bin/python" -m pytest -q -p no:cacheprovider tests
status=$?
set -e
case "${status}" in
  0) echo "tuning.sh: tests passed" ;;
  5) echo "tuning.sh: pytest collected no tests; that is a failure" >&2; exit 1 ;;
  *) echo "tuning.sh: pytest failed (exit ${status})" >&2; exit "${status}" ;;
esac
