#!/usr/bin/env bash
# Smoke test of the control plane with the `openstack` CLI, as the member user: creates a
# network, subnet, port with a fixed address, security group + rule, anti-affinity server
# group, key pair and a server on that port (fake driver), checks them, deletes them all and
# checks that nothing is left. Needs the member project's OS_* variables in the environment
# (eval "$(tests/openstack/control-plane.sh env)").
#
# Commands run in batches through one `openstack` process (the CLI takes seconds to start on a
# busy 2-core machine); a batch does not stop at an error, so its stderr is the verdict, and
# its lines are split on blanks without shell quoting (no quoted arguments).
set -euo pipefail
: "${OS_AUTH_URL:?run: eval \"\$(tests/openstack/control-plane.sh env)\"}"
[[ $OS_USERNAME != admin ]] || {
  echo "smoke.sh: run it as the member user, not admin" >&2
  exit 2
}
OSC=/usr/bin/openstack
P=rs-smoke
# shellcheck source=tests/openstack/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

log() { printf '[smoke %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
fail() {
  log "FAIL: $*"
  exit 1
}

# batch NAME: runs the commands on stdin in one CLI process; fails on any error message.
batch() {
  local name=$1
  "$OSC" >"$TMP/$name.out" 2>"$TMP/$name.err" || true
  if grep -qiE 'error|fail|not found|no .* found|conflict|exception' "$TMP/$name.err"; then
    cat "$TMP/$name.err" >&2
    fail "$name"
  fi
}

# Objects a failed earlier run may have left behind.
cleanup() {
  "$OSC" >/dev/null 2>&1 <<EOF || true
server delete --wait $P-vm
port delete $P-port
security group delete $P-sg
server group delete $P-group
keypair delete $P-key
subnet delete $P-subnet
network delete $P-net
EOF
}

t0=$SECONDS
cleanup
ssh-keygen -q -t ed25519 -N '' -C "$P" -f "$TMP/key"

log "create: network, subnet, security group + rule, port, server group, key pair, server"
batch create <<EOF
network create $P-net
subnet create $P-subnet --network $P-net --subnet-range 10.199.0.0/24
security group create $P-sg --description rayswarm-smoke-test
security group rule create $P-sg --ingress --protocol tcp --dst-port 22 --remote-ip 203.0.113.0/24
port create $P-port --network $P-net --fixed-ip subnet=$P-subnet,ip-address=10.199.0.10 --security-group $P-sg
server group create $P-group --policy anti-affinity
keypair create $P-key --public-key $TMP/key.pub
EOF
group_id=$("$OSC" server group show $P-group -f value -c id)
batch server <<EOF
server create $P-vm --flavor m1.small --image debian-12 --port $P-port --key-name $P-key --hint group=$group_id --wait
EOF

log "check"
"$OSC" >"$TMP/check.out" 2>"$TMP/check.err" <<EOF || true
server show $P-vm -f value -c status
port show $P-port -f value -c fixed_ips
port show $P-port -f value -c device_id
server show $P-vm -f value -c id
server group show $P-group -f value -c members
security group rule list $P-sg --protocol tcp -f value
EOF
mapfile -t out <"$TMP/check.out"
[[ ${out[0]:-} == ACTIVE ]] || fail "server status is '${out[0]:-}', want ACTIVE ($(cat "$TMP/check.err"))"
[[ ${out[1]:-} == *10.199.0.10* ]] || fail "port fixed_ips '${out[1]:-}' lack 10.199.0.10"
[[ -n ${out[3]:-} && ${out[2]:-} == "${out[3]}" ]] || fail "port device_id '${out[2]:-}' is not the server '${out[3]:-}'"
[[ ${out[4]:-} == *"${out[3]}"* ]] || fail "server group members '${out[4]:-}' lack the server"
grep -qE '203\.0\.113\.0/24.*22:22|22:22.*203\.0\.113\.0/24' "$TMP/check.out" || fail "security group rule 22 from 203.0.113.0/24 missing: $(cat "$TMP/check.out")"
log "server ACTIVE on its port (10.199.0.10), in its server group; rule present"

log "delete"
batch delete <<EOF
server delete --wait $P-vm
port delete $P-port
security group delete $P-sg
server group delete $P-group
keypair delete $P-key
subnet delete $P-subnet
network delete $P-net
EOF
left=$(object_names "$P")
[[ -z $left ]] || fail "left behind: $(echo "$left" | tr '\n' ' ')"
log "ok in $((SECONDS - t0))s: everything created, checked and deleted"
