"""The lab with its identity service, driven by the real `openstack` CLI through clouds.yaml.

Covers the foundation issue's "the same through the real openstack CLI" and the lab issue's
identity, catalog and CLI flows: tokens are real, every service validates them, the catalog sends
`--os-region-name RegionOne` to that region's Neutron, which materialises central's network with
the same UUID and creates ports through central.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from labtools import OPENSTACK, running_lab

from regionmesh.lab.launcher import Lab


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    yield from running_lab(tmp_path_factory.mktemp("lab"))


def osc(lab: Lab, cloud: str, *args: str, region: str = "CentralRegion", ok: bool = True) -> Any:
    assert OPENSTACK
    verb = next(a for a in args if a in ("create", "show", "list", "set", "delete", "add", "issue"))
    fmt = ["-f", "json"] if verb in ("create", "show", "list", "issue") else []
    env = {**os.environ, "OS_CLIENT_CONFIG_FILE": str(lab.clouds_yaml)}
    proc = subprocess.run([OPENSTACK, "--os-cloud", cloud, "--os-region-name", region, *args, *fmt],
                          capture_output=True, text=True, timeout=120, env=env)
    if ok:
        assert proc.returncode == 0, f"{' '.join(args)}: {proc.stderr}"
        return json.loads(proc.stdout) if fmt else None
    assert proc.returncode != 0
    return proc.stderr


def test_services_reject_missing_and_bad_tokens(lab: Lab) -> None:
    opts = lab.opts
    for url in (opts.central_url + "/v2.0/networks", opts.url(opts.region_base_port) + "/v2.0/networks",
                opts.url(opts.admin_port) + "/v1.0/pods"):
        assert httpx.get(url).status_code == 401, url
        assert httpx.get(url, headers={"X-Auth-Token": "not-a-token"}).status_code == 401, url
    secrets_file = lab.opts.state_dir / "secrets.json"
    assert oct(secrets_file.stat().st_mode & 0o777) == "0o600"


def test_catalog_and_seed_walkthrough_with_the_cli(lab: Lab) -> None:
    catalog = osc(lab, "regionmesh-admin", "catalog", "list")
    network = next(c for c in catalog if c["Type"] == "network")
    listed = json.dumps(network["Endpoints"])
    assert all(region in listed for region in ("CentralRegion", "RegionOne", "RegionTwo"))
    assert lab.opts.central_url in listed
    assert any(c["Type"] == "multiregion-networking" for c in catalog)
    token = osc(lab, "regionmesh-admin", "token", "issue")["id"]
    admin_api = httpx.Client(base_url=lab.opts.url(lab.opts.admin_port), headers={"X-Auth-Token": token})
    for body in ({"pod": {"region_name": "CentralRegion"}}, {"pod": {"region_name": "RegionOne", "az_name": "az1"}},
                 {"pod": {"region_name": "RegionTwo", "az_name": "az2"}}):
        assert admin_api.post("/v1.0/pods", json=body).status_code == 200
    demo_token = osc(lab, "regionmesh-demo", "token", "issue")["id"]
    denied = httpx.get(lab.opts.url(lab.opts.admin_port) + "/v1.0/pods", headers={"X-Auth-Token": demo_token})
    assert denied.status_code == 403
    net = osc(lab, "regionmesh-demo", "network", "create", "--availability-zone-hint", "az1", "net1")
    osc(lab, "regionmesh-demo", "subnet", "create", "--network", "net1", "--subnet-range", "10.0.1.0/24", "subnet1")
    # nothing in RegionOne until it is asked for; then the same UUID
    shown = osc(lab, "regionmesh-demo", "network", "show", net["id"], region="RegionOne")
    assert shown["id"] == net["id"]
    port = osc(lab, "regionmesh-demo", "port", "create", "--network", net["id"], "vm1-port", region="RegionOne")
    central_port = osc(lab, "regionmesh-demo", "port", "show", port["id"])
    assert central_port["mac_address"] == port["mac_address"]
    assert central_port["fixed_ips"] == port["fixed_ips"]
    hidden = osc(lab, "regionmesh-demo", "network", "show", net["id"], region="RegionTwo", ok=False)
    assert "No Network found" in hidden or "404" in hidden or "not found" in hidden.lower()


def test_sc01_real_boots_with_the_cli(lab: Lab, tmp_path: Path) -> None:
    """SC-01 with real boots: `openstack --os-region-name RegionOne server create --flavor 1 --image …
    --nic net-id=…` reaches ACTIVE with its IP from central, and central has the bound port."""
    image = tmp_path / "cirros.img"
    image.write_bytes(b"\0" * 4096)
    osc(lab, "regionmesh-admin", "image", "create", "--file", str(image), "--disk-format", "raw",
        "--container-format", "bare", "--public", "cirros", region="RegionOne")
    net = osc(lab, "regionmesh-demo", "network", "create", "boot-net")
    osc(lab, "regionmesh-demo", "subnet", "create", "--network", "boot-net", "--subnet-range", "10.9.1.0/24",
        "boot-subnet")
    server = osc(lab, "regionmesh-demo", "server", "create", "--flavor", "1", "--image", "cirros", "--nic",
                 f"net-id={net['id']}", "--wait", "vm1", region="RegionOne")
    assert server["status"] == "ACTIVE"
    address = server["addresses"]["boot-net"][0]
    ports = osc(lab, "regionmesh-admin", "port", "list", "--device-id", server["id"], "--long")
    assert len(ports) == 1
    central = osc(lab, "regionmesh-admin", "port", "show", ports[0]["ID"])
    assert central["fixed_ips"][0]["ip_address"] == address
    assert central["binding_host_id"].startswith("regionone-host")
    assert central["device_owner"].startswith("compute:")
    osc(lab, "regionmesh-demo", "server", "delete", "--wait", "vm1", region="RegionOne")
    assert osc(lab, "regionmesh-admin", "port", "list", "--device-id", server["id"]) == []


def test_volumes_through_the_catalog_with_the_cli(lab: Lab) -> None:
    """The lab's Cinder subset is found through the catalog (its URL template carries the project)."""
    volume = osc(lab, "regionmesh-demo", "volume", "create", "--size", "1", "v1", region="RegionOne")
    assert volume["size"] == 1
    shown = osc(lab, "regionmesh-demo", "volume", "show", "v1", region="RegionOne")
    assert shown["status"] == "available"
    osc(lab, "regionmesh-demo", "volume", "delete", "v1", region="RegionOne")
    assert osc(lab, "regionmesh-demo", "volume", "list", region="RegionOne") == []
