#!/usr/bin/env bash
# Most functions run through `timed`, which shellcheck cannot follow (SC2317).
# shellcheck disable=SC2317
# Install the Pulumi engine this project needs: the `pulumi` CLI, the Node.js
# language host and the resource plugins, at the versions pinned in package.json.
#
# Where the official release download is reachable it is used. Where it is not
# (machines that reach only package registries), every binary is built with `go`
# from the Go module proxy and cached outside the repository, so a second run
# only copies files and takes seconds.
#
# Usage: scripts/install-pulumi.sh [--allow-missing] [--only "cli language-nodejs ..."]
#   --allow-missing  exit 0 even if a required component could not be installed
#                    (the summary still names it, and the exit code is 0)
#   --only LIST      install only these components (space separated)
#
# Environment (all optional):
#   RAYSWARM_CACHE          cache root                      (/var/cache/rayswarm)
#   PULUMI_INSTALL_BIN      where `pulumi` and language hosts go ($HOME/.pulumi/bin)
#   PULUMI_HOME             Pulumi's home; plugins go to $PULUMI_HOME/plugins (~/.pulumi)
#   RAYSWARM_ENGINE_SOURCE  auto | download | build           (auto: probe, then build)
#   RAYSWARM_PULUMI_RELEASE_URL  the release tarball to download (a mirror); default get.pulumi.com
#   RAYSWARM_ENGINE_REQUIRED  components whose failure fails the script
#                           (cli language-nodejs command random tls openstack)
#   RAYSWARM_MODVER_<COMPONENT>  Go module version to build a component from when
#                           the release tag is not served, e.g. a pseudo-version
#                           RAYSWARM_MODVER_LANGUAGE_NODEJS=v3.0.0-20260624180030-0123456789ab
#   RAYSWARM_YAML_VERSION   pulumi-yaml module version for the YAML language host (v1.25.0)
set -euo pipefail

readonly ALL_COMPONENTS="cli language-nodejs language-yaml command random tls openstack docker"

log() { printf '[install-pulumi] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
allow_missing=0
only=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --allow-missing) allow_missing=1 ;;
    --only) only="${2:?--only needs a list}"; shift ;;
    -h | --help) sed -n '4,28p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
  shift
done

command -v node >/dev/null || die "node is required to read the SDK versions from package.json"

# --- versions: read from package.json so the engine always matches the SDKs ------------
sdk_version() {
  node -p "const p=require(process.argv[1]); (p.dependencies||{})[process.argv[2]] || (p.devDependencies||{})[process.argv[2]] || ''" \
    "$repo_root/package.json" "$1"
}
PULUMI_VERSION=$(sdk_version @pulumi/pulumi)
[[ -n "$PULUMI_VERSION" ]] || die "package.json has no @pulumi/pulumi dependency"
PULUMI_VERSION=${PULUMI_VERSION#[~^=v]}
declare -A PLUGIN_VERSION=()
for p in command random tls openstack docker; do
  v=$(sdk_version "@pulumi/$p")
  PLUGIN_VERSION[$p]=${v#[~^=v]}
done
YAML_VERSION=${RAYSWARM_YAML_VERSION:-v1.25.0}

# --- locations ---------------------------------------------------------------------------
CACHE_ROOT="${RAYSWARM_CACHE:-/var/cache/rayswarm}/pulumi"
BIN_CACHE="$CACHE_ROOT/$PULUMI_VERSION/bin"
PLUGIN_CACHE="$CACHE_ROOT/plugins"
SRC_DIR="$CACHE_ROOT/src"
BIN_DIR="${PULUMI_INSTALL_BIN:-$HOME/.pulumi/bin}"
export PULUMI_HOME="${PULUMI_HOME:-$HOME/.pulumi}"
export PULUMI_SKIP_UPDATE_CHECK=true
mkdir -p "$BIN_CACHE" "$PLUGIN_CACHE" "$SRC_DIR" "$BIN_DIR" "$PULUMI_HOME/plugins" ||
  die "cannot create the cache ($CACHE_ROOT) or bin dir ($BIN_DIR); set RAYSWARM_CACHE / PULUMI_INSTALL_BIN"

# One run at a time per cache (several shells may share a machine).
exec 9>"$CACHE_ROOT/.lock"
if ! flock -n 9; then
  log "another install-pulumi.sh holds $CACHE_ROOT/.lock; waiting"
  flock 9
fi

declare -A RESULT=() SECONDS_TAKEN=()
FAILED=()

is_selected() {
  [[ -z "$only" ]] && return 0
  [[ " $only " == *" $1 "* ]]
}

# --- official download -------------------------------------------------------------------
arch() {
  case "$(uname -m)" in
    x86_64 | amd64) echo x64 ;;
    aarch64 | arm64) echo arm64 ;;
    *) die "unsupported CPU $(uname -m)" ;;
  esac
}
release_url="${RAYSWARM_PULUMI_RELEASE_URL:-https://get.pulumi.com/releases/sdk/pulumi-v${PULUMI_VERSION}-linux-$(arch).tar.gz}"

probe_result=""
download_reachable() { # probed once per run, with a short timeout
  if [[ -z "$probe_result" ]]; then
    case "${RAYSWARM_ENGINE_SOURCE:-auto}" in
      build) probe_result=no ;;
      download) probe_result=yes ;;
      *)
        probe_result=no
        if command -v curl >/dev/null &&
          curl -fsSI --max-time "${RAYSWARM_PROBE_TIMEOUT:-5}" -o /dev/null "$release_url" 2>/dev/null; then
          probe_result=yes
        fi
        log "official download $release_url reachable: $probe_result"
        ;;
    esac
  fi
  [[ "$probe_result" == yes ]]
}

download_cli() {
  local tmp
  tmp=$(mktemp -d)
  if curl -fsSL --max-time 300 "$release_url" -o "$tmp/pulumi.tgz" && tar -xzf "$tmp/pulumi.tgz" -C "$tmp"; then
    install -m 0755 "$tmp"/pulumi/* "$BIN_CACHE"/
    rm -rf "$tmp"
    # The release tarball carries the language hosts too: mark them as cached.
    local f
    for f in pulumi-language-nodejs pulumi-language-yaml; do
      [[ -x "$BIN_CACHE/$f" ]] && echo "release v$PULUMI_VERSION" >"$BIN_CACHE/$f.stamp"
    done
    return 0
  fi
  rm -rf "$tmp"
  return 1
}

# --- building from Go modules --------------------------------------------------------------
go_env() {
  # -buildvcs=false: the wrapper modules are not repositories.
  export GOFLAGS="${GOFLAGS:--buildvcs=false}"
  export GOPROXY="${GOPROXY:-https://proxy.golang.org,direct}"
  command -v go >/dev/null || die "go is not installed: it is needed to build the Pulumi engine here"
}

# modver COMPONENT DEFAULT -> the module version to build from (override by env)
modver() {
  local var="RAYSWARM_MODVER_${1^^}"
  var=${var//-/_}
  printf '%s' "${!var:-$2}"
}

# build_go COMPONENT MODULE VERSION PACKAGE OUTPUT LDFLAGS [EMBED_DIR_IN_MODULE]
# Builds PACKAGE from MODULE@VERSION in a throwaway wrapper module under $SRC_DIR:
#  - the module's non-local `replace` directives are copied (go ignores a dependency's
#    replaces, but pulumi modules and bridged providers rely on them);
#  - local replaces of pulumi's own sdk/pkg are pinned to v$PULUMI_VERSION;
#  - with EMBED_DIR, the module is copied into the wrapper and the files that are
#    generated at release time and //go:embed-ed (schema-embed.json,
#    bridge-metadata.json) are generated from the committed schema.json.
build_go() {
  local comp=$1 mod=$2 ver=$3 pkg=$4 out=$5 ldflags=$6 embed_dir=${7:-}
  local work="$SRC_DIR/$comp-$ver" log_file
  log_file="$work/build.log"
  rm -rf "$work"
  mkdir -p "$work"
  : >"$log_file"
  go_env

  local info
  if ! info=$(go mod download -json "$mod@$ver" 2>>"$log_file"); then
    report_build_failure "$comp" "go mod download -json $mod@$ver" "$log_file" "$info"
    return 1
  fi
  local dir gomod
  dir=$(node -e 'const j=JSON.parse(require("fs").readFileSync(0,"utf8")); process.stdout.write(j.Dir||"")' <<<"$info")
  gomod=$(node -e 'const j=JSON.parse(require("fs").readFileSync(0,"utf8")); process.stdout.write(j.GoMod||"")' <<<"$info")
  [[ -n "$dir" && -f "$gomod" ]] || { report_build_failure "$comp" "go mod download -json $mod@$ver" "$log_file" "$info"; return 1; }

  (
    cd "$work"
    cat >go.mod <<EOF
module rayswarm.local/build/$comp

go $(go mod edit -json "$gomod" | node -e 'const j=JSON.parse(require("fs").readFileSync(0,"utf8")); process.stdout.write(j.Go||"1.22")')
EOF
    printf '//go:build tools\n\npackage tools\n\nimport _ "%s"\n' "$pkg" >tools.go
    go mod edit -require="$mod@$ver"
    if [[ "$mod" == github.com/pulumi/pulumi/* ]]; then
      go mod edit -require="github.com/pulumi/pulumi/sdk/v3@v$PULUMI_VERSION" \
        -require="github.com/pulumi/pulumi/pkg/v3@v$PULUMI_VERSION"
    fi
    # Copy the dependency's replace directives.
    local old new nver
    while IFS=$'\t' read -r old new nver; do
      [[ -z "$old" ]] && continue
      if [[ "$new" == .* || "$new" == /* ]]; then
        case "$old" in
          github.com/pulumi/pulumi/sdk/v3 | github.com/pulumi/pulumi/pkg/v3)
            go mod edit -require="$old@v$PULUMI_VERSION" -replace="$old=$old@v$PULUMI_VERSION" ;;
          *) # A sibling module of the same repository (e.g. the provider's sdk): keep the
            # version the module requires, or the one being built for a placeholder.
            local req
            req=$(go mod edit -json "$gomod" | node -e '
              const j = JSON.parse(require("fs").readFileSync(0, "utf8"));
              const r = (j.Require || []).find((r) => r.Path === process.argv[1]);
              process.stdout.write(r ? r.Version : "");' "$old")
            if [[ -z "$req" || "$req" == *-00010101000000-* ]]; then
              echo "local replace $old => $new: using $old@$ver"
              go mod edit -require="$old@$ver"
            else
              echo "local replace $old => $new: using the required $old@$req"
            fi ;;
        esac
      else
        go mod edit -replace="$old=$new${nver:+@$nver}"
      fi
    done < <(go mod edit -json "$gomod" | node -e '
      const j = JSON.parse(require("fs").readFileSync(0, "utf8"));
      for (const r of j.Replace || []) {
        if (r.Old.Version) continue; // version-specific replaces are rare; skip
        console.log([r.Old.Path, r.New.Path, r.New.Version || ""].join("\t"));
      }')

    if [[ -n "$embed_dir" ]]; then
      cp -r "$dir" ./mod
      chmod -R u+w ./mod
      go mod edit -replace="$mod=./mod"
      generate_embeds "./mod/$embed_dir" "$ver" || exit 4
    fi
    go mod tidy
  ) >>"$log_file" 2>&1 || {
    report_build_failure "$comp" "go mod tidy (wrapper module $work)" "$log_file"
    return 1
  }

  if ! (cd "$work" && go build -trimpath -ldflags "-s -w $ldflags" -o "$out.tmp" "$pkg") >>"$log_file" 2>&1; then
    report_build_failure "$comp" "go build $pkg (in $work)" "$log_file"
    return 1
  fi
  mv -f "$out.tmp" "$out"
}

# Provider binaries //go:embed files that their release builds generate (cmd/*/generate.go)
# and that are therefore not in the module zip: schema-embed.json (the committed schema.json
# with the version set, minified), bridge-metadata.json for Terraform-bridged providers, and
# the like. Generate every missing X-embed.json from the committed X.json.
generate_embeds() {
  local d=$1 ver=${2#v} name src
  for name in $(sed -n 's|^//go:embed[[:space:]]\{1,\}||p' "$d"/*.go | tr ' ' '\n' | sort -u); do
    [[ -e "$d/$name" ]] && continue
    src="$d/${name%-embed.json}.json"
    if [[ "$name" == *-embed.json && -f "$src" ]]; then
      node -e '
        const fs = require("fs");
        const [src, dst, version] = process.argv.slice(1);
        const doc = JSON.parse(fs.readFileSync(src, "utf8"));
        if (dst.endsWith("schema-embed.json")) doc.version = version;
        fs.writeFileSync(dst, JSON.stringify(doc));' "$src" "$d/$name" "$ver"
      echo "generated $d/$name from $(basename "$src") (version $ver)"
    elif [[ "$name" == bridge-metadata.json ]]; then
      echo '{}' >"$d/$name"
      echo "WARNING: $d/$name is not in the module; using an empty one (no auto-aliasing history)"
    else
      echo "cannot generate //go:embed $name in $d: no ${name%-embed.json}.json to generate it from" >&2
      return 1
    fi
  done
}

report_build_failure() {
  local comp=$1 cmd=$2 log_file=$3 extra=${4:-}
  log "FAILED to build '$comp': $cmd"
  if [[ -n "$extra" ]]; then
    printf '%s\n' "$extra" | grep -E '"Error"' | sed 's/^/    /' >&2 || true
  fi
  grep -v '^go: downloading' "$log_file" | tail -n 8 | sed 's/^/    /' >&2 || true
  log "  full log: $log_file"
}

# --- components ----------------------------------------------------------------------------
# A component is cached when its binary exists and its stamp (what it was built from) matches.
cached() { [[ -x "$1" && -f "$1.stamp" && "$(cat "$1.stamp")" == "$2" ]]; }

# How the last component was obtained: cached | built | downloaded (set by the do_* functions).
how=cached
timed() {
  local comp=$1
  shift
  local t0=$SECONDS
  how=cached
  if "$@"; then
    RESULT[$comp]="ok:$how"
  else
    RESULT[$comp]=FAILED
    FAILED+=("$comp")
  fi
  SECONDS_TAKEN[$comp]=$((SECONDS - t0))
}

install_bin() { # copy a cached binary into BIN_DIR unless identical
  local src=$1 dst
  dst="$BIN_DIR/$(basename "$1")"
  cmp -s "$src" "$dst" 2>/dev/null || install -m 0755 "$src" "$dst"
}

version_ldflag="-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$PULUMI_VERSION"

do_cli() {
  local out="$BIN_CACHE/pulumi" stamp
  stamp="pkg/v3@v$PULUMI_VERSION"
  if ! cached "$out" "$stamp"; then
    if download_reachable; then
      log "cli: downloading $release_url"
      download_cli || { log "FAILED to download the CLI from $release_url"; return 1; }
      how=downloaded
    else
      log "cli: official download not reachable; building pulumi v$PULUMI_VERSION from Go modules (takes minutes)"
      build_go cli github.com/pulumi/pulumi/pkg/v3 "v$PULUMI_VERSION" \
        github.com/pulumi/pulumi/pkg/v3/cmd/pulumi "$out" "$version_ldflag" || return 1
      how=built
    fi
    echo "$stamp" >"$out.stamp"
  fi
  install_bin "$out"
}

do_language_nodejs() {
  local out="$BIN_CACHE/pulumi-language-nodejs" ver
  ver=$(modver language-nodejs "v$PULUMI_VERSION")
  if ! cached "$out" "sdk/nodejs/cmd/pulumi-language-nodejs/v3@$ver" && ! cached "$out" "release v$PULUMI_VERSION" &&
    ! cached "$out" "sdk/v3@$LANGHOST_SDK_VERSION/nodejs/cmd/pulumi-language-nodejs"; then
    if download_reachable; then
      download_cli || { log "FAILED to download $release_url"; return 1; }
      how=downloaded
    else
      # The module has no tags of its own: build it by the pseudo-version of the
      # v$PULUMI_VERSION release commit (RAYSWARM_MODVER_LANGUAGE_NODEJS).
      log "language-nodejs: building github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3@$ver"
      if build_go language-nodejs github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3 "$ver" \
        github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3 "$out" "$version_ldflag"; then
        how=built
        echo "sdk/nodejs/cmd/pulumi-language-nodejs/v3@$ver" >"$out.stamp"
      else
        log "  language-nodejs: set RAYSWARM_MODVER_LANGUAGE_NODEJS to the pseudo-version of the v$PULUMI_VERSION commit if the proxy serves it"
        build_language_nodejs_from_sdk "$out" || return 1
        how="built (from sdk/v3@$LANGHOST_SDK_VERSION)"
      fi
    fi
  fi
  install_bin "$out"
}

# Fallback: until sdk v3.68.0 the Node.js language host was a package of the sdk/v3 module
# itself (github.com/pulumi/pulumi/sdk/v3/nodejs/cmd/pulumi-language-nodejs), which the proxy
# serves. Its gRPC contract is the one the engine still speaks, and it runs the program with
# the project's own @pulumi/pulumi (3.248.0) — tests/engine/program.test.ts runs this project
# under it. Built in its own wrapper module (sdk/v3 pinned to that version, nothing else).
LANGHOST_SDK_VERSION=${RAYSWARM_LANGHOST_SDK_VERSION:-v3.68.0}
build_language_nodejs_from_sdk() {
  local out=$1 work="$SRC_DIR/language-nodejs-sdk-$LANGHOST_SDK_VERSION" pkg=github.com/pulumi/pulumi/sdk/v3/nodejs/cmd/pulumi-language-nodejs
  if cached "$out" "sdk/v3@$LANGHOST_SDK_VERSION/nodejs/cmd/pulumi-language-nodejs"; then return 0; fi
  log "language-nodejs: building $pkg from github.com/pulumi/pulumi/sdk/v3@$LANGHOST_SDK_VERSION (the last release that ships it inside the sdk module)"
  rm -rf "$work"
  mkdir -p "$work"
  go_env
  if ! (
    cd "$work"
    printf 'module rayswarm.local/build/language-nodejs-sdk\n\ngo 1.21\n' >go.mod
    printf '//go:build tools\n\npackage tools\n\nimport _ "%s"\n' "$pkg" >tools.go
    go mod edit -require="github.com/pulumi/pulumi/sdk/v3@$LANGHOST_SDK_VERSION"
    go mod tidy
    go build -trimpath -ldflags "-s -w" -o "$out.tmp" "$pkg"
  ) >"$work/build.log" 2>&1; then
    report_build_failure language-nodejs "go build $pkg (sdk/v3@$LANGHOST_SDK_VERSION, in $work)" "$work/build.log"
    return 1
  fi
  mv -f "$out.tmp" "$out"
  echo "sdk/v3@$LANGHOST_SDK_VERSION/nodejs/cmd/pulumi-language-nodejs" >"$out.stamp"
}

# The YAML language host (pulumi-yaml): not needed by this program, but it lets the
# engine be smoke-tested (preview/up) without any resource plugin.
do_language_yaml() {
  local out="$BIN_CACHE/pulumi-language-yaml"
  if ! cached "$out" "pulumi-yaml@$YAML_VERSION" && ! cached "$out" "release v$PULUMI_VERSION"; then
    log "language-yaml: building github.com/pulumi/pulumi-yaml@$YAML_VERSION"
    build_go language-yaml github.com/pulumi/pulumi-yaml "$YAML_VERSION" \
      github.com/pulumi/pulumi-yaml/cmd/pulumi-language-yaml "$out" "" || return 1
    how=built
    echo "pulumi-yaml@$YAML_VERSION" >"$out.stamp"
  fi
  install_bin "$out"
}

# resource plugins: NAME -> module (major suffix added below), binary package, embed dir
provider_module() {
  local name=$1 major=${PLUGIN_VERSION[$1]%%.*}
  local base="github.com/pulumi/pulumi-$name/provider"
  [[ "$major" -ge 2 ]] && base="$base/v$major"
  printf '%s' "$base"
}

plugin_installed() { # NAME VERSION
  [[ -x "$PULUMI_HOME/plugins/resource-$1-v$2/pulumi-resource-$1" && ! -e "$PULUMI_HOME/plugins/resource-$1-v$2.partial" ]]
}

do_plugin() {
  local name=$1 ver=${PLUGIN_VERSION[$1]:-}
  [[ -n "$ver" ]] || { log "$name: no @pulumi/$name in package.json; skipped"; return 0; }
  plugin_installed "$name" "$ver" && return 0
  local pulumi="$BIN_DIR/pulumi"
  [[ -x "$pulumi" ]] || { log "$name: the pulumi CLI is needed to install plugins"; return 1; }

  local out="$PLUGIN_CACHE/resource-$name-v$ver/pulumi-resource-$name"
  local mod modv embed stamp
  mod=$(provider_module "$name")
  modv=$(modver "$name" "v$ver")
  stamp="$mod@$modv"
  if ! cached "$out" "$stamp"; then
    if download_reachable; then
      log "$name: pulumi plugin install resource $name $ver"
      how=downloaded
      "$pulumi" plugin install resource "$name" "$ver" && return 0
      log "FAILED: pulumi plugin install resource $name $ver"
      return 1
    fi
    mkdir -p "$(dirname "$out")"
    # Bridged providers (random, tls, openstack, docker) //go:embed generated files;
    # generate_embeds creates whichever are missing (none for native ones like command).
    embed="cmd/pulumi-resource-$name"
    log "$name: building $mod@$modv"
    build_go "$name" "$mod" "$modv" "$mod/cmd/pulumi-resource-$name" "$out" \
      "-X $mod/pkg/version.Version=$ver" ${embed:+"$embed"} || return 1
    how=built
    echo "$stamp" >"$out.stamp"
  fi
  "$pulumi" plugin install resource "$name" "$ver" --file "$out" >/dev/null ||
    { log "FAILED: pulumi plugin install resource $name $ver --file $out"; return 1; }
}

# --- run -----------------------------------------------------------------------------------
log "Pulumi v$PULUMI_VERSION; plugins: command ${PLUGIN_VERSION[command]:-} random ${PLUGIN_VERSION[random]:-} tls ${PLUGIN_VERSION[tls]:-} openstack ${PLUGIN_VERSION[openstack]:-} docker ${PLUGIN_VERSION[docker]:-}"
log "cache: $CACHE_ROOT   bin: $BIN_DIR   plugins: $PULUMI_HOME/plugins"
for comp in $ALL_COMPONENTS; do
  is_selected "$comp" || continue
  case "$comp" in
    cli) timed cli do_cli ;;
    language-nodejs) timed "$comp" do_language_nodejs ;;
    language-yaml) timed "$comp" do_language_yaml ;;
    *) timed "$comp" do_plugin "$comp" ;;
  esac
  log "$comp: ${RESULT[$comp]} in ${SECONDS_TAKEN[$comp]}s"
  printf '%s %s %s %ss\n' "$(date -u +%FT%TZ)" "$comp" "${RESULT[$comp]}" "${SECONDS_TAKEN[$comp]}" >>"$CACHE_ROOT/timings.log"
done

log "summary:"
for comp in $ALL_COMPONENTS; do
  [[ -n "${RESULT[$comp]:-}" ]] && log "  $(printf '%-16s %-14s %5ss' "$comp" "${RESULT[$comp]}" "${SECONDS_TAKEN[$comp]}")"
done
log "add the CLI to your PATH:  export PATH=\"$BIN_DIR:\$PATH\""

required=" ${RAYSWARM_ENGINE_REQUIRED:-cli language-nodejs command random tls openstack} "
missing=()
for comp in "${FAILED[@]}"; do
  [[ "$required" == *" $comp "* ]] && missing+=("$comp")
done
if [[ ${#missing[@]} -gt 0 ]]; then
  log "required components not installed: ${missing[*]}"
  [[ $allow_missing -eq 1 ]] || exit 1
fi
exit 0
