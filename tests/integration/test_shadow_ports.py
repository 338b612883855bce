"""``shadow_port_setup``: each region of a cross-region network holds a stand-in for every VM port of
the other regions (same IP and MAC, owner ``compute:shadow``), and none for ports gone or moved."""

from __future__ import annotations

from typing import Any

from multiregion import PROJECT, MultiRegion, cloud, network

from regionmesh.central import pods, routings
from regionmesh.jobs import store

__all__ = ["cloud"]


def _shadows(c: MultiRegion, region: str, network_id: str) -> list[dict[str, Any]]:
    ports = c.region(region, {}).get("/ports", params={"network_id": network_id,
                                                       "device_owner": "compute:shadow"}).json()["ports"]
    return sorted(ports, key=lambda p: p["name"])


def _ok(outcomes: list[store.JobRow]) -> None:
    assert all(j.status == "SUCCESS" for j in outcomes), [(j.type, j.last_error) for j in outcomes]


def _state(c: MultiRegion) -> dict[str, Any]:
    return {r: sorted((p["id"], p["revision_number"]) for p in c.region(r, {}).get("/ports").json()["ports"])
            for r in ("RegionOne", "RegionTwo")}


def _rerun(c: MultiRegion, network_id: str) -> None:
    with c.core.db.begin() as conn:
        for pod in pods.list_pods(conn):
            if not pod.is_top:
                store.enqueue(conn, "shadow_port_setup", {"pod_id": pod.pod_id, "network_id": network_id}, PROJECT,
                              now=c.clock.now())


def test_cross_region_network_gets_shadow_ports_both_ways(cloud: MultiRegion) -> None:
    net, _ = network(cloud, "net1", "10.0.1.0/24")
    vm1 = cloud.boot("RegionOne", net["id"], "host1")
    vm2 = cloud.boot("RegionTwo", net["id"], "host2")
    assert ("shadow_port_setup", net["id"]) in {(j.type, j.resource.get("network_id")) for j in cloud.jobs()}
    _ok(cloud.worker.run_until_idle())

    for region, remote in (("RegionOne", vm2), ("RegionTwo", vm1)):
        [shadow] = _shadows(cloud, region, net["id"])
        assert shadow["name"] == f"shadow_{remote['id']}"
        assert shadow["mac_address"] == remote["mac_address"]
        assert shadow["fixed_ips"] == [{"subnet_id": f["subnet_id"], "ip_address": f["ip_address"]}
                                       for f in remote["fixed_ips"]]
        assert shadow["binding:host_id"] == remote["binding:host_id"]
        assert shadow["binding:profile"] == {"force_up": True}
        assert shadow["status"] == "ACTIVE"
        with cloud.core.db.read() as conn:
            assert routings.get_bottom_id_by_top_id_region_name(conn, remote["id"], region,
                                                                "shadow_port") == shadow["id"]
    # central never hears of shadow ports
    assert {p["id"] for p in cloud.admin.get("/ports", params={"network_id": net["id"]}).json()["ports"]
            if p["device_owner"] == "compute:shadow"} == set()

    # level-triggered: run again, nothing changes
    before = _state(cloud)
    _rerun(cloud, net["id"])
    _ok(cloud.worker.run_until_idle())
    assert _state(cloud) == before


def test_deleted_port_loses_its_shadow_ports(cloud: MultiRegion) -> None:
    net, _ = network(cloud, "net1", "10.0.1.0/24")
    vm1 = cloud.boot("RegionOne", net["id"], "host1")
    vm2 = cloud.boot("RegionTwo", net["id"], "host2")
    _ok(cloud.worker.run_until_idle())
    assert len(_shadows(cloud, "RegionOne", net["id"])) == 1

    deleted = cloud.central.delete(f"/ports/{vm2['id']}")
    assert deleted.status_code == 204, deleted.text
    _ok(cloud.worker.run_until_idle())
    assert _shadows(cloud, "RegionOne", net["id"]) == []
    assert cloud.routing_pods(vm2["id"], "shadow_port") == set()
    # vm1 still has its stand-in in RegionTwo (the network copy stays there)
    [shadow] = _shadows(cloud, "RegionTwo", net["id"])
    assert shadow["name"] == f"shadow_{vm1['id']}"

    before = _state(cloud)
    _rerun(cloud, net["id"])
    _ok(cloud.worker.run_until_idle())
    assert _state(cloud) == before


def test_missing_and_stray_shadow_ports_are_repaired(cloud: MultiRegion) -> None:
    """A shadow port deleted behind central's back comes back; one for a port central lacks goes."""
    net, sub = network(cloud, "net1", "10.0.1.0/24")
    cloud.boot("RegionOne", net["id"], "host1")
    vm2 = cloud.boot("RegionTwo", net["id"], "host2")
    _ok(cloud.worker.run_until_idle())
    [shadow] = _shadows(cloud, "RegionOne", net["id"])
    admin_one = cloud.region("RegionOne", {})
    assert admin_one.delete(f"/ports/{shadow['id']}").status_code == 204
    stray = admin_one.post("/ports", json={"port": {
        "network_id": net["id"], "name": "shadow_" + "f" * 32, "device_owner": "compute:shadow",
        "fixed_ips": [{"subnet_id": sub["id"], "ip_address": "10.0.1.200"}]}})
    assert stray.status_code == 201, stray.text
    _rerun(cloud, net["id"])
    _ok(cloud.worker.run_until_idle())
    [again] = _shadows(cloud, "RegionOne", net["id"])
    assert again["name"] == f"shadow_{vm2['id']}" and again["id"] != shadow["id"]
    with cloud.core.db.read() as conn:
        assert routings.get_bottom_id_by_top_id_region_name(conn, vm2["id"], "RegionOne",
                                                            "shadow_port") == again["id"]
