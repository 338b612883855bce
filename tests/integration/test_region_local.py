"""A lab region's local behaviour against a real central, both over HTTP (LP-01…LP-09, SC-01 steps 4–7).

Nova's calls are emulated exactly as Nova makes them to its region's Neutron: GET the network by
id, POST a port, PUT the binding. Central and the region each have their own database.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from regionmesh.api.server import ThreadedServer, build_neutron
from regionmesh.config import load_settings

PROJECT = "d" * 32
USER = {"X-Project-Id": PROJECT, "X-Roles": "member,reader", "X-User-Id": "demo"}
NOVA = {"X-Project-Id": PROJECT, "X-Roles": "admin,member,reader,service", "X-User-Id": "nova"}


class Cloud:
    def __init__(self, central: ThreadedServer, region: ThreadedServer, central_app: Any, region_app: Any) -> None:
        self.central_server, self.region_server = central, region
        self.central = httpx.Client(base_url=central.url + "/v2.0", headers=USER, timeout=30)
        self.region = httpx.Client(base_url=region.url + "/v2.0", headers=USER, timeout=30)
        self.nova = httpx.Client(base_url=region.url + "/v2.0", headers=NOVA, timeout=30)
        self.central_admin = httpx.Client(base_url=central.url + "/v2.0", timeout=30)
        self.region_admin = httpx.Client(base_url=region.url + "/v2.0", timeout=30)
        self.region_app = region_app
        self.central_app = central_app


@pytest.fixture
def cloud(tmp_path: Path) -> Iterator[Cloud]:
    central_settings = load_settings(env={}, database__url=f"sqlite:///{tmp_path}/central.db",
                                     auth__strategy="noauth", network__default_availability_zones=["az1", "az2"])
    central_app = build_neutron(central_settings)
    central = ThreadedServer(central_app).start()
    region_settings = load_settings(env={}, database__url=f"sqlite:///{tmp_path}/region1.db",
                                    auth__strategy="noauth", role__role="region", role__region_name="RegionOne",
                                    role__az_name="az1", role__central_url=central.url)
    region_app = build_neutron(region_settings)
    region = ThreadedServer(region_app).start()
    c = Cloud(central, region, central_app, region_app)
    try:
        yield c
    finally:
        region.stop()
        if central.thread.is_alive():
            central.stop()


def _net_with_subnet(c: Cloud, name: str = "net1", cidr: str = "10.0.1.0/24", **net: Any) -> tuple[dict, dict]:
    network = c.central.post("/networks", json={"network": {"name": name, **net}}).json()["network"]
    subnet = c.central.post("/subnets", json={"subnet": {"network_id": network["id"], "cidr": cidr,
                                                         "ip_version": 4, "name": f"sub-{name}"}}).json()["subnet"]
    return network, subnet


def test_lp_network_is_created_lazily_with_the_same_uuid(cloud: Cloud) -> None:
    net, sub = _net_with_subnet(cloud)
    assert cloud.region.get("/networks").json()["networks"] == []  # nothing until asked for by id
    local = cloud.nova.get(f"/networks/{net['id']}")
    assert local.status_code == 200, local.text
    assert local.json()["network"]["id"] == net["id"]
    assert local.json()["network"]["subnets"] == [sub["id"]]
    local_sub = cloud.region.get(f"/subnets/{sub['id']}").json()["subnet"]
    # The region's gateway is its own reserved central port, and its pools leave that address out.
    reserved = cloud.central.get("/ports", params={"name": f"interface_RegionOne_{sub['id']}"}).json()["ports"]
    assert len(reserved) == 1
    gw = reserved[0]["fixed_ips"][0]["ip_address"]
    assert local_sub["gateway_ip"] == gw != sub["gateway_ip"]
    assert all(not (p["start"] <= gw <= p["end"]) or p["start"] == p["end"] != gw
               for p in local_sub["allocation_pools"])
    assert cloud.nova.get("/networks/00000000-0000-0000-0000-000000000000").status_code == 404


def test_lp_list_with_id_filter_materialises(cloud: Cloud) -> None:
    net, _ = _net_with_subnet(cloud)
    listed = cloud.region.get("/networks", params={"id": net["id"]}).json()["networks"]
    assert [n["id"] for n in listed] == [net["id"]]


def test_lp_hints_excluding_the_region_are_not_materialised(cloud: Cloud) -> None:
    net = cloud.central.post("/networks", json={"network": {"name": "only2",
                                                            "availability_zone_hints": ["az2"]}}).json()["network"]
    assert cloud.nova.get(f"/networks/{net['id']}").status_code == 404
    mine = cloud.central.post("/networks", json={"network": {"name": "only1",
                                                             "availability_zone_hints": ["az1"]}}).json()["network"]
    assert cloud.nova.get(f"/networks/{mine['id']}").status_code == 200


def test_lp_port_is_created_in_central_first_then_bound(cloud: Cloud) -> None:
    net, sub = _net_with_subnet(cloud)
    cloud.nova.get(f"/networks/{net['id']}").raise_for_status()
    resp = cloud.nova.post("/ports", json={"port": {"network_id": net["id"], "device_id": "vm1",
                                                    "device_owner": "compute:az1"}})
    assert resp.status_code == 201, resp.text
    local = resp.json()["port"]
    top = cloud.central.get(f"/ports/{local['id']}").json()["port"]
    assert top["mac_address"] == local["mac_address"]
    assert top["fixed_ips"] == local["fixed_ips"]
    assert local["fixed_ips"][0]["subnet_id"] == sub["id"]
    assert local["security_groups"] == top["security_groups"] and len(top["security_groups"]) == 1
    # the group was materialised with the same id and central's rules
    sg_id = top["security_groups"][0]
    local_sg = cloud.region.get(f"/security-groups/{sg_id}").json()["security_group"]
    central_sg = cloud.central.get(f"/security-groups/{sg_id}").json()["security_group"]
    assert sorted(r["id"] for r in local_sg["security_group_rules"]) == \
        sorted(r["id"] for r in central_sg["security_group_rules"])
    # binding update forwarded to central, which now knows the host and the region
    bound = cloud.nova.put(f"/ports/{local['id']}", json={"port": {"binding:host_id": "host1"}})
    assert bound.status_code == 200, bound.text
    top_admin = cloud.central_admin.get(f"/ports/{local['id']}").json()["port"]
    assert top_admin["binding:host_id"] == "host1"
    assert top_admin["binding:profile"]["region"] == "RegionOne"
    assert cloud.region_admin.get(f"/ports/{local['id']}").json()["port"]["binding:host_id"] == "host1"
    # deleting a compute port in the region deletes the central port too
    assert cloud.nova.delete(f"/ports/{local['id']}").status_code == 204
    assert cloud.central.get(f"/ports/{local['id']}").status_code == 404


def test_lp_security_group_default_is_centrals(cloud: Cloud) -> None:
    central_default = [g for g in cloud.central.get("/security-groups").json()["security_groups"]
                       if g["name"] == "default"]
    local = cloud.region.get("/security-groups").json()["security_groups"]
    assert [g["id"] for g in local] == [central_default[0]["id"]]


def test_central_down_region_keeps_serving_and_fails_fast(cloud: Cloud) -> None:
    net, _ = _net_with_subnet(cloud)
    cloud.nova.get(f"/networks/{net['id']}").raise_for_status()
    cloud.central_server.stop()
    assert cloud.region.get(f"/networks/{net['id']}").status_code == 200
    assert cloud.region.get("/networks").status_code == 200
    resp = cloud.nova.post("/ports", json={"port": {"network_id": net["id"]}})
    assert resp.status_code == 503
    assert "Central Neutron" in resp.json()["NeutronError"]["message"]
    missing = cloud.nova.get("/networks/11111111-1111-1111-1111-111111111111")
    assert missing.status_code == 503


def test_oq01_binding_while_central_is_down_is_kept_and_forwarded(cloud: Cloud) -> None:
    """OQ-01: a boot on resources the region already has keeps working when central is down; the
    binding reaches central from the region's outbox once central is back."""
    role = cloud.region_app.core.role
    role.outbox_stop.set()  # this test delivers by hand, deterministically
    role.outbox.wakeup.set()
    net, _ = _net_with_subnet(cloud)
    cloud.nova.get(f"/networks/{net['id']}").raise_for_status()
    port = cloud.nova.post("/ports", json={"port": {"network_id": net["id"]}}).json()["port"]
    central_port = int(cloud.central_server.url.rsplit(":", 1)[1])
    cloud.central_server.stop()
    bound = cloud.nova.put(f"/ports/{port['id']}", json={"port": {"binding:host_id": "host7",
                                                                  "device_owner": "compute:az1",
                                                                  "device_id": "vm7"}})
    assert bound.status_code == 200, bound.text
    assert cloud.region_admin.get(f"/ports/{port['id']}").json()["port"]["binding:host_id"] == "host7"
    outbox = role.outbox
    assert outbox.pending() == 1
    assert outbox.deliver_once() == 0  # still down: kept, attempt noted
    cloud.central_server = ThreadedServer(cloud.central_app, port=central_port).start()
    cloud.central_admin = httpx.Client(base_url=cloud.central_server.url + "/v2.0", timeout=30)
    assert outbox.deliver_once() == 1
    assert outbox.pending() == 0
    top = cloud.central_admin.get(f"/ports/{port['id']}").json()["port"]
    assert top["binding:host_id"] == "host7" and top["device_id"] == "vm7"
    assert top["binding:profile"]["region"] == "RegionOne"
