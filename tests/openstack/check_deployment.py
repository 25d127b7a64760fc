#!/usr/bin/env python3
"""Checks a `rayswarm:deploy: infrastructure` stack against what the OpenStack API reports.

  check_deployment.py commands OUTPUTS STACK          the `openstack` batch to run (stdout)
  check_deployment.py check OUTPUTS STACK API CFG     assert the topology (exit 1 on a failure)
  check_deployment.py ids OUTPUTS STACK API           the ids (and revisions) of ports, servers, rules

OUTPUTS is `pulumi stack output --json`; API is the batch's output (JSON documents, one per
command, in the order `commands` printed them); CFG is a JSON object with adminCidr,
clusterCidr and servingPort. Security-group rules are read back from neutron as stored
(`security group show`), not as the CLI's rule list renders them.
"""
import ipaddress
import json
import sys

GROUPS = ["bastion", "internal", "ray", "ray-head", "swarm", "serving"]
# Groups each role's port must have (stacks/openstack.ts ROLE_GROUPS), exactly.
ROLE_GROUPS = {
    "orchestration": ["bastion"],
    "ray-head": ["internal", "ray", "ray-head"],
    "ray-worker": ["internal", "ray"],
    "swarm-manager": ["internal", "swarm", "serving"],
    "swarm-worker": ["internal", "swarm", "serving"],
}
ANTI_AFFINITY = {"ray-worker": "ray-workers", "swarm-manager": "swarm-managers", "swarm-worker": "swarm-workers"}
RAY_PORTS = [6379, 6380, 6381, 8265, 10001, 10002, 10500, 10999, 52365, 52366, 52367]
# Ray's metrics export binds every address: open from the bastion's group (Prometheus) only,
# not even between Ray machines (components/openstack/security.ts RAY_METRICS_PORT).
RAY_METRICS_PORT = 8090
SWARM_PORTS = [2377, 7946, 4789, 5672, 6379]  # Swarm, RabbitMQ, Redis
DOCKER_API = [2375, 2376]
WORLD = {"0.0.0.0/0", "::/0"}

failures = []


def fail(msg):
    failures.append(msg)
    print(f"FAIL: {msg}", file=sys.stderr)


def machines_of(outputs):
    return outputs["machines"]


def commands(outputs, stack):
    lines = []
    for name in sorted(machines_of(outputs)):
        lines.append(f"port show {name}-port -f json")
        lines.append(f"server show {name} -f json")
    for g in GROUPS:
        lines.append(f"security group show {stack}-{g} -f json")
    lines.append("server group list --long -f json")
    lines.append("floating ip list -f json")
    return lines


def parse_docs(text):
    dec = json.JSONDecoder()
    i, docs = 0, []
    while True:
        while i < len(text) and text[i].isspace():
            i += 1
        if i >= len(text):
            return docs
        if text[i] not in "[{":  # a CLI message instead of a document
            end = text.find("\n", i)
            raise SystemExit(f"unexpected CLI output: {text[i:end if end > 0 else None]!r}")
        doc, i = dec.raw_decode(text, i)
        docs.append(doc)


def load(outputs, stack, api_file):
    docs = parse_docs(open(api_file).read())
    want = len(commands(outputs, stack))
    if len(docs) != want:
        raise SystemExit(f"{api_file}: {len(docs)} JSON documents, want {want} (one per command): a command failed")
    names = sorted(machines_of(outputs))
    it = iter(docs)
    ports, servers = {}, {}
    for n in names:
        ports[n] = next(it)
        servers[n] = next(it)
    groups = {g: next(it) for g in GROUPS}
    server_groups = next(it)
    fips = next(it)
    return ports, servers, groups, server_groups, fips


def covers(rule, port):
    lo, hi = rule.get("port_range_min"), rule.get("port_range_max")
    return lo is None or (lo <= port <= hi)


def check(outputs, stack, api_file, cfg):
    ports, servers, groups, server_groups, fips = load(outputs, stack, api_file)
    machines = machines_of(outputs)
    gid = {g: groups[g]["id"] for g in GROUPS}
    gname = {v: k for k, v in gid.items()}

    # Servers: ACTIVE, on their own port, at the planned address.
    for n, m in machines.items():
        s, p = servers[n], ports[n]
        if s.get("status") != "ACTIVE":
            fail(f"server {n} is {s.get('status')}, want ACTIVE")
        if p.get("device_id") != s.get("id"):
            fail(f"port {n}-port is attached to {p.get('device_id')!r}, want server {n} ({s.get('id')})")
        addrs = [f["ip_address"] for f in p.get("fixed_ips", [])]
        if addrs != [m["privateAddress"]]:
            fail(f"port {n}-port has addresses {addrs}, want the planned [{m['privateAddress']}]")
        if m["privateAddress"] not in json.dumps(s.get("addresses")):
            fail(f"server {n} addresses {s.get('addresses')} lack {m['privateAddress']}")
        role = m["roles"][0]
        have = sorted(gname.get(x, x) for x in p.get("security_group_ids", []))
        if have != sorted(ROLE_GROUPS[role]):
            fail(f"port {n}-port is in groups {have}, want {sorted(ROLE_GROUPS[role])}")
    ports_used = sum(1 for _ in machines)
    print(f"ok: {ports_used} servers ACTIVE, each on its own port at its planned address, in its role's groups")

    # Floating IPs: the bastion and the Swarm managers, each on its machine's port.
    fip_by_port = {f["Port"]: f["Floating IP Address"] for f in fips if f.get("Port")}
    for n, m in machines.items():
        public = m.get("publicAddress") or ""
        got = fip_by_port.get(ports[n]["id"], "")
        if got != public:
            fail(f"{n}: floating IP on its port is {got!r}, the stack says {public!r}")
        if m["roles"][0] in ("orchestration", "swarm-manager") and not public:
            fail(f"{n} ({m['roles'][0]}) has no floating IP")
    bastion = [n for n, m in machines.items() if "orchestration" in m["roles"]][0]
    if outputs["bastionAddress"] != machines[bastion]["publicAddress"]:
        fail(f"bastionAddress {outputs['bastionAddress']} is not the bastion's floating IP {machines[bastion]['publicAddress']}")
    print("ok: floating IPs on the bastion and the Swarm managers only")

    # known_hosts: one ed25519 line per machine, the bastion at the floating IP neutron gave its
    # port, every other machine at its port's fixed address (what the connections dial).
    want_hosts = sorted(
        fip_by_port.get(ports[n]["id"], "?") if n == bastion else ports[n]["fixed_ips"][0]["ip_address"] for n in machines
    )
    lines = [l.split() for l in outputs.get("sshKnownHosts", "").splitlines() if l.strip()]
    if sorted(l[0] for l in lines) != want_hosts or any(len(l) != 3 or l[1] != "ssh-ed25519" for l in lines):
        fail(f"sshKnownHosts names {sorted(l[0] for l in lines)} (types {sorted({l[1] for l in lines if len(l) > 1})}), want ed25519 keys for {want_hosts}")
    else:
        print(f"ok: sshKnownHosts has an ed25519 host key for each of the {len(lines)} machines at the address its connection uses")

    # Security-group rules, as neutron stores them.
    admin, cluster, serving = cfg["adminCidr"], cfg["clusterCidr"], int(cfg["servingPort"])
    rules = []
    for g in GROUPS:
        for r in groups[g]["rules"]:
            if r["direction"] != "ingress":
                continue
            rules.append({**r, "group": g, "remote": gname.get(r.get("remote_group_id"), r.get("remote_group_id"))})
    for r in rules:
        desc = f"{r['group']}: {r.get('description')!r} {r.get('protocol')} {r.get('port_range_min')}-{r.get('port_range_max')} from {r.get('remote_ip_prefix') or r['remote']}"
        if r.get("remote_ip_prefix") and r.get("remote_group_id"):
            fail(f"{desc}: both a CIDR and a group")
        prefix = r.get("remote_ip_prefix")
        if prefix is None and r.get("remote_group_id") is None:
            fail(f"{desc}: open to everything (neither a CIDR nor a group)")
        if prefix in WORLD or (prefix and ipaddress.ip_network(prefix).prefixlen == 0):
            if not (r["group"] == "serving" and r["protocol"] == "tcp" and r["port_range_min"] == serving == r["port_range_max"]):
                fail(f"{desc}: open to the world, and not the serving port")
            for p in RAY_PORTS + [RAY_METRICS_PORT] + SWARM_PORTS + DOCKER_API + [22]:
                if covers(r, p):
                    fail(f"{desc}: port {p} open to the world")
        elif prefix is not None:
            ok = (r["group"] == "bastion" and prefix == admin and r["protocol"] == "tcp" and covers(r, 22) and r["port_range_min"] == r["port_range_max"] == 22) or (
                r["group"] == "internal" and prefix == cluster and r["protocol"] == "icmp"
            )
            if not ok:
                fail(f"{desc}: a CIDR rule that is neither SSH from adminCidr to the bastion nor ICMP inside the cluster")
        if r["protocol"] in ("tcp", None) and covers(r, 22):
            pair = (r["group"], prefix if prefix else r["remote"])
            if pair not in [("bastion", admin), ("internal", "bastion"), ("swarm", "ray-head")]:
                fail(f"{desc}: SSH from somewhere else than adminCidr (bastion), the bastion's group, or the Ray head's group (into production)")
        if r["protocol"] in ("tcp", None) and r["group"] in ("ray", "ray-head", "internal"):
            for p in RAY_PORTS:
                if covers(r, p) and not (r["group"] == "ray" and r["remote"] == "ray"):
                    fail(f"{desc}: Ray port {p} from outside the ray group")
            if covers(r, RAY_METRICS_PORT) and not (r["group"] == "ray" and r["remote"] == "bastion" and r["port_range_min"] == r["port_range_max"] == RAY_METRICS_PORT):
                fail(f"{desc}: Ray's metrics port {RAY_METRICS_PORT} from elsewhere than the bastion's group")
        if r["protocol"] in ("tcp", "udp", None) and r["group"] in ("swarm", "internal"):
            for p in SWARM_PORTS:
                if covers(r, p) and not (r["group"] == "swarm" and r["remote"] == "swarm") and not (r["group"] == "swarm" and p == 22):
                    fail(f"{desc}: Swarm/RabbitMQ/Redis port {p} from outside the swarm group")
    for p in RAY_PORTS:
        if not any(r["group"] == "ray" and r["remote"] == "ray" and r["protocol"] == "tcp" and covers(r, p) for r in rules):
            fail(f"Ray port {p} is not open to the ray group (the cluster would not work)")
    if not any(r["group"] == "ray" and r["remote"] == "bastion" and r["protocol"] == "tcp" and covers(r, RAY_METRICS_PORT) for r in rules):
        fail(f"Ray's metrics port {RAY_METRICS_PORT} is not open to the bastion's group (Prometheus could not scrape Ray)")
    for p in SWARM_PORTS:
        if not any(r["group"] == "swarm" and r["remote"] == "swarm" and covers(r, p) for r in rules):
            fail(f"port {p} is not open to the swarm group")
    if [r for r in groups["ray-head"]["rules"] if r["direction"] == "ingress"]:
        fail("the ray-head group has ingress rules (it only names the Ray head as a source)")
    print(f"ok: {len(rules)} ingress rules, exactly as the topology says")

    # Anti-affinity server groups hold their role's servers.
    by_name = {g["Name"]: g for g in server_groups}
    for role, suffix in ANTI_AFFINITY.items():
        g = by_name.get(f"{stack}-{suffix}")
        if not g:
            fail(f"server group {stack}-{suffix} is missing")
            continue
        policy = g.get("Policy") or g.get("Policies")
        if "anti-affinity" not in json.dumps(policy):
            fail(f"server group {stack}-{suffix} policy {policy}, want anti-affinity")
        want = sorted(servers[n]["id"] for n, m in machines.items() if role in m["roles"])
        if sorted(g.get("Members") or []) != want:
            fail(f"server group {stack}-{suffix} members {g.get('Members')}, want {want}")
    print("ok: anti-affinity groups hold their role's servers")


def ids(outputs, stack, api_file):
    ports, servers, groups, _sg, _fips = load(outputs, stack, api_file)
    out = {}
    for n in ports:
        out[f"port {n}"] = [ports[n]["id"], ports[n].get("revision_number")]
        out[f"server {n}"] = [servers[n]["id"], servers[n].get("updated")]
    for g in GROUPS:
        for r in groups[g]["rules"]:
            out[f"rule {r['id']}"] = [r["id"], r.get("revision_number")]
    return out


def main():
    mode, outputs_file, stack = sys.argv[1], sys.argv[2], sys.argv[3]
    outputs = json.load(open(outputs_file))
    if mode == "commands":
        print("\n".join(commands(outputs, stack)))
    elif mode == "check":
        check(outputs, stack, sys.argv[4], json.loads(sys.argv[5]))
        if failures:
            print(f"{len(failures)} failure(s)", file=sys.stderr)
            sys.exit(1)
    elif mode == "ids":
        print(json.dumps(ids(outputs, stack, sys.argv[4]), indent=1, sort_keys=True))
    else:
        raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
