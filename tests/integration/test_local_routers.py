"""Local routers (hinted to exactly one region): no bridge, the bottom router only in that region,
placement checked in central when asked (400, nothing changed), the gateway set on the bottom router."""

from __future__ import annotations

import ipaddress
from typing import Any

import httpx
from multiregion import PROJECT, MultiRegion, cloud

from regionmesh.central import pods, routings
from regionmesh.jobs import store

__all__ = ["cloud"]

ADMIN = {"X-Project-Id": PROJECT, "X-Roles": "admin,member,reader", "X-User-Id": "admin"}


def _ok(outcomes: list[store.JobRow]) -> None:
    assert all(j.status == "SUCCESS" for j in outcomes), [(j.type, j.last_error) for j in outcomes]


def _net(c: MultiRegion, name: str, cidr: str, hints: list[str] | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    body: dict[str, Any] = {"name": name}
    if hints is not None:
        body["availability_zone_hints"] = hints
    net = c.central.post("/networks", json={"network": body}).json()["network"]
    sub = c.central.post("/subnets", json={"subnet": {"network_id": net["id"], "cidr": cidr,
                                                      "ip_version": 4}}).json()["subnet"]
    return net, sub


def _bottom(c: MultiRegion, top_id: str, rtype: str, region: str) -> str | None:
    with c.core.db.read() as conn:
        return routings.get_bottom_id_by_top_id_region_name(conn, top_id, region, rtype)


def _interfaces(c: MultiRegion, region: str, bottom_router: str, key: str = "subnet_id") -> set[str]:
    """The subnets (or, with ``key="ip_address"``, the addresses) of a bottom router's interfaces."""
    ports = c.region(region, {}).get("/ports", params={"device_id": bottom_router,
                                                        "device_owner": "network:router_interface"}).json()["ports"]
    return {f[key] for p in ports for f in p["fixed_ips"]}


def _state(c: MultiRegion) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for region in ("RegionOne", "RegionTwo"):
        r = c.region(region, {})
        out[region] = {coll: sorted((x["id"], x.get("revision_number")) for x in r.get(f"/{coll}").json()[coll])
                       for coll in ("routers", "ports", "networks", "subnets")}
    return out


def _assert_rerun_changes_nothing(c: MultiRegion, router_id: str, network_id: str) -> None:
    """Level-triggered: a second ``router_setup`` for the same (pod, router, network) changes nothing."""
    before = _state(c)
    with c.core.db.begin() as conn:
        pod = pods.get_pod_by_region(conn, "RegionOne")
        assert pod is not None
        store.enqueue(conn, "router_setup", {"pod_id": pod.pod_id, "router_id": router_id,
                                             "network_id": network_id}, PROJECT, now=c.clock.now())
    _ok(c.worker.run_until_idle())
    assert _state(c) == before


def _local_router(c: MultiRegion, region: str = "RegionOne") -> dict[str, Any]:
    created = c.central.post("/routers", json={"router": {"name": "R1", "availability_zone_hints": [region]}})
    assert created.status_code == 201, created.text
    return created.json()["router"]  # type: ignore[no-any-return]


def test_local_router_lives_only_in_its_region_without_bridge(cloud: MultiRegion) -> None:
    net1, sub1 = _net(cloud, "net1", "10.0.1.0/24", ["RegionOne"])
    router = _local_router(cloud)
    added = cloud.central.put(f"/routers/{router['id']}/add_router_interface", json={"subnet_id": sub1["id"]})
    assert added.status_code == 200, added.text
    _ok(cloud.worker.run_until_idle())  # no VM yet: attaching places the local network at once

    assert cloud.routing_pods(router["id"], "router") == {"RegionOne"}
    assert cloud.routing_pods(net1["id"], "network") == {"RegionOne"}
    b_router = _bottom(cloud, router["id"], "router", "RegionOne")
    assert b_router is not None
    copy = cloud.region("RegionOne", {}).get(f"/routers/{b_router}").json()["router"]
    assert copy["external_gateway_info"] is None  # no bridge gateway
    assert _interfaces(cloud, "RegionOne", b_router) == {sub1["id"]}
    assert cloud.region("RegionTwo", {}).get("/routers").json()["routers"] == []
    assert cloud.admin.get("/networks", params={"name": f"bridge_net_{PROJECT}"}).json()["networks"] == []
    assert {j.type for j in cloud.jobs()} == {"router_setup"}  # no configure_route for a local router

    # a VM booted later changes nothing in the router
    cloud.boot("RegionOne", net1["id"], "host1")
    _ok(cloud.worker.run_until_idle())
    assert _interfaces(cloud, "RegionOne", b_router) == {sub1["id"]}

    _assert_rerun_changes_nothing(cloud, router["id"], net1["id"])


def _refused(resp: httpx.Response) -> None:
    assert resp.status_code == 400, resp.text
    error = resp.json()["NeutronError"]
    assert error["type"] == "RouterNetworkLocationMismatch"
    assert "local router of RegionOne" in error["message"]


def test_local_router_refuses_a_network_of_another_region(cloud: MultiRegion) -> None:
    router = _local_router(cloud)
    _, sub2 = _net(cloud, "net2", "10.0.2.0/24", ["az2"])
    _refused(cloud.central.put(f"/routers/{router['id']}/add_router_interface", json={"subnet_id": sub2["id"]}))
    # an unhinted network already with ports in RegionTwo is refused too
    net3, sub3 = _net(cloud, "net3", "10.0.3.0/24")
    cloud.boot("RegionTwo", net3["id"], "host2")
    _ok(cloud.worker.run_until_idle())
    refused = cloud.central.put(f"/routers/{router['id']}/add_router_interface", json={"subnet_id": sub3["id"]})
    _refused(refused)
    assert "RegionTwo" in refused.json()["NeutronError"]["message"]
    # nothing changed: no interface port in central, no job, no bottom router
    assert cloud.admin.get("/ports", params={"device_id": router["id"]}).json()["ports"] == []
    assert [j for j in cloud.jobs() if j.type == "router_setup"] == []
    assert cloud.routing_pods(router["id"], "router") == set()
    assert cloud.central.get(f"/routers/{router['id']}").json()["router"]["revision_number"] == \
        router["revision_number"]


def _ext_net(c: MultiRegion, region: str, cidr: str) -> tuple[dict[str, Any], dict[str, Any]]:
    ext = c.central.post("/networks", headers=ADMIN, json={"network": {
        "name": f"ext-{region}", "router:external": True, "availability_zone_hints": [region]}})
    assert ext.status_code == 201, ext.text
    sub = c.central.post("/subnets", headers=ADMIN, json={"subnet": {
        "network_id": ext.json()["network"]["id"], "cidr": cidr, "ip_version": 4, "enable_dhcp": False}})
    assert sub.status_code == 201, sub.text
    return ext.json()["network"], sub.json()["subnet"]


def test_local_router_gateway_is_set_on_its_bottom_router(cloud: MultiRegion) -> None:
    ext1, _ = _ext_net(cloud, "RegionOne", "163.3.124.0/24")
    ext2, _ = _ext_net(cloud, "RegionTwo", "163.3.125.0/24")
    _, sub1 = _net(cloud, "net1", "10.0.1.0/24", ["RegionOne"])
    router = _local_router(cloud)
    cloud.central.put(f"/routers/{router['id']}/add_router_interface", json={"subnet_id": sub1["id"]})
    _ok(cloud.worker.run_until_idle())

    _refused(cloud.central.put(f"/routers/{router['id']}", json={"router": {
        "external_gateway_info": {"network_id": ext2["id"]}}}))
    assert cloud.central.get(f"/routers/{router['id']}").json()["router"]["external_gateway_info"] is None

    gw = cloud.central.put(f"/routers/{router['id']}", json={"router": {
        "external_gateway_info": {"network_id": ext1["id"]}}})
    assert gw.status_code == 200, gw.text
    _ok(cloud.worker.run_until_idle())
    b_router = _bottom(cloud, router["id"], "router", "RegionOne")
    copy = cloud.region("RegionOne", {}).get(f"/routers/{b_router}").json()["router"]
    central_ip = gw.json()["router"]["external_gateway_info"]["external_fixed_ips"][0]["ip_address"]
    assert copy["external_gateway_info"]["network_id"] == _bottom(cloud, ext1["id"], "network", "RegionOne")
    assert copy["external_gateway_info"]["external_fixed_ips"][0]["ip_address"] == central_ip
    assert cloud.routing_pods(router["id"], "ns_router") == set()
    assert cloud.admin.get("/networks", params={"name": f"bridge_net_{PROJECT}"}).json()["networks"] == []

    cloud.central.put(f"/routers/{router['id']}", json={"router": {"external_gateway_info": None}})
    _ok(cloud.worker.run_until_idle())
    assert cloud.region("RegionOne", {}).get(f"/routers/{b_router}").json()["router"]["external_gateway_info"] \
        is None


def test_local_router_bottom_interfaces_use_the_top_interface_addresses(cloud: MultiRegion) -> None:
    """By subnet the region's copy routes through the top gateway; by port through that port's address
    (any address of the subnet), and the copy's gateway follows so its VMs use it."""
    _, sub1 = _net(cloud, "net1", "10.0.1.0/24", ["RegionOne"])
    net2, sub2 = _net(cloud, "net2", "10.0.2.0/24", ["RegionOne"])
    router = _local_router(cloud)
    port = cloud.central.post("/ports", json={"port": {"network_id": net2["id"], "fixed_ips": [
        {"subnet_id": sub2["id"], "ip_address": "10.0.2.50"}]}}).json()["port"]
    assert cloud.central.put(f"/routers/{router['id']}/add_router_interface",
                             json={"subnet_id": sub1["id"]}).status_code == 200
    assert cloud.central.put(f"/routers/{router['id']}/add_router_interface",
                             json={"port_id": port["id"]}).status_code == 200
    _ok(cloud.worker.run_until_idle())

    b_router = _bottom(cloud, router["id"], "router", "RegionOne")
    assert b_router is not None
    assert _interfaces(cloud, "RegionOne", b_router, "ip_address") == {"10.0.1.1", "10.0.2.50"}
    region = cloud.region("RegionOne", {})
    copy2 = region.get(f"/subnets/{_bottom(cloud, sub2['id'], 'subnet', 'RegionOne')}").json()["subnet"]
    assert copy2["gateway_ip"] == "10.0.2.50"
    at = ipaddress.ip_address("10.0.2.50")
    pooled = [p for p in copy2["allocation_pools"]
              if ipaddress.ip_address(p["start"]) <= at <= ipaddress.ip_address(p["end"])]
    assert pooled == []  # the router's address is not handed out again in the region
    copy1 = region.get(f"/subnets/{_bottom(cloud, sub1['id'], 'subnet', 'RegionOne')}").json()["subnet"]
    assert copy1["gateway_ip"] == "10.0.1.1"

    # a VM booted in the region gets the router's address as its gateway; a rerun changes nothing
    cloud.boot("RegionOne", net2["id"], "host1")
    _ok(cloud.worker.run_until_idle())
    _assert_rerun_changes_nothing(cloud, router["id"], net2["id"])
