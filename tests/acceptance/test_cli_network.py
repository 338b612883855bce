"""The real `openstack` CLI against a running server that validates real Keystone tokens (the lab
identity service), finding it through the catalog.

Drives the generic single-region walkthrough (SC-05 style) through CentralRegion's Neutron API:
networks, subnets, ports, security groups and rules, routers with interfaces and gateway,
floating IPs — every step a real CLI process, every result read back.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from regionmesh.api.identity_v3 import create_identity_app
from regionmesh.api.server import ThreadedServer, build_neutron
from regionmesh.config import load_settings
from regionmesh.identity.bootstrap import BootstrapSpec, CatalogEntry, bootstrap

PASSWORD = "cli-test-password"
OPENSTACK = shutil.which("openstack", path=str(Path(sys.executable).parent)) or shutil.which("openstack")


VERBS = ("create", "show", "list", "set", "unset", "delete", "add", "remove")


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Neutron API validating real tokens from the lab identity service; yields a clouds.yaml path."""
    tmp = tmp_path_factory.mktemp("cli")
    identity = create_identity_app(f"sqlite:///{tmp}/identity.db")
    id_server = ThreadedServer(identity)
    settings = load_settings(env={}, database__url=f"sqlite:///{tmp}/central.db", auth__strategy="keystone",
                             auth__auth_url=id_server.url + "/v3")
    server = ThreadedServer(build_neutron(settings))
    bootstrap(identity.store, BootstrapSpec(admin_password=PASSWORD, identity_url=id_server.url + "/v3",
                                            regions=["CentralRegion"],
                                            catalog=[CatalogEntry("network", "neutron", "CentralRegion",
                                                                  server.url)]))
    id_server.start()
    server.start()
    clouds = tmp / "clouds.yaml"
    clouds.write_text(yaml.safe_dump({"clouds": {"admin": {
        "auth": {"auth_url": id_server.url + "/v3", "username": "admin", "password": PASSWORD,
                 "project_name": "admin", "user_domain_name": "Default", "project_domain_name": "Default"},
        "region_name": "CentralRegion", "identity_api_version": 3}}}))
    yield str(clouds)
    server.stop()
    id_server.stop()


def osc(endpoint: str, *args: str, ok: bool = True) -> Any:
    assert OPENSTACK, "the openstack CLI is part of the test extra"
    cmd = [OPENSTACK, "--os-cloud", "admin", *args]
    verb = next(a for a in args if a in VERBS)
    fmt = ["-f", "json"] if verb in ("create", "show", "list") else []
    env = {**os.environ, "OS_CLIENT_CONFIG_FILE": endpoint}
    proc = subprocess.run(cmd + fmt, capture_output=True, text=True, timeout=120, env=env)
    if ok:
        assert proc.returncode == 0, f"{' '.join(args)} failed: {proc.stderr}"
        return json.loads(proc.stdout) if fmt and proc.stdout.strip() else None
    assert proc.returncode != 0, f"{' '.join(args)} unexpectedly succeeded"
    return proc.stderr


def test_sc05_walkthrough_with_openstack_cli(endpoint: str) -> None:
    ext = osc(endpoint, "network", "create", "--external", "ext-net")
    assert ext["router:external"] is True
    osc(endpoint, "subnet", "create", "--network", "ext-net", "--subnet-range", "163.3.124.0/24", "--no-dhcp",
        "ext-subnet")
    net = osc(endpoint, "network", "create", "net1")
    sub = osc(endpoint, "subnet", "create", "--network", "net1", "--subnet-range", "10.0.1.0/24",
              "--dns-nameserver", "8.8.8.8", "subnet1")
    assert sub["gateway_ip"] == "10.0.1.1" and sub["network_id"] == net["id"]
    sg = osc(endpoint, "security", "group", "create", "web")
    rule = osc(endpoint, "security", "group", "rule", "create", "--protocol", "tcp", "--dst-port", "80:80",
               "--ingress", "web")
    assert rule["port_range_min"] == 80 and rule["security_group_id"] == sg["id"]
    dup = osc(endpoint, "security", "group", "rule", "create", "--protocol", "tcp", "--dst-port", "80:80",
              "--ingress", "web", ok=False)
    assert "already exists" in dup
    port = osc(endpoint, "port", "create", "--network", "net1", "--fixed-ip", "subnet=subnet1,ip-address=10.0.1.10",
               "--security-group", "web", "vm1-port")
    assert port["fixed_ips"][0]["ip_address"] == "10.0.1.10"
    router = osc(endpoint, "router", "create", "router1")
    osc(endpoint, "router", "add", "subnet", "router1", "subnet1")
    osc(endpoint, "router", "set", "--external-gateway", "ext-net", "router1")
    shown = osc(endpoint, "router", "show", "router1")
    assert shown["external_gateway_info"]["network_id"] == ext["id"]
    ports = osc(endpoint, "port", "list", "--router", "router1")
    assert {p["Fixed IP Addresses"][0]["ip_address"] for p in ports} >= {"10.0.1.1"}
    fip = osc(endpoint, "floating", "ip", "create", "ext-net")
    assert fip["status"] == "DOWN" and fip["floating_ip_address"].startswith("163.3.124.")
    osc(endpoint, "floating", "ip", "set", "--port", port["id"], fip["id"])
    assoc = osc(endpoint, "floating", "ip", "show", fip["id"])
    assert assoc["fixed_ip_address"] == "10.0.1.10" and assoc["router_id"] == router["id"]
    busy = osc(endpoint, "security", "group", "delete", "web", ok=False)
    assert "in use" in busy.lower()
    osc(endpoint, "floating", "ip", "delete", fip["id"])
    osc(endpoint, "port", "delete", "vm1-port")
    osc(endpoint, "security", "group", "delete", "web")
    osc(endpoint, "router", "remove", "subnet", "router1", "subnet1")
    osc(endpoint, "router", "unset", "--external-gateway", "router1")
    osc(endpoint, "router", "delete", "router1")
    osc(endpoint, "subnet", "delete", "subnet1")
    osc(endpoint, "network", "delete", "net1")
    names = [n["Name"] for n in osc(endpoint, "network", "list")]
    assert names == ["ext-net"]
