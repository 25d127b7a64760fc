# shellcheck shell=bash disable=SC2034
# (SC2034: the variables set here are used by the hooks that source this file.)
# Shared by the production hooks (pre-receive, post-receive). Sourced, never executed.
# Installed beside them as $GIT_DIR/hooks/promotion-lib.sh by install-hooks.sh.
#
# Config: $GIT_DIR/promotion.conf, KEY=VALUE lines (not sourced, parsed):
#   MODEL_ROOT    folder with versions/<version>/ and the `current` symlink
#   KEEP          how many versions to keep (>= 2)
#   GATE_PYTHON   python with numpy + onnxruntime (requirements-gate.txt)
#   TUNING_SRC    folder put on PYTHONPATH so `python -m rayswarm_tuning.gate` imports
#   GATE_ROLLBACK_FLAG  flag given to the gate for a rollback (default --allow-rollback)
#   LOCK_TIMEOUT  seconds a push waits for another promotion to finish (default 600)
#   EVAL_SET      evaluation set manifest (optional): the gate scores the live model and the
#                 candidate on its rows instead of comparing the cards' own metrics
#   EVAL_SHA256   the sha256 the evaluation set's CSV must have (optional, with EVAL_SET)
#   MIN_IMPROVEMENT  relative improvement the candidate needs on it (default: the gate's, 0.005)

PROMOTION_BRANCH=refs/heads/main
ZERO_SHA=0000000000000000000000000000000000000000
# Same shape as rayswarm_tuning.card.VERSION_RE, plus anything else path-safe.
VERSION_SAFE_RE='^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$'

GIT_DIR=$(cd "${GIT_DIR:-.}" && pwd -P)
export GIT_DIR
PROMOTION_LOG="$GIT_DIR/promotion.log"
PROMOTION_LOCK="$GIT_DIR/promotion.lock"
PROMOTION_ACCEPTED="$GIT_DIR/promotion-accepted"
# In the model root, readable by the serving API: one JSON line per switch of `current`.
HISTORY_FILE=history.jsonl

plog() { # plog <event...>: one line in $GIT_DIR/promotion.log (also used by tests)
  printf '%s %s %s\n' "$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)" "$$" "$*" >>"$PROMOTION_LOG" 2>/dev/null || true
}

say() { printf 'promotion: %s\n' "$*" >&2; }

promotion_load_config() {
  local conf="$GIT_DIR/promotion.conf" key value
  MODEL_ROOT='' KEEP='' GATE_PYTHON='' TUNING_SRC=''
  GATE_ROLLBACK_FLAG=--allow-rollback LOCK_TIMEOUT=600
  EVAL_SET='' EVAL_SHA256='' MIN_IMPROVEMENT=''
  if [[ ! -r $conf ]]; then
    say "REJECTED: this repository has no $conf (run install-hooks.sh)"
    exit 1
  fi
  while IFS= read -r line || [[ -n $line ]]; do
    [[ -z $line || $line == '#'* ]] && continue
    key=${line%%=*} value=${line#*=}
    case $key in
      MODEL_ROOT) MODEL_ROOT=$value ;;
      KEEP) KEEP=$value ;;
      GATE_PYTHON) GATE_PYTHON=$value ;;
      TUNING_SRC) TUNING_SRC=$value ;;
      GATE_ROLLBACK_FLAG) GATE_ROLLBACK_FLAG=$value ;;
      LOCK_TIMEOUT) LOCK_TIMEOUT=$value ;;
      EVAL_SET) EVAL_SET=$value ;;
      EVAL_SHA256) EVAL_SHA256=$value ;;
      MIN_IMPROVEMENT) MIN_IMPROVEMENT=$value ;;
      *) say "REJECTED: unknown key '$key' in $conf"; exit 1 ;;
    esac
  done <"$conf"
  if [[ -z $MODEL_ROOT || ! $KEEP =~ ^[0-9]+$ || $KEEP -lt 2 || -z $GATE_PYTHON || -z $TUNING_SRC ]]; then
    say "REJECTED: $conf needs MODEL_ROOT, KEEP (>= 2), GATE_PYTHON and TUNING_SRC"
    exit 1
  fi
}

# card_field <json-file> <dotted.key>: print a string/number field of a model card, or fail.
card_field() {
  "$GATE_PYTHON" -c '
import json, sys
try:
    v = json.load(open(sys.argv[1], encoding="utf-8"))
    for k in sys.argv[2].split("."):
        v = v[k]
except Exception:
    sys.exit(1)
if not isinstance(v, (str, int, float)) or isinstance(v, bool):
    sys.exit(1)
print(v)' "$1" "$2"
}

# gate_eval_args: the gate's evaluation set arguments from the config (none without EVAL_SET).
gate_eval_args() {
  [[ -n $EVAL_SET ]] || return 0
  printf '%s\n' --eval-set "$EVAL_SET"
  [[ -z $EVAL_SHA256 ]] || printf '%s\n' --eval-sha256 "$EVAL_SHA256"
  [[ -z $MIN_IMPROVEMENT ]] || printf '%s\n' --min-improvement "$MIN_IMPROVEMENT"
}

# history_append <model-root> <version> <kind> <previous> <commit> <gate-result-json-file|"">:
# one JSON line in <model-root>/history.jsonl (when `current` became <version>, how, the
# gate's scores). Written by the pushing user; world-readable (the serving API reads it).
history_append() {
  "$GATE_PYTHON" -c '
import datetime, json, os, socket, sys
root, version, kind, previous, commit, result = sys.argv[1:7]
gate = None
if result:
    try:
        with open(result, encoding="utf-8") as fh:
            gate = json.load(fh)
    except (OSError, ValueError):
        gate = None
line = {"version": version, "kind": kind, "previous": previous or None, "commit": commit,
        "at": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "host": socket.gethostname(), "gate": gate}
path = os.path.join(root, "history.jsonl")
fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
with os.fdopen(fd, "a", encoding="utf-8") as fh:
    fh.write(json.dumps(line, sort_keys=True) + "\n")
' "$@"
}

# receive_pack_pid: the git-receive-pack process that runs this hook. pre-receive and
# post-receive of one push share it; the lock that serialises promotions lives as long as it.
receive_pack_pid() {
  local pid=$PPID comm stat
  for _ in 1 2 3 4; do
    comm=$(proc_comm "$pid")
    case $comm in
      git-receive-pa* | git) printf '%s\n' "$pid"; return 0 ;;
    esac
    # /proc/<pid>/stat: "pid (comm) state ppid ..."; comm may hold spaces, so cut after ')'.
    stat=$(cat "/proc/$pid/stat" 2>/dev/null) || break
    stat=${stat##*) }
    read -r _ pid _ <<<"$stat"
    [[ -n $pid && $pid != 1 ]] || break
  done
  printf '%s\n' "$PPID"
}

# proc_comm <pid>: the process name (no dependency on procps, absent from minimal images).
proc_comm() { cat "/proc/$1/comm" 2>/dev/null || true; }

# current_version: the version `current` points at, or nothing.
current_version() {
  local target
  target=$(readlink "$MODEL_ROOT/current" 2>/dev/null) || return 0
  printf '%s\n' "${target##*/}"
}

# switch_current <model-root> <version>: point <model-root>/current at versions/<version>
# atomically. A relative symlink is made under a temporary name, then renamed over
# `current` (rename(2) via mv -T), so a reader always sees the old or the new target.
switch_current() {
  local root=$1 version=$2 tmp
  [[ -f $root/versions/$version/model.json ]] || { say "no $root/versions/$version/model.json"; return 1; }
  tmp="$root/.current.tmp.$$.$RANDOM"
  ln -s "versions/$version" "$tmp"
  mv -T "$tmp" "$root/current"
}

# prune_versions <model-root> <keep> <current> <previous> <accepted-log>: delete version
# folders beyond the <keep> most recently activated ones (order from the accepted log;
# folders it does not know count as oldest). Never deletes <current> or <previous>.
prune_versions() {
  local root=$1 keep=$2 cur=$3 prev=$4 log=$5 v d
  local -A keepset=() seen=()
  local -a order=()
  [[ -n $cur ]] && keepset[$cur]=1
  [[ -n $prev ]] && keepset[$prev]=1
  if [[ -f $log ]]; then
    while read -r v _; do
      [[ -n $v && -z ${seen[$v]:-} ]] || continue
      seen[$v]=1
      order+=("$v")
    done < <(tac "$log")
  fi
  for v in "${order[@]}"; do
    (( ${#keepset[@]} >= keep )) && break
    [[ -d $root/versions/$v ]] && keepset[$v]=1
  done
  for d in "$root"/versions/*/ "$root"/versions/.incoming-*/; do
    [[ -d $d ]] || continue
    v=$(basename "$d")
    [[ -n ${keepset[$v]:-} ]] && continue
    rm -rf -- "$d"
    [[ $v == .incoming-* ]] || say "pruned version $v"
  done
}
