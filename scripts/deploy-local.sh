#!/usr/bin/env bash
# Usage: scripts/deploy-local.sh [up|destroy]        (default: up; run as root)
#
# The main job on the embedded default: `pulumi up` of the `local` stack — the whole platform
# on this machine's Docker engine, in five node containers made by the program
# (orchestration, Ray head, Ray worker, Swarm manager, Swarm worker). On a fresh machine it
# installs what is missing first: Debian packages (docker.io, debootstrap, git, ssh client),
# npm dependencies, the images and their tarballs, and the Pulumi engine (built from source
# where it cannot be downloaded: pass the source archives with RAYSWARM_ENGINE_ARCHIVES, or
# keep ../shared/engine beside the checkout). Running it again changes nothing.
#
#   destroy   pulumi destroy of the local stack (containers, network, volumes), then
#             `pulumi stack rm`; the passphrase file and the images stay.
#
# State: the file backend in this folder (.pulumi/, git-ignored). The stack's passphrase is
# generated once into ${RAYSWARM_LOCAL_DIR:-$HOME/.rayswarm/local}/passphrase (0600), and its
# settings file lives there too (Pulumi.local.yaml of this repository plus the stack's
# encryption salt), so the committed Pulumi.local.yaml never changes: pass
# --config-file ~/.rayswarm/local/Pulumi.local.yaml to pulumi commands of this stack.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
action=${1:-up}
case "$action" in up | destroy) ;; *) echo "usage: scripts/deploy-local.sh [up|destroy]" >&2; exit 2 ;; esac
say() { printf '\n==> %s\n' "$*" >&2; }
die() { echo "deploy-local: $*" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] || die "run as root (it installs packages, starts dockerd and containers)"
command -v node >/dev/null || die "Node.js 20 is required"

stack=local
dir=${RAYSWARM_LOCAL_DIR:-$HOME/.rayswarm/local}
mkdir -p "$dir" && chmod 700 "$dir"
export PULUMI_HOME=${PULUMI_HOME:-$HOME/.pulumi}
export PATH="$PULUMI_HOME/bin:$PATH"
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_CONFIG_PASSPHRASE_FILE="$dir/passphrase"
export PULUMI_BACKEND_URL=${PULUMI_BACKEND_URL:-file://$(pwd)} # = backend.url file://. of Pulumi.yaml
cfg="$dir/Pulumi.$stack.yaml"
timings=()
step() { # step NAME CMD...: run and remember how long it took
  local name=$1 t0=$SECONDS
  shift
  say "$name"
  "$@"
  timings+=("$(printf '%-28s %4ss' "$name" "$((SECONDS - t0))")")
}

if [[ $action == destroy ]]; then
  command -v pulumi >/dev/null || die "pulumi is not installed (run scripts/deploy-local.sh first)"
  [[ -f $PULUMI_CONFIG_PASSPHRASE_FILE ]] || die "no $PULUMI_CONFIG_PASSPHRASE_FILE: nothing was deployed from here"
  pulumi stack select "$stack" >/dev/null 2>&1 || die "there is no '$stack' stack in $(pwd)/.pulumi: nothing to destroy"
  step "pulumi destroy" pulumi destroy --yes --stack "$stack" --config-file "$cfg"
  # --preserve-config: stack rm would delete the committed Pulumi.local.yaml
  step "pulumi stack rm" pulumi stack rm --yes --preserve-config --stack "$stack"
  rm -f "$cfg"
  printf '\nthe local platform is gone (containers, network and volumes removed).\n'
  exit 0
fi

packages=(docker.io debootstrap git openssh-client ca-certificates curl)
install_packages() {
  local missing=() p
  for p in "${packages[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p"); done
  if ((${#missing[@]})); then
    echo "installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "all present: ${packages[*]}"
  fi
}
step "Debian packages" install_packages
npm_deps() { if [[ -d node_modules/@pulumi/pulumi ]]; then echo "node_modules present"; else npm ci --no-audit --no-fund; fi; }
step "npm dependencies" npm_deps
step "Docker engine" bash scripts/images/start-dockerd.sh
step "base image (debootstrap)" bash scripts/images/base-image.sh
step "images" bash scripts/images/build-images.sh node rabbitmq redis monitoring serving
# The tarballs Pulumi.local.yaml names (rayswarm:imageTarballs), preloaded on the swarm machines.
step "image tarballs" bash scripts/images/save-images.sh .local/images rayswarm/serving:dev rayswarm/rabbitmq:3 rayswarm/redis:7 rayswarm/monitoring:2

archives=${RAYSWARM_ENGINE_ARCHIVES:-}
[[ -z $archives && -f ../shared/engine/manifest.json ]] && archives=../shared/engine
engine_args=()
[[ -n $archives ]] && engine_args=(--archives "$archives")
say "Pulumi engine (a cold build from source takes 30-40 minutes here; each part's time is printed)"
step "Pulumi engine" bash scripts/install-pulumi.sh "${engine_args[@]}"

if [[ ! -s $PULUMI_CONFIG_PASSPHRASE_FILE ]]; then
  (umask 077 && head -c 32 /dev/urandom | base64 >"$PULUMI_CONFIG_PASSPHRASE_FILE")
  echo "generated the stack passphrase: $PULUMI_CONFIG_PASSPHRASE_FILE (keep it: it decrypts the stack's secrets)" >&2
fi
chmod 600 "$PULUMI_CONFIG_PASSPHRASE_FILE"
# The stack, and its settings file outside the repository: this repository's Pulumi.local.yaml
# (so edits to it count) plus the stack's encryption salt, which `stack init` writes into a
# settings file of a scratch project folder (it would otherwise land in the committed file).
if ! pulumi stack select "$stack" >/dev/null 2>&1; then
  scratch=$(mktemp -d)
  cp Pulumi.yaml "$scratch/"
  (cd "$scratch" && pulumi stack init "$stack" --non-interactive >/dev/null)
  grep '^encryptionsalt:' "$scratch/Pulumi.$stack.yaml" >"$dir/encryptionsalt"
  rm -rf "$scratch"
fi
[[ -s $dir/encryptionsalt ]] || die "no $dir/encryptionsalt for the existing '$stack' stack: restore it, or run 'bash scripts/deploy-local.sh destroy' and start again"
{ cat "Pulumi.$stack.yaml"; cat "$dir/encryptionsalt"; } >"$cfg"
step "pulumi up" pulumi up --yes --stack "$stack" --config-file "$cfg"

# The ssh lines name the stack's key and known_hosts files: write them from the outputs.
mkdir -p ~/.ssh && chmod 700 ~/.ssh
(umask 077 && pulumi stack output --stack "$stack" sshPrivateKey --show-secrets >~/.ssh/rayswarm-$stack)
pulumi stack output --stack "$stack" sshKnownHosts >~/.ssh/rayswarm-$stack.known_hosts
out() { pulumi stack output --stack "$stack" "$@"; }
# shellcheck disable=SC2016 # JavaScript, not shell
ssh_lines() { out sshCommands --json | node -e 'const o=JSON.parse(require("fs").readFileSync(0,"utf8")); for (const [k,v] of Object.entries(o)) console.log(`  ${k.padEnd(26)} ${v}`)'; }
cat <<EOF

==> done. Times:
$(printf '    %s\n' "${timings[@]}")

web page (predictions):  $(out webUrl)
live model version:       $(out modelVersion)

ssh to a machine (the key and host keys are in ~/.ssh/rayswarm-$stack{,.known_hosts}):
$(ssh_lines)

Ray dashboard:            $(out rayDashboardTunnel)
monitoring (Prometheus, Alertmanager, the operator page): $(out monitoringTunnel)
train a new model on the Ray cluster and promote it (ends with each production machine's gate verdict; docs/promotion.md):
  $(out trainCommand)
the model registry (versions, live, promotions): $(out modelsCommand)
promote a model folder:   $(out promoteCommand)
roll back:                $(out rollbackCommand)
stack outputs:            PULUMI_CONFIG_PASSPHRASE_FILE=$PULUMI_CONFIG_PASSPHRASE_FILE pulumi stack output --stack $stack
preview a change:         PULUMI_CONFIG_PASSPHRASE_FILE=$PULUMI_CONFIG_PASSPHRASE_FILE pulumi preview --stack $stack --config-file $cfg
tear it all down:         bash scripts/deploy-local.sh destroy
EOF
