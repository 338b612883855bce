"""SC-01 steps 10–15 at the API level: external network, routers across regions, gateway, floating IP.

Central + RegionOne (az1) + RegionTwo (az2) over HTTP; jobs run with a manual clock. Checks CP-04,
L3-02…L3-07, REG-09, REG-11, REG-12.
"""

from __future__ import annotations

from typing import Any

import httpx
from multiregion import PROJECT, MultiRegion, cloud, network
from sqlalchemy import select

from regionmesh.central import pods, routings
from regionmesh.db import models as m
from regionmesh.jobs import store

__all__ = ["cloud"]

ADMIN = {"X-Project-Id": PROJECT, "X-Roles": "admin,member,reader", "X-User-Id": "admin"}


def _bottom(c: MultiRegion, top_id: str, rtype: str, region: str) -> str:
    with c.core.db.read() as conn:
        bottom = routings.get_bottom_id_by_top_id_region_name(conn, top_id, region, rtype)
    assert bottom, f"no {rtype} routing for {top_id} in {region}"
    return bottom


def _ext_net(c: MultiRegion, **extra: Any) -> httpx.Response:
    body = {"name": "ext-net", "router:external": True, "provider:network_type": "flat",
            "provider:physical_network": "extern", **extra}
    return c.central.post("/networks", json={"network": body}, headers=ADMIN)


def _region_state(c: MultiRegion) -> dict[str, Any]:
    """Everything L3 in both regions, for the run-twice check."""
    out: dict[str, Any] = {}
    for region in ("RegionOne", "RegionTwo"):
        r = c.region(region, {})
        out[region] = {coll: sorted((x["id"], x.get("revision_number")) for x in r.get(f"/{coll}").json()[key])
                       for coll, key in (("routers", "routers"), ("ports", "ports"), ("networks", "networks"),
                                         ("floatingips", "floatingips"), ("subnets", "subnets"))}
    return out


def _interfaces(c: MultiRegion, region: str, bottom_router: str) -> set[str]:
    ports = c.region(region, {}).get("/ports", params={"device_id": bottom_router,
                                                        "device_owner": "network:router_interface"}).json()["ports"]
    return {f["subnet_id"] for p in ports for f in p["fixed_ips"]}


def test_external_network_lives_in_its_region_at_once(cloud: MultiRegion) -> None:
    """CP-04 / REG-12: created synchronously in RegionTwo; the routing holds the id RegionTwo chose."""
    created = _ext_net(cloud, availability_zone_hints=["RegionTwo"])
    assert created.status_code == 201, created.text
    ext = created.json()["network"]
    assert cloud.routing_pods(ext["id"], "network") == {"RegionTwo"}
    b_ext = _bottom(cloud, ext["id"], "network", "RegionTwo")
    copy = cloud.region("RegionTwo", {}).get(f"/networks/{b_ext}").json()["network"]
    assert copy["router:external"] is True and copy["name"] == "ext-net"
    assert copy["provider:physical_network"] == "extern"
    assert cloud.region("RegionOne", {}).get("/networks", params={"router:external": True}).json()["networks"] == []
    sub = cloud.central.post("/subnets", headers=ADMIN, json={"subnet": {
        "network_id": ext["id"], "cidr": "163.3.124.0/24", "ip_version": 4, "enable_dhcp": False,
        "name": "ext-subnet"}})
    assert sub.status_code == 201, sub.text
    b_sub = _bottom(cloud, sub.json()["subnet"]["id"], "subnet", "RegionTwo")
    sub_copy = cloud.region("RegionTwo", {}).get(f"/subnets/{b_sub}").json()["subnet"]
    assert sub_copy["network_id"] == b_ext and sub_copy["cidr"] == "163.3.124.0/24"
    assert sub_copy["enable_dhcp"] is False
    assert cloud.region("RegionTwo", {}).get("/ports", params={"network_id": b_ext}).json()["ports"] == []


def test_external_network_needs_exactly_one_region(cloud: MultiRegion) -> None:
    """OQ-03 / REG-12: no hint and no default → 400 naming the option; two regions → 400; nothing left."""
    missing = _ext_net(cloud)
    assert missing.status_code == 400
    assert "default_region_for_external_network" in missing.json()["NeutronError"]["message"]
    several = _ext_net(cloud, availability_zone_hints=["az1", "RegionTwo"])
    assert several.status_code == 400
    assert cloud.admin.get("/networks").json()["networks"] == []
    for region in ("RegionOne", "RegionTwo"):
        assert cloud.region(region, {}).get("/networks").json()["networks"] == []
    with cloud.core.db.read() as conn:
        assert conn.execute(select(m.resource_routings)).first() is None
    # with the default configured, it goes there
    cloud.core.settings.role.default_region_for_external_network = "az2"
    ok = _ext_net(cloud)
    assert ok.status_code == 201, ok.text
    assert cloud.routing_pods(ok.json()["network"]["id"], "network") == {"RegionTwo"}


def test_external_network_region_down_leaves_nothing_in_central(cloud: MultiRegion) -> None:
    with cloud.core.db.begin() as conn:
        pods.create_pod(conn, region_name="RegionThree", az_name="az3")
    down = _ext_net(cloud, availability_zone_hints=["RegionThree"])
    assert down.status_code == 503, down.text
    assert "RegionThree" in down.json()["NeutronError"]["message"]
    assert cloud.admin.get("/networks").json()["networks"] == []


def test_external_copies_are_removed_when_central_does_not_commit(cloud: MultiRegion) -> None:
    """CP-04: the region's copy is made inside central's transaction; when that transaction fails later
    (here the second item of an all-or-nothing bulk create), the copy already made is deleted again."""
    bulk = cloud.central.post("/networks", headers=ADMIN, json={"networks": [
        {"name": "ext-a", "router:external": True, "availability_zone_hints": ["RegionTwo"]},
        {"name": "ext-b", "router:external": True, "availability_zone_hints": ["nowhere"]}]})
    assert bulk.status_code == 400, bulk.text
    assert cloud.admin.get("/networks").json()["networks"] == []
    assert cloud.region("RegionTwo", {}).get("/networks").json()["networks"] == []

    ext = _ext_net(cloud, availability_zone_hints=["RegionTwo"]).json()["network"]
    subs = cloud.central.post("/subnets", headers=ADMIN, json={"subnets": [
        {"network_id": ext["id"], "cidr": "163.3.124.0/24", "ip_version": 4, "enable_dhcp": False},
        {"network_id": ext["id"], "cidr": "163.3.124.128/25", "ip_version": 4, "enable_dhcp": False}]})
    assert subs.status_code == 400, subs.text
    assert cloud.admin.get("/subnets").json()["subnets"] == []
    assert cloud.region("RegionTwo", {}).get("/subnets").json()["subnets"] == []
    with cloud.core.db.read() as conn:
        assert {r.resource_type for r in conn.execute(select(m.resource_routings))} == {"network"}


def test_sc01_routers_gateway_and_floating_ip_across_regions(cloud: MultiRegion) -> None:
    """SC-01 steps 8–15: bottom routers joined by the bridge, the NS router in the ext-net region, routes,
    and a floating IP of RegionTwo for a VM of RegionOne through a shadow port."""
    net1, sub1 = network(cloud, "net1", "10.0.1.0/24")
    net2, sub2 = network(cloud, "net2", "10.0.2.0/24")
    vm1 = cloud.boot("RegionOne", net1["id"], "host1")
    vm2 = cloud.boot("RegionTwo", net2["id"], "host2")
    cloud.worker.run_until_idle()
    ext = _ext_net(cloud, availability_zone_hints=["RegionTwo"]).json()["network"]
    ext_sub = cloud.central.post("/subnets", headers=ADMIN, json={"subnet": {
        "network_id": ext["id"], "cidr": "163.3.124.0/24", "ip_version": 4, "enable_dhcp": False}}).json()["subnet"]

    # step 11: router and interfaces → router_setup per (pod, router, network)
    router = cloud.central.post("/routers", json={"router": {"name": "router"}}).json()["router"]
    for sub in (sub1, sub2):
        added = cloud.central.put(f"/routers/{router['id']}/add_router_interface", json={"subnet_id": sub["id"]})
        assert added.status_code == 200, added.text
    pending = sorted((j.type, j.resource["pod_id"]) for j in cloud.jobs() if j.status == "NEW")
    assert [t for t, _ in pending] == ["router_setup", "router_setup"]
    outcomes = cloud.worker.run_until_idle()
    assert outcomes and all(j.status == "SUCCESS" for j in outcomes), [(j.type, j.last_error) for j in outcomes]
    assert {j.type for j in outcomes} == {"router_setup", "configure_route"}
    assert cloud.routing_pods(router["id"], "router") == {"RegionOne", "RegionTwo"}
    bridge = cloud.admin.get("/networks", params={"name": f"bridge_net_{PROJECT}"}).json()["networks"]
    assert len(bridge) == 1
    bridge_sub = cloud.admin.get(f"/subnets/{bridge[0]['subnets'][0]}").json()["subnet"]
    assert bridge_sub["cidr"] == "100.0.0.0/24"
    assert cloud.routing_pods(bridge[0]["id"], "network") == {"RegionOne", "RegionTwo"}
    bridge_ip: dict[str, str] = {}
    for region, sub in (("RegionOne", sub1), ("RegionTwo", sub2)):
        b_router = _bottom(cloud, router["id"], "router", region)
        copy = cloud.region(region, {}).get(f"/routers/{b_router}").json()["router"]
        assert copy["name"] == router["id"]
        gw = copy["external_gateway_info"]
        assert gw["network_id"] == _bottom(cloud, bridge[0]["id"], "network", region)
        assert gw["enable_snat"] is False
        central_port = cloud.admin.get("/ports", params={"name": f"bridge_port_{PROJECT}_{b_router}"}).json()
        bridge_ip[region] = central_port["ports"][0]["fixed_ips"][0]["ip_address"]
        assert gw["external_fixed_ips"][0]["ip_address"] == bridge_ip[region]
        assert _interfaces(cloud, region, b_router) == {sub["id"]}

    # step 12: gateway → NS router in RegionTwo, routes everywhere
    gw_set = cloud.central.put(f"/routers/{router['id']}", json={"router": {
        "external_gateway_info": {"network_id": ext["id"]}}})
    assert gw_set.status_code == 200, gw_set.text
    outcomes = cloud.worker.run_until_idle()
    assert outcomes and all(j.status == "SUCCESS" for j in outcomes), [(j.type, j.last_error) for j in outcomes]
    assert cloud.routing_pods(router["id"], "ns_router") == {"RegionTwo"}
    b_ns = _bottom(cloud, router["id"], "ns_router", "RegionTwo")
    ns = cloud.region("RegionTwo", {}).get(f"/routers/{b_ns}").json()["router"]
    assert ns["external_gateway_info"]["network_id"] == _bottom(cloud, ext["id"], "network", "RegionTwo")
    central_gw_ip = gw_set.json()["router"]["external_gateway_info"]["external_fixed_ips"][0]["ip_address"]
    assert ns["external_gateway_info"]["external_fixed_ips"][0]["ip_address"] == central_gw_ip
    assert _interfaces(cloud, "RegionTwo", b_ns) == {_bottom(cloud, bridge_sub["id"], "subnet", "RegionTwo")}
    ip1, ip2 = vm1["fixed_ips"][0]["ip_address"], vm2["fixed_ips"][0]["ip_address"]

    def routes(region: str, rtype: str = "router") -> set[tuple[str, str]]:
        b = _bottom(cloud, router["id"], rtype, region)
        return {(r["destination"], r["nexthop"])
                for r in cloud.region(region, {}).get(f"/routers/{b}").json()["router"]["routes"]}

    ns_port = cloud.admin.get("/ports", params={"name": f"bridge_port_{PROJECT}_{b_ns}"}).json()["ports"]
    ns_ip = ns_port[0]["fixed_ips"][0]["ip_address"]  # the NS router's own bridge address
    assert ns_ip not in (bridge_sub["gateway_ip"], *bridge_ip.values())
    default = ("0.0.0.0/0", ns_ip)
    assert routes("RegionOne") == {(f"{ip2}/32", bridge_ip["RegionTwo"]), default}
    assert routes("RegionTwo") == {(f"{ip1}/32", bridge_ip["RegionOne"]), default}
    assert routes("RegionTwo", "ns_router") == {(f"{ip1}/32", bridge_ip["RegionOne"]),
                                                (f"{ip2}/32", bridge_ip["RegionTwo"])}

    # step 14: a FIP is central only, DOWN
    fip = cloud.central.post("/floatingips", json={"floatingip": {"floating_network_id": ext["id"]}})
    assert fip.status_code == 201, fip.text
    fip_id, address = fip.json()["floatingip"]["id"], fip.json()["floatingip"]["floating_ip_address"]
    assert fip.json()["floatingip"]["status"] == "DOWN"
    cloud.worker.run_until_idle()
    assert cloud.region("RegionTwo", {}).get("/floatingips").json()["floatingips"] == []

    # step 15: associate with vm1 (RegionOne) → bottom FIP in RegionTwo on a shadow port
    assoc = cloud.central.put(f"/floatingips/{fip_id}", json={"floatingip": {"port_id": vm1["id"]}})
    assert assoc.status_code == 200, assoc.text
    jobs = [(j.type, j.resource.get("pod_id")) for j in cloud.jobs() if j.status == "NEW"]
    pod_one = _pod_id(cloud, "RegionOne")
    assert ("router_setup", pod_one) in jobs
    outcomes = cloud.worker.run_until_idle()
    assert outcomes and all(j.status == "SUCCESS" for j in outcomes), [(j.type, j.last_error) for j in outcomes]
    [b_fip] = cloud.region("RegionTwo", {}).get("/floatingips").json()["floatingips"]
    assert b_fip["floating_ip_address"] == address
    assert b_fip["floating_network_id"] == _bottom(cloud, ext["id"], "network", "RegionTwo")
    assert b_fip["id"] == _bottom(cloud, fip_id, "floatingip", "RegionTwo")
    shadow = cloud.region("RegionTwo", {}).get(f"/ports/{b_fip['port_id']}").json()["port"]
    assert shadow["device_owner"] == "compute:shadow"
    assert shadow["mac_address"] == vm1["mac_address"] and shadow["fixed_ips"][0]["ip_address"] == ip1
    assert b_fip["port_id"] == _bottom(cloud, vm1["id"], "shadow_port", "RegionTwo")
    assert cloud.central.get(f"/floatingips/{fip_id}").json()["floatingip"]["status"] == "ACTIVE"
    assert cloud.central.get(f"/ports/{vm1['id']}").status_code == 200  # the real port is untouched
    assert cloud.region("RegionOne", {}).get("/floatingips").json()["floatingips"] == []

    # level-triggered: every handler run again changes nothing
    before = _region_state(cloud)
    with cloud.core.db.begin() as conn:
        for region, net in (("RegionOne", net1), ("RegionTwo", net2), ("RegionTwo", ext)):
            store.enqueue(conn, "router_setup", {"pod_id": _pod_id(cloud, region), "router_id": router["id"],
                                                 "network_id": net["id"]}, PROJECT, now=cloud.clock.now())
        store.enqueue(conn, "configure_route", {"router_id": router["id"]}, PROJECT, now=cloud.clock.now())
    outcomes = cloud.worker.run_until_idle()
    assert outcomes and all(j.status == "SUCCESS" for j in outcomes), [(j.type, j.last_error) for j in outcomes]
    assert _region_state(cloud) == before

    # disassociate → the bottom FIP and the shadow port go; central FIP DOWN
    cloud.central.put(f"/floatingips/{fip_id}", json={"floatingip": {"port_id": None}})
    outcomes = cloud.worker.run_until_idle()
    assert all(j.status == "SUCCESS" for j in outcomes), [(j.type, j.last_error) for j in outcomes]
    assert cloud.region("RegionTwo", {}).get("/floatingips").json()["floatingips"] == []
    assert cloud.routing_pods(fip_id, "floatingip") == set()
    assert cloud.routing_pods(vm1["id"], "shadow_port") == set()
    assert cloud.region("RegionTwo", {}).get(f"/ports/{shadow['id']}").status_code == 404
    assert cloud.central.get(f"/floatingips/{fip_id}").json()["floatingip"]["status"] == "DOWN"
    assert ext_sub["cidr"] == "163.3.124.0/24"


def test_vm_after_interface_reaches_the_same_end_state(cloud: MultiRegion) -> None:
    """REG-09 order B (interface first, VM later): the binding writes router_setup, same bottom router."""
    net1, sub1 = network(cloud, "net1", "10.0.1.0/24")
    router = cloud.central.post("/routers", json={"router": {"name": "r"}}).json()["router"]
    cloud.central.put(f"/routers/{router['id']}/add_router_interface", json={"subnet_id": sub1["id"]})
    assert [j for j in cloud.jobs() if j.type == "router_setup"] == []  # no pod yet
    cloud.boot("RegionOne", net1["id"], "host1")
    outcomes = cloud.worker.run_until_idle()
    assert all(j.status == "SUCCESS" for j in outcomes), [(j.type, j.last_error) for j in outcomes]
    b_router = _bottom(cloud, router["id"], "router", "RegionOne")
    assert _interfaces(cloud, "RegionOne", b_router) == {sub1["id"]}
    # removing the interface in central removes it in the region
    cloud.central.put(f"/routers/{router['id']}/remove_router_interface", json={"subnet_id": sub1["id"]})
    outcomes = cloud.worker.run_until_idle()
    assert all(j.status == "SUCCESS" for j in outcomes), [(j.type, j.last_error) for j in outcomes]
    assert _interfaces(cloud, "RegionOne", b_router) == set()


def _pod_id(c: MultiRegion, region: str) -> str:
    with c.core.db.read() as conn:
        pod = pods.get_pod_by_region(conn, region)
    assert pod is not None
    return pod.pod_id


def test_bridge_networks_one_slash24_per_project_under_concurrency(cloud: MultiRegion) -> None:
    """Workers racing for bridge networks of several projects get one network and a distinct /24 each."""
    from concurrent.futures import ThreadPoolExecutor

    from regionmesh.jobs.l3_handlers import ensure_bridge_network

    jc = cloud.worker.jctx
    projects = [f"{i:032x}" for i in range(4)] * 2
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda p: (p, ensure_bridge_network(jc, p)), projects))
    by_project = {p: r for p, r in results}
    assert all(by_project[p] == r for p, r in results)  # the same network for every caller of a project
    cidrs = [cloud.admin.get(f"/subnets/{sub}").json()["subnet"]["cidr"] for _, sub in by_project.values()]
    assert sorted(cidrs) == [f"100.0.{i}.0/24" for i in range(4)]


def test_router_delete_removes_every_bottom_copy_first(cloud: MultiRegion) -> None:
    """Deletes run bottom first for routers too: east-west and north-south copies, their routings
    and central bridge ports go; an attached router is refused before anything changes."""
    net1, sub1 = network(cloud, "net1", "10.0.1.0/24")
    net2, sub2 = network(cloud, "net2", "10.0.2.0/24")
    cloud.boot("RegionOne", net1["id"], "host1")
    cloud.boot("RegionTwo", net2["id"], "host2")
    ext = _ext_net(cloud, availability_zone_hints=["RegionTwo"]).json()["network"]
    cloud.central.post("/subnets", headers=ADMIN, json={"subnet": {
        "network_id": ext["id"], "cidr": "163.3.124.0/24", "ip_version": 4, "enable_dhcp": False}})
    router = cloud.central.post("/routers", json={"router": {"name": "r"}}).json()["router"]
    for sub in (sub1, sub2):
        cloud.central.put(f"/routers/{router['id']}/add_router_interface", json={"subnet_id": sub["id"]})
    cloud.central.put(f"/routers/{router['id']}", json={"router": {"external_gateway_info": {
        "network_id": ext["id"]}}})
    cloud.worker.run_until_idle()
    bottoms = {r: _bottom(cloud, router["id"], "router", r) for r in ("RegionOne", "RegionTwo")}
    b_ns = _bottom(cloud, router["id"], "ns_router", "RegionTwo")
    busy = cloud.central.delete(f"/routers/{router['id']}")
    assert busy.status_code == 409 and busy.json()["NeutronError"]["type"] == "RouterInUse"
    assert cloud.region("RegionOne", {}).get(f"/routers/{bottoms['RegionOne']}").status_code == 200
    for sub in (sub1, sub2):
        cloud.central.put(f"/routers/{router['id']}/remove_router_interface", json={"subnet_id": sub["id"]})
    cloud.central.put(f"/routers/{router['id']}", json={"router": {"external_gateway_info": None}})
    # delete before the jobs for those changes ran: the bottom copies still have interfaces and a gateway
    assert cloud.central.delete(f"/routers/{router['id']}").status_code == 204
    for region, bottom in bottoms.items():
        assert cloud.region(region, {}).get(f"/routers/{bottom}").status_code == 404
    assert cloud.region("RegionTwo", {}).get(f"/routers/{b_ns}").status_code == 404
    assert cloud.routing_pods(router["id"], "router") == set()
    assert cloud.routing_pods(router["id"], "ns_router") == set()
    leftover = [p for p in cloud.admin.get("/ports").json()["ports"] if p["name"].startswith("bridge_port_")]
    assert leftover == []
    assert all(j.status in ("SUCCESS", "NEW") for j in cloud.worker.run_until_idle())


def test_two_routers_of_one_project_each_get_their_north_south_router(cloud: MultiRegion) -> None:
    """Both routers' north-south routers sit on the project's one bridge, each at an address of its own
    (neither takes the bridge gateway from the other); each east-west router's default route leads to its
    own; clearing a gateway frees that address in central."""
    ext = _ext_net(cloud, availability_zone_hints=["RegionTwo"]).json()["network"]
    cloud.central.post("/subnets", headers=ADMIN, json={"subnet": {
        "network_id": ext["id"], "cidr": "163.3.124.0/24", "ip_version": 4, "enable_dhcp": False}})
    routers = []
    for i in (1, 2):
        net, sub = network(cloud, f"net{i}", f"10.0.{i}.0/24")
        cloud.boot("RegionOne", net["id"], f"host{i}")
        router = cloud.central.post("/routers", json={"router": {
            "name": f"r{i}", "external_gateway_info": {"network_id": ext["id"]}}}).json()["router"]
        cloud.central.put(f"/routers/{router['id']}/add_router_interface", json={"subnet_id": sub["id"]})
        routers.append(router)
    outcomes = cloud.worker.run_until_idle()
    assert outcomes and all(j.status == "SUCCESS" for j in outcomes), [(j.type, j.last_error) for j in outcomes]
    ns_ips = []
    for router in routers:
        b_ns = _bottom(cloud, router["id"], "ns_router", "RegionTwo")
        [port] = cloud.admin.get("/ports", params={"name": f"bridge_port_{PROJECT}_{b_ns}"}).json()["ports"]
        ns_ip = port["fixed_ips"][0]["ip_address"]
        ns_ips.append(ns_ip)
        b_router = _bottom(cloud, router["id"], "router", "RegionOne")
        copy = cloud.region("RegionOne", {}).get(f"/routers/{b_router}").json()["router"]
        assert ("0.0.0.0/0", ns_ip) in {(r["destination"], r["nexthop"]) for r in copy["routes"]}
    assert len(set(ns_ips)) == 2

    first = routers[0]
    b_ns = _bottom(cloud, first["id"], "ns_router", "RegionTwo")
    cloud.central.put(f"/routers/{first['id']}", json={"router": {"external_gateway_info": None}})
    outcomes = cloud.worker.run_until_idle()
    assert outcomes and all(j.status == "SUCCESS" for j in outcomes), [(j.type, j.last_error) for j in outcomes]
    assert cloud.routing_pods(first["id"], "ns_router") == set()
    assert cloud.admin.get("/ports", params={"name": f"bridge_port_{PROJECT}_{b_ns}"}).json()["ports"] == []
    assert cloud.region("RegionTwo", {}).get(f"/routers/{b_ns}").status_code == 404


def test_routes_wait_for_a_router_to_join_the_bridge(cloud: MultiRegion) -> None:
    """configure_route running before a north-south router is on the bridge (its router_setup still
    attaching it) leaves its routes for later instead of failing; the router_setup that joins it
    writes configure_route again, and the routes arrive."""
    net1, sub1 = network(cloud, "net1", "10.0.1.0/24")
    cloud.boot("RegionOne", net1["id"], "host1")
    ext = _ext_net(cloud, availability_zone_hints=["RegionTwo"]).json()["network"]
    cloud.central.post("/subnets", headers=ADMIN, json={"subnet": {
        "network_id": ext["id"], "cidr": "163.3.124.0/24", "ip_version": 4, "enable_dhcp": False}})
    router = cloud.central.post("/routers", json={"router": {
        "name": "r", "external_gateway_info": {"network_id": ext["id"]}}}).json()["router"]
    cloud.central.put(f"/routers/{router['id']}/add_router_interface", json={"subnet_id": sub1["id"]})
    outcomes = cloud.worker.run_until_idle()
    assert outcomes and all(j.status == "SUCCESS" for j in outcomes), [(j.type, j.last_error) for j in outcomes]
    b_ns = _bottom(cloud, router["id"], "ns_router", "RegionTwo")
    region_two = cloud.region("RegionTwo", {})
    routes = region_two.get(f"/routers/{b_ns}").json()["router"]["routes"]
    assert routes
    # back to the moment before the NS router joined the bridge
    region_two.put(f"/routers/{b_ns}", json={"router": {"routes": []}})
    [bridge_if] = region_two.get("/ports", params={"device_id": b_ns,
                                                   "device_owner": "network:router_interface"}).json()["ports"]
    region_two.put(f"/routers/{b_ns}/remove_router_interface", json={"port_id": bridge_if["id"]})
    with cloud.core.db.begin() as conn:
        store.enqueue(conn, "configure_route", {"router_id": router["id"]}, PROJECT, now=cloud.clock.now())
    early = cloud.worker.run_until_idle()
    assert [(j.type, j.status) for j in early] == [("configure_route", "SUCCESS")]
    assert region_two.get(f"/routers/{b_ns}").json()["router"]["routes"] == []
    with cloud.core.db.begin() as conn:
        store.enqueue(conn, "router_setup", {"pod_id": _pod_id(cloud, "RegionTwo"), "router_id": router["id"],
                                             "network_id": ext["id"]}, PROJECT, now=cloud.clock.now())
    outcomes = cloud.worker.run_until_idle()
    assert outcomes and all(j.status == "SUCCESS" for j in outcomes), [(j.type, j.last_error) for j in outcomes]
    assert region_two.get(f"/routers/{b_ns}").json()["router"]["routes"] == routes
