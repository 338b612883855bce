"""Security groups and rules (seed 002: SG-01…SG-12, REG-20)."""

from __future__ import annotations

from apiclient import PROJECT_A, Caller, error_type


def _rules(sg: dict) -> set[tuple]:  # type: ignore[type-arg]
    return {(r["direction"], r["ethertype"], r["protocol"], r["remote_group_id"] is not None)
            for r in sg["security_group_rules"]}


def test_sg01_sg02_reg20_create_has_two_egress_rules(alice: Caller) -> None:
    sg = alice.make("security_group", "security-groups", name="sg-debug-can-delete")
    assert sg["project_id"] == PROJECT_A and sg["revision_number"] == 1
    rules = sg["security_group_rules"]
    assert len(rules) == 2
    assert {(r["direction"], r["ethertype"]) for r in rules} == {("egress", "IPv4"), ("egress", "IPv6")}
    for r in rules:
        assert r["protocol"] is None and r["port_range_min"] is None and r["remote_ip_prefix"] is None
        assert r["remote_group_id"] is None and r["project_id"] == PROJECT_A
        assert r["security_group_id"] == sg["id"]


def test_sg04_default_group_created_on_first_need(alice: Caller) -> None:
    groups = alice.get("security-groups").json()["security_groups"]
    assert [g["name"] for g in groups] == ["default"]
    assert _rules(groups[0]) == {("egress", "IPv4", None, False), ("egress", "IPv6", None, False),
                                 ("ingress", "IPv4", None, True), ("ingress", "IPv6", None, True)}
    again = alice.get("security-groups").json()["security_groups"]
    assert [g["id"] for g in again] == [groups[0]["id"]]
    clash = alice.post("security-groups", {"security_group": {"name": "default"}})
    assert clash.status_code == 409 and error_type(clash) == "SecurityGroupDefaultAlreadyExists"
    denied = alice.delete(f"security-groups/{groups[0]['id']}")
    assert denied.status_code == 409 and error_type(denied) == "SecurityGroupCannotRemoveDefault"


def test_rules_validation_and_duplicates(alice: Caller) -> None:
    sg = alice.make("security_group", "security-groups", name="web")
    rule = alice.make("security_group_rule", "security-group-rules", security_group_id=sg["id"],
                      direction="ingress", protocol="tcp", port_range_min=80, port_range_max=80,
                      remote_ip_prefix="10.0.0.5/24")
    # Neutron keeps the prefix as given and reports the network separately.
    assert rule["remote_ip_prefix"] == "10.0.0.5/24" and rule["normalized_cidr"] == "10.0.0.0/24"
    assert rule["ethertype"] == "IPv4"
    dup = alice.post("security-group-rules", {"security_group_rule": {
        "security_group_id": sg["id"], "direction": "ingress", "protocol": "tcp", "port_range_min": 80,
        "port_range_max": 80, "remote_ip_prefix": "10.0.0.5/24"}})
    assert dup.status_code == 409 and error_type(dup) == "SecurityGroupRuleExists"
    assert rule["id"] in dup.json()["NeutronError"]["message"]
    bad = [
        {"direction": "ingress", "protocol": "tcp", "port_range_min": 90, "port_range_max": 80},
        {"direction": "ingress", "protocol": "tcp", "port_range_min": 0, "port_range_max": 70000},
        {"direction": "ingress", "protocol": "icmp", "port_range_min": 300},
        {"direction": "ingress", "ethertype": "IPv4", "remote_ip_prefix": "2001:db8::/64"},
        {"direction": "ingress", "remote_ip_prefix": "10.0.0.0/8", "remote_group_id": sg["id"]},
        {"direction": "sideways"},
        {"direction": "ingress", "protocol": "banana"},
    ]
    for body in bad:
        resp = alice.post("security-group-rules", {"security_group_rule": {"security_group_id": sg["id"], **body}})
        assert resp.status_code == 400, (body, resp.text)
    fresh = alice.get(f"security-groups/{sg['id']}").json()["security_group"]
    assert len(fresh["security_group_rules"]) == 3


def test_sg10_bulk_rules_all_or_nothing(alice: Caller) -> None:
    sg = alice.make("security_group", "security-groups", name="bulk")
    good = [{"security_group_id": sg["id"], "direction": "ingress", "protocol": "tcp",
             "port_range_min": p, "port_range_max": p} for p in (22, 80, 443)]
    resp = alice.post("security-group-rules", {"security_group_rules": good})
    assert resp.status_code == 201 and len(resp.json()["security_group_rules"]) == 3
    mixed = [{"security_group_id": sg["id"], "direction": "ingress", "protocol": "udp",
              "port_range_min": 53, "port_range_max": 53},
             {"security_group_id": sg["id"], "direction": "ingress", "protocol": "tcp",
              "port_range_min": 22, "port_range_max": 22}]
    resp = alice.post("security-group-rules", {"security_group_rules": mixed})
    assert resp.status_code == 409
    rules = alice.get(f"security-group-rules?security_group_id={sg['id']}").json()["security_group_rules"]
    assert len(rules) == 5
    assert not [r for r in rules if r["protocol"] == "udp"]


def test_group_in_use_and_rule_delete(alice: Caller) -> None:
    net = alice.make("network", "networks", name="n")
    sg = alice.make("security_group", "security-groups", name="bound")
    port = alice.make("port", "ports", network_id=net["id"], security_groups=[sg["id"]])
    busy = alice.delete(f"security-groups/{sg['id']}")
    assert busy.status_code == 409 and error_type(busy) == "SecurityGroupInUse"
    assert alice.get(f"security-groups/{sg['id']}").status_code == 200
    rule_id = sg["security_group_rules"][0]["id"]
    assert alice.delete(f"security-group-rules/{rule_id}").status_code == 204
    assert alice.get(f"security-group-rules/{rule_id}").status_code == 404
    after = alice.get(f"security-groups/{sg['id']}").json()["security_group"]
    assert after["revision_number"] > sg["revision_number"]
    alice.put(f"ports/{port['id']}", {"port": {"security_groups": []}})
    assert alice.delete(f"security-groups/{sg['id']}").status_code == 204


def test_other_projects_groups_are_hidden(alice: Caller, bob: Caller) -> None:
    sg = alice.make("security_group", "security-groups", name="mine")
    assert bob.get(f"security-groups/{sg['id']}").status_code == 404
    resp = bob.post("security-group-rules", {"security_group_rule": {"security_group_id": sg["id"],
                                                                     "direction": "ingress"}})
    assert resp.status_code == 404 and error_type(resp) == "SecurityGroupNotFound"
    assert bob.delete(f"security-groups/{sg['id']}").status_code == 404
