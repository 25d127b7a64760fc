#!/usr/bin/env bash
# Shared by tests/openstack/smoke.sh and pulumi-infrastructure.sh (sourced, not run).

# object_names PREFIX: the names starting with PREFIX- of the project's servers, ports, security
# groups, server groups, key pairs, networks and routers, one per line, listed in one `openstack`
# process (the CLI takes seconds to start on a busy 2-core machine). Prints nothing when none.
object_names() {
  local prefix=$1
  /usr/bin/openstack 2>/dev/null <<'LIST' | grep -E "^${prefix}-" || true
server list -f value -c Name
port list -f value -c Name
security group list -f value -c Name
server group list -f value -c Name
keypair list -f value -c Name
network list -f value -c Name
router list -f value -c Name
LIST
}
