"""Routers and floating IPs over HTTP (L3-01…L3-11): gateways, interfaces, routes, FIP association.

Every refused call is followed by a re-read showing that nothing changed.
"""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest
from apiclient import PROJECT_A, Caller, error_type

from regionmesh.network import callbacks as cb

EXT_CIDR = "172.24.4.0/24"


def _in(ip: str, cidr: str) -> bool:
    return ipaddress.ip_address(ip) in ipaddress.ip_network(cidr)


@pytest.fixture
def ext(admin: Caller) -> dict[str, Any]:
    """An admin-owned external network with one subnet (DHCP off, as in L3-07)."""
    net = admin.make("network", "networks", name="ext-net", **{"router:external": True})
    sub = admin.make(
        "subnet", "subnets", network_id=net["id"], ip_version=4, cidr=EXT_CIDR, enable_dhcp=False
    )
    return {"net": net, "subnet": sub}


def _net_with_subnet(caller: Caller, cidr: str, name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    net = caller.make("network", "networks", name=name)
    sub = caller.make("subnet", "subnets", network_id=net["id"], ip_version=4, cidr=cidr)
    return net, sub


def _router(caller: Caller, **attrs: Any) -> dict[str, Any]:
    return caller.make("router", "routers", **attrs)


def _get_router(caller: Caller, rid: str) -> dict[str, Any]:
    resp = caller.get(f"routers/{rid}")
    assert resp.status_code == 200, resp.text
    return resp.json()["router"]


def _ports_of(admin: Caller, device_id: str) -> list[dict[str, Any]]:
    return admin.get(f"ports?device_id={device_id}").json()["ports"]


def _add(caller: Caller, rid: str, body: dict[str, Any]) -> Any:
    return caller.put(f"routers/{rid}/add_router_interface", body)


def _remove(caller: Caller, rid: str, body: dict[str, Any]) -> Any:
    return caller.put(f"routers/{rid}/remove_router_interface", body)


# ---- routers: create and gateway ---------------------------------------------------------------
def test_router_create_without_gateway(alice: Caller) -> None:
    router = _router(alice, name="r1")
    assert router["status"] == "ACTIVE" and router["admin_state_up"] is True
    assert router["external_gateway_info"] is None
    assert router["routes"] == [] and router["availability_zones"] == []
    assert router["availability_zone_hints"] == []
    assert router["project_id"] == router["tenant_id"] == PROJECT_A
    assert router["revision_number"] == 1 and router["tags"] == []
    assert "distributed" not in router and "ha" not in router  # admin-only attributes
    assert "gw_port_id" not in router


def test_router_create_with_gateway(admin: Caller, alice: Caller, ext: dict[str, Any]) -> None:
    router = _router(alice, name="r1", external_gateway_info={"network_id": ext["net"]["id"]})
    gw = router["external_gateway_info"]
    assert gw["network_id"] == ext["net"]["id"] and gw["enable_snat"] is True
    [fixed] = gw["external_fixed_ips"]
    assert fixed["subnet_id"] == ext["subnet"]["id"] and _in(fixed["ip_address"], EXT_CIDR)
    [port] = _ports_of(admin, router["id"])
    assert port["device_owner"] == "network:router_gateway"
    assert port["project_id"] == ""  # the gateway port belongs to no project, as in Neutron
    assert port["fixed_ips"] == [fixed]
    # The tenant does not see the gateway port.
    assert alice.get(f"ports?device_id={router['id']}").json()["ports"] == []
    admin_view = _get_router(admin, router["id"])
    assert admin_view["distributed"] is False and admin_view["ha"] is False


def test_router_availability_zone_hints(alice: Caller) -> None:
    router = _router(alice, availability_zone_hints=["nova"])
    assert router["availability_zone_hints"] == ["nova"] and router["availability_zones"] == []
    unknown = alice.post("routers", {"router": {"availability_zone_hints": ["nope"]}})
    assert unknown.status_code == 404 and error_type(unknown) == "AvailabilityZoneNotFound"
    assert len(alice.get("routers").json()["routers"]) == 1


def test_router_gateway_admin_attributes(admin: Caller, alice: Caller, ext: dict[str, Any]) -> None:
    denied = alice.post(
        "routers",
        {"router": {"external_gateway_info": {"network_id": ext["net"]["id"], "enable_snat": False}}},
    )
    assert denied.status_code == 403
    assert alice.get("routers").json()["routers"] == []
    router = _router(
        admin,
        project_id=PROJECT_A,
        external_gateway_info={
            "network_id": ext["net"]["id"],
            "enable_snat": False,
            "external_fixed_ips": [{"subnet_id": ext["subnet"]["id"], "ip_address": "172.24.4.50"}],
        },
    )
    gw = router["external_gateway_info"]
    assert gw["enable_snat"] is False
    assert gw["external_fixed_ips"] == [{"subnet_id": ext["subnet"]["id"], "ip_address": "172.24.4.50"}]
    same_as_gateway = admin.post(
        "routers",
        {
            "router": {
                "external_gateway_info": {
                    "network_id": ext["net"]["id"],
                    "external_fixed_ips": [{"ip_address": "172.24.4.1"}],
                }
            }
        },
    )
    assert same_as_gateway.status_code == 400 and error_type(same_as_gateway) == "BadRequest"
    taken = admin.post(
        "routers",
        {
            "router": {
                "external_gateway_info": {
                    "network_id": ext["net"]["id"],
                    "external_fixed_ips": [{"ip_address": "172.24.4.50"}],
                }
            }
        },
    )
    assert taken.status_code == 409 and error_type(taken) == "IpAddressAlreadyAllocated"
    assert len(admin.get("routers").json()["routers"]) == 1


def test_router_gateway_must_be_external(alice: Caller) -> None:
    net, _sub = _net_with_subnet(alice, "10.0.0.0/24", "private")
    bad = alice.post("routers", {"router": {"external_gateway_info": {"network_id": net["id"]}}})
    assert bad.status_code == 400 and error_type(bad) == "BadRequest"
    assert "is not an external network" in bad.json()["NeutronError"]["message"]
    missing = alice.post(
        "routers",
        {"router": {"external_gateway_info": {"network_id": "00000000-0000-0000-0000-000000000001"}}},
    )
    assert missing.status_code == 404 and error_type(missing) == "NetworkNotFound"
    assert alice.get("routers").json()["routers"] == []
    assert alice.get("ports").json()["ports"] == []


def test_router_gateway_set_change_clear(admin: Caller, alice: Caller, ext: dict[str, Any]) -> None:
    router = _router(alice, name="r1")
    rid = router["id"]
    resp = alice.put(
        f"routers/{rid}", {"router": {"external_gateway_info": {"network_id": ext["net"]["id"]}}}
    )
    assert resp.status_code == 200, resp.text
    updated = resp.json()["router"]
    assert updated["external_gateway_info"]["network_id"] == ext["net"]["id"]
    assert updated["revision_number"] == router["revision_number"] + 1
    [gw_port] = _ports_of(admin, rid)
    # enable_snat is admin-only to change
    denied = alice.put(
        f"routers/{rid}",
        {"router": {"external_gateway_info": {"network_id": ext["net"]["id"], "enable_snat": False}}},
    )
    assert denied.status_code == 403
    assert _get_router(alice, rid)["external_gateway_info"]["enable_snat"] is True
    snat = admin.put(
        f"routers/{rid}",
        {"router": {"external_gateway_info": {"network_id": ext["net"]["id"], "enable_snat": False}}},
    )
    assert snat.json()["router"]["external_gateway_info"]["enable_snat"] is False
    assert [p["id"] for p in _ports_of(admin, rid)] == [gw_port["id"]]  # same port kept
    new_ip = {"subnet_id": ext["subnet"]["id"], "ip_address": "172.24.4.99"}
    moved = admin.put(
        f"routers/{rid}",
        {
            "router": {
                "external_gateway_info": {"network_id": ext["net"]["id"], "external_fixed_ips": [new_ip]}
            }
        },
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["router"]["external_gateway_info"]["external_fixed_ips"] == [new_ip]
    assert [p["fixed_ips"] for p in _ports_of(admin, rid)] == [[new_ip]]
    assert _ports_of(admin, rid)[0]["id"] == gw_port["id"]
    cleared = alice.put(f"routers/{rid}", {"router": {"external_gateway_info": {}}})
    assert cleared.status_code == 200 and cleared.json()["router"]["external_gateway_info"] is None
    assert _ports_of(admin, rid) == []
    assert admin.get(f"ports/{gw_port['id']}").status_code == 404


# ---- interfaces -------------------------------------------------------------------------------
def test_interface_by_subnet(admin: Caller, alice: Caller) -> None:
    net, sub = _net_with_subnet(alice, "10.0.0.0/24", "n1")
    router = _router(alice, name="r1")
    rid = router["id"]
    resp = _add(alice, rid, {"subnet_id": sub["id"]})
    assert resp.status_code == 200, resp.text
    info = resp.json()
    assert set(info) == {"id", "subnet_id", "subnet_ids", "port_id", "tenant_id", "project_id", "network_id"}
    assert info["id"] == rid and info["subnet_id"] == sub["id"] and info["subnet_ids"] == [sub["id"]]
    assert info["network_id"] == net["id"] and info["project_id"] == info["tenant_id"] == PROJECT_A
    port = alice.get(f"ports/{info['port_id']}").json()["port"]
    assert port["device_owner"] == "network:router_interface" and port["device_id"] == rid
    assert port["fixed_ips"] == [{"subnet_id": sub["id"], "ip_address": "10.0.0.1"}]
    assert port["project_id"] == PROJECT_A
    # openstack port list --router X (L3-10)
    assert [p["id"] for p in alice.get(f"ports?device_id={rid}").json()["ports"]] == [info["port_id"]]
    assert _get_router(alice, rid)["revision_number"] == router["revision_number"] + 1

    dup = _add(alice, rid, {"subnet_id": sub["id"]})
    assert dup.status_code == 400 and error_type(dup) == "BadRequest"
    assert f"Router already has a port on subnet {sub['id']}" in dup.json()["NeutronError"]["message"]
    assert len(_ports_of(admin, rid)) == 1

    removed = _remove(alice, rid, {"subnet_id": sub["id"]})
    assert removed.status_code == 200, removed.text
    assert removed.json()["port_id"] == info["port_id"]
    assert _ports_of(admin, rid) == []
    again = _remove(alice, rid, {"subnet_id": sub["id"]})
    assert again.status_code == 404 and error_type(again) == "RouterInterfaceNotFoundForSubnet"


def test_interface_overlapping_cidr_refused(admin: Caller, alice: Caller) -> None:
    _n1, s1 = _net_with_subnet(alice, "10.0.0.0/24", "n1")
    _n2, s2 = _net_with_subnet(alice, "10.0.0.0/25", "n2")
    rid = _router(alice)["id"]
    assert _add(alice, rid, {"subnet_id": s1["id"]}).status_code == 200
    before = _get_router(alice, rid)
    overlap = _add(alice, rid, {"subnet_id": s2["id"]})
    assert overlap.status_code == 400 and error_type(overlap) == "BadRequest"
    assert "overlaps with cidr" in overlap.json()["NeutronError"]["message"]
    assert len(_ports_of(admin, rid)) == 1
    assert _get_router(alice, rid)["revision_number"] == before["revision_number"]
    assert alice.get(f"ports?network_id={_n2['id']}").json()["ports"] == []


def test_interface_request_validation(alice: Caller) -> None:
    _net, sub = _net_with_subnet(alice, "10.0.0.0/24", "n1")
    rid = _router(alice)["id"]
    port = alice.make("port", "ports", network_id=_net["id"])
    neither = _add(alice, rid, {})
    both = _add(alice, rid, {"subnet_id": sub["id"], "port_id": port["id"]})
    assert neither.status_code == 400 and both.status_code == 400
    no_gw = alice.make(
        "subnet",
        "subnets",
        network_id=alice.make("network", "networks")["id"],
        ip_version=4,
        cidr="10.9.0.0/24",
        gateway_ip=None,
    )
    refused = _add(alice, rid, {"subnet_id": no_gw["id"]})
    assert refused.status_code == 400 and "gateway IP" in refused.json()["NeutronError"]["message"]
    missing = _add(alice, rid, {"subnet_id": "00000000-0000-0000-0000-000000000002"})
    assert missing.status_code == 404 and error_type(missing) == "SubnetNotFound"
    assert alice.get(f"ports?device_id={rid}").json()["ports"] == []


def test_interface_by_port(admin: Caller, alice: Caller) -> None:
    net, sub = _net_with_subnet(alice, "10.1.0.0/24", "n1")
    rid = _router(alice)["id"]
    port = alice.make("port", "ports", network_id=net["id"], fixed_ips=[{"ip_address": "10.1.0.10"}])
    resp = _add(alice, rid, {"port_id": port["id"]})
    assert resp.status_code == 200, resp.text
    assert resp.json()["port_id"] == port["id"] and resp.json()["subnet_ids"] == [sub["id"]]
    attached = alice.get(f"ports/{port['id']}").json()["port"]
    assert attached["device_id"] == rid and attached["device_owner"] == "network:router_interface"
    assert attached["revision_number"] > port["revision_number"]

    in_use = alice.make("port", "ports", network_id=net["id"], device_id="vm-1", device_owner="compute:nova")
    refused = _add(alice, rid, {"port_id": in_use["id"]})
    assert refused.status_code == 409 and error_type(refused) == "PortInUse"
    assert alice.get(f"ports/{in_use['id']}").json()["port"]["device_id"] == "vm-1"

    not_attached = _remove(alice, rid, {"port_id": in_use["id"]})
    assert not_attached.status_code == 404 and error_type(not_attached) == "RouterInterfaceNotFound"
    removed = _remove(alice, rid, {"port_id": port["id"]})
    assert removed.status_code == 200 and removed.json()["subnet_id"] == sub["id"]
    assert alice.get(f"ports/{port['id']}").status_code == 404  # Neutron deletes the port
    assert _ports_of(admin, rid) == []


def test_delete_router_with_interfaces(admin: Caller, alice: Caller, ext: dict[str, Any]) -> None:
    _net, sub = _net_with_subnet(alice, "10.0.0.0/24", "n1")
    rid = _router(alice, external_gateway_info={"network_id": ext["net"]["id"]})["id"]
    assert _add(alice, rid, {"subnet_id": sub["id"]}).status_code == 200
    busy = alice.delete(f"routers/{rid}")
    assert busy.status_code == 409 and error_type(busy) == "RouterInUse"
    assert len(_ports_of(admin, rid)) == 2 and _get_router(alice, rid)["id"] == rid
    assert _remove(alice, rid, {"subnet_id": sub["id"]}).status_code == 200
    assert alice.delete(f"routers/{rid}").status_code == 204
    assert alice.get(f"routers/{rid}").status_code == 404
    assert _ports_of(admin, rid) == []  # the gateway port went with the router


def test_other_project_router_is_hidden(alice: Caller, bob: Caller) -> None:
    _net, sub = _net_with_subnet(alice, "10.0.0.0/24", "n1")
    rid = _router(alice)["id"]
    for resp in (
        bob.get(f"routers/{rid}"),
        _add(bob, rid, {"subnet_id": sub["id"]}),
        bob.put(f"routers/{rid}", {"router": {"name": "x"}}),
        bob.delete(f"routers/{rid}"),
    ):
        assert resp.status_code == 404 and error_type(resp) == "RouterNotFound"
    assert _get_router(alice, rid)["name"] == ""


# ---- routes ---------------------------------------------------------------------------------
def test_routes_update_and_validation(alice: Caller) -> None:
    _net, sub = _net_with_subnet(alice, "10.0.0.0/24", "n1")
    rid = _router(alice)["id"]
    assert _add(alice, rid, {"subnet_id": sub["id"]}).status_code == 200
    before = _get_router(alice, rid)
    bad = alice.put(
        f"routers/{rid}", {"router": {"routes": [{"destination": "192.168.0.0/24", "nexthop": "10.5.0.1"}]}}
    )
    assert bad.status_code == 400 and error_type(bad) == "InvalidRoutes"
    assert "not connected with router" in bad.json()["NeutronError"]["message"]
    own = alice.put(
        f"routers/{rid}", {"router": {"routes": [{"destination": "192.168.0.0/24", "nexthop": "10.0.0.1"}]}}
    )
    assert own.status_code == 400 and error_type(own) == "InvalidRoutes"
    assert _get_router(alice, rid) == before

    good = alice.put(
        f"routers/{rid}", {"router": {"routes": [{"destination": "192.168.0.0/24", "nexthop": "10.0.0.20"}]}}
    )
    assert good.status_code == 200, good.text
    assert good.json()["router"]["routes"] == [{"destination": "192.168.0.0/24", "nexthop": "10.0.0.20"}]
    in_use = _remove(alice, rid, {"subnet_id": sub["id"]})
    assert in_use.status_code == 409 and error_type(in_use) == "RouterInterfaceInUseByRoute"
    assert len(alice.get(f"ports?device_id={rid}").json()["ports"]) == 1
    cleared = alice.put(f"routers/{rid}", {"router": {"routes": None}})
    assert cleared.json()["router"]["routes"] == []


def test_routes_limit(alice: Caller, settings: Any) -> None:
    _net, sub = _net_with_subnet(alice, "10.0.0.0/24", "n1")
    rid = _router(alice)["id"]
    _add(alice, rid, {"subnet_id": sub["id"]})
    limit = settings.network.max_routes
    routes = [{"destination": f"192.168.{i}.0/24", "nexthop": "10.0.0.20"} for i in range(limit + 1)]
    resp = alice.put(f"routers/{rid}", {"router": {"routes": routes}})
    assert resp.status_code == 400 and error_type(resp) == "RoutesExhausted"


def test_extraroutes_atomic(alice: Caller, bob: Caller) -> None:
    _net, sub = _net_with_subnet(alice, "10.0.0.0/24", "n1")
    rid = _router(alice)["id"]
    _add(alice, rid, {"subnet_id": sub["id"]})
    r1 = {"destination": "192.168.1.0/24", "nexthop": "10.0.0.11"}
    r2 = {"destination": "192.168.2.0/24", "nexthop": "10.0.0.12"}
    first = alice.put(f"routers/{rid}/add_extraroutes", {"router": {"routes": [r1]}})
    assert first.status_code == 200, first.text
    body = first.json()["router"]
    assert body["id"] == rid and body["routes"] == [r1] and "external_gateway_info" in body
    rev = body["revision_number"]
    second = alice.put(f"routers/{rid}/add_extraroutes", {"router": {"routes": [r1, r2]}}).json()["router"]
    assert second["routes"] == [r1, r2] and second["revision_number"] == rev + 1
    bad = alice.put(
        f"routers/{rid}/add_extraroutes",
        {"router": {"routes": [{"destination": "192.168.3.0/24", "nexthop": "172.16.0.1"}]}},
    )
    assert bad.status_code == 400 and error_type(bad) == "InvalidRoutes"
    assert _get_router(alice, rid)["routes"] == [r1, r2]
    removed = alice.put(
        f"routers/{rid}/remove_extraroutes",
        {"router": {"routes": [r1, {"destination": "10.10.0.0/16", "nexthop": "10.0.0.99"}]}},
    )
    assert removed.status_code == 200 and removed.json()["router"]["routes"] == [r2]
    hidden = bob.put(f"routers/{rid}/add_extraroutes", {"router": {"routes": [r1]}})
    assert hidden.status_code == 404 and error_type(hidden) == "RouterNotFound"
    malformed = alice.put(f"routers/{rid}/add_extraroutes", {"routes": [r1]})
    assert malformed.status_code == 400
    assert _get_router(alice, rid)["routes"] == [r2]


# ---- floating IPs -------------------------------------------------------------------------------
def test_floatingip_create(admin: Caller, alice: Caller, ext: dict[str, Any]) -> None:
    fip = alice.make("floatingip", "floatingips", floating_network_id=ext["net"]["id"])
    assert fip["status"] == "DOWN"  # L3-05: central has no agent
    assert _in(fip["floating_ip_address"], EXT_CIDR)
    assert fip["port_id"] is None and fip["router_id"] is None and fip["fixed_ip_address"] is None
    assert fip["port_details"] is None and fip["project_id"] == PROJECT_A and fip["qos_policy_id"] is None
    assert "subnet_id" not in fip and "floating_port_id" not in fip
    [port] = _ports_of(admin, fip["id"])
    assert port["device_owner"] == "network:floatingip" and port["project_id"] == ""
    assert port["fixed_ips"][0]["ip_address"] == fip["floating_ip_address"]
    assert alice.get(f"floatingips/{fip['id']}").json()["floatingip"] == fip

    denied = alice.post(
        "floatingips",
        {"floatingip": {"floating_network_id": ext["net"]["id"], "floating_ip_address": "172.24.4.77"}},
    )
    assert denied.status_code == 403
    taken = admin.post(
        "floatingips",
        {
            "floatingip": {
                "floating_network_id": ext["net"]["id"],
                "floating_ip_address": fip["floating_ip_address"],
            }
        },
    )
    assert taken.status_code == 409 and error_type(taken) == "IpAddressAlreadyAllocated"
    by_subnet = admin.make(
        "floatingip",
        "floatingips",
        floating_network_id=ext["net"]["id"],
        subnet_id=ext["subnet"]["id"],
        floating_ip_address="172.24.4.77",
    )
    assert by_subnet["floating_ip_address"] == "172.24.4.77"
    assert len(admin.get("floatingips").json()["floatingips"]) == 2

    private, private_sub = _net_with_subnet(alice, "10.0.0.0/24", "n1")
    not_ext = alice.post("floatingips", {"floatingip": {"floating_network_id": private["id"]}})
    assert not_ext.status_code == 400 and error_type(not_ext) == "BadRequest"
    assert "is not a valid external network" in not_ext.json()["NeutronError"]["message"]
    wrong_subnet = alice.post(
        "floatingips",
        {"floatingip": {"floating_network_id": ext["net"]["id"], "subnet_id": private_sub["id"]}},
    )
    assert wrong_subnet.status_code == 400 and error_type(wrong_subnet) == "FixedIpsInvalidSubnet"
    assert len(alice.get("floatingips").json()["floatingips"]) == 1
    fip_ports = admin.get(f"ports?network_id={ext['net']['id']}&device_owner=network:floatingip").json()[
        "ports"
    ]
    assert sorted(p["device_id"] for p in fip_ports) == sorted([fip["id"], by_subnet["id"]])

    assert alice.delete(f"floatingips/{fip['id']}").status_code == 204
    assert _ports_of(admin, fip["id"]) == []


def _topology(alice: Caller, ext: dict[str, Any]) -> dict[str, Any]:
    net, sub = _net_with_subnet(alice, "10.0.0.0/24", "n1")
    vm_port = alice.make("port", "ports", network_id=net["id"], name="vm")
    fip = alice.make("floatingip", "floatingips", floating_network_id=ext["net"]["id"])
    router = _router(alice, external_gateway_info={"network_id": ext["net"]["id"]})
    return {"net": net, "sub": sub, "port": vm_port, "fip": fip, "router": router}


def test_floatingip_association(admin: Caller, alice: Caller, ext: dict[str, Any]) -> None:
    topo = _topology(alice, ext)
    fip, vm_port, rid = topo["fip"], topo["port"], topo["router"]["id"]
    path = f"floatingips/{fip['id']}"
    unreachable = alice.put(path, {"floatingip": {"port_id": vm_port["id"]}})
    assert (
        unreachable.status_code == 404 and error_type(unreachable) == "ExternalGatewayForFloatingIPNotFound"
    )
    assert "is not reachable from subnet" in unreachable.json()["NeutronError"]["message"]
    assert alice.get(path).json()["floatingip"] == fip

    assert _add(alice, rid, {"subnet_id": topo["sub"]["id"]}).status_code == 200
    resp = alice.put(path, {"floatingip": {"port_id": vm_port["id"]}})
    assert resp.status_code == 200, resp.text
    assoc = resp.json()["floatingip"]
    assert assoc["port_id"] == vm_port["id"] and assoc["router_id"] == rid
    assert assoc["fixed_ip_address"] == vm_port["fixed_ips"][0]["ip_address"]
    assert assoc["status"] == "DOWN" and assoc["revision_number"] == fip["revision_number"] + 1
    assert assoc["port_details"] == {
        "name": "vm",
        "network_id": topo["net"]["id"],
        "mac_address": vm_port["mac_address"],
        "admin_state_up": True,
        "status": vm_port["status"],
        "device_id": "",
        "device_owner": "",
    }
    assert [f["id"] for f in alice.get(f"floatingips?port_id={vm_port['id']}").json()["floatingips"]] == [
        fip["id"]
    ]

    second = alice.make("floatingip", "floatingips", floating_network_id=ext["net"]["id"])
    dup = alice.put(f"floatingips/{second['id']}", {"floatingip": {"port_id": vm_port["id"]}})
    assert dup.status_code == 409 and error_type(dup) == "FloatingIPPortAlreadyAssociated"
    assert alice.get(f"floatingips/{second['id']}").json()["floatingip"]["port_id"] is None

    clear_gw = alice.put(f"routers/{rid}", {"router": {"external_gateway_info": {}}})
    assert clear_gw.status_code == 409 and error_type(clear_gw) == "RouterExternalGatewayInUseByFloatingIp"
    assert _get_router(alice, rid)["external_gateway_info"]["network_id"] == ext["net"]["id"]
    intf = _remove(alice, rid, {"subnet_id": topo["sub"]["id"]})
    assert intf.status_code == 409 and error_type(intf) == "RouterInterfaceInUseByFloatingIP"
    assert len(_ports_of(admin, rid)) == 2

    off = alice.put(path, {"floatingip": {"port_id": None}})
    assert off.status_code == 200
    plain = off.json()["floatingip"]
    assert plain["port_id"] is None and plain["router_id"] is None and plain["fixed_ip_address"] is None
    assert plain["port_details"] is None and plain["status"] == "DOWN"
    assert alice.put(f"routers/{rid}", {"router": {"external_gateway_info": {}}}).status_code == 200


def test_floatingip_associate_at_create_and_port_delete(alice: Caller, ext: dict[str, Any]) -> None:
    topo = _topology(alice, ext)
    _add(alice, topo["router"]["id"], {"subnet_id": topo["sub"]["id"]})
    vm_port = topo["port"]
    fip = alice.make(
        "floatingip",
        "floatingips",
        floating_network_id=ext["net"]["id"],
        port_id=vm_port["id"],
        fixed_ip_address=vm_port["fixed_ips"][0]["ip_address"],
    )
    assert fip["router_id"] == topo["router"]["id"] and fip["status"] == "DOWN"
    wrong_ip = alice.put(
        f"floatingips/{fip['id']}",
        {"floatingip": {"port_id": vm_port["id"], "fixed_ip_address": "10.0.0.250"}},
    )
    assert wrong_ip.status_code == 400
    assert alice.delete(f"ports/{vm_port['id']}").status_code == 204
    after = alice.get(f"floatingips/{fip['id']}").json()["floatingip"]
    assert after["port_id"] is None and after["router_id"] is None


def test_other_project_floatingip_hidden(alice: Caller, bob: Caller, ext: dict[str, Any]) -> None:
    fip = alice.make("floatingip", "floatingips", floating_network_id=ext["net"]["id"])
    for resp in (
        bob.get(f"floatingips/{fip['id']}"),
        bob.delete(f"floatingips/{fip['id']}"),
        bob.put(f"floatingips/{fip['id']}", {"floatingip": {"description": "x"}}),
    ):
        assert resp.status_code == 404 and error_type(resp) == "FloatingIPNotFound"
    assert bob.get("floatingips").json()["floatingips"] == []
    assert alice.get(f"floatingips/{fip['id']}").json()["floatingip"] == fip
    # Bob cannot bind Alice's FIP-less port either: it is invisible to him.
    net, _sub = _net_with_subnet(alice, "10.0.0.0/24", "n1")
    alice_port = alice.make("port", "ports", network_id=net["id"])
    bob_fip = bob.make("floatingip", "floatingips", floating_network_id=ext["net"]["id"])
    stolen = bob.put(f"floatingips/{bob_fip['id']}", {"floatingip": {"port_id": alice_port["id"]}})
    assert stolen.status_code == 404 and error_type(stolen) == "PortNotFound"


# ---- events -------------------------------------------------------------------------------------
def test_interface_callbacks_and_notifications(app: Any, alice: Caller) -> None:
    core = app.core
    seen: list[tuple[str, dict[str, Any]]] = []

    def record(resource: str, event: str, trigger: Any, *, payload: cb.EventPayload) -> None:
        seen.append((event, dict(payload.metadata)))

    for event in (
        cb.BEFORE_CREATE,
        cb.PRECOMMIT_CREATE,
        cb.AFTER_CREATE,
        cb.BEFORE_DELETE,
        cb.PRECOMMIT_DELETE,
        cb.AFTER_DELETE,
    ):
        core.registry.subscribe(record, cb.ROUTER_INTERFACE, event)
    net, sub = _net_with_subnet(alice, "10.0.0.0/24", "n1")
    rid = _router(alice)["id"]
    info = _add(alice, rid, {"subnet_id": sub["id"]}).json()
    _remove(alice, rid, {"subnet_id": sub["id"]})
    events = [e for e, _ in seen]
    assert events == [
        cb.BEFORE_CREATE,
        cb.PRECOMMIT_CREATE,
        cb.AFTER_CREATE,
        cb.BEFORE_DELETE,
        cb.PRECOMMIT_DELETE,
        cb.AFTER_DELETE,
    ]
    after_create = seen[2][1]
    assert after_create["port"]["id"] == info["port_id"] and after_create["port"]["network_id"] == net["id"]
    assert after_create["subnet_ids"] == [sub["id"]] and after_create["cidrs"] == ["10.0.0.0/24"]
    assert seen[3][1] == {"subnet_id": sub["id"]}
    kinds = [n.event_type for n in core.notifications.query("router.interface")]
    assert kinds == ["router.interface.create", "router.interface.delete"]
    payload = core.notifications.query("router.interface.create")[0].payload
    assert payload["router_interface"]["port_id"] == info["port_id"]

    # A BEFORE_CREATE veto leaves nothing behind.
    def veto(resource: str, event: str, trigger: Any, *, payload: cb.EventPayload) -> None:
        raise RuntimeError("no")

    core.registry.subscribe(veto, cb.ROUTER_INTERFACE, cb.BEFORE_CREATE)
    refused = _add(alice, rid, {"subnet_id": sub["id"]})
    assert refused.status_code == 409 and error_type(refused) == "RouterInterfaceAttachmentConflict"
    assert alice.get(f"ports?device_id={rid}").json()["ports"] == []


def test_interface_precommit_veto_rolls_back(app: Any, alice: Caller) -> None:
    core = app.core
    _net, sub = _net_with_subnet(alice, "10.0.0.0/24", "n1")
    rid = _router(alice)["id"]
    info = _add(alice, rid, {"subnet_id": sub["id"]}).json()
    before = _get_router(alice, rid)

    def veto(resource: str, event: str, trigger: Any, *, payload: cb.EventPayload) -> None:
        assert payload.connection is not None
        raise RuntimeError("region unreachable")

    core.registry.subscribe(veto, cb.ROUTER_INTERFACE, cb.PRECOMMIT_DELETE)
    refused = _remove(alice, rid, {"subnet_id": sub["id"]})
    assert refused.status_code == 409 and error_type(refused) == "RouterInUse"
    assert rid in refused.json()["NeutronError"]["message"]
    assert alice.get(f"ports/{info['port_id']}").status_code == 200
    assert _get_router(alice, rid) == before
