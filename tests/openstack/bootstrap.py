"""API objects of the test control plane, made once by control-plane.sh (run with /usr/bin/python3).

  bootstrap.py identities   service project + users, member project + user, catalog
  bootstrap.py resources    computes (wait + map), flavors, image `debian-12`, network `public`
  bootstrap.py computes     computes only (warm start)

Credentials: the admin OS_* variables; passwords of the other users: files in $SECRETS.
Every step is idempotent (looks objects up by name first).
"""
import os
import subprocess
import sys
import tempfile
import time

import openstack

E = os.environ
SECRETS = E["SECRETS"]
IP = E["IP"]
REGION = E["REGION"]


def secret(name):
    path = os.path.join(SECRETS, name)
    if not os.path.exists(path):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
        os.write(fd, os.urandom(18).hex().encode())
        os.close(fd)
    with open(path) as f:
        return f.read().strip()


def log(msg):
    print(f"[bootstrap {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def connect():
    return openstack.connect(
        auth_url=E["OS_AUTH_URL"],
        username=E["OS_USERNAME"],
        password=E["OS_PASSWORD"],
        project_name=E["OS_PROJECT_NAME"],
        user_domain_name="Default",
        project_domain_name="Default",
        region_name=REGION,
        interface="public",
    )


def identities():
    c = connect()
    idn = c.identity
    domain = idn.find_domain("default")
    roles = {r.name: r for r in idn.roles()}

    def project(name, description):
        return idn.find_project(name, domain_id=domain.id) or idn.create_project(
            name=name, domain_id=domain.id, description=description
        )

    def user(name, password, proj, role):
        u = idn.find_user(name, domain_id=domain.id)
        if u is None:
            u = idn.create_user(name=name, password=password, domain_id=domain.id, default_project_id=proj.id)
        else:
            idn.update_user(u, password=password)
        idn.assign_project_role_to_user(proj, u, roles[role])
        return u

    service = project("service", "OpenStack service users")
    member = project(E["MEMBER_PROJECT"], "rayswarm tests (member role)")
    for svc in ("glance", "placement", "nova", "neutron"):
        user(svc, secret(svc), service, "admin")
        log(f"service user {svc}")
    user(E["MEMBER_USER"], secret("member"), member, "member")
    log(f"member user {E['MEMBER_USER']} in project {member.name}")

    catalog = [
        ("glance", "image", f"http://{IP}:{E['GLANCE_PORT']}"),
        ("placement", "placement", f"http://{IP}:{E['PLACEMENT_PORT']}"),
        ("nova", "compute", f"http://{IP}:{E['NOVA_PORT']}/v2.1"),
        ("neutron", "network", f"http://{IP}:{E['NEUTRON_PORT']}"),
    ]
    services = {s.type: s for s in idn.services()}
    for name, kind, url in catalog:
        s = services.get(kind) or idn.create_service(name=name, type=kind, is_enabled=True)
        have = {e.interface for e in idn.endpoints(service_id=s.id)}
        for interface in ("public", "internal"):
            if interface not in have:
                idn.create_endpoint(service_id=s.id, interface=interface, url=url, region_id=REGION)
        log(f"catalog {kind} {url}")


def computes():
    """Waits for every fake compute host, then maps them into cell1."""
    c = connect()
    want = int(E["COMPUTES"])
    deadline = time.time() + int(E["TIMEOUT"])
    while True:
        up = [s for s in c.compute.services(binary="nova-compute") if s.state == "up" and s.status == "enabled"]
        hyps = list(c.compute.hypervisors())
        if len(up) >= want and len(hyps) >= want:
            break
        if time.time() > deadline:
            sys.exit(f"only {len(up)} of {want} nova-compute services up ({len(hyps)} hypervisors) after {E['TIMEOUT']}s")
        time.sleep(2)
    log(f"{len(up)} compute services up, {len(hyps)} hypervisors")
    subprocess.run(
        ["nova-manage", "--config-file", E["NOVA_CONF"], "cell_v2", "discover_hosts", "--verbose"],
        check=True,
    )
    # The resource providers (placement) of every host.
    while len(list(c.placement.resource_providers())) < want:
        if time.time() > deadline:
            sys.exit("resource providers missing in placement")
        time.sleep(2)
    log("hosts mapped, resource providers present")
    return c


FLAVORS = [
    # name, vCPUs, RAM MiB, disk GiB (the usual m1 sizes)
    ("m1.tiny", 1, 512, 1),
    ("m1.small", 1, 2048, 20),
    ("m1.medium", 2, 4096, 40),
    ("m1.large", 4, 8192, 80),
    ("m1.xlarge", 8, 16384, 160),
]


def resources():
    c = computes()
    have = {f.name for f in c.compute.flavors()}
    for name, vcpus, ram, disk in FLAVORS:
        if name not in have:
            c.compute.create_flavor(name=name, vcpus=vcpus, ram=ram, disk=disk, is_public=True)
    log("flavors " + ", ".join(f[0] for f in FLAVORS))

    if c.image.find_image("debian-12") is None:
        # The fake driver never boots it: a small placeholder stands for the Debian 12 cloud image.
        with tempfile.NamedTemporaryFile(suffix=".img") as f:
            f.write(b"rayswarm placeholder for the Debian 12 generic cloud image\n" * 64)
            f.flush()
            c.create_image(
                "debian-12",
                filename=f.name,
                disk_format="raw",
                container_format="bare",
                visibility="public",
                wait=True,
                meta={"os_distro": "debian", "os_version": "12"},
            )
    log("image debian-12")

    net = c.network.find_network("public")
    if net is None:
        net = c.network.create_network(
            name="public",
            is_router_external=True,
            provider_network_type="flat",
            provider_physical_network="physnet1",
        )
    if not list(c.network.subnets(network_id=net.id)):
        c.network.create_subnet(
            name="public-subnet",
            network_id=net.id,
            ip_version=4,
            cidr="192.0.2.0/24",
            gateway_ip="192.0.2.1",
            is_dhcp_enabled=False,
            allocation_pools=[{"start": "192.0.2.10", "end": "192.0.2.250"}],
        )
    log("external network public (192.0.2.0/24)")


if __name__ == "__main__":
    {"identities": identities, "resources": resources, "computes": computes}[sys.argv[1]]()
