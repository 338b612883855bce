"""SC-05 (seed 003's generic walkthrough) with the real `openstack` CLI against the lab's CentralRegion,
the VM booted in RegionOne through its compute. Expected: the default group gains an ICMP rule, the
router has an interface and a gateway port, the extra route is listed, the floating IP is bound."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from labtools import OPENSTACK, running_lab

from regionmesh.lab.launcher import Lab


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    yield from running_lab(tmp_path_factory.mktemp("lab"), register_pods=True)


def osc(lab: Lab, *args: str, region: str = "CentralRegion", cloud: str = "regionmesh-demo") -> Any:
    assert OPENSTACK
    env = {**os.environ, "OS_CLIENT_CONFIG_FILE": str(lab.clouds_yaml)}
    wants_json = any(a in args for a in ("create", "show", "list"))
    proc = subprocess.run([OPENSTACK, "--os-cloud", cloud, "--os-region-name", region, *args,
                           *(["-f", "json"] if wants_json else [])],
                          capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, f"{' '.join(args)}: {proc.stderr}"
    return json.loads(proc.stdout) if wants_json and proc.stdout.strip() else None


def test_sc05_generic_walkthrough_against_central_region(lab: Lab, tmp_path: Path) -> None:
    net = osc(lab, "network", "create", "net1")
    osc(lab, "subnet", "create", "subnet1", "--subnet-range", "10.0.0.0/24", "--network", "net1")
    osc(lab, "port", "create", "port1", "--network", "net1")
    image = tmp_path / "img.raw"
    image.write_bytes(b"\0" * 2048)
    osc(lab, "image", "create", "--file", str(image), "--disk-format", "raw", "--container-format", "bare",
        "--public", "IMAGE", region="RegionOne", cloud="regionmesh-admin")
    vm = osc(lab, "server", "create", "--image", "IMAGE", "--flavor", "1", "--nic", f"net-id={net['id']}",
             "--wait", "vm1", region="RegionOne")
    assert vm["status"] == "ACTIVE"
    rule = osc(lab, "security", "group", "rule", "create", "--protocol", "icmp", "default")
    assert rule["protocol"] == "icmp" and rule["direction"] == "ingress"
    osc(lab, "network", "create", "public_net", "--external", cloud="regionmesh-admin")
    osc(lab, "subnet", "create", "--network", "public_net", "--subnet-range", "172.16.1.0/24", "public_subnet",
        cloud="regionmesh-admin")
    osc(lab, "router", "create", "router1")
    osc(lab, "router", "add", "subnet", "router1", "subnet1")
    osc(lab, "router", "set", "--external-gateway", "public_net", "router1")
    # The seed's nexthop 172.16.2.1 is on no connected subnet (Neutron refuses it too): use one that is.
    osc(lab, "router", "set", "--route", "destination=172.16.2.0/24,gateway=10.0.0.254", "router1")
    router = osc(lab, "router", "show", "router1")
    assert router["routes"] == [{"destination": "172.16.2.0/24", "nexthop": "10.0.0.254"}]
    ports = osc(lab, "port", "list", "--router", "router1", "--long", cloud="regionmesh-admin")
    owners = sorted(p["Device Owner"] for p in ports)
    assert owners == ["network:router_gateway", "network:router_interface"]
    fip = osc(lab, "floating", "ip", "create", "public_net")
    vm_port = osc(lab, "port", "list", "--device-id", vm["id"])[0]
    osc(lab, "floating", "ip", "set", "--port", vm_port["ID"], fip["id"])
    bound = osc(lab, "floating", "ip", "show", fip["id"])
    assert bound["port_id"] == vm_port["ID"] and bound["router_id"] == router["id"]
