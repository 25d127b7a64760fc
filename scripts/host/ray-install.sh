#!/usr/bin/env bash
# Usage: ray-install.sh <ray-version> <requirements-file|->
#
# Install Ray into the venv /opt/rayswarm/venv (python3 -m venv; python3-venv from
# apt when missing): `pip install "ray[default]==<ray-version>" -r <requirements>`.
# <requirements-file> is the tuning workload's pinned requirements.txt; `-` reads the
# requirements from stdin (empty stdin = none). If the requirements pin ray to a
# different version than <ray-version>, this fails and names both (the requirements
# file is the source of truth: pass its version).
# Skips everything when the venv already has exactly that Ray version and the
# requirements' sha256 matches the stamp stored in /opt/rayswarm/venv/.rayswarm-stamp.
# pip retries network failures (PIP_ATTEMPTS, default 3); it honours PIP_* env and
# uses root's pip cache (~/.cache/pip). --no-compile: byte-compiling the whole ~1 GB
# venv tripled the install time (92 s vs 31 s measured); Python compiles the modules
# actually imported on first use instead. stdout: only changed=true|false.
set -euo pipefail
# shellcheck source=common.sh
source "$(dirname "$0")/common.sh"

[[ $# -eq 2 && -n "$1" && -n "$2" ]] || usage_die "ray-install.sh <ray-version> <requirements-file|->"
version="$1"
req_src="$2"
[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+([a-z0-9.+-]*)?$ ]] || die "ray-version '$version' is not a version like 2.60.0"
require_root

venv=/opt/rayswarm/venv
stamp="$venv/.rayswarm-stamp"
mkdir -p /opt/rayswarm
req="$(mktemp /opt/rayswarm/.requirements.XXXXXX)"
trap 'rm -f "$req"' EXIT
if [[ "$req_src" == "-" ]]; then
  # stdin may be empty or never closed by the caller: read with a bound.
  timeout "${RAY_REQUIREMENTS_STDIN_TIMEOUT:-30}" cat >"$req" || true
else
  [[ -r "$req_src" ]] || die "requirements file '$req_src' not found"
  cat "$req_src" >"$req"
fi

# A pin of ray in the requirements must agree with <ray-version>.
pinned="$(sed -nE 's/^[[:space:]]*ray(\[[^]]*\])?[[:space:]]*==[[:space:]]*([^[:space:];#]+).*/\2/p' "$req" | head -n1)"
if [[ -n "$pinned" && "$pinned" != "$version" ]]; then
  die "the requirements pin ray==$pinned but ray-version is $version; pass $pinned (the requirements file wins)"
fi
if grep -Eq '^[[:space:]]*ray(\[[^]]*\])?[[:space:]]*(>|<|~|!)' "$req"; then
  log "note: the requirements constrain ray without pinning it; ray==$version is installed"
fi

req_hash="$(sha256sum "$req" | cut -d' ' -f1)"
want_stamp="$(printf 'ray=%s\nrequirements=%s\n' "$version" "$req_hash")"

installed_ray() { "$venv/bin/python" -c 'import ray, sys; sys.stdout.write(ray.__version__)' 2>/dev/null; }

if [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want_stamp" &&
  "$(installed_ray || true)" == "$version" ]]; then
  log "ray $version and requirements ${req_hash:0:12} already installed in $venv"
  finish
  exit 0
fi

if ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
  py="$(python3 -c 'import sys; print(f"python3.{sys.version_info.minor}")' 2>/dev/null || echo python3)"
  apt_install python3-venv "$py-venv"
fi
if [[ ! -x "$venv/bin/python" ]]; then
  log "creating venv $venv"
  python3 -m venv "$venv" || die "python3 -m venv $venv failed"
fi
rm -f "$stamp"

pip_args=(install -q --no-compile --disable-pip-version-check --no-input --progress-bar off "ray[default]==$version")
[[ -s "$req" ]] && pip_args+=(-r "$req")
log "pip install ray[default]==$version${pinned:+ + requirements (${req_hash:0:12})}"
start=$SECONDS
retry "${PIP_ATTEMPTS:-3}" "$venv/bin/pip" "${pip_args[@]}" || die "pip install into $venv failed"
got="$(installed_ray || true)"
[[ "$got" == "$version" ]] || die "after pip install, $venv has ray '$got', expected $version"
printf '%s\n' "$want_stamp" >"$stamp"
log "installed ray $version in $((SECONDS - start))s"
mark_changed
finish
