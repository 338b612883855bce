"""Neutron behaviours Tempest's network API tests found missing (tools/run_tempest.sh), one test each."""

from __future__ import annotations

from apiclient import Caller, error_type


def test_deleting_an_auto_address_subnet_drops_it_from_ports(alice: Caller) -> None:
    """Tempest NetworksIpV6TestAttrs.test_create_delete_slaac_subnet_with_ports: SLAAC / DHCPv6-stateless
    addresses are derived by the port, so Neutron removes them from ports instead of SubnetInUse."""
    for mode in ("slaac", "dhcpv6-stateless"):
        net = alice.make("network", "networks", name="v6")
        v4 = alice.make("subnet", "subnets", network_id=net["id"], cidr="10.0.0.0/24", ip_version=4)
        v6 = alice.make("subnet", "subnets", network_id=net["id"], cidr="2001:db8::/64", ip_version=6,
                        ipv6_address_mode=mode, ipv6_ra_mode=mode)
        port = alice.make("port", "ports", network_id=net["id"])
        assert {ip["subnet_id"] for ip in port["fixed_ips"]} == {v4["id"], v6["id"]}
        assert alice.delete(f"subnets/{v6['id']}").status_code == 204
        after = alice.get(f"ports/{port['id']}").json()["port"]
        assert [ip["subnet_id"] for ip in after["fixed_ips"]] == [v4["id"]]
        assert after["revision_number"] > port["revision_number"]
        # A stateful (non auto-address) subnet still stays in use while a port holds an address.
        in_use = alice.delete(f"subnets/{v4['id']}")
        assert in_use.status_code == 409 and error_type(in_use) == "SubnetInUse"


def test_security_group_rule_port_values_are_checked_on_conversion(alice: Caller) -> None:
    """Tempest test_create_security_group_rule_with_invalid_ports: ports outside 0-65535 are
    SecurityGroupInvalidPortValue whatever the protocol (Neutron's convert_validate_port_value)."""
    sg = alice.make("security_group", "security-groups", name="ports")
    cases = [("tcp", -16, 80, "Invalid value for port -16"), ("tcp", 80, 65536, "Invalid value for port 65536"),
             ("tcp", 80, 79, "port_range_min must be <= port_range_max"),
             ("tcp", None, 6, "port_range_min must be <= port_range_max"),
             ("icmp", -1, 25, "Invalid value for port -1"), ("icmp", 1, 256, "Invalid value for ICMP code"),
             ("icmp", 300, 1, "Invalid value for ICMP type"),
             ("icmp", None, 6, "ICMP type (port-range-min) is missing")]
    for protocol, low, high, message in cases:
        resp = alice.post("security-group-rules", {"security_group_rule": {
            "security_group_id": sg["id"], "direction": "ingress", "protocol": protocol,
            "port_range_min": low, "port_range_max": high}})
        assert resp.status_code == 400, (protocol, low, high, resp.text)
        assert message in resp.json()["NeutronError"]["message"], (message, resp.text)
    bad = alice.post("security-group-rules", {"security_group_rule": {
        "security_group_id": sg["id"], "direction": "ingress", "protocol": "tcp", "port_range_min": "x"}})
    assert bad.status_code == 400 and error_type(bad) == "SecurityGroupInvalidPortValue"
    # The ethertype is case-insensitive, as Neutron's converter makes it.
    ok = alice.make("security_group_rule", "security-group-rules", security_group_id=sg["id"],
                    direction="ingress", ethertype="ipv6", protocol="tcp", port_range_min=22, port_range_max=22)
    assert ok["ethertype"] == "IPv6"


def test_security_group_rule_unknown_group_ids_are_not_found(alice: Caller) -> None:
    """Tempest test_create_security_group_rule_with_non_existent_remote_groupid: Neutron does not
    check these ids' format; a missing group is SecurityGroupNotFound (404), never a 400."""
    sg = alice.make("security_group", "security-groups", name="remote")
    for remote in ("bad_group_id", "6b7c5e52-1234-4a2b-9c3d-000000000000"):
        resp = alice.post("security-group-rules", {"security_group_rule": {
            "security_group_id": sg["id"], "direction": "ingress", "protocol": "tcp", "remote_group_id": remote}})
        assert resp.status_code == 404 and error_type(resp) == "SecurityGroupNotFound", resp.text
    resp = alice.post("security-group-rules", {"security_group_rule": {
        "security_group_id": "bad_group_id", "direction": "ingress"}})
    assert resp.status_code == 404 and error_type(resp) == "SecurityGroupNotFound", resp.text


def test_security_group_cannot_be_renamed_default(alice: Caller) -> None:
    """Tempest test_create_security_group_update_name_default: renaming a group to "default" (any
    case) is SecurityGroupDefaultAlreadyExists (409); the default group itself cannot be renamed."""
    sg = alice.make("security_group", "security-groups", name="mine")
    for name in ("default", "DEFAULT"):
        resp = alice.put(f"security-groups/{sg['id']}", {"security_group": {"name": name}})
        assert resp.status_code == 409 and error_type(resp) == "SecurityGroupDefaultAlreadyExists", resp.text
    assert alice.get(f"security-groups/{sg['id']}").json()["security_group"]["name"] == "mine"
    created = alice.post("security-groups", {"security_group": {"name": "Default"}})
    assert created.status_code == 409 and error_type(created) == "SecurityGroupDefaultAlreadyExists"
    default = alice.get("security-groups?name=default").json()["security_groups"][0]
    renamed = alice.put(f"security-groups/{default['id']}", {"security_group": {"name": "other"}})
    assert renamed.status_code == 409 and error_type(renamed) == "SecurityGroupCannotUpdateDefault"
    described = alice.put(f"security-groups/{default['id']}", {"security_group": {"description": "d"}})
    assert described.status_code == 200


def test_deleting_an_external_network_deletes_its_unassociated_floating_ips(admin: Caller) -> None:
    """Tempest test_delete_external_networks_with_floating_ip: Neutron deletes an external network's
    disassociated floating IPs (and their ports) with the network instead of NetworkInUse."""
    net = admin.make("network", "networks", name="ext", **{"router:external": True})
    admin.make("subnet", "subnets", network_id=net["id"], ip_version=4, cidr="172.24.4.0/24", enable_dhcp=False)
    fip = admin.make("floatingip", "floatingips", floating_network_id=net["id"])
    assert admin.delete(f"networks/{net['id']}").status_code == 204
    assert admin.get(f"floatingips/{fip['id']}").status_code == 404
    assert admin.get(f"ports?network_id={net['id']}").json()["ports"] == []
    assert admin.get("subnets").json()["subnets"] == []
