"""Regression tests for the security-group deletion bugs of seed 000 (requirements §4.1, REG-01…REG-07),
and the lazy-creation pitfall REG-10 of seed 001, against central + two lab regions over HTTP."""

from __future__ import annotations

from typing import Any

from multiregion import NOVA, MultiRegion, cloud, network
from sqlalchemy import select

from regionmesh.api.server import ThreadedServer
from regionmesh.central import deleting
from regionmesh.db import models as m

__all__ = ["cloud"]

COLLECTION_URL = {"network": "networks", "subnet": "subnets", "port": "ports", "security_group": "security-groups"}


def _markers(c: MultiRegion) -> list[Any]:
    with c.core.db.read() as conn:
        return list(conn.execute(select(m.deleting_resources)))


def _bound_vm_with_group(c: MultiRegion, name: str = "T") -> tuple[dict[str, Any], dict[str, Any]]:
    net, _ = network(c, "net1", "10.0.1.0/24")
    vm = c.boot("RegionOne", net["id"], "host1")
    sg = c.central.post("/security-groups", json={"security_group": {"name": name}}).json()["security_group"]
    assert c.central.put(f"/ports/{vm['id']}", json={"port": {"security_groups": [sg["id"]]}}).status_code == 200
    c.worker.run_until_idle()
    return vm, sg


def test_reg01_lookup_while_deleting_does_not_recreate(cloud: MultiRegion) -> None:
    sg = cloud.central.post("/security-groups", json={"security_group": {"name": "S"}}).json()["security_group"]
    net, _ = network(cloud, "n", "10.0.5.0/24")
    with deleting.deleting(cloud.core.db, sg["id"], "security_group"), \
            deleting.deleting(cloud.core.db, net["id"], "network"):
        assert cloud.region("RegionOne").get(f"/security-groups/{sg['id']}").status_code == 404
        assert cloud.region("RegionOne", NOVA).get("/networks", params={"id": net["id"]}).json()["networks"] == []
        for path in (f"/security-groups/{sg['id']}", f"/networks/{net['id']}"):
            other = cloud.central.get(path)
            assert other.status_code == 409 and "in deleting" in other.json()["NeutronError"]["message"]
        second = cloud.central.delete(f"/security-groups/{sg['id']}")
        assert second.status_code == 409 and second.json()["NeutronError"]["type"] == "ResourceIsInDeleting"
    assert cloud.routing_pods(sg["id"], "security_group") == set()
    assert cloud.region("RegionOne", {}).get("/security-groups", params={"name": "S"}).json()["security_groups"] == []


def test_reg02_every_routing_points_at_a_real_bottom_resource(cloud: MultiRegion) -> None:
    _bound_vm_with_group(cloud)
    net2, _ = network(cloud, "net2", "10.0.2.0/24")
    cloud.boot("RegionTwo", net2["id"], "host2")
    cloud.worker.run_until_idle()
    with cloud.core.db.read() as conn:
        rows = conn.execute(select(m.resource_routings, m.pods.c.region_name).join(
            m.pods, m.pods.c.pod_id == m.resource_routings.c.pod_id)).all()
    assert rows
    for row in rows:
        resp = cloud.region(row.region_name, {}).get(f"/{COLLECTION_URL[row.resource_type]}/{row.bottom_id}")
        assert resp.status_code == 200, (row.resource_type, row.top_id, row.region_name)
        assert row.bottom_id == row.top_id  # lab copies keep central's UUID


def test_reg03_group_bound_by_port_update_is_copied_with_its_routing(cloud: MultiRegion) -> None:
    vm, sg = _bound_vm_with_group(cloud, "SGTest39")
    listed = cloud.region("RegionOne", {}).get("/security-groups", params={"name": "SGTest39"}).json()
    assert [g["id"] for g in listed["security_groups"]] == [sg["id"]]
    assert cloud.routing_pods(sg["id"], "security_group") == {"RegionOne"}
    cloud.central.put(f"/ports/{vm['id']}", json={"port": {"security_groups": []}})
    assert cloud.central.delete(f"/security-groups/{sg['id']}").status_code == 204
    assert cloud.region("RegionOne", {}).get(f"/security-groups/{sg['id']}").status_code == 404


def test_reg04_bound_group_delete_is_refused_and_changes_nothing(cloud: MultiRegion) -> None:
    vm, sg = _bound_vm_with_group(cloud)
    resp = cloud.central.delete(f"/security-groups/{sg['id']}")
    assert resp.status_code == 409 and resp.json()["NeutronError"]["type"] == "SecurityGroupInUse"
    assert sg["id"] in resp.json()["NeutronError"]["message"]
    assert cloud.central.get(f"/security-groups/{sg['id']}").status_code == 200
    assert cloud.region("RegionOne", {}).get(f"/security-groups/{sg['id']}").status_code == 200
    assert cloud.region("RegionOne", {}).get(f"/ports/{vm['id']}").json()["port"]["security_groups"] == [sg["id"]]
    assert cloud.routing_pods(sg["id"], "security_group") == {"RegionOne"}


def test_reg05_port_group_change_updates_bindings_in_central_and_region(cloud: MultiRegion) -> None:
    vm, sg = _bound_vm_with_group(cloud)
    default = vm["security_groups"][0]
    with cloud.core.db.read() as conn:
        bindings = {(r.port_id, r.security_group_id) for r in conn.execute(select(m.securitygroupportbindings))}
    assert (vm["id"], sg["id"]) in bindings and (vm["id"], default) not in bindings
    region_port = cloud.region("RegionOne", {}).get(f"/ports/{vm['id']}").json()["port"]
    assert region_port["security_groups"] == [sg["id"]]
    # the default group is no longer in use by the port (central's check)
    assert cloud.central.get("/ports", params={"security_groups": default}).json()["ports"] == []


def test_reg06_unbound_group_is_deleted_bottom_first_and_survives_a_lost_region(cloud: MultiRegion) -> None:
    net1, _ = network(cloud, "net1", "10.0.1.0/24")
    net2, _ = network(cloud, "net2", "10.0.2.0/24")
    vm1 = cloud.boot("RegionOne", net1["id"], "h1")
    vm2 = cloud.boot("RegionTwo", net2["id"], "h2")
    sg = cloud.central.post("/security-groups", json={"security_group": {"name": "T"}}).json()["security_group"]
    for vm in (vm1, vm2):
        cloud.central.put(f"/ports/{vm['id']}", json={"port": {"security_groups": [sg["id"]]}})
    cloud.worker.run_until_idle()
    for vm in (vm1, vm2):
        cloud.central.put(f"/ports/{vm['id']}", json={"port": {"security_groups": []}})
    assert cloud.routing_pods(sg["id"], "security_group") == {"RegionOne", "RegionTwo"}
    # RegionTwo is lost: the delete fails, central keeps T, RegionTwo keeps its routing, no marker leaks
    two_url = cloud.regions["RegionTwo"].url
    cloud.regions["RegionTwo"].stop()
    failed = cloud.central.delete(f"/security-groups/{sg['id']}")
    assert failed.status_code == 503
    assert cloud.central.get(f"/security-groups/{sg['id']}").status_code == 200
    assert cloud.routing_pods(sg["id"], "security_group") == {"RegionTwo"}
    assert _markers(cloud) == []
    cloud.regions["RegionTwo"] = ThreadedServer(cloud.region_apps["RegionTwo"],
                                                port=int(two_url.rsplit(":", 1)[1])).start()
    assert cloud.central.delete(f"/security-groups/{sg['id']}").status_code == 204
    assert cloud.routing_pods(sg["id"], "security_group") == set()
    for region in ("RegionOne", "RegionTwo"):
        assert cloud.region(region, {}).get(f"/security-groups/{sg['id']}").status_code == 404
    assert _markers(cloud) == []


def test_reg07_failed_delete_leaves_no_marker_and_a_retry_works(cloud: MultiRegion) -> None:
    vm, sg = _bound_vm_with_group(cloud)
    assert cloud.central.delete(f"/security-groups/{sg['id']}").status_code == 409
    assert _markers(cloud) == []
    assert cloud.central.get(f"/security-groups/{sg['id']}").status_code == 200
    assert cloud.region("RegionOne").get(f"/security-groups/{sg['id']}").status_code == 200
    cloud.central.put(f"/ports/{vm['id']}", json={"port": {"security_groups": []}})
    assert cloud.central.delete(f"/security-groups/{sg['id']}").status_code == 204
    assert _markers(cloud) == []


def test_reg10_lazy_creation_keeps_uuids_and_list_without_id_pulls_nothing(cloud: MultiRegion) -> None:
    net, sub = network(cloud, "net1", "10.0.1.0/24")
    assert cloud.region("RegionOne", NOVA).get("/networks").json()["networks"] == []
    vm = cloud.boot("RegionOne", net["id"], "h1")
    top = cloud.central.get(f"/ports/{vm['id']}").json()["port"]
    region = cloud.region("RegionOne", {})
    assert region.get(f"/networks/{net['id']}").json()["network"]["id"] == net["id"]
    assert region.get(f"/subnets/{sub['id']}").json()["subnet"]["id"] == sub["id"]
    local_port = region.get(f"/ports/{vm['id']}").json()["port"]
    assert (local_port["mac_address"], local_port["fixed_ips"]) == (top["mac_address"], top["fixed_ips"])
    assert region.get(f"/security-groups/{top['security_groups'][0]}").status_code == 200
    other, _ = network(cloud, "net-other", "10.0.7.0/24")
    assert other["id"] not in {n["id"] for n in region.get("/networks").json()["networks"]}
