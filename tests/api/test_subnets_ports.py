"""Subnets and ports over HTTP: IPAM, pools, gateways, MACs, bindings, security groups."""

from __future__ import annotations

import ipaddress
from typing import Any

from apiclient import Caller, error_type


def _net(c: Caller, **kw: Any) -> dict[str, Any]:
    return c.make("network", "networks", name="net", **kw)


def test_subnet_defaults_and_normalisation(alice: Caller) -> None:
    net = _net(alice)
    sub = alice.make("subnet", "subnets", network_id=net["id"], cidr="10.0.1.0/24", ip_version=4, name="s")
    assert sub["gateway_ip"] == "10.0.1.1"
    assert sub["allocation_pools"] == [{"start": "10.0.1.2", "end": "10.0.1.254"}]
    assert sub["enable_dhcp"] is True and sub["dns_nameservers"] == [] and sub["host_routes"] == []
    assert alice.get(f"networks/{net['id']}").json()["network"]["subnets"] == [sub["id"]]
    v6 = alice.make("subnet", "subnets", network_id=net["id"], cidr="2001:DB8::/64", ip_version=6,
                    ipv6_address_mode="slaac", ipv6_ra_mode="slaac")
    # Neutron's IPv6 default gateway is the subnet-router anycast address (the network address).
    assert v6["cidr"] == "2001:db8::/64" and v6["gateway_ip"] == "2001:db8::"
    assert v6["allocation_pools"] == [{"start": "2001:db8::1", "end": "2001:db8::ffff:ffff:ffff:ffff"}]


def test_subnet_validation_errors_change_nothing(alice: Caller) -> None:
    net = _net(alice)
    nid = net["id"]
    cases = [
        {"network_id": nid, "cidr": "10.0.0.0/33", "ip_version": 4},
        {"network_id": nid, "cidr": "10.0.0.0/24", "ip_version": 6},
        {"network_id": nid, "cidr": "10.0.0.0/24", "ip_version": 4,
         "allocation_pools": [{"start": "10.0.1.2", "end": "10.0.1.10"}]},
        {"network_id": nid, "cidr": "10.0.0.0/24", "ip_version": 4, "gateway_ip": "10.0.0.5",
         "allocation_pools": [{"start": "10.0.0.2", "end": "10.0.0.10"}]},
        {"network_id": nid, "cidr": "10.0.0.0/24", "ip_version": 4,
         "allocation_pools": [{"start": "10.0.0.2", "end": "10.0.0.10"}, {"start": "10.0.0.5", "end": "10.0.0.20"}]},
        {"network_id": nid, "cidr": "10.0.0.0/24", "ip_version": 4, "dns_nameservers": ["2001:db8::1"]},
        {"network_id": "00000000-0000-0000-0000-000000000000", "cidr": "10.0.0.0/24", "ip_version": 4},
    ]
    for body in cases:
        resp = alice.post("subnets", {"subnet": body})
        assert 400 <= resp.status_code < 500, (body, resp.text)
        assert "NeutronError" in resp.json()
    assert alice.get("subnets").json()["subnets"] == []
    alice.make("subnet", "subnets", network_id=nid, cidr="10.0.0.0/24", ip_version=4)
    overlap = alice.post("subnets", {"subnet": {"network_id": nid, "cidr": "10.0.0.128/25", "ip_version": 4}})
    assert overlap.status_code == 400
    assert len(alice.get("subnets").json()["subnets"]) == 1


def test_subnet_without_gateway_and_explicit_pools(alice: Caller) -> None:
    net = _net(alice)
    sub = alice.make("subnet", "subnets", network_id=net["id"], cidr="192.168.5.0/29", ip_version=4,
                     gateway_ip=None)
    assert sub["gateway_ip"] is None
    assert sub["allocation_pools"] == [{"start": "192.168.5.1", "end": "192.168.5.6"}]


def test_port_allocation_and_explicit_ips(alice: Caller) -> None:
    net = _net(alice)
    sub = alice.make("subnet", "subnets", network_id=net["id"], cidr="10.0.1.0/24", ip_version=4)
    port = alice.make("port", "ports", network_id=net["id"])
    assert port["status"] == "DOWN" and port["mac_address"].startswith("fa:16:3e:")
    assert len(port["fixed_ips"]) == 1 and port["fixed_ips"][0]["subnet_id"] == sub["id"]
    ip = ipaddress.ip_address(port["fixed_ips"][0]["ip_address"])
    assert ip in ipaddress.ip_network("10.0.1.0/24") and str(ip) != "10.0.1.1"
    fixed = alice.make("port", "ports", network_id=net["id"], fixed_ips=[{"ip_address": "10.0.1.50"}])
    assert fixed["fixed_ips"] == [{"subnet_id": sub["id"], "ip_address": "10.0.1.50"}]
    dup = alice.post("ports", {"port": {"network_id": net["id"], "fixed_ips": [{"ip_address": "10.0.1.50"}]}})
    assert dup.status_code == 409 and error_type(dup) == "IpAddressAlreadyAllocated"
    outside = alice.post("ports", {"port": {"network_id": net["id"], "fixed_ips": [{"ip_address": "10.9.9.9"}]}})
    assert outside.status_code == 400 and error_type(outside) == "InvalidIpForNetwork"
    mac = alice.post("ports", {"port": {"network_id": net["id"], "mac_address": fixed["mac_address"]}})
    assert mac.status_code == 409 and error_type(mac) == "MacAddressInUse"
    assert len(alice.get("ports").json()["ports"]) == 2
    by_ip = alice.get("ports?fixed_ips=ip_address=10.0.1.50").json()["ports"]
    assert [p["id"] for p in by_ip] == [fixed["id"]]


def test_port_gets_default_security_group(alice: Caller, bob: Caller) -> None:
    net = _net(alice)
    port = alice.make("port", "ports", network_id=net["id"])
    groups = alice.get("security-groups").json()["security_groups"]
    assert [g["name"] for g in groups] == ["default"]
    assert port["security_groups"] == [groups[0]["id"]]
    bobs = bob.make("security_group", "security-groups", name="bobs")
    foreign = alice.post("ports", {"port": {"network_id": net["id"], "security_groups": [bobs["id"]]}})
    assert foreign.status_code == 404 and error_type(foreign) == "SecurityGroupNotFound"
    nosec = alice.post("ports", {"port": {"network_id": net["id"], "port_security_enabled": False,
                                          "security_groups": [groups[0]["id"]]}})
    assert nosec.status_code == 400
    plain = alice.make("port", "ports", network_id=net["id"], port_security_enabled=False)
    assert plain["security_groups"] == []


def test_port_binding_and_admin_only_binding_fields(admin: Caller, alice: Caller) -> None:
    net = _net(alice)
    port = alice.make("port", "ports", network_id=net["id"])
    assert "binding:host_id" not in port
    denied = alice.put(f"ports/{port['id']}", {"port": {"binding:host_id": "host1"}})
    assert denied.status_code == 403
    bound = admin.put(f"ports/{port['id']}", {"port": {"binding:host_id": "host1", "device_owner": "compute:az1",
                                                        "device_id": "vm1"}}).json()["port"]
    assert bound["binding:host_id"] == "host1" and bound["binding:vif_type"] == "ovs"
    assert bound["status"] == "ACTIVE" and bound["device_owner"] == "compute:az1"
    seen = alice.get(f"ports/{port['id']}").json()["port"]
    assert seen["device_id"] == "vm1" and "binding:vif_type" not in seen


def test_port_update_fixed_ips_and_pairs(alice: Caller) -> None:
    net = _net(alice)
    alice.make("subnet", "subnets", network_id=net["id"], cidr="10.0.1.0/24", ip_version=4)
    port = alice.make("port", "ports", network_id=net["id"], fixed_ips=[{"ip_address": "10.0.1.10"}])
    upd = alice.put(f"ports/{port['id']}", {"port": {"fixed_ips": [{"ip_address": "10.0.1.11"}],
                                                     "allowed_address_pairs": [{"ip_address": "10.0.1.200"}]}})
    assert upd.status_code == 200, upd.text
    body = upd.json()["port"]
    assert [a["ip_address"] for a in body["fixed_ips"]] == ["10.0.1.11"]
    assert body["allowed_address_pairs"] == [{"ip_address": "10.0.1.200", "mac_address": port["mac_address"]}]
    again = alice.make("port", "ports", network_id=net["id"], fixed_ips=[{"ip_address": "10.0.1.10"}])
    assert again["fixed_ips"][0]["ip_address"] == "10.0.1.10"


def test_subnet_in_use_and_pool_exhaustion(alice: Caller) -> None:
    net = _net(alice)
    sub = alice.make("subnet", "subnets", network_id=net["id"], cidr="10.0.2.0/29", ip_version=4)
    ports = [alice.make("port", "ports", network_id=net["id"]) for _ in range(5)]
    addrs = {p["fixed_ips"][0]["ip_address"] for p in ports}
    assert addrs == {f"10.0.2.{i}" for i in range(2, 7)}
    full = alice.post("ports", {"port": {"network_id": net["id"]}})
    assert full.status_code == 409 and error_type(full) == "IpAddressGenerationFailure"
    busy = alice.delete(f"subnets/{sub['id']}")
    assert busy.status_code == 409 and error_type(busy) == "SubnetInUse"
    for p in ports:
        assert alice.delete(f"ports/{p['id']}").status_code == 204
    assert alice.delete(f"subnets/{sub['id']}").status_code == 204


def test_subnet_update_rules(alice: Caller) -> None:
    net = _net(alice)
    sub = alice.make("subnet", "subnets", network_id=net["id"], cidr="10.0.3.0/24", ip_version=4)
    port = alice.make("port", "ports", network_id=net["id"], fixed_ips=[{"ip_address": "10.0.3.7"}])
    clash = alice.put(f"subnets/{sub['id']}", {"subnet": {"gateway_ip": "10.0.3.7"}})
    assert clash.status_code == 409 and error_type(clash) == "GatewayIpInUse"
    upd = alice.put(f"subnets/{sub['id']}", {"subnet": {"dns_nameservers": ["8.8.8.8"],
                                                        "host_routes": [{"destination": "10.9.0.0/16",
                                                                         "nexthop": "10.0.3.254"}],
                                                        "allocation_pools": [{"start": "10.0.3.100",
                                                                              "end": "10.0.3.200"}]}})
    assert upd.status_code == 200, upd.text
    got = upd.json()["subnet"]
    assert got["dns_nameservers"] == ["8.8.8.8"] and got["revision_number"] == 2
    assert got["allocation_pools"] == [{"start": "10.0.3.100", "end": "10.0.3.200"}]
    bad = alice.put(f"subnets/{sub['id']}", {"subnet": {"allocation_pools": [{"start": "10.0.3.1",
                                                                              "end": "10.0.3.20"}]}})
    assert bad.status_code == 409
    assert alice.get(f"subnets/{sub['id']}").json()["subnet"]["allocation_pools"] == got["allocation_pools"]
    assert port["fixed_ips"][0]["ip_address"] == "10.0.3.7"


def test_ipv6_slaac_and_static_addresses(alice: Caller) -> None:
    net = _net(alice)
    v4 = alice.make("subnet", "subnets", network_id=net["id"], cidr="10.0.9.0/24", ip_version=4)
    slaac = alice.make("subnet", "subnets", network_id=net["id"], cidr="2001:db8:1::/64", ip_version=6,
                       ipv6_address_mode="slaac", ipv6_ra_mode="slaac")
    port = alice.make("port", "ports", network_id=net["id"], mac_address="fa:16:3e:11:22:33")
    by_subnet = {f["subnet_id"]: f["ip_address"] for f in port["fixed_ips"]}
    assert set(by_subnet) == {v4["id"], slaac["id"]}
    # EUI-64: the MAC with the universal/local bit flipped and ff:fe in the middle
    assert by_subnet[slaac["id"]] == "2001:db8:1:0:f816:3eff:fe11:2233"  # RFC 5952: one zero group stays
    static_net = _net(alice)
    static = alice.make("subnet", "subnets", network_id=static_net["id"], cidr="2001:db8:2::/120", ip_version=6)
    explicit = alice.make("port", "ports", network_id=static_net["id"],
                          fixed_ips=[{"subnet_id": static["id"], "ip_address": "2001:db8:2::10"}])
    assert explicit["fixed_ips"] == [{"subnet_id": static["id"], "ip_address": "2001:db8:2::10"}]
    auto = alice.make("port", "ports", network_id=static_net["id"])
    assert ipaddress.ip_address(auto["fixed_ips"][0]["ip_address"]) in ipaddress.ip_network("2001:db8:2::/120")


def test_extra_dhcp_opts_and_address_pairs_validation(alice: Caller) -> None:
    net = _net(alice)
    alice.make("subnet", "subnets", network_id=net["id"], cidr="10.0.8.0/24", ip_version=4)
    port = alice.make("port", "ports", network_id=net["id"],
                      extra_dhcp_opts=[{"opt_name": "bootfile-name", "opt_value": "pxelinux.0"}])
    assert port["extra_dhcp_opts"][0]["opt_name"] == "bootfile-name"
    bad = alice.post("ports", {"port": {"network_id": net["id"], "allowed_address_pairs": [{"mac_address": "x"}]}})
    assert bad.status_code == 400
    nosec = alice.post("ports", {"port": {"network_id": net["id"], "port_security_enabled": False,
                                          "allowed_address_pairs": [{"ip_address": "10.0.8.99"}]}})
    assert nosec.status_code == 409 and error_type(nosec) == "AddressPairAndPortSecurityRequired"
    assert len(alice.get("ports").json()["ports"]) == 1


def test_availability_zone_hints_are_validated(alice: Caller) -> None:
    ok = alice.make("network", "networks", name="az", availability_zone_hints=["nova"])
    assert ok["availability_zone_hints"] == ["nova"]
    bad = alice.post("networks", {"network": {"name": "bad", "availability_zone_hints": ["mars"]}})
    assert bad.status_code == 404 and error_type(bad) == "AvailabilityZoneNotFound"
    assert [n["name"] for n in alice.get("networks").json()["networks"]] == ["az"]
