"""Seed 001 regressions. REG-08: router and security-group rule setup never block a VM boot; a failed
run is retried until the bottom router is attached. REG-13: overlapping subnets on one router."""

from __future__ import annotations

from multiregion import MultiRegion, cloud, network

from regionmesh.api.server import ThreadedServer

__all__ = ["cloud"]


def test_reg08_binding_returns_after_writing_jobs_and_setup_converges_later(cloud: MultiRegion) -> None:
    net, sub = network(cloud, "net1", "10.0.1.0/24")
    router = cloud.central.post("/routers", json={"router": {"name": "r"}}).json()["router"]
    cloud.central.put(f"/routers/{router['id']}/add_router_interface", json={"subnet_id": sub["id"]})
    # The boot's binding returns with the jobs written, not done: no worker has run.
    vm = cloud.boot("RegionOne", net["id"], "host1")
    pending = {j.type: j.status for j in cloud.jobs()}
    assert pending.get("router_setup") == "NEW" and pending.get("seg_rule_setup") == "NEW"
    assert cloud.region("RegionOne", {}).get("/routers").json()["routers"] == []
    # RegionOne goes away before the worker runs: the jobs fail once and are retried later.
    url = cloud.regions["RegionOne"].url
    cloud.regions["RegionOne"].stop()
    first = cloud.worker.run_until_idle()
    assert first and all(j.status == "NEW" and j.attempts == 1 for j in first)
    cloud.regions["RegionOne"] = ThreadedServer(cloud.region_apps["RegionOne"],
                                                port=int(url.rsplit(":", 1)[1])).start()
    cloud.clock.advance(600)
    done = cloud.worker.run_until_idle()
    assert done and all(j.status == "SUCCESS" for j in done), [(j.type, j.last_error) for j in done]
    bottoms = cloud.region("RegionOne", {}).get("/routers", params={"name": router["id"]}).json()["routers"]
    assert len(bottoms) == 1
    ports = cloud.region("RegionOne", {}).get("/ports", params={
        "device_id": bottoms[0]["id"], "device_owner": "network:router_interface"}).json()["ports"]
    assert [p["fixed_ips"][0]["subnet_id"] for p in ports] == [sub["id"]]
    assert vm["binding:host_id"] == "host1"


def test_reg13_overlapping_subnets_on_one_router_are_refused(cloud: MultiRegion) -> None:
    """REG-13: two networks of one project with overlapping CIDRs; the second interface is refused with
    400 and the router, in central and in the region, keeps only the first."""
    net1, sub1 = network(cloud, "net1", "10.0.1.0/24")
    _, sub2 = network(cloud, "net2", "10.0.1.0/25")
    cloud.boot("RegionOne", net1["id"], "host1")
    router = cloud.central.post("/routers", json={"router": {"name": "r"}}).json()["router"]
    assert cloud.central.put(f"/routers/{router['id']}/add_router_interface",
                             json={"subnet_id": sub1["id"]}).status_code == 200
    refused = cloud.central.put(f"/routers/{router['id']}/add_router_interface", json={"subnet_id": sub2["id"]})
    assert refused.status_code == 400, refused.text
    assert refused.json()["NeutronError"]["type"] == "BadRequest"
    assert "overlaps" in refused.json()["NeutronError"]["message"]
    done = cloud.worker.run_until_idle()
    assert done and all(j.status == "SUCCESS" for j in done), [(j.type, j.last_error) for j in done]
    central_ports = cloud.central.get("/ports", params={"device_id": router["id"]}).json()["ports"]
    assert [p["fixed_ips"][0]["subnet_id"] for p in central_ports] == [sub1["id"]]
    bottoms = cloud.region("RegionOne", {}).get("/routers", params={"name": router["id"]}).json()["routers"]
    assert len(bottoms) == 1
    ports = cloud.region("RegionOne", {}).get("/ports", params={
        "device_id": bottoms[0]["id"], "device_owner": "network:router_interface"}).json()["ports"]
    assert [p["fixed_ips"][0]["subnet_id"] for p in ports] == [sub1["id"]]
