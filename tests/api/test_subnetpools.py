"""Subnet pools over HTTP: CRUD, validation, allocation of subnets from pools, visibility, policy."""

from __future__ import annotations

from typing import Any

from apiclient import Caller, error_type


def _pool(c: Caller, **kw: Any) -> dict[str, Any]:
    kw.setdefault("name", "pool")
    kw.setdefault("prefixes", ["10.10.0.0/16"])
    return c.make("subnetpool", "subnetpools", **kw)


def _net(c: Caller) -> dict[str, Any]:
    return c.make("network", "networks", name="net")


def _subnet(c: Caller, net: dict[str, Any], **kw: Any) -> Any:
    kw.setdefault("ip_version", 4)
    return c.post("subnets", {"subnet": {"network_id": net["id"], **kw}})


def test_subnetpool_crud_and_defaults(alice: Caller) -> None:
    pool = _pool(alice, prefixes=["10.10.0.5/24", "10.10.1.0/24", "10.20.0.0/16"], description="d", tags=["t"])
    assert pool["prefixes"] == ["10.10.0.0/23", "10.20.0.0/16"]  # normalised and merged, as Neutron does
    assert pool["ip_version"] == 4
    assert (pool["min_prefixlen"], pool["max_prefixlen"], pool["default_prefixlen"]) == ("8", "32", "8")
    assert pool["shared"] is False and pool["is_default"] is False  # prefix lengths are strings, as Neutron
    assert pool["default_quota"] is None and pool["address_scope_id"] is None
    assert pool["tenant_id"] == pool["project_id"] and pool["revision_number"] == 1 and pool["tags"] == ["t"]
    v6 = _pool(alice, name="v6", prefixes=["2001:db8::/48"])
    assert (v6["ip_version"], v6["min_prefixlen"], v6["max_prefixlen"], v6["default_prefixlen"]) == \
        (6, "64", "128", "64")
    assert alice.get(f"subnetpools/{pool['id']}").json()["subnetpool"] == pool
    names = [p["name"] for p in alice.get("subnetpools?ip_version=6").json()["subnetpools"]]
    assert names == ["v6"]
    page = alice.get("subnetpools?limit=1&sort_key=name&sort_dir=asc").json()
    assert [p["name"] for p in page["subnetpools"]] == ["pool"] and page["subnetpools_links"]
    resp = alice.put(f"subnetpools/{pool['id']}", {"subnetpool": {
        "name": "renamed", "prefixes": ["10.10.0.0/16", "10.20.0.0/16", "10.30.0.0/16"], "min_prefixlen": 20,
        "default_prefixlen": 24, "max_prefixlen": 28}})
    assert resp.status_code == 200, resp.text
    updated = resp.json()["subnetpool"]
    assert updated["prefixes"] == ["10.10.0.0/16", "10.20.0.0/16", "10.30.0.0/16"]
    assert (updated["min_prefixlen"], updated["default_prefixlen"], updated["max_prefixlen"]) == ("20", "24", "28")
    assert updated["revision_number"] == 2 and updated["name"] == "renamed"
    assert alice.delete(f"subnetpools/{pool['id']}").status_code == 204
    assert alice.get(f"subnetpools/{pool['id']}").status_code == 404


def test_subnetpool_tags(alice: Caller) -> None:
    pool = _pool(alice)
    assert alice.put(f"subnetpools/{pool['id']}/tags/red", None).status_code == 201
    assert alice.get(f"subnetpools/{pool['id']}/tags").json()["tags"] == ["red"]
    assert [p["id"] for p in alice.get("subnetpools?tags=red").json()["subnetpools"]] == [pool["id"]]
    assert alice.put(f"subnetpools/{pool['id']}/tags", {"tags": ["a", "b"]}).json()["tags"] == ["a", "b"]
    assert alice.delete(f"subnetpools/{pool['id']}/tags").status_code == 204
    assert alice.get(f"subnetpools/{pool['id']}").json()["subnetpool"]["tags"] == []


def test_subnetpool_validation_errors_change_nothing(alice: Caller) -> None:
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"name": "p"}, 400, "HTTPBadRequest"),
        ({"prefixes": ["10.0.0.0/8"]}, 400, "HTTPBadRequest"),
        ({"name": "p", "prefixes": ["10.0.0.0/8", "2001:db8::/64"]}, 400, "PrefixVersionMismatch"),
        ({"name": "p", "prefixes": ["not-a-cidr"]}, 400, "HTTPBadRequest"),
        ({"name": "p", "prefixes": ["10.0.0.0/8"], "min_prefixlen": 24, "default_prefixlen": 16}, 400,
         "IllegalSubnetPoolPrefixBounds"),
        ({"name": "p", "prefixes": ["10.0.0.0/8"], "max_prefixlen": 33}, 400, "IllegalSubnetPoolPrefixBounds"),
        ({"name": "p", "prefixes": ["10.0.0.0/8"], "min_prefixlen": 28, "max_prefixlen": 24}, 400,
         "IllegalSubnetPoolPrefixBounds"),
        ({"name": "p", "prefixes": ["10.0.0.0/8"], "default_quota": -1}, 400, "HTTPBadRequest"),
        ({"name": "p", "prefixes": ["10.0.0.0/8"], "address_scope_id": "00000000-0000-0000-0000-000000000001"},
         404, "AddressScopeNotFound"),
        ({"name": "p", "prefixes": ["10.0.0.0/8"], "ip_version": 4}, 400, "HTTPBadRequest"),
    ]
    for body, status, kind in cases:
        resp = alice.post("subnetpools", {"subnetpool": body})
        assert resp.status_code == status, (body, resp.text)
        assert error_type(resp) == kind, (body, resp.text)
    assert alice.get("subnetpools").json()["subnetpools"] == []
    pool = _pool(alice, prefixes=["10.10.0.0/16"], min_prefixlen=16)
    bad_updates: list[tuple[dict[str, Any], str]] = [
        ({"prefixes": ["10.20.0.0/16"]}, "IllegalSubnetPoolPrefixUpdate"),
        ({"prefixes": ["10.10.0.0/17"]}, "IllegalSubnetPoolPrefixUpdate"),
        ({"prefixes": ["2001:db8::/48"]}, "PrefixVersionMismatch"),
        ({"default_prefixlen": 8}, "IllegalSubnetPoolPrefixBounds"),
        ({"shared": True}, "HTTPBadRequest"),
    ]
    for changes, kind in bad_updates:
        resp = alice.put(f"subnetpools/{pool['id']}", {"subnetpool": changes})
        assert resp.status_code == 400, (changes, resp.text)
        assert error_type(resp) == kind, (changes, resp.text)
    assert alice.get(f"subnetpools/{pool['id']}").json()["subnetpool"] == pool


def test_allocation_by_prefixlen_default_and_explicit_cidr(alice: Caller) -> None:
    pool = _pool(alice, prefixes=["10.10.0.0/22"], min_prefixlen=24, default_prefixlen=26, max_prefixlen=28)
    net = _net(alice)
    first = _subnet(alice, net, subnetpool_id=pool["id"])
    assert first.status_code == 201, first.text
    sub = first.json()["subnet"]
    assert sub["cidr"] == "10.10.0.0/26" and sub["subnetpool_id"] == pool["id"]
    assert sub["gateway_ip"] == "10.10.0.1"
    second = _subnet(alice, net, subnetpool_id=pool["id"], prefixlen=24).json()["subnet"]
    assert second["cidr"] == "10.10.1.0/24"  # the first /24 is partly used
    third = _subnet(alice, net, subnetpool_id=pool["id"], prefixlen=28).json()["subnet"]
    assert third["cidr"] == "10.10.0.64/28"
    explicit = _subnet(alice, net, subnetpool_id=pool["id"], cidr="10.10.3.0/24").json()["subnet"]
    assert explicit["cidr"] == "10.10.3.0/24" and explicit["subnetpool_id"] == pool["id"]
    # An explicit CIDR outside the pool or overlapping an allocation; lengths outside the bounds.
    for body, status, kind in [
        ({"cidr": "10.20.0.0/24"}, 409, "SubnetAllocationError"),
        ({"cidr": "10.10.0.0/26"}, 409, "SubnetAllocationError"),
        ({"prefixlen": 30}, 400, "MaxPrefixSubnetAllocationError"),
        ({"prefixlen": 16}, 400, "MinPrefixSubnetAllocationError"),
        ({"cidr": "10.10.2.0/24", "prefixlen": 24}, 400, "BadRequest"),
        ({"ip_version": 6}, 400, "BadRequest"),
        ({"subnetpool_id": "00000000-0000-0000-0000-000000000001"}, 404, "SubnetPoolNotFound"),
    ]:
        resp = _subnet(alice, net, **{"subnetpool_id": pool["id"], **body})
        assert resp.status_code == status, (body, resp.text)
        assert error_type(resp) == kind, (body, resp.text)
    listed = alice.get(f"subnets?subnetpool_id={pool['id']}").json()["subnets"]
    assert len(listed) == 4
    # The network's subnets of one IP version all come from the same pool.
    plain = _subnet(alice, net, cidr="192.168.0.0/24")
    assert plain.status_code == 400 and error_type(plain) == "NetworkSubnetPoolAffinityError"


def test_exhaustion_and_in_use_delete(alice: Caller) -> None:
    pool = _pool(alice, prefixes=["10.10.0.0/24"], min_prefixlen=25, max_prefixlen=25)
    net = _net(alice)
    cidrs = [_subnet(alice, net, subnetpool_id=pool["id"]).json()["subnet"]["cidr"] for _ in range(2)]
    assert cidrs == ["10.10.0.0/25", "10.10.0.128/25"]
    full = _subnet(alice, net, subnetpool_id=pool["id"])
    assert full.status_code == 409 and error_type(full) == "SubnetAllocationError"
    assert "Insufficient prefix space" in full.json()["NeutronError"]["message"]
    busy = alice.delete(f"subnetpools/{pool['id']}")
    assert busy.status_code == 400 and error_type(busy) == "SubnetPoolDeleteError"
    shrink = alice.put(f"subnetpools/{pool['id']}", {"subnetpool": {"max_prefixlen": 24, "min_prefixlen": 24,
                                                                    "default_prefixlen": 24}})
    assert shrink.status_code == 400 and error_type(shrink) == "IllegalSubnetPoolPrefixBounds"
    grow = alice.put(f"subnetpools/{pool['id']}", {"subnetpool": {"prefixes": ["10.10.0.0/23"]}})
    assert grow.status_code == 200
    assert _subnet(alice, net, subnetpool_id=pool["id"]).json()["subnet"]["cidr"] == "10.10.1.0/25"
    for sub in alice.get("subnets").json()["subnets"]:
        assert alice.delete(f"subnets/{sub['id']}").status_code == 204
    assert alice.delete(f"subnetpools/{pool['id']}").status_code == 204


def test_default_pool(admin: Caller, alice: Caller) -> None:
    net = _net(alice)
    none = _subnet(alice, net, use_default_subnetpool=True)
    assert none.status_code == 400 and error_type(none) == "BadRequest"
    pool = _pool(admin, prefixes=["10.50.0.0/16"], default_prefixlen=24, is_default=True, shared=True)
    assert pool["is_default"] is True and pool["shared"] is True
    second = admin.post("subnetpools", {"subnetpool": {"name": "p2", "prefixes": ["10.60.0.0/16"],
                                                       "is_default": True}})
    assert second.status_code == 400 and error_type(second) == "InvalidInput"
    sub = _subnet(alice, net, use_default_subnetpool=True).json()["subnet"]
    assert sub["cidr"] == "10.50.0.0/24" and sub["subnetpool_id"] == pool["id"]
    assert "use_default_subnetpool" not in sub
    both = _subnet(alice, net, use_default_subnetpool=True, subnetpool_id=pool["id"])
    assert both.status_code == 400
    v6 = _subnet(alice, net, ip_version=6, use_default_subnetpool=True)
    assert v6.status_code == 400
    # alice sees the shared pool but may not change or delete it (403: it is visible to her).
    assert alice.get(f"subnetpools/{pool['id']}").status_code == 200
    assert alice.put(f"subnetpools/{pool['id']}", {"subnetpool": {"name": "x"}}).status_code == 403
    assert alice.delete(f"subnetpools/{pool['id']}").status_code == 403


def test_project_isolation_and_admin_only_attributes(alice: Caller, bob: Caller, admin: Caller) -> None:
    pool = _pool(alice)
    assert bob.get(f"subnetpools/{pool['id']}").status_code == 404
    assert bob.get("subnetpools").json()["subnetpools"] == []
    assert bob.put(f"subnetpools/{pool['id']}", {"subnetpool": {"name": "x"}}).status_code == 404
    assert bob.delete(f"subnetpools/{pool['id']}").status_code == 404
    bob_net = _net(bob)
    resp = _subnet(bob, bob_net, subnetpool_id=pool["id"])
    assert resp.status_code == 404 and error_type(resp) == "SubnetPoolNotFound"
    for attrs in ({"shared": True}, {"is_default": True}):
        resp = alice.post("subnetpools", {"subnetpool": {"name": "p", "prefixes": ["10.0.0.0/8"], **attrs}})
        assert resp.status_code == 403 and error_type(resp) == "PolicyNotAuthorized", resp.text
    resp = alice.put(f"subnetpools/{pool['id']}", {"subnetpool": {"is_default": True}})
    assert resp.status_code == 403
    assert [p["id"] for p in admin.get("subnetpools").json()["subnetpools"]] == [pool["id"]]
    assert admin.put(f"subnetpools/{pool['id']}", {"subnetpool": {"is_default": True}}).status_code == 200


def test_extensions_advertised(alice: Caller) -> None:
    aliases = {e["alias"] for e in alice.get("extensions").json()["extensions"]}
    assert {"subnet_allocation", "default-subnetpools"} <= aliases
