#!/usr/bin/env bash
# Usage: swarm-config.sh <create|remove> <config-name>      (create: the content on STDIN)
#
# On a manager: create the Docker config <config-name> from stdin unless it exists (configs
# are immutable: components/monitoring names them by content hash), or remove it (a config
# still used by a service is left in place with a warning). stdout: only changed=true|false.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
RAYSWARM_STEP=swarm-config

[[ $# -eq 2 && ($1 == create || $1 == remove) ]] || usage_die "swarm-config.sh <create|remove> <config-name>"
action=$1 name=$2
require_root
require_manager

exists() { docker config inspect "$name" >/dev/null 2>&1; }
if [[ $action == create ]]; then
  if exists; then
    cat >/dev/null
    log "config $name already exists"
  else
    docker config create --label rayswarm=1 "$name" - >/dev/null || die "docker config create $name failed"
    log "config $name created"
    mark_changed
  fi
elif exists; then
  if docker config rm "$name" >/dev/null 2>&1; then
    log "config $name removed"
    mark_changed
  else
    log "WARNING: config $name is still in use; left in place"
  fi
fi
finish
