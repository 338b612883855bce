"""Networks over HTTP: attributes, provider segments, visibility, conventions (issue: foundation)."""

from __future__ import annotations

from typing import Any

from apiclient import PROJECT_A, Caller, error_type


def test_versions_and_extensions(client: Any, admin: Caller) -> None:
    root = client.get("/").json()
    assert root["versions"][0]["id"] == "v2.0"
    assert root["versions"][0]["links"][0]["href"].endswith("/v2.0/")
    exts = {e["alias"] for e in admin.get("extensions").json()["extensions"]}
    assert {"security-group", "router", "quotas", "pagination", "standard-attr-tag"} <= exts
    assert admin.get("extensions/router").json()["extension"]["alias"] == "router"
    missing = admin.get("extensions/nope")
    assert missing.status_code == 404


def test_create_network_defaults(alice: Caller) -> None:
    net = alice.make("network", "networks", name="net1")
    assert net["name"] == "net1"
    assert net["project_id"] == net["tenant_id"] == PROJECT_A
    assert net["admin_state_up"] is True and net["status"] == "ACTIVE"
    assert net["shared"] is False and net["router:external"] is False
    assert net["subnets"] == [] and net["revision_number"] == 1
    assert net["mtu"] == 1450  # vxlan tenant network: 1500 - 50
    assert net["port_security_enabled"] is True
    assert net["created_at"].endswith("Z")
    # provider attributes are admin-only
    assert "provider:network_type" not in net


def test_admin_sees_provider_attributes_and_segments_are_allocated(admin: Caller) -> None:
    a = admin.make("network", "networks", name="a")
    b = admin.make("network", "networks", name="b")
    assert a["provider:network_type"] == "vxlan"
    assert a["provider:segmentation_id"] != b["provider:segmentation_id"]
    vlan = admin.make(
        "network",
        "networks",
        **{
            "provider:network_type": "vlan",
            "provider:physical_network": "physnet1",
            "provider:segmentation_id": 120,
        },
    )
    assert vlan["provider:segmentation_id"] == 120 and vlan["mtu"] == 1500
    dup = admin.post(
        "networks",
        {
            "network": {
                "provider:network_type": "vlan",
                "provider:physical_network": "physnet1",
                "provider:segmentation_id": 120,
            }
        },
    )
    assert dup.status_code == 409 and error_type(dup) == "VlanIdInUse"
    flat = admin.make(
        "network", "networks", **{"provider:network_type": "flat", "provider:physical_network": "ext"}
    )
    assert flat["provider:segmentation_id"] is None
    again = admin.post(
        "networks", {"network": {"provider:network_type": "flat", "provider:physical_network": "ext"}}
    )
    assert again.status_code == 409 and error_type(again) == "FlatNetworkInUse"
    bad = admin.post(
        "networks",
        {
            "network": {
                "provider:network_type": "vlan",
                "provider:physical_network": "physnet1",
                "provider:segmentation_id": 5000,
            }
        },
    )
    assert bad.status_code == 400
    before = len(admin.get("networks").json()["networks"])
    assert before == 4


def test_member_cannot_set_admin_attributes(alice: Caller) -> None:
    for attrs in ({"shared": True}, {"provider:network_type": "vlan"}, {"router:external": True}):
        resp = alice.post("networks", {"network": {"name": "x", **attrs}})
        assert resp.status_code == 403, attrs
        assert error_type(resp) == "PolicyNotAuthorized"
    assert alice.get("networks").json()["networks"] == []


def test_reader_cannot_create(alice_reader: Caller) -> None:
    resp = alice_reader.post("networks", {"network": {"name": "x"}})
    assert resp.status_code == 403


def test_unknown_attribute_and_bad_values(alice: Caller) -> None:
    resp = alice.post("networks", {"network": {"name": "x", "colour": "red"}})
    assert (resp.status_code == 400 and error_type(resp) == "HTTPBadRequest") or resp.status_code == 400
    assert "Unrecognized attribute" in resp.json()["NeutronError"]["message"]
    resp = alice.post("networks", {"network": {"name": "x" * 300}})
    assert resp.status_code == 400
    assert "exceeds maximum length of 255" in resp.json()["NeutronError"]["message"]
    resp = alice.post("networks", {"network": {"admin_state_up": "maybe"}})
    assert resp.status_code == 400
    resp = alice.post("networks", {"net": {}})
    assert resp.status_code == 400
    assert alice.get("networks").json()["networks"] == []


def test_projects_do_not_see_each_other(alice: Caller, bob: Caller) -> None:
    net = alice.make("network", "networks", name="private")
    assert bob.get(f"networks/{net['id']}").status_code == 404
    assert bob.get("networks").json()["networks"] == []
    resp = bob.put(f"networks/{net['id']}", {"network": {"name": "stolen"}})
    assert resp.status_code == 404
    assert bob.delete(f"networks/{net['id']}").status_code == 404
    assert alice.get(f"networks/{net['id']}").json()["network"]["name"] == "private"


def test_shared_network_is_visible_to_all(admin: Caller, bob: Caller) -> None:
    net = admin.make("network", "networks", name="public", shared=True)
    assert bob.get(f"networks/{net['id']}").status_code == 200
    assert bob.put(f"networks/{net['id']}", {"network": {"name": "x"}}).status_code == 403


def test_update_bumps_revision_and_if_match(alice: Caller) -> None:
    net = alice.make("network", "networks", name="n")
    upd = alice.put(f"networks/{net['id']}", {"network": {"name": "m", "mtu": 1400}}).json()["network"]
    assert upd["name"] == "m" and upd["mtu"] == 1400 and upd["revision_number"] == 2
    stale = alice.put(
        f"networks/{net['id']}", {"network": {"name": "z"}}, headers={"If-Match": "revision_number=1"}
    )
    assert stale.status_code == 412 and error_type(stale) == "RevisionMismatch"
    ok = alice.put(
        f"networks/{net['id']}", {"network": {"name": "z"}}, headers={"If-Match": "revision_number=2"}
    )
    assert ok.status_code == 200 and ok.json()["network"]["revision_number"] == 3
    ro = alice.put(f"networks/{net['id']}", {"network": {"status": "DOWN"}})
    assert ro.status_code == 400
    bad_del = alice.delete(f"networks/{net['id']}", headers={"If-Match": "revision_number=1"})
    assert bad_del.status_code == 412
    assert alice.get(f"networks/{net['id']}").json()["network"]["name"] == "z"


def test_filters_fields_sorting(alice: Caller) -> None:
    for name in ("c", "a", "b"):
        alice.make("network", "networks", name=name, admin_state_up=(name != "b"))
    names = [n["name"] for n in alice.get("networks?sort_key=name&sort_dir=desc").json()["networks"]]
    assert names == ["c", "b", "a"]
    assert [n["name"] for n in alice.get("networks?name=a&name=c&sort_key=name").json()["networks"]] == [
        "a",
        "c",
    ]
    down = alice.get("networks?admin_state_up=False").json()["networks"]
    assert [n["name"] for n in down] == ["b"]
    only = alice.get("networks?fields=id&fields=name").json()["networks"]
    assert all(set(n) == {"id", "name"} for n in only)
    bad = alice.get("networks?colour=red")
    assert bad.status_code == 400
    bad_sort = alice.get("networks?sort_key=subnets")
    assert bad_sort.status_code == 400


def test_keyset_pagination_links(alice: Caller) -> None:
    made = sorted(alice.make("network", "networks", name=f"n{i}")["id"] for i in range(7))
    seen: list[str] = []
    url = "networks?limit=3&sort_key=id"
    pages = 0
    while url:
        body = alice.get(url).json()
        seen += [n["id"] for n in body["networks"]]
        nxt = [link["href"] for link in body.get("networks_links", []) if link["rel"] == "next"]
        url = nxt[0].split("/v2.0/", 1)[1] if nxt else ""
        pages += 1
        assert pages < 10
    assert seen == made and pages == 3
    back = alice.get(f"networks?limit=2&sort_key=id&marker={made[4]}&page_reverse=True").json()
    assert [n["id"] for n in back["networks"]] == made[2:4]
    assert alice.get("networks?limit=2&marker=00000000-0000-0000-0000-000000000000").status_code == 400


def test_tags(alice: Caller, bob: Caller) -> None:
    net = alice.make("network", "networks", name="t", tags=["blue"])
    assert net["tags"] == ["blue"]
    nid = net["id"]
    assert alice.put(f"networks/{nid}/tags/red", None).status_code == 201
    assert alice.get(f"networks/{nid}/tags").json()["tags"] == ["blue", "red"]
    assert alice.get(f"networks/{nid}/tags/red").status_code == 204
    assert alice.get(f"networks/{nid}/tags/green").status_code == 404
    assert alice.put(f"networks/{nid}/tags", {"tags": ["x", "y"]}).json()["tags"] == ["x", "y"]
    other = alice.make("network", "networks", name="u", tags=["x"])
    assert [n["name"] for n in alice.get("networks?tags=x,y").json()["networks"]] == ["t"]
    assert {n["name"] for n in alice.get("networks?tags-any=x").json()["networks"]} == {"t", "u"}
    assert [n["name"] for n in alice.get("networks?not-tags=y").json()["networks"]] == ["u"]
    assert alice.delete(f"networks/{nid}/tags/x").status_code == 204
    assert alice.delete(f"networks/{nid}/tags").status_code == 204
    assert alice.get(f"networks/{nid}").json()["network"]["tags"] == []
    assert bob.get(f"networks/{nid}/tags").status_code == 404
    bad = alice.put(f"networks/{other['id']}/tags/a,b", None)
    assert bad.status_code == 400


def test_bulk_create_is_all_or_nothing(alice: Caller) -> None:
    resp = alice.post("networks", {"networks": [{"name": "ok1"}, {"name": "ok2"}]})
    assert resp.status_code == 201
    assert [n["name"] for n in resp.json()["networks"]] == ["ok1", "ok2"]
    bad = alice.post("networks", {"networks": [{"name": "x1"}, {"name": "x" * 300}]})
    assert bad.status_code == 400
    assert sorted(n["name"] for n in alice.get("networks").json()["networks"]) == ["ok1", "ok2"]


def test_delete_network_in_use(alice: Caller) -> None:
    net = alice.make("network", "networks", name="n")
    alice.make("subnet", "subnets", network_id=net["id"], cidr="10.0.0.0/24", ip_version=4)
    port = alice.make("port", "ports", network_id=net["id"], device_owner="compute:nova", device_id="vm")
    resp = alice.delete(f"networks/{net['id']}")
    assert resp.status_code == 409 and error_type(resp) == "NetworkInUse"
    assert alice.get(f"networks/{net['id']}").status_code == 200
    assert alice.delete(f"ports/{port['id']}").status_code == 204
    assert alice.delete(f"networks/{net['id']}").status_code == 204
    assert alice.get("subnets").json()["subnets"] == []
