"""Router deletes racing ``router_setup`` runs (found by Tempest's router tests): the delete cleans a
bottom router again when a job attaches something meanwhile, and a job run that was under way when
the delete began cannot leave a bottom router behind (CP delete rules, bottom first then top)."""

from __future__ import annotations

from typing import Any

import pytest
from multiregion import PROJECT, MultiRegion, cloud, network

from regionmesh.central import deleting, pods, routings
from regionmesh.jobs import store
from regionmesh.region.driver import LabRegionDriver

__all__ = ["cloud"]


def _ok(outcomes: list[store.JobRow]) -> None:
    assert all(j.status == "SUCCESS" for j in outcomes), [(j.type, j.last_error) for j in outcomes]


def _routed_router(c: MultiRegion) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], str]:
    """A router with net1's interface and a VM in RegionOne: its bottom router exists there."""
    net, sub = network(c, "net1", "10.0.1.0/24")
    vm = c.boot("RegionOne", net["id"], "host1")
    router = c.central.post("/routers", json={"router": {"name": "r"}}).json()["router"]
    c.central.put(f"/routers/{router['id']}/add_router_interface", json={"subnet_id": sub["id"]})
    _ok(c.worker.run_until_idle())
    with c.core.db.read() as conn:
        bottom = routings.get_bottom_id_by_top_id_region_name(conn, router["id"], "RegionOne", "router")
    assert bottom is not None
    return router, sub, vm, bottom


def _bottom_routers(c: MultiRegion, region: str) -> list[dict[str, Any]]:
    return c.region(region, {}).get("/routers").json()["routers"]  # type: ignore[no-any-return]


def test_delete_cleans_again_when_a_job_attaches_an_interface_meanwhile(cloud: MultiRegion,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    router, sub, _, bottom = _routed_router(cloud)
    cloud.central.put(f"/routers/{router['id']}/remove_router_interface", json={"subnet_id": sub["id"]})
    real_delete = LabRegionDriver.delete
    raced: list[str] = []

    def delete_after_a_racing_job(self: LabRegionDriver, collection: str, bottom_id: str) -> bool:
        if collection == "routers" and not raced:  # a router_setup run re-attaches net1 just before
            raced.append(bottom_id)
            self.action("routers", bottom_id, "add_router_interface", {"subnet_id": sub["id"]})
        return real_delete(self, collection, bottom_id)

    monkeypatch.setattr(LabRegionDriver, "delete", delete_after_a_racing_job)
    deleted = cloud.central.delete(f"/routers/{router['id']}")
    assert deleted.status_code == 204, deleted.text
    assert raced == [bottom]
    assert _bottom_routers(cloud, "RegionOne") == []
    assert cloud.routing_pods(router["id"], "router") == set()
    interfaces = cloud.region("RegionOne", {}).get("/ports", params={
        "device_owner": "network:router_interface"}).json()["ports"]
    assert interfaces == []


def test_a_job_run_racing_the_delete_leaves_no_bottom_router(cloud: MultiRegion) -> None:
    router, sub, _, _ = _routed_router(cloud)
    cloud.central.put(f"/routers/{router['id']}/remove_router_interface", json={"subnet_id": sub["id"]})
    assert cloud.central.delete(f"/routers/{router['id']}").status_code == 204
    # What a router_setup run under way when the delete began does after it: a copy and its routing.
    region_one = cloud.core.role.directory.driver("RegionOne")
    late = region_one.create("routers", {"name": router["id"], "project_id": PROJECT})
    with cloud.core.db.begin() as conn:
        pod = pods.get_pod_by_region(conn, "RegionOne")
        assert pod is not None
        routings.add_routing(conn, router["id"], late["id"], pod.pod_id, PROJECT, "router")
    # The delete asked for that job once more: with the router gone, the run removes the copy.
    rerun = cloud.worker.run_until_idle()
    _ok(rerun)
    assert {j.type for j in rerun} == {"router_setup"}
    assert _bottom_routers(cloud, "RegionOne") == []
    assert cloud.routing_pods(router["id"], "router") == set()
    _ok(cloud.worker.run_until_idle())
    assert _bottom_routers(cloud, "RegionOne") == []


def test_router_setup_for_a_router_being_deleted_does_nothing(cloud: MultiRegion) -> None:
    router, sub1, _, bottom = _routed_router(cloud)
    net2, sub2 = network(cloud, "net2", "10.0.2.0/24")
    cloud.boot("RegionOne", net2["id"], "host1")
    _ok(cloud.worker.run_until_idle())
    # an interface added in central, its router_setup not run yet, then the delete's marker appears
    cloud.central.put(f"/routers/{router['id']}/add_router_interface", json={"subnet_id": sub2["id"]})
    with cloud.core.db.begin() as conn:
        deleting.mark_deleting(conn, router["id"], "router")
    _ok(cloud.worker.run_until_idle())
    ports = cloud.region("RegionOne", {}).get("/ports", params={
        "device_id": bottom, "device_owner": "network:router_interface"}).json()["ports"]
    assert [p["fixed_ips"][0]["subnet_id"] for p in ports] == [sub1["id"]]


def test_delete_waits_for_a_run_under_way_so_the_external_network_can_go_next(
        cloud: MultiRegion, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tempest's gateway tests: create a router with a gateway, delete it at once, then its external
    subnet and network. A router_setup run already past its checks is making the north-south router
    (a gateway port on the external network) when the delete arrives: the delete waits for it, so
    the north-south router is gone when the delete returns and the external subnet can be deleted."""
    import threading

    from regionmesh.central import role as central_role
    from regionmesh.jobs import l3_handlers

    admin = {"X-Project-Id": PROJECT, "X-Roles": "admin,member,reader", "X-User-Id": "admin"}
    ext = cloud.central.post("/networks", headers=admin, json={"network": {
        "name": "ext", "router:external": True, "availability_zone_hints": ["RegionTwo"]}}).json()["network"]
    ext_sub = cloud.central.post("/subnets", headers=admin, json={"subnet": {
        "network_id": ext["id"], "cidr": "163.3.124.0/24", "ip_version": 4, "enable_dhcp": False}}).json()["subnet"]
    router = cloud.central.post("/routers", json={"router": {
        "name": "r", "external_gateway_info": {"network_id": ext["id"]}}}).json()["router"]

    entered, go, delete_waits = threading.Event(), threading.Event(), threading.Event()
    real_ns, real_sleep = l3_handlers.ensure_ns_router, central_role.time.sleep

    def held_ns_router(jc: Any, top: Any) -> Any:
        entered.set()
        assert go.wait(30)
        return real_ns(jc, top)

    def noticing_sleep(seconds: float) -> None:
        delete_waits.set()
        real_sleep(seconds)

    monkeypatch.setattr(l3_handlers, "ensure_ns_router", held_ns_router)
    monkeypatch.setattr(central_role.time, "sleep", noticing_sleep)
    run = threading.Thread(target=cloud.worker.run_once)
    run.start()
    assert entered.wait(30)
    outcome: dict[str, int] = {}
    deleter = threading.Thread(target=lambda: outcome.update(
        status=cloud.central.delete(f"/routers/{router['id']}").status_code))
    deleter.start()
    while not delete_waits.is_set() and deleter.is_alive():  # the delete waits, or (unfixed) returns
        deleter.join(0.01)
    go.set()
    run.join(30)
    deleter.join(30)
    assert outcome["status"] == 204
    assert cloud.region("RegionTwo", {}).get("/routers").json()["routers"] == []
    gone = cloud.central.delete(f"/subnets/{ext_sub['id']}", headers=admin)
    assert gone.status_code == 204, gone.text
    assert cloud.central.delete(f"/networks/{ext['id']}", headers=admin).status_code == 204
