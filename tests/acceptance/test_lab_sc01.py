"""The lab end to end: `Lab` as `make lab` starts it, driven over HTTP like an operator (SC-01 steps 1–7).

Pods are registered with the seed's curl bodies on the Admin API; networks are created in
CentralRegion only; a VM boot in each region is emulated exactly as Nova calls its local Neutron;
the job workers converge the regions without anyone asking.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from regionmesh.lab.launcher import Lab, LabOptions

PROJECT = "f" * 32
USER = {"X-Project-Id": PROJECT, "X-Roles": "member,reader", "X-User-Id": "demo"}
NOVA = {"X-Project-Id": PROJECT, "X-Roles": "admin,member,reader,service", "X-User-Id": "nova"}




@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    opts = LabOptions(state_dir=tmp_path / "lab", noauth=True)
    opts.port_offset = opts.pick_free_offset()
    out = io.StringIO()
    running = Lab(opts, out=out)
    running.start()
    try:
        yield running
    finally:
        running.stop()
    assert "stopped Admin API" in out.getvalue()


def _wait_for(predicate: Any, what: str, timeout: float = 30.0) -> None:
    """Poll an observable condition (bounded); the lab's workers run in the background."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_sc01_pods_networks_boots_and_convergence(lab: Lab) -> None:
    opts = lab.opts
    admin = httpx.Client(base_url=opts.url(opts.admin_port), timeout=30)
    # Step 1–3: the seed's curl bodies
    for body in ({"pod": {"region_name": "CentralRegion"}}, {"pod": {"region_name": "RegionOne", "az_name": "az1"}},
                 {"pod": {"region_name": "RegionTwo", "az_name": "az2"}}):
        resp = admin.post("/v1.0/pods", json=body)
        assert resp.status_code == 200, resp.text
    assert {p["region_name"] for p in admin.get("/v1.0/pods").json()["pods"]} == {"CentralRegion", "RegionOne",
                                                                                 "RegionTwo"}
    central = httpx.Client(base_url=opts.central_url + "/v2.0", headers=USER, timeout=30)
    # Step 4–5: net1/subnet1 centrally only, hinted to az1
    net1 = central.post("/networks", json={"network": {"name": "net1", "availability_zone_hints": ["az1"]}})
    assert net1.status_code == 201, net1.text
    net1_id = net1.json()["network"]["id"]
    sub1 = central.post("/subnets", json={"subnet": {"network_id": net1_id, "cidr": "10.0.1.0/24",
                                                     "ip_version": 4}}).json()["subnet"]
    bad_hint = central.post("/networks", json={"network": {"name": "x", "availability_zone_hints": ["nowhere"]}})
    assert bad_hint.status_code == 400, bad_hint.text
    region_one = httpx.Client(base_url=opts.url(opts.region_base_port) + "/v2.0", headers=NOVA, timeout=30)
    region_two = httpx.Client(base_url=opts.url(opts.region_base_port + 1) + "/v2.0", headers=NOVA, timeout=30)
    assert region_one.get("/networks").json()["networks"] == []
    # Step 6–7: boot vm1 in RegionOne as Nova does
    assert region_one.get(f"/networks/{net1_id}").status_code == 200
    port = region_one.post("/ports", json={"port": {"network_id": net1_id}}).json()["port"]
    bound = region_one.put(f"/ports/{port['id']}", json={"port": {"binding:host_id": "r1-host1",
                                                                  "device_owner": "compute:az1",
                                                                  "device_id": "vm1"}})
    assert bound.status_code == 200
    assert port["fixed_ips"][0]["subnet_id"] == sub1["id"]
    # a network hinted to az1 is never materialised in RegionTwo
    assert region_two.get(f"/networks/{net1_id}").status_code == 404
    # routings are visible through the Admin API, and the workers converge the job
    routed = admin.get("/v1.0/routings").json()["routings"]
    assert {(r["top_id"], r["resource_type"]) for r in routed} >= {(port["id"], "port"), (net1_id, "network"),
                                                                  (sub1["id"], "subnet")}

    def jobs_done() -> bool:
        jobs = admin.get("/v1.0/jobs").json()["jobs"]
        return bool(jobs) and all(j["status"] == "SUCCESS" for j in jobs)

    _wait_for(jobs_done, "all jobs SUCCESS")
    sg = port["security_groups"][0]
    rules = region_one.get(f"/security-groups/{sg}").json()["security_group"]["security_group_rules"]
    assert f"{port['fixed_ips'][0]['ip_address']}/32" in {r["remote_ip_prefix"] for r in rules}
