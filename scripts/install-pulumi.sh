#!/usr/bin/env bash
# Install the Pulumi engine this project needs: the `pulumi` CLI, the Node.js language host and
# the resource plugins (command, random, tls, openstack, docker), at exactly the versions pinned
# in package.json.
#
#  - The CLI: the official release download where it is reachable; otherwise built with `go`
#    from the Go module proxy (github.com/pulumi/pulumi/pkg/v3 at the pinned version).
#  - The language host and the plugins: the official download where it is reachable; otherwise
#    built from a directory of source archives described by its manifest.json (one generic
#    recipe for every entry; see ../shared/engine/README.md): --archives DIR or
#    RAYSWARM_ENGINE_ARCHIVES. package.json must pin each SDK to its archive's version.
#
# Every built binary is cached outside the repository, keyed by its archive's sha256 (the CLI
# by its version), so a warm run only copies files and takes seconds.
#
# Usage: scripts/install-pulumi.sh [--archives DIR] [--only "cli nodejs command ..."]
#   --archives DIR   source archives with manifest.json (and SHA256SUMS)
#   --only LIST      install only these components (cli, nodejs, or plugin names)
#
# Environment (all optional):
#   RAYSWARM_CACHE            cache root                        (/var/cache/rayswarm)
#   RAYSWARM_ENGINE_ARCHIVES  same as --archives
#   RAYSWARM_ENGINE_SOURCE    auto | download | build            (auto: probe, then build)
#   RAYSWARM_PULUMI_RELEASE_URL  the CLI release tarball (a mirror); default get.pulumi.com
#   PULUMI_INSTALL_BIN        where `pulumi` and the language host go ($PULUMI_HOME/bin)
#   PULUMI_HOME               Pulumi's home; plugins go to $PULUMI_HOME/plugins (~/.pulumi)
# Exit status: 0 when every selected component is installed, 1 otherwise (the summary names it).
set -euo pipefail

log() { printf '[install-pulumi] %s\n' "$*" >&2; }
die() {
  log "ERROR: $*"
  exit 1
}

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
archives="${RAYSWARM_ENGINE_ARCHIVES:-}"
only=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --archives) archives="${2:?--archives needs a directory}"; shift ;;
    --only) only="${2:?--only needs a list}"; shift ;;
    -h | --help) sed -n '2,27p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
  shift
done
command -v node >/dev/null || die "node is required (it reads package.json and manifest.json)"

# --- versions: package.json is the one source; the engine always matches the SDKs -----------
sdk_version() {
  node -p "const p=require(process.argv[1]); ((p.dependencies||{})[process.argv[2]] || '').replace(/^[~^=v]/, '')" \
    "$repo_root/package.json" "$1"
}
PULUMI_VERSION=$(sdk_version @pulumi/pulumi)
[[ -n "$PULUMI_VERSION" ]] || die "package.json has no @pulumi/pulumi dependency"
PLUGINS=(command random tls openstack docker)
declare -A WANT=([nodejs]="$PULUMI_VERSION")
for p in "${PLUGINS[@]}"; do
  WANT[$p]=$(sdk_version "@pulumi/$p")
  [[ -n "${WANT[$p]}" ]] || die "package.json has no @pulumi/$p dependency"
done

# --- locations -------------------------------------------------------------------------------
CACHE_ROOT="${RAYSWARM_CACHE:-/var/cache/rayswarm}/pulumi"
export PULUMI_HOME="${PULUMI_HOME:-$HOME/.pulumi}"
BIN_DIR="${PULUMI_INSTALL_BIN:-$PULUMI_HOME/bin}"
export PULUMI_SKIP_UPDATE_CHECK=true
mkdir -p "$CACHE_ROOT" "$BIN_DIR" "$PULUMI_HOME/plugins" ||
  die "cannot create $CACHE_ROOT or $BIN_DIR (set RAYSWARM_CACHE / PULUMI_INSTALL_BIN)"
exec 9>"$CACHE_ROOT/.lock" # one run at a time per cache
flock -n 9 || { log "another install-pulumi.sh holds $CACHE_ROOT/.lock; waiting"; flock 9; }

selected() { [[ -z "$only" || " $only " == *" $1 "* ]]; }
go_env() {
  command -v go >/dev/null || die "go is not installed: it is needed to build the Pulumi engine here"
  export GOFLAGS="${GOFLAGS:--buildvcs=false}"
}

# --- the official download (probed once) --------------------------------------------------------
arch() { case "$(uname -m)" in x86_64 | amd64) echo x64 ;; aarch64 | arm64) echo arm64 ;; *) die "unsupported CPU $(uname -m)" ;; esac; }
release_url="${RAYSWARM_PULUMI_RELEASE_URL:-https://get.pulumi.com/releases/sdk/pulumi-v${PULUMI_VERSION}-linux-$(arch).tar.gz}"
probe=""
download_reachable() {
  if [[ -z "$probe" ]]; then
    case "${RAYSWARM_ENGINE_SOURCE:-auto}" in
      build) probe=no ;;
      download) probe=yes ;;
      *)
        probe=no
        curl -fsSI --max-time "${RAYSWARM_PROBE_TIMEOUT:-5}" -o /dev/null "$release_url" 2>/dev/null && probe=yes
        log "official download reachable: $probe ($release_url)"
        ;;
    esac
  fi
  [[ "$probe" == yes ]]
}

# cached FILE STAMP: the binary exists and was made from what STAMP says
cached() { [[ -x "$1" && -f "$1.stamp" && "$(cat "$1.stamp")" == "$2" ]]; }
install_bin() { cmp -s "$1" "$BIN_DIR/$(basename "$1")" 2>/dev/null || install -m 0755 "$1" "$BIN_DIR/"; }

# --- the CLI -----------------------------------------------------------------------------------
CLI_DIR="$CACHE_ROOT/cli-v$PULUMI_VERSION"
do_cli() {
  local out="$CLI_DIR/pulumi" stamp="pulumi v$PULUMI_VERSION"
  if cached "$out" "$stamp"; then how=cached; install_bin "$out"; return 0; fi
  mkdir -p "$CLI_DIR"
  if download_reachable; then
    local tmp
    tmp=$(mktemp -d)
    if ! curl -fsSL --max-time 300 "$release_url" -o "$tmp/p.tgz" || ! tar -xzf "$tmp/p.tgz" -C "$tmp"; then
      rm -rf "$tmp"
      log "cli: download of $release_url failed"
      return 1
    fi
    install -m 0755 "$tmp/pulumi/pulumi" "$out"
    # The release carries the Node.js language host too.
    [[ -x "$tmp/pulumi/pulumi-language-nodejs" ]] && install -m 0755 "$tmp/pulumi/pulumi-language-nodejs" "$CLI_DIR/"
    rm -rf "$tmp"
    how=downloaded
  else
    log "cli: building pulumi v$PULUMI_VERSION from the Go module proxy (cold: 8-14 minutes)"
    go_env
    local work="$CACHE_ROOT/src/cli-v$PULUMI_VERSION"
    rm -rf "$work" && mkdir -p "$work"
    # A wrapper module: the CLI is github.com/pulumi/pulumi/pkg/v3/cmd/pulumi, whose go.mod
    # replaces sdk/v3 with a relative path; pin it to the released module of the same version.
    if ! (
      cd "$work"
      printf 'module rayswarm.local/build/pulumi\n\ngo 1.24\n' >go.mod
      printf '//go:build tools\n\npackage tools\n\nimport _ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"\n' >tools.go
      go mod edit -require="github.com/pulumi/pulumi/pkg/v3@v$PULUMI_VERSION" \
        -require="github.com/pulumi/pulumi/sdk/v3@v$PULUMI_VERSION"
      pkgmod=$(go mod download -json "github.com/pulumi/pulumi/pkg/v3@v$PULUMI_VERSION" | node -e \
        'process.stdout.write(JSON.parse(require("fs").readFileSync(0,"utf8")).GoMod||"")')
      # go ignores a dependency's replace directives; copy the non-local ones.
      # shellcheck disable=SC2016 # JavaScript, not shell
      go mod edit -json "$pkgmod" | node -e '
        const j = JSON.parse(require("fs").readFileSync(0, "utf8"));
        for (const r of j.Replace || []) if (!r.New.Path.startsWith(".") && !r.Old.Version)
          console.log(`-replace=${r.Old.Path}=${r.New.Path}${r.New.Version ? "@" + r.New.Version : ""}`);' |
        xargs -r go mod edit
      go mod tidy
      go build -trimpath -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$PULUMI_VERSION" \
        -o "$out.tmp" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
    ) >"$work/build.log" 2>&1; then
      log "cli: build FAILED; last lines of $work/build.log:"
      grep -v '^go: downloading' "$work/build.log" | tail -n 12 | sed 's/^/    /' >&2
      return 1
    fi
    mv -f "$out.tmp" "$out"
    how=built
  fi
  echo "$stamp" >"$out.stamp"
  install_bin "$out"
}

# --- the language host and the plugins, from the archives' manifest -----------------------------
# manifest_entry NAME -> "kind version archive dir package binary versionVar versionValue generate sha256"
manifest_entry() {
  node -e '
    const fs = require("fs"), path = require("path");
    const [dir, name] = process.argv.slice(1);
    const m = JSON.parse(fs.readFileSync(path.join(dir, "manifest.json"), "utf8"));
    const e = m.find((e) => e.name === name);
    if (!e) process.exit(3);
    let sha = "";
    const sums = path.join(dir, "SHA256SUMS");
    if (fs.existsSync(sums))
      for (const l of fs.readFileSync(sums, "utf8").split("\n")) {
        const [h, f] = l.trim().split(/\s+/);
        if (f && path.basename(f) === e.archive) sha = h;
      }
    console.log([e.kind, e.version, e.archive, e.dir, e.package, e.binary, e.versionVar, e.versionValue, e.generate, sha].join(" "));
  ' "$archives" "$1"
}

# build_from_archive NAME: sets BUILT to the cached binary, building it when not cached
build_from_archive() {
  local name=$1 entry
  entry=$(manifest_entry "$name") || { log "$name: no entry named '$name' in $archives/manifest.json"; return 1; }
  local _kind version archive dir package binary vvar vval generate sha
  read -r _kind version archive dir package binary vvar vval generate sha <<<"$entry"
  [[ "$version" == "${WANT[$name]}" ]] || {
    log "$name: package.json pins ${WANT[$name]} but $archives has $version: pin @pulumi/$name to $version"
    return 1
  }
  local file="$archives/$archive" actual
  [[ -f "$file" ]] || { log "$name: $file is missing"; return 1; }
  actual=$(sha256sum "$file" | cut -d' ' -f1)
  [[ -z "$sha" || "$sha" == "$actual" ]] || { log "$name: $file does not match SHA256SUMS ($actual != $sha)"; return 1; }
  local out="$CACHE_ROOT/archives/$actual/$binary"
  BUILT=$out
  if cached "$out" "$archive $actual"; then
    how=cached
    return 0
  fi
  go_env
  local work="$CACHE_ROOT/src/${archive%.tar.gz}" t0=$SECONDS
  log "$name: building $binary $version from $archive (cold: 1-5 minutes each)"
  rm -rf "$work" && mkdir -p "$work" "$(dirname "$out")"
  tar -xzf "$file" -C "$work"
  local src="$work/${archive%.tar.gz}/$dir"
  if ! (
    set -e
    if [[ "$generate" == true ]]; then (cd "$src/cmd/$binary" && VERSION="$vval" go run generate.go); fi
    cd "$src" && go build -trimpath -ldflags "-s -w -X $vvar=$vval" -o "$out.tmp" "$package"
  ) >"$work.log" 2>&1; then
    log "$name: build FAILED; last lines of $work.log:"
    grep -v '^go: downloading' "$work.log" | tail -n 12 | sed 's/^/    /' >&2
    return 1
  fi
  mv -f "$out.tmp" "$out"
  echo "$archive $actual" >"$out.stamp"
  rm -rf "$work"
  log "$name: built in $((SECONDS - t0))s"
  how=built
}

plugin_installed() { [[ -x "$PULUMI_HOME/plugins/resource-$1-v$2/pulumi-resource-$1" && ! -e "$PULUMI_HOME/plugins/resource-$1-v$2.partial" ]]; }

do_nodejs() {
  if [[ -x "$CLI_DIR/pulumi-language-nodejs" && ! -f "$CLI_DIR/pulumi-language-nodejs.stamp" ]]; then
    how=downloaded # came with the release tarball
    install_bin "$CLI_DIR/pulumi-language-nodejs"
    return 0
  fi
  [[ -n "$archives" ]] || { log "nodejs: no release download and no --archives DIR to build the language host from"; return 1; }
  build_from_archive nodejs || return 1
  install_bin "$BUILT"
}

do_plugin() {
  local name=$1 ver=${WANT[$1]}
  if plugin_installed "$name" "$ver"; then how=installed; return 0; fi
  if [[ -z "$archives" ]]; then
    download_reachable || { log "$name: no release download and no --archives DIR to build it from"; return 1; }
    [[ -x "$BIN_DIR/pulumi" ]] || { log "$name: the pulumi CLI is needed to install plugins"; return 1; }
    "$BIN_DIR/pulumi" plugin install resource "$name" "$ver" && how=downloaded
    return
  fi
  build_from_archive "$name" || return 1
  [[ -x "$BIN_DIR/pulumi" ]] || { log "$name: built, but the pulumi CLI is needed to install it"; return 1; }
  "$BIN_DIR/pulumi" plugin install resource "$name" "$ver" --file "$BUILT" >/dev/null ||
    { log "$name: pulumi plugin install resource $name $ver --file $BUILT FAILED"; return 1; }
}

# --- run -----------------------------------------------------------------------------------
if [[ -n "$archives" ]]; then
  [[ -f "$archives/manifest.json" ]] || die "--archives $archives: no manifest.json there"
  archives=$(cd "$archives" && pwd)
fi
log "Pulumi v$PULUMI_VERSION; plugins: $(for p in "${PLUGINS[@]}"; do printf '%s %s  ' "$p" "${WANT[$p]}"; done)"
log "cache: $CACHE_ROOT  bin: $BIN_DIR  archives: ${archives:-none}"
declare -A RESULT=()
failed=()
BUILT=""
total0=$SECONDS
for comp in cli nodejs "${PLUGINS[@]}"; do
  selected "$comp" || continue
  how="" t0=$SECONDS
  case "$comp" in
    cli) do_cli && ok=1 || ok=0 ;;
    nodejs) do_nodejs && ok=1 || ok=0 ;;
    *) do_plugin "$comp" && ok=1 || ok=0 ;;
  esac
  if ((ok)); then RESULT[$comp]="ok ($how) in $((SECONDS - t0))s"; else RESULT[$comp]="FAILED after $((SECONDS - t0))s"; failed+=("$comp"); fi
  log "$comp ${WANT[$comp]:-$PULUMI_VERSION}: ${RESULT[$comp]}"
  printf '%s %s %s\n' "$(date -u +%FT%TZ)" "$comp" "${RESULT[$comp]}" >>"$CACHE_ROOT/timings.log"
done
log "done in $((SECONDS - total0))s; add the CLI to your PATH: export PATH=\"$BIN_DIR:\$PATH\""
if ((${#failed[@]})); then
  log "NOT installed: ${failed[*]}"
  exit 1
fi
