"""Neutron behaviours Tempest's network API tests found missing (tools/run_tempest.sh), one test each."""

from __future__ import annotations

from typing import Any

from apiclient import PROJECT_A, Caller, error_type


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


def _links(body: dict[str, Any], collection: str) -> dict[str, str]:
    return {link["rel"]: link["href"].split("/v2.0/", 1)[1] for link in body.get(f"{collection}_links", [])}


def test_pagination_links_follow_neutrons_rule(alice: Caller) -> None:
    """neutron-tempest-plugin *_list_pagination_with_href_links / page_reverse_with_href_links: a full
    forward page has "next" (its page may be empty), "previous" always pages back from the first item,
    and "previous" of an empty page is the last page."""
    made = sorted(alice.make("network", "networks", name=f"p{i}")["id"] for i in range(3))
    forward, url = [], "networks?limit=1&sort_key=id&sort_dir=asc"
    for _ in made:
        body = alice.get(url).json()
        forward += [n["id"] for n in body["networks"]]
        url = _links(body, "networks")["next"]
    assert forward == made
    end = alice.get(url).json()
    assert end["networks"] == [] and "next" not in _links(end, "networks")
    backward, url = [], _links(end, "networks")["previous"]
    for _ in made:
        body = alice.get(url).json()
        backward = [n["id"] for n in body["networks"]] + backward
        url = _links(body, "networks")["previous"]
    assert backward == made
    first = alice.get("networks?limit=2&sort_key=id&page_reverse=True").json()
    assert [n["id"] for n in first["networks"]] == made[1:]
    assert set(_links(first, "networks")) == {"next", "previous"}
    last = alice.get(_links(first, "networks")["previous"]).json()
    assert [n["id"] for n in last["networks"]] == made[:1] and set(_links(last, "networks")) == {"next"}


def test_quota_update_takes_force_and_check_limit(admin: Caller, alice: Caller) -> None:
    """neutron-tempest-plugin QuotasTest / test_set_network_quota_lower_than_networks_amount: the body may
    carry ``force`` and ``check_limit`` (quota-check-limit); a checked limit below the usage is a 400."""
    alice.make("network", "networks", name="q1")
    alice.make("network", "networks", name="q2")
    forced = admin.put(f"quotas/{PROJECT_A}", {"quota": {"network": 0, "security_group": 0, "force": True}})
    assert forced.status_code == 200 and forced.json()["quota"]["network"] == 0
    assert "force" not in forced.json()["quota"]
    checked = admin.put(f"quotas/{PROJECT_A}", {"quota": {"network": 1, "check_limit": True}})
    assert checked.status_code == 400 and "already used 2" in checked.json()["NeutronError"]["message"]
    assert admin.get(f"quotas/{PROJECT_A}").json()["quota"]["network"] == 0
    assert admin.put(f"quotas/{PROJECT_A}", {"quota": {"network": 2, "check_limit": True}}).status_code == 200
    assert admin.put(f"quotas/{PROJECT_A}", {"quota": {"network": -1, "check_limit": "true"}}).status_code == 200
    bad = admin.put(f"quotas/{PROJECT_A}", {"quota": {"network": 5, "force": "maybe"}})
    assert bad.status_code == 400
    assert "quota-check-limit" in {e["alias"] for e in admin.get("extensions").json()["extensions"]}


def test_network_mtu_minimum_is_checked_against_its_subnets(alice: Caller) -> None:
    """neutron-tempest-plugin test_*_mtu_below_minimum_ipv4/ipv6: a network may have any MTU, but an IPv4
    subnet needs 68 and an IPv6 one 1280, at subnet create and at MTU update (409)."""
    for mtu, version, cidr in ((67, 4, "10.0.0.0/24"), (1279, 6, "2001:db8:0:1::/64")):
        net = alice.make("network", "networks", name="small", mtu=mtu)
        assert net["mtu"] == mtu
        resp = alice.post("subnets", {"subnet": {"network_id": net["id"], "ip_version": version, "cidr": cidr}})
        assert resp.status_code == 409 and error_type(resp) == "NetworkMTUTooSmallForSubnet", resp.text
        big = alice.make("network", "networks", name="big", mtu=1280)
        alice.make("subnet", "subnets", network_id=big["id"], ip_version=version, cidr=cidr)
        resp = alice.put(f"networks/{big['id']}", {"network": {"mtu": mtu}})
        assert resp.status_code == 409 and error_type(resp) == "NetworkMTUTooSmallForSubnet", resp.text
        assert alice.get(f"networks/{big['id']}").json()["network"]["mtu"] == 1280


def test_stateful_and_stateless_groups_do_not_mix(alice: Caller) -> None:
    """neutron-tempest-plugin NegativeStatelessSecGroupTest: a port has stateful or stateless groups, never
    both (SecurityGroupConflict, 409), and a group in use cannot change its statefulness (409)."""
    net = alice.make("network", "networks", name="sg")
    alice.make("subnet", "subnets", network_id=net["id"], cidr="10.0.0.0/24", ip_version=4)
    stateless = alice.make("security_group", "security-groups", name="sl", stateful=False)
    stateful = alice.make("security_group", "security-groups", name="sf", stateful=True)
    both = [stateful["id"], stateless["id"]]
    resp = alice.post("ports", {"port": {"network_id": net["id"], "security_groups": both}})
    assert resp.status_code == 409 and error_type(resp) == "SecurityGroupConflict", resp.text
    port = alice.make("port", "ports", network_id=net["id"], security_groups=[stateless["id"]])
    resp = alice.put(f"ports/{port['id']}", {"port": {"security_groups": both}})
    assert resp.status_code == 409 and error_type(resp) == "SecurityGroupConflict", resp.text
    resp = alice.put(f"security-groups/{stateless['id']}", {"security_group": {"stateful": True}})
    assert resp.status_code == 409 and error_type(resp) == "SecurityGroupInUse", resp.text
    assert alice.put(f"security-groups/{stateful['id']}", {"security_group": {"stateful": False}}).status_code == 200


def test_blank_floatingip_update_disassociates(admin: Caller, alice: Caller) -> None:
    """neutron-tempest-plugin test_blank_update_clears_association: ``PUT {"floatingip": {}}`` clears the
    association; an update of other attributes alone keeps it."""
    ext = admin.make("network", "networks", name="ext", **{"router:external": True})
    admin.make("subnet", "subnets", network_id=ext["id"], ip_version=4, cidr="172.24.4.0/24", enable_dhcp=False)
    net = alice.make("network", "networks", name="in")
    sub = alice.make("subnet", "subnets", network_id=net["id"], ip_version=4, cidr="10.0.0.0/24")
    router = alice.make("router", "routers", external_gateway_info={"network_id": ext["id"]})
    assert alice.put(f"routers/{router['id']}/add_router_interface", {"subnet_id": sub["id"]}).status_code == 200
    port = alice.make("port", "ports", network_id=net["id"])
    fip = alice.make("floatingip", "floatingips", floating_network_id=ext["id"], port_id=port["id"])
    assert fip["port_id"] == port["id"]
    kept = alice.put(f"floatingips/{fip['id']}", {"floatingip": {"description": "d2"}}).json()["floatingip"]
    assert kept["port_id"] == port["id"] and kept["description"] == "d2"
    cleared = alice.put(f"floatingips/{fip['id']}", {"floatingip": {}})
    assert cleared.status_code == 200, cleared.text
    body = cleared.json()["floatingip"]
    assert body["port_id"] is None and body["fixed_ip_address"] is None and body["description"] == "d2"


def test_subnets_filter_on_their_networks_shared(admin: Caller, alice: Caller) -> None:
    """neutron-tempest-plugin test_filtering_shared_subnets: ``shared`` is a hidden subnet attribute (its
    network's), usable as a filter by anyone."""
    shared_net = admin.make("network", "networks", name="shared", shared=True)
    shared = admin.make("subnet", "subnets", network_id=shared_net["id"], ip_version=4, cidr="10.0.0.0/24")
    own_net = alice.make("network", "networks", name="own")
    own = alice.make("subnet", "subnets", network_id=own_net["id"], ip_version=4, cidr="10.0.1.0/24")
    for caller in (admin, alice):
        yes = {s["id"] for s in caller.get("subnets?shared=True").json()["subnets"]}
        no = {s["id"] for s in caller.get("subnets?shared=false").json()["subnets"]}
        assert shared["id"] in yes and own["id"] not in yes
        assert own["id"] in no and shared["id"] not in no
    assert "shared" not in own
    assert alice.get("subnets?shared=maybe").status_code == 400


def test_bulk_items_may_be_wrapped_in_their_member_name(alice: Caller) -> None:
    """neutron-tempest-plugin test_create_bulk_sec_groups: ``{"security_groups": [{"security_group": {...}}]}``
    is a bulk create too (Neutron unwraps each item)."""
    resp = alice.post("security-groups", {"security_groups": [{"security_group": {"name": "w1", "stateful": False}},
                                                              {"name": "w2"}]})
    assert resp.status_code == 201, resp.text
    made = resp.json()["security_groups"]
    assert [(g["name"], g["stateful"]) for g in made] == [("w1", False), ("w2", True)]
    nets = alice.post("networks", {"networks": [{"network": {"name": "a"}}, {"network": {"name": "b"}}]})
    assert nets.status_code == 201 and [n["name"] for n in nets.json()["networks"]] == ["a", "b"]


def test_disabling_port_security_under_security_groups_conflicts(alice: Caller) -> None:
    """neutron-tempest-plugin test_port_sec_update_port_failed: turning port security off while the port
    keeps its groups is PortSecurityPortHasSecurityGroup (409); removing them in the same update works."""
    net = alice.make("network", "networks", name="ps")
    alice.make("subnet", "subnets", network_id=net["id"], cidr="10.0.0.0/24", ip_version=4)
    sg = alice.make("security_group", "security-groups", name="ps")
    port = alice.make("port", "ports", network_id=net["id"])
    resp = alice.put(f"ports/{port['id']}", {"port": {"port_security_enabled": False}})
    assert resp.status_code == 409 and error_type(resp) == "PortSecurityPortHasSecurityGroup", resp.text
    off = alice.put(f"ports/{port['id']}", {"port": {"port_security_enabled": False, "security_groups": []}})
    assert off.status_code == 200 and off.json()["port"]["security_groups"] == []
    bad = alice.put(f"ports/{port['id']}", {"port": {"security_groups": [sg["id"]]}})
    assert bad.status_code == 400 and error_type(bad) == "PortSecurityAndIPRequiredForSecurityGroups"
    on = alice.put(f"ports/{port['id']}", {"port": {"port_security_enabled": True, "security_groups": [sg["id"]]}})
    assert on.status_code == 200 and on.json()["port"]["security_groups"] == [sg["id"]]


def test_only_admins_create_for_another_project(admin: Caller, alice: Caller) -> None:
    """neutron-tempest-plugin test_add_port_with_nonexist_project_id: a project member naming another
    project is a 400 (neutron-lib's populate_project_id), whatever the resource; an admin may."""
    net = alice.make("network", "networks", name="own")
    other = "c" * 32
    for path, body in (("ports", {"port": {"network_id": net["id"], "project_id": other}}),
                       ("networks", {"network": {"name": "x", "tenant_id": other}}),
                       ("security-groups", {"security_group": {"name": "x", "project_id": other}})):
        resp = alice.post(path, body)
        assert resp.status_code == 400 and "requires admin privileges" in resp.json()["NeutronError"]["message"]
    assert alice.post("networks", {"network": {"name": "mine", "project_id": PROJECT_A}}).status_code == 201
    made = admin.make("network", "networks", name="theirs", project_id=other)
    assert made["project_id"] == other


def test_availability_zones_are_listed(alice: Caller) -> None:
    """neutron-tempest-plugin test_list_available_zones: the advertised availability_zone extension has
    its ``GET /v2.0/availability_zones`` (one entry per zone and resource), with filters."""
    zones = alice.get("availability_zones").json()["availability_zones"]
    assert {"name": "nova", "resource": "network", "state": "available"} in zones
    assert {"name": "nova", "resource": "router", "state": "available"} in zones
    routers = alice.get("availability_zones?resource=router").json()["availability_zones"]
    assert routers and {z["resource"] for z in routers} == {"router"}
    assert alice.get("availability_zones?name=elsewhere").json()["availability_zones"] == []
    assert alice.get("availability_zones?colour=red").status_code == 400


def test_security_group_create_counts_its_rules_against_the_rule_quota(admin: Caller, alice: Caller) -> None:
    """neutron-tempest-plugin test_sg_creation_with_insufficient_sg_rules_quota: a group's two egress rules
    are reserved on ``security_group_rule`` with it (OverQuota, 409, and no group is left behind)."""
    alice.make("security_group", "security-groups", name="first")  # the default group comes too
    used = admin.get(f"quotas/{PROJECT_A}/details").json()["quota"]["security_group_rule"]["used"]
    assert used == 6
    assert admin.put(f"quotas/{PROJECT_A}", {"quota": {"security_group_rule": 7}}).status_code == 200
    resp = alice.post("security-groups", {"security_group": {"name": "second"}})
    assert resp.status_code == 409 and error_type(resp) == "OverQuota", resp.text
    assert {g["name"] for g in alice.get("security-groups").json()["security_groups"]} == {"default", "first"}
    assert admin.put(f"quotas/{PROJECT_A}", {"quota": {"security_group_rule": 8}}).status_code == 200
    assert alice.post("security-groups", {"security_group": {"name": "second"}}).status_code == 201


def test_quota_limits_are_32_bit(admin: Caller) -> None:
    """neutron-tempest-plugin test_sg_quota_incorrect_values: -2, 2**31 and text are 400s."""
    for value in (-2, 2 ** 31, "value"):
        resp = admin.put(f"quotas/{PROJECT_A}", {"quota": {"security_group": value}})
        assert resp.status_code == 400, (value, resp.text)
    assert admin.put(f"quotas/{PROJECT_A}", {"quota": {"security_group": 2 ** 31 - 1}}).status_code == 200
