#!/usr/bin/env bash
# The program against the control plane (tests/openstack/control-plane.sh), with the real engine:
# a dev-like stack (Pulumi.dev.yaml's config + rayswarm:deploy: infrastructure) in a throwaway
# file backend is deployed, checked against the API (tests/openstack/check_deployment.py: every
# server ACTIVE on its port at its planned address, the security-group rules as neutron stores
# them, floating IPs, anti-affinity groups), previewed for no changes, scaled out (rayWorkers
# 1 -> 2: the plan only creates, and nothing that existed changes), destroyed (nothing of the
# stack is left) and removed. The first up deploys the program of the base commit (BASE_COMMIT,
# the last one before #15's restructure, which renamed the security rules and parented every
# OpenStack resource under a component); then the program of MIDDLE_COMMIT (the last one before
# short names), then this one. Each preview over the deployment before must hold no replace and
# no delete (aliases carry every renamed or moved resource; this program's creates nothing), and
# each up must leave every port, server and rule as it was (same ids, same revisions). Needs the member project's OS_* variables
# (eval "$(bash tests/openstack/control-plane.sh env)") and the engine (scripts/install-pulumi.sh).
#
# Wall times go to stdout as `time <step> <seconds>` lines (and to $RAYSWARM_OPENSTACK_TIMES).
set -euo pipefail
: "${OS_AUTH_URL:?run: eval \"\$(bash tests/openstack/control-plane.sh env)\"}"
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE=$REPO/tests/openstack
STACK=${RAYSWARM_OPENSTACK_STACK:-osci}
BASE_COMMIT=${RAYSWARM_OPENSTACK_BASE:-03aff1e}
# the last commit before short names (components/core/names.ts): the stack is upgraded through it
MIDDLE_COMMIT=${RAYSWARM_OPENSTACK_MIDDLE:-73e9b66}
PROGRAM=$REPO # the program `pulumi_` runs: the base commit's for the first up, then this one
OSC=/usr/bin/openstack
export PATH=${PULUMI_HOME:-$HOME/.pulumi}/bin:$PATH
W=$(mktemp -d /tmp/rayswarm-openstack-pulumi.XXXXXX)
export PULUMI_BACKEND_URL=file://$W/state PULUMI_CONFIG_PASSPHRASE=rayswarm-openstack-test
export PULUMI_SKIP_UPDATE_CHECK=true PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
SETTINGS=$W/Pulumi.$STACK.yaml
CFG='{"adminCidr":"203.0.113.0/24","clusterCidr":"10.42.0.0/24","servingPort":8080}'
LOG=$W/pulumi.log
mkdir -p "$W/state" "$W/scratch"

log() { printf '[pulumi-openstack %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
fail() {
  log "FAIL: $*"
  exit 1
}
timed() { # timed STEP CMD...: runs CMD, records its wall time
  local step=$1 t0=$SECONDS
  shift
  "$@"
  echo "time $step $((SECONDS - t0))" >&2
  [[ -z ${RAYSWARM_OPENSTACK_TIMES:-} ]] || echo "$step $((SECONDS - t0))" >>"$RAYSWARM_OPENSTACK_TIMES"
}
pulumi_() { # pulumi_ ARGS...: in the project folder, on the test stack, logged (PULUMI_LIMIT=seconds: interrupted after that)
  echo "\$ pulumi $*" >>"$LOG"
  local limit=()
  [[ -z ${PULUMI_LIMIT:-} ]] || limit=(timeout -s INT -k 60 "$PULUMI_LIMIT")
  (cd "$PROGRAM" && "${limit[@]}" pulumi "$@" --stack "$STACK" --config-file "$SETTINGS" --non-interactive) 2> >(tee -a "$LOG" >&2)
}
stack_() { # stack_ ARGS...: `pulumi stack ...` (which takes no --config-file)
  echo "\$ pulumi stack $*" >>"$LOG"
  (cd "$REPO" && pulumi stack "$@" --stack "$STACK" --non-interactive) 2> >(tee -a "$LOG" >&2)
}
up() { pulumi_ up --yes --skip-preview >>"$LOG"; }
# The plane's SQLite databases answer an occasional write with "database is locked" at once
# (nova-api: 500 Internal Server Error) when another service's transaction holds the lock; a
# second destroy deletes what the first could not. A write it drops can also leave a server
# "deleting" forever, and the provider would wait its 30 min: each destroy is interrupted
# (SIGINT: Pulumi saves its state) after 420 s (83 s is usual), so the stage fails and is retried.
destroy() {
  PULUMI_LIMIT=420 pulumi_ destroy --yes --skip-preview >>"$LOG" ||
    { log "destroy failed once (see $LOG): again" && PULUMI_LIMIT=420 pulumi_ destroy --yes --skip-preview >>"$LOG"; }
}
api() { # api NAME: the check batch (one CLI process) for the stack's outputs -> $W/NAME.json
  stack_ output --json --show-secrets >"$W/outputs.json"
  python3 "$HERE/check_deployment.py" commands "$W/outputs.json" "$STACK" >"$W/$1.cmds"
  "$OSC" <"$W/$1.cmds" >"$W/$1.json" 2>"$W/$1.err" || true
  if [[ -s $W/$1.err ]]; then
    cat "$W/$1.err" >&2
    fail "openstack CLI batch $1"
  fi
}
# shellcheck source=tests/openstack/lib.sh
source "$HERE/lib.sh"
leftovers() { # the names of our servers, ports, groups, server groups, key pairs, networks, routers; floating IPs
  object_names "$STACK"
  "$OSC" floating ip list -f value -c 'Floating IP Address' 2>/dev/null | sed 's/^/fip /' || true
}
cleanup() {
  local rc=$?
  if [[ -s $W/state/.pulumi/stacks/rayswarm/$STACK.json ]] && ((rc != 0)); then
    log "cleaning up after a failure: pulumi destroy (log: $LOG)"
    destroy 2>/dev/null || log "destroy failed too: see $LOG"
  fi
  ((rc == 0)) && rm -rf "$W"
  exit "$rc"
}
trap cleanup EXIT

[[ -z "$(leftovers)" ]] || fail "objects of stack $STACK already exist in the project (an earlier run's? \`bash tests/openstack/control-plane.sh destroy\` starts the plane afresh): $(leftovers | tr '\n' ' ')"

# `pulumi stack init` takes no --config-file and writes the stack's salt into the project's
# Pulumi.<stack>.yaml: init in a scratch copy of the project file, move the salt to the settings.
cp "$REPO/Pulumi.yaml" "$W/scratch/"
(cd "$W/scratch" && pulumi stack init "$STACK" --non-interactive >/dev/null)
settings() { # settings RAY_WORKERS
  grep '^encryptionsalt:' "$W/scratch/Pulumi.$STACK.yaml"
  sed -e '/^ *#/d' -e "s/^\(  rayswarm:rayWorkers:\).*/\1 $1/" "$REPO/Pulumi.dev.yaml"
  echo "  rayswarm:deploy: infrastructure"
}
settings 1 >"$SETTINGS"
grep -q 'rayswarm:rayWorkers: 1$' "$SETTINGS" || fail "Pulumi.dev.yaml has no rayswarm:rayWorkers line to scale"

# A past commit's program in a folder of its own (`git archive`, this checkout's node_modules;
# a repository of its own, as the program bundles what git tracks).
program_of() { # program_of COMMIT DIR
  git -C "$REPO" cat-file -e "$1^{commit}" 2>/dev/null ||
    fail "commit $1 is not in $REPO's history: clone with full history (git fetch --unshallow) or set RAYSWARM_OPENSTACK_BASE / RAYSWARM_OPENSTACK_MIDDLE"
  mkdir -p "$2"
  git -C "$REPO" archive "$1" | tar -x -C "$2"
  ln -s "$REPO/node_modules" "$2/node_modules"
  git init -q "$2" && git -C "$2" add -A
}
# upgrade_check PREVIEW_JSON FROM: no replace, no delete, most resources the same; prints the counts
upgrade_check() {
  python3 - "$1" "$2" <<'PY'
import json, sys
steps = json.load(open(sys.argv[1])).get("steps", [])
ops = {}
for s in steps:
    ops.setdefault(s["op"], []).append(s["urn"].split("::")[-1])
print(f"preview of the next program over {sys.argv[2]}'s deployment: " + json.dumps({op: len(u) for op, u in sorted(ops.items())}))
bad = {op: urns for op, urns in ops.items() if "replace" in op or op in ("delete", "discard")}
if bad:
    sys.exit(f"FAIL: the upgrade replaces or deletes: {bad}")
if len(ops.get("same", [])) < 40:
    sys.exit(f"FAIL: only {len(ops.get('same', []))} resources are the same: is this the base's stack?")
for op in ("create", "update"):
    if ops.get(op):
        print(f"  {op}: {sorted(ops[op])}")
PY
}
# same_objects BEFORE AFTER: the ports, servers and rules are the same OpenStack objects
same_objects() {
  python3 - "$1" "$2" <<'PY'
import json, sys
before, after = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
changed = {k: (v, after.get(k)) for k, v in before.items() if after.get(k) != v}
if changed or set(after) != set(before):
    sys.exit(f"FAIL: the upgrade changed objects in OpenStack: {changed}, added {sorted(set(after) - set(before))}")
print(f"ok: after the upgrade the {len(before)} ports, servers and rules are the same objects (ids, revisions)")
PY
}
program_of "$BASE_COMMIT" "$W/base"
program_of "$MIDDLE_COMMIT" "$W/middle"

log "pulumi up of the base commit $BASE_COMMIT's program (deploy: infrastructure)"
PROGRAM=$W/base timed base-up up
api base
python3 "$HERE/check_deployment.py" ids "$W/outputs.json" "$STACK" "$W/base.json" >"$W/ids-base.json"

log "$MIDDLE_COMMIT's program over $BASE_COMMIT's deployment (environment components, rules by content): preview, up"
PROGRAM=$W/middle timed middle-preview pulumi_ preview --json --show-sames >"$W/middle-preview.json"
upgrade_check "$W/middle-preview.json" "$BASE_COMMIT"
PROGRAM=$W/middle timed middle-up up
api middle
python3 "$HERE/check_deployment.py" ids "$W/outputs.json" "$STACK" "$W/middle.json" >"$W/ids-middle.json"
same_objects "$W/ids-base.json" "$W/ids-middle.json"

log "this program over $MIDDLE_COMMIT's deployment (short names): preview (no replace, no delete, no create), then up"
timed upgrade-preview pulumi_ preview --json --show-sames >"$W/upgrade.json"
upgrade_check "$W/upgrade.json" "$MIDDLE_COMMIT"
python3 -c 'import json,sys; c=[s["urn"] for s in json.load(open(sys.argv[1])).get("steps",[]) if s["op"]=="create"]; sys.exit(f"FAIL: the rename creates {c}") if c else None' "$W/upgrade.json"
timed upgrade-up up
api deployed
python3 "$HERE/check_deployment.py" ids "$W/outputs.json" "$STACK" "$W/deployed.json" >"$W/ids-upgraded.json"
same_objects "$W/ids-base.json" "$W/ids-upgraded.json"
python3 "$HERE/check_deployment.py" check "$W/outputs.json" "$STACK" "$W/deployed.json" "$CFG"
[[ $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["webUrl"])' "$W/outputs.json") == *"platform is not deployed"* ]] ||
  fail "webUrl does not say that the platform is not deployed"
grep -q '"command:' "$W/state/.pulumi/stacks/rayswarm/$STACK.json" && fail "the state holds command resources"

log "pulumi preview --expect-no-changes"
timed preview pulumi_ preview --expect-no-changes >>"$LOG"

log "scale out: rayWorkers 1 -> 2"
python3 "$HERE/check_deployment.py" ids "$W/outputs.json" "$STACK" "$W/deployed.json" >"$W/ids-before.json"
settings 2 >"$SETTINGS"
timed scale-out-preview pulumi_ preview --json >"$W/scale.json"
python3 - "$W/scale.json" "$STACK" <<'EOF'
import json, sys
stack = sys.argv[2]
steps = json.load(open(sys.argv[1])).get("steps", [])
ops = {}
for s in steps:
    ops.setdefault(s["op"], []).append(s["urn"].split("::")[-1])
bad = {op: urns for op, urns in ops.items() if op not in ("create", "same")}
if bad:
    sys.exit(f"FAIL: the scale-out plan does more than create: {bad}")
created = sorted(ops.get("create", []))
# the machine (component), its port, its instance and its SSH host key (tls, a secret), by the
# machine's key (components/core/names.ts; the OpenStack objects are named {stack}-ray-worker-1)
want = sorted(f"ray-worker-1{s}" for s in ("", "-host-key", "-port", "-vm"))
if created != want:
    sys.exit(f"FAIL: the scale-out plan creates {created}, want {want}")
print(f"ok: the scale-out plan only creates: {created}")
EOF
timed scale-out-up up
api scaled
python3 "$HERE/check_deployment.py" check "$W/outputs.json" "$STACK" "$W/scaled.json" "$CFG"
python3 "$HERE/check_deployment.py" ids "$W/outputs.json" "$STACK" "$W/scaled.json" >"$W/ids-after.json"
python3 - "$W/ids-before.json" "$W/ids-after.json" "$STACK" <<'EOF'
import json, sys
before, after, stack = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), sys.argv[3]
changed = {k: (v, after.get(k)) for k, v in before.items() if after.get(k) != v}
if changed:
    sys.exit(f"FAIL: scale-out changed existing objects: {changed}")
added = sorted(set(after) - set(before))
if added != [f"port {stack}-ray-worker-1", f"server {stack}-ray-worker-1"]:
    sys.exit(f"FAIL: scale-out added {added}, want the new worker's port and server")
print(f"ok: scale-out added {added}; the {len(before)} existing ports, servers and rules are unchanged (ids, revisions)")
EOF
addr=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["machines"][sys.argv[2]]["privateAddress"])' "$W/outputs.json" "$STACK-ray-worker-1")
[[ $addr == 10.42.0.21 ]] || fail "the second Ray worker is at $addr, want 10.42.0.21 (the next address of its block)"

log "pulumi destroy"
timed destroy destroy
left=$(leftovers)
[[ -z $left ]] || fail "left behind after destroy: $(echo "$left" | tr '\n' ' ')"
log "nothing of $STACK is left (servers, ports, security groups, server groups, key pairs, networks, routers, floating IPs)"
stack_ rm --yes --preserve-config >>"$LOG"
log "ok: deployed, checked, previewed, scaled out, destroyed"
