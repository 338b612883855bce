"""Central with two lab regions and a job worker, all over HTTP (SC-02, SG-13…SG-19, OQ-02, OQ-12).

VM boots are emulated exactly as Nova calls its region's Neutron: GET the network by id, POST the
port, PUT the binding.
"""

from __future__ import annotations

from typing import Any

from multiregion import NOVA, PROJECT, MultiRegion, cloud, network
from sqlalchemy import select

from regionmesh.api.server import ThreadedServer
from regionmesh.db import models as m
from regionmesh.jobs import store

__all__ = ["cloud"]

def _ingress_prefixes(rules: list[dict[str, Any]]) -> set[str]:
    return {r["remote_ip_prefix"] for r in rules if r["direction"] == "ingress" and r["remote_ip_prefix"]}


def test_binding_records_routings_and_jobs_and_rules_converge(cloud: MultiRegion) -> None:
    """OQ-12 + SG-13 + SG-15 + OQ-02: each boot records routings; seg_rule_setup makes every region's
    copy of the default group admit exactly the members' addresses in all regions."""
    net1, sub1 = network(cloud, "net1", "10.0.1.0/24")
    net2, sub2 = network(cloud, "net2", "10.0.2.0/24")
    vm1 = cloud.boot("RegionOne", net1["id"], "host1")
    vm2 = cloud.boot("RegionTwo", net2["id"], "host2")
    assert vm2["fixed_ips"][0]["subnet_id"] == sub2["id"]
    sg = vm1["security_groups"][0]
    assert vm2["security_groups"] == [sg]
    assert cloud.routing_pods(vm1["id"], "port") == {"RegionOne"}
    assert cloud.routing_pods(net1["id"], "network") == {"RegionOne"}
    assert cloud.routing_pods(sub1["id"], "subnet") == {"RegionOne"}
    assert cloud.routing_pods(sg, "security_group") == {"RegionOne", "RegionTwo"}
    pending = [(j.type, j.status) for j in cloud.jobs()]
    assert pending == [("seg_rule_setup", "NEW")]  # two bindings, one coalesced job
    outcomes = cloud.worker.run_until_idle()
    assert [j.status for j in outcomes] == ["SUCCESS"]
    ip1, ip2 = vm1["fixed_ips"][0]["ip_address"], vm2["fixed_ips"][0]["ip_address"]
    for region in ("RegionOne", "RegionTwo"):
        copy = cloud.region(region).get(f"/security-groups/{sg}").json()["security_group"]
        assert _ingress_prefixes(copy["security_group_rules"]) == {f"{ip1}/32", f"{ip2}/32"}
        assert not [r for r in copy["security_group_rules"] if r["remote_group_id"]]
    # level-triggered: a second run changes nothing
    with cloud.core.db.begin() as conn:
        store.enqueue(conn, "seg_rule_setup", {"project_id": PROJECT}, PROJECT, now=cloud.clock.now())
    assert [j.status for j in cloud.worker.run_until_idle()] == ["SUCCESS"]
    copy = cloud.region("RegionOne").get(f"/security-groups/{sg}").json()["security_group"]
    assert _ingress_prefixes(copy["security_group_rules"]) == {f"{ip1}/32", f"{ip2}/32"}


def test_central_rule_change_reaches_every_copy(cloud: MultiRegion) -> None:
    net1, _ = network(cloud, "net1", "10.0.1.0/24")
    vm1 = cloud.boot("RegionOne", net1["id"], "host1")
    cloud.boot("RegionTwo", net1["id"], "host2")
    cloud.worker.run_until_idle()
    sg = vm1["security_groups"][0]
    rule = cloud.central.post("/security-group-rules", json={"security_group_rule": {
        "security_group_id": sg, "direction": "ingress", "protocol": "tcp", "port_range_min": 22,
        "port_range_max": 22, "remote_ip_prefix": "192.0.2.0/24"}})
    assert rule.status_code == 201
    assert [j.status for j in cloud.worker.run_until_idle()] == ["SUCCESS"]
    for region in ("RegionOne", "RegionTwo"):
        copy = cloud.region(region).get(f"/security-groups/{sg}").json()["security_group"]
        assert "192.0.2.0/24" in _ingress_prefixes(copy["security_group_rules"])
    assert cloud.central.delete(f"/security-group-rules/{rule.json()['security_group_rule']['id']}").status_code == 204
    cloud.worker.run_until_idle()
    copy = cloud.region("RegionTwo").get(f"/security-groups/{sg}").json()["security_group"]
    assert "192.0.2.0/24" not in _ingress_prefixes(copy["security_group_rules"])


def test_sc02_security_group_delete_bottom_first(cloud: MultiRegion) -> None:
    """SC-02 / SG-14…SG-19 / REG for seed 000: bind a new group to a bound port, delete is refused while
    bound (nothing changes), then after unbinding it is deleted bottom first and leaves nothing."""
    net1, _ = network(cloud, "net1", "10.0.1.0/24")
    vm1 = cloud.boot("RegionOne", net1["id"], "host1")
    test_sg = cloud.central.post("/security-groups", json={"security_group": {"name": "Test"}}).json()[
        "security_group"]
    # SG-14: port-update --security-group in central on a port bound in RegionOne
    upd = cloud.central.put(f"/ports/{vm1['id']}", json={"port": {"security_groups": [test_sg["id"]]}})
    assert upd.status_code == 200
    assert cloud.routing_pods(test_sg["id"], "security_group") == {"RegionOne"}
    cloud.worker.run_until_idle()
    region_copy = cloud.region("RegionOne").get(f"/security-groups/{test_sg['id']}")
    assert region_copy.status_code == 200
    # SG-19: the binding check reads current bindings → 409 and nothing changes
    busy = cloud.central.delete(f"/security-groups/{test_sg['id']}")
    assert busy.status_code == 409 and busy.json()["NeutronError"]["type"] == "SecurityGroupInUse"
    assert cloud.central.get(f"/security-groups/{test_sg['id']}").status_code == 200
    assert cloud.routing_pods(test_sg["id"], "security_group") == {"RegionOne"}
    with cloud.core.db.read() as conn:
        assert conn.execute(select(m.deleting_resources)).first() is None  # SG-16 step 7: no stale marker
    # unbind, then delete: bottom copy and routing go first, then the top
    cloud.central.put(f"/ports/{vm1['id']}", json={"port": {"security_groups": []}})
    assert cloud.central.delete(f"/security-groups/{test_sg['id']}").status_code == 204
    assert cloud.central.get(f"/security-groups/{test_sg['id']}").status_code == 404
    assert cloud.routing_pods(test_sg["id"], "security_group") == set()
    admin_region = cloud.region("RegionOne", {})
    assert admin_region.get("/security-groups", params={"name": "Test"}).json()["security_groups"] == []
    with cloud.core.db.read() as conn:
        assert conn.execute(select(m.deleting_resources)).first() is None


def test_deleting_marker_hides_from_regions_and_conflicts_for_others(cloud: MultiRegion) -> None:
    """OQ-05 / SG-18: while a delete is in progress a region's lookup gets 404, others 409."""
    from regionmesh.central import deleting

    sg = cloud.central.post("/security-groups", json={"security_group": {"name": "x"}}).json()["security_group"]
    with deleting.deleting(cloud.core.db, sg["id"], "security_group"):
        other = cloud.central.get(f"/security-groups/{sg['id']}")
        assert other.status_code == 409 and other.json()["NeutronError"]["type"] == "ResourceIsInDeleting"
        lazy = cloud.region("RegionOne").get(f"/security-groups/{sg['id']}")
        assert lazy.status_code == 404
    assert cloud.central.get(f"/security-groups/{sg['id']}").status_code == 200


def test_region_down_jobs_retry_and_converge(cloud: MultiRegion) -> None:
    net1, _ = network(cloud, "net1", "10.0.1.0/24")
    vm1 = cloud.boot("RegionOne", net1["id"], "host1")
    sg = vm1["security_groups"][0]
    url = cloud.regions["RegionOne"].url
    cloud.regions["RegionOne"].stop()
    [outcome] = cloud.worker.run_until_idle()
    assert outcome.status == "NEW" and outcome.attempts == 1 and "RegionOne" in (outcome.last_error or "")
    assert cloud.worker.run_until_idle() == []  # backing off: not due yet
    # the region comes back on the same address with the same database
    port = int(url.rsplit(":", 1)[1])
    cloud.regions["RegionOne"] = ThreadedServer(cloud.region_apps["RegionOne"], port=port).start()
    cloud.clock.advance(600)
    assert [j.status for j in cloud.worker.run_until_idle()] == ["SUCCESS"]
    copy = cloud.region("RegionOne").get(f"/security-groups/{sg}").json()["security_group"]
    assert _ingress_prefixes(copy["security_group_rules"]) == {f"{vm1['fixed_ips'][0]['ip_address']}/32"}


def test_network_delete_bottom_first_leaves_no_copy_and_no_routing(cloud: MultiRegion) -> None:
    net1, sub1 = network(cloud, "net1", "10.0.1.0/24")
    vm1 = cloud.boot("RegionOne", net1["id"], "host1")
    busy = cloud.central.delete(f"/networks/{net1['id']}")
    assert busy.status_code == 409 and busy.json()["NeutronError"]["type"] == "NetworkInUse"
    assert cloud.region("RegionOne").get(f"/networks/{net1['id']}").status_code == 200
    assert cloud.routing_pods(net1["id"], "network") == {"RegionOne"}
    # deleting the VM's port in the region deletes it in central; its routing goes with a port_delete job
    assert cloud.region("RegionOne", NOVA).delete(f"/ports/{vm1['id']}").status_code == 204
    cloud.worker.run_until_idle()
    assert cloud.routing_pods(vm1["id"], "port") == set()
    assert cloud.central.delete(f"/networks/{net1['id']}").status_code == 204
    assert cloud.region("RegionOne", {}).get(f"/networks/{net1['id']}").status_code == 404
    assert cloud.region("RegionOne", {}).get(f"/subnets/{sub1['id']}").status_code == 404
    assert cloud.routing_pods(net1["id"], "network") == set()
    assert cloud.routing_pods(sub1["id"], "subnet") == set()
    leftovers = cloud.admin.get("/ports", params={"network_id": net1["id"]}).json()["ports"]
    assert leftovers == []


def test_port_deleted_in_central_goes_from_the_region_by_job(cloud: MultiRegion) -> None:
    net1, _ = network(cloud, "net1", "10.0.1.0/24")
    vm1 = cloud.boot("RegionOne", net1["id"], "host1")
    admin_central = cloud.admin
    assert admin_central.delete(f"/ports/{vm1['id']}").status_code == 204
    types = sorted(j.type for j in cloud.jobs() if j.status == "NEW")
    assert "port_delete" in types
    cloud.worker.run_until_idle()
    assert cloud.region("RegionOne", {}).get(f"/ports/{vm1['id']}").status_code == 404
    assert cloud.routing_pods(vm1["id"], "port") == set()
