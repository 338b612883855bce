"""Boot (CMP-01): a server on a central network, through the region's Neutron, ends ACTIVE with a central IP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from test_compute_harness import ComputeCloud, running


@pytest.fixture
def cloud(tmp_path: Path) -> Iterator[ComputeCloud]:
    yield from running(tmp_path)


def test_boot_over_http_reaches_active_with_central_port(cloud: ComputeCloud) -> None:
    net, sub = cloud.network()
    server = cloud.boot(net["id"])
    assert server["status"] == "ACTIVE", server
    host = server["OS-EXT-SRV-ATTR:host"]
    assert host in ("host1", "host2")
    [central_port] = cloud.ports(cloud.central_admin, server["id"])
    assert central_port["binding:host_id"] == host
    assert central_port["device_owner"] == "compute:az1"
    ip = central_port["fixed_ips"][0]["ip_address"]
    assert central_port["fixed_ips"][0]["subnet_id"] == sub["id"]
    assert server["addresses"] == {"net1": [{"addr": ip, "version": 4, "OS-EXT-IPS:type": "fixed",
                                             "OS-EXT-IPS-MAC:mac_addr": central_port["mac_address"]}]}
    # The region holds the same-UUID network and port (lazy creation, ports through central).
    assert cloud.region.get(f"/networks/{net['id']}").status_code == 200
    [region_port] = cloud.ports(cloud.region, server["id"])
    assert region_port["id"] == central_port["id"]
    assert cloud.compute.hosts[host].driver.list_guests() == [server["id"]]
    # A non-admin does not see the host.
    assert "OS-EXT-SRV-ATTR:host" not in cloud.server(server["id"], admin=False)


def test_boot_with_sdk_and_wait_for_server(cloud: ComputeCloud) -> None:
    net, _ = cloud.network()
    conn = cloud.sdk()
    server = conn.compute.create_server(name="sdkvm", flavor_id="1", networks=[{"uuid": net["id"]}])
    server = conn.compute.wait_for_server(server, status="ACTIVE", wait=30, interval=0.05)
    assert server.status == "ACTIVE"
    assert [a["addr"] for a in server.addresses["net1"]] == \
        [p["fixed_ips"][0]["ip_address"] for p in cloud.ports(cloud.central_admin, server.id)]
    conn.compute.delete_server(server)
    cloud.settle()
    conn.compute.wait_for_delete(server, wait=30, interval=0.05)
    assert cloud.ports(cloud.central_admin, server.id) == []


def test_boot_with_preexisting_port_unbinds_it_on_delete(cloud: ComputeCloud) -> None:
    net, _ = cloud.network()
    port = cloud.central.post("/ports", json={"port": {"network_id": net["id"], "name": "mine"}}).json()["port"]
    resp = cloud.nova.post("/servers", json={"server": {"name": "vm", "flavorRef": "1",
                                                        "networks": [{"port": port["id"]}]}})
    assert resp.status_code == 202, resp.text
    cloud.settle()
    uuid = resp.json()["server"]["id"]
    assert cloud.server(uuid)["status"] == "ACTIVE"
    assert cloud.central_admin.get(f"/ports/{port['id']}").json()["port"]["device_id"] == uuid
    assert cloud.nova.delete(f"/servers/{uuid}").status_code == 204
    cloud.settle()
    assert cloud.gone(uuid)
    kept = cloud.central_admin.get(f"/ports/{port['id']}").json()["port"]
    assert (kept["device_id"], kept["device_owner"], kept["binding:host_id"]) == ("", "", "")


def test_boot_on_unknown_network_errors_and_keeps_no_port(cloud: ComputeCloud) -> None:
    server = cloud.boot("00000000-0000-0000-0000-000000000001")
    assert server["status"] == "ERROR"
    assert "could not be found" in server["fault"]["message"]
    assert cloud.ports(cloud.central_admin, server["id"]) == []


def test_no_valid_host_leaves_instance_unscheduled_in_error(cloud: ComputeCloud) -> None:
    for host in ("host1", "host2"):
        cloud.app.stop_host(host)
    cloud.clock.advance(61)
    server = cloud.boot(None)
    assert server["status"] == "ERROR"
    assert server["OS-EXT-SRV-ATTR:host"] is None
    assert server["fault"]["message"].startswith("No valid host was found")


def test_stop_start_reboot_and_interfaces(cloud: ComputeCloud) -> None:
    net, _ = cloud.network()
    net2, _ = cloud.network("net2", "10.0.2.0/24")
    server = cloud.boot(net["id"])
    uuid = server["id"]
    driver = cloud.compute.hosts[server["OS-EXT-SRV-ATTR:host"]].driver
    assert cloud.nova.post(f"/servers/{uuid}/action", json={"os-stop": None}).status_code == 202
    cloud.settle()
    assert cloud.server(uuid)["status"] == "SHUTOFF"
    assert cloud.nova.post(f"/servers/{uuid}/action", json={"os-stop": None}).status_code == 409
    assert cloud.nova.post(f"/servers/{uuid}/action", json={"os-start": None}).status_code == 202
    cloud.settle()
    assert cloud.server(uuid)["status"] == "ACTIVE"
    assert cloud.nova.post(f"/servers/{uuid}/action", json={"reboot": {"type": "HARD"}}).status_code == 202
    cloud.settle()
    assert driver.guests[uuid].reboots == 1  # type: ignore[attr-defined]
    attached = cloud.nova.post(f"/servers/{uuid}/os-interface", json={"interfaceAttachment": {"net_id": net2["id"]}})
    assert attached.status_code == 200, attached.text
    pid = attached.json()["interfaceAttachment"]["port_id"]
    assert len(cloud.nova.get(f"/servers/{uuid}/os-interface").json()["interfaceAttachments"]) == 2
    assert cloud.central_admin.get(f"/ports/{pid}").json()["port"]["binding:host_id"] == server["OS-EXT-SRV-ATTR:host"]
    assert cloud.nova.delete(f"/servers/{uuid}/os-interface/{pid}").status_code == 202
    assert cloud.central_admin.get(f"/ports/{pid}").status_code == 404
    assert set(cloud.server(uuid)["addresses"]) == {"net1"}


def test_reg33_boot_with_a_port_of_another_project_is_refused(cloud: ComputeCloud) -> None:
    """REG-33: another project's port → 400 "not usable" (for whoever can see it: an admin, the network's
    owner); an unknown port → 400 not found; a port bound elsewhere → 409. Nothing is recorded and the
    port is untouched."""
    net, _ = cloud.network()
    other = {"X-Project-Id": "d" * 32, "X-Roles": "member,reader", "X-User-Id": "other"}
    shared = cloud.central_admin.put(f"/networks/{net['id']}", json={"network": {"shared": True}})
    assert shared.status_code == 200, shared.text
    foreign = cloud.central.post("/ports", headers=other, json={"port": {"network_id": net["id"]}}).json()["port"]
    request = {"server": {"name": "vm", "flavorRef": "1", "networks": [{"port": foreign["id"]}]}}

    as_admin = cloud.nova_admin.post("/servers", json=request)
    assert as_admin.status_code == 400, as_admin.text
    assert f"Port {foreign['id']} not usable for instance" in as_admin.json()["badRequest"]["message"]
    as_owner = cloud.nova.post("/servers", json=request)  # the network's owner sees ports on it (Neutron)
    assert as_owner.status_code == 400, as_owner.text
    assert "not usable for instance" in as_owner.json()["badRequest"]["message"]
    unknown = "00000000-0000-0000-0000-000000000000"
    missing = cloud.nova.post("/servers", json={"server": {"name": "vm", "flavorRef": "1",
                                                           "networks": [{"port": unknown}]}})
    assert missing.status_code == 400, missing.text
    assert "could not be found" in missing.json()["badRequest"]["message"]

    mine = cloud.central.post("/ports", json={"port": {"network_id": net["id"], "device_id": "elsewhere"}})
    in_use = cloud.nova.post("/servers", json={"server": {"name": "vm", "flavorRef": "1",
                                                          "networks": [{"port": mine.json()["port"]["id"]}]}})
    assert in_use.status_code == 409, in_use.text

    assert cloud.nova_admin.get("/servers", params={"all_tenants": "1"}).json()["servers"] == []
    after = cloud.central_admin.get(f"/ports/{foreign['id']}").json()["port"]
    assert after["device_id"] == "" and after["binding:host_id"] == ""
    assert cloud.usage()["instances"] == 0
