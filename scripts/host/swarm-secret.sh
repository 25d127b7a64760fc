#!/usr/bin/env bash
# Usage: swarm-secret.sh <create|remove> <secret-name>      (create: the secret's content on STDIN)
#
# On a manager: create the Docker secret <secret-name> from stdin unless it already exists
# (secrets are immutable: a new value gets a new name, see components/serving), or remove it
# (delete step; a secret still used by a service is left in place with a warning).
# The content is read from stdin straight into `docker secret create` and never logged.
# stdout: only changed=true|false.
set -euo pipefail
# shellcheck source=common.sh
source "$(dirname "$0")/common.sh"
RAYSWARM_STEP=swarm-secret

[[ $# -eq 2 && ( $1 == create || $1 == remove ) ]] || usage_die "swarm-secret.sh <create|remove> <secret-name>"
action=$1 name=$2
require_root
require_manager

exists() { docker secret inspect "$name" >/dev/null 2>&1; }
if [[ $action == create ]]; then
  if exists; then
    cat >/dev/null # drain stdin
    log "secret $name already exists"
  else
    docker secret create --label rayswarm=1 "$name" - >/dev/null || die "docker secret create $name failed"
    log "secret $name created"
    mark_changed
  fi
else
  if exists; then
    if docker secret rm "$name" >/dev/null 2>&1; then
      log "secret $name removed"
      mark_changed
    else
      log "WARNING: secret $name is still in use; left in place"
    fi
  fi
fi
finish
