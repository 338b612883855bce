"""The identity model: CRUD rules, assignments, implied roles, catalog, and an idempotent bootstrap."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from regionmesh.db.engine import Database
from regionmesh.identity import models as m
from regionmesh.identity.bootstrap import BootstrapSpec, CatalogEntry, bootstrap
from regionmesh.identity.migrate import upgrade
from regionmesh.identity.passwords import Passwords
from regionmesh.identity.store import BadRequest, Conflict, Forbidden, IdentityStore, NotFound

CATALOG = (
    CatalogEntry("network", "central-neutron", "CentralRegion", "http://127.0.0.1:20001"),
    CatalogEntry("multiregion-networking", "regionmesh", "CentralRegion", "http://127.0.0.1:19999/v1.0"),
    CatalogEntry("network", "neutron", "RegionOne", "http://127.0.0.1:9601"),
    CatalogEntry("compute", "nova", "RegionOne", "http://127.0.0.1:8701/v2.1", ("public",)),
)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[IdentityStore]:
    url = f"sqlite:///{tmp_path}/identity.db"
    upgrade(url)
    db = Database(url)
    yield IdentityStore(db, Passwords.cheap())
    db.dispose()


@pytest.fixture
def spec() -> BootstrapSpec:
    return BootstrapSpec(admin_password="admin-pw", demo_password="demo-pw", catalog=CATALOG,
                         identity_url="http://127.0.0.1:5000/v3", service_users={"neutron": "neutron-pw"})


def _project(store: IdentityStore, name: str, **extra: Any) -> dict[str, Any]:
    return store.create("projects", {"project": {"name": name, **extra}})


def test_migration_is_idempotent(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/again.db"
    upgrade(url)
    upgrade(url)
    db = Database(url)
    with db.read() as conn:
        assert conn.exec_driver_sql("SELECT version_num FROM identity_alembic_version").scalar() == "0001"
    db.dispose()


def test_project_crud_and_filters(store: IdentityStore) -> None:
    store.create("domains", {"domain": {"name": "Default"}}, entity_id="default")
    p = _project(store, "alpha", description="first", tags=["a"], color="blue")
    assert p["domain_id"] == "default" and p["parent_id"] == "default" and p["is_domain"] is False
    assert p["enabled"] is True and p["tags"] == ["a"] and p["color"] == "blue"  # extra attributes round-trip
    _project(store, "beta", enabled=False)
    assert [x["name"] for x in store.list_entities("projects")] == ["alpha", "beta"]
    assert [x["name"] for x in store.list_entities("projects", {"name": "beta"})] == ["beta"]
    assert [x["name"] for x in store.list_entities("projects", {"enabled": "false"})] == ["beta"]
    assert store.list_entities("projects", {"unknown": "x"}) and store.get("projects", p["id"])["name"] == "alpha"
    updated = store.update("projects", p["id"], {"project": {"description": "changed", "color": None}})
    assert updated["description"] == "changed" and "color" not in updated
    store.delete("projects", p["id"])
    with pytest.raises(NotFound):
        store.get("projects", p["id"])
    with pytest.raises(NotFound):
        store.delete("projects", p["id"])


def test_names_are_unique_per_domain(store: IdentityStore) -> None:
    store.create("domains", {"domain": {"name": "Default"}}, entity_id="default")
    other = store.create("domains", {"domain": {"name": "Other"}})
    _project(store, "alpha")
    with pytest.raises(Conflict):
        _project(store, "ALPHA")
    assert _project(store, "alpha", domain_id=other["id"])["domain_id"] == other["id"]
    with pytest.raises(Conflict):
        store.create("domains", {"domain": {"name": "other"}})
    store.create("roles", {"role": {"name": "viewer"}})
    with pytest.raises(Conflict):
        store.create("roles", {"role": {"name": "viewer"}})


@pytest.mark.parametrize("body", [
    None, {}, {"project": "x"}, {"project": {}}, {"project": {"name": ""}}, {"project": {"name": 5}},
    {"project": {"name": "x", "enabled": "yes"}}, {"project": {"name": "x", "domain_id": "nope"}},
    {"project": {"name": "x", "is_domain": True}}, {"project": {"name": "x" * 256}},
    {"project": {"name": "x", "tags": "a"}}, {"project": {"name": "x", "parent_id": "nope"}},
])
def test_bad_project_bodies(store: IdentityStore, body: Any) -> None:
    store.create("domains", {"domain": {"name": "Default"}}, entity_id="default")
    with pytest.raises(BadRequest):
        store.create("projects", body)


def test_domain_id_is_immutable(store: IdentityStore) -> None:
    store.create("domains", {"domain": {"name": "Default"}}, entity_id="default")
    other = store.create("domains", {"domain": {"name": "Other"}})
    p = _project(store, "alpha")
    with pytest.raises(BadRequest):
        store.update("projects", p["id"], {"project": {"domain_id": other["id"]}})


def test_user_password_is_hashed_and_never_shown(store: IdentityStore) -> None:
    store.create("domains", {"domain": {"name": "Default"}}, entity_id="default")
    user = store.create("users", {"user": {"name": "alice", "password": "alice-pw", "email": "a@example.org"}})
    assert "password" not in user and "password_hash" not in user
    assert user["email"] == "a@example.org" and user["password_expires_at"] is None
    with store.db.read() as conn:
        row = store.user_row(conn, user["id"])
    assert row is not None and row["password_hash"].startswith("$argon2id$")
    assert "alice-pw" not in str(row)
    with pytest.raises(BadRequest):
        store.update("users", user["id"], {"user": {"password": ""}})


def test_catalog_entities_and_cascades(store: IdentityStore) -> None:
    store.create("regions", {"region": {"id": "RegionOne"}})
    with pytest.raises(Conflict):
        store.create("regions", {"region": {"id": "RegionOne"}})
    svc = store.create("services", {"service": {"type": "network", "name": "neutron"}})
    with pytest.raises(BadRequest):
        store.create("endpoints", {"endpoint": {"service_id": svc["id"], "interface": "private", "url": "http://x"}})
    with pytest.raises(BadRequest):
        store.create("endpoints", {"endpoint": {"service_id": svc["id"], "interface": "public", "url": "http://x",
                                                "region_id": "Nowhere"}})
    ep = store.create("endpoints", {"endpoint": {"service_id": svc["id"], "interface": "public",
                                                 "url": "http://x", "region": "RegionOne"}})
    assert ep["region_id"] == ep["region"] == "RegionOne"
    assert store.list_entities("endpoints", {"interface": "public", "region_id": "RegionOne"}) == [ep]
    assert store.list_entities("endpoints", {"interface": "admin"}) == []
    with pytest.raises(Forbidden):
        store.delete("regions", "RegionOne")
    store.delete("services", svc["id"])
    assert store.list_entities("endpoints") == []
    store.delete("regions", "RegionOne")


def test_domain_delete_needs_disable_and_cascades(store: IdentityStore) -> None:
    dom = store.create("domains", {"domain": {"name": "Temp"}})
    _project(store, "p", domain_id=dom["id"])
    store.create("users", {"user": {"name": "u", "domain_id": dom["id"]}})
    with pytest.raises(Forbidden):
        store.delete("domains", dom["id"])
    store.update("domains", dom["id"], {"domain": {"enabled": False}})
    store.delete("domains", dom["id"])
    assert store.list_entities("projects") == [] and store.list_entities("users") == []


def test_project_with_children_cannot_be_deleted(store: IdentityStore) -> None:
    store.create("domains", {"domain": {"name": "Default"}}, entity_id="default")
    parent = _project(store, "parent")
    child = _project(store, "child", parent_id=parent["id"])
    assert child["parent_id"] == parent["id"]
    with pytest.raises(Forbidden):
        store.delete("projects", parent["id"])


def test_assignments_implied_roles_and_effective(store: IdentityStore, spec: BootstrapSpec) -> None:
    ids = bootstrap(store, spec)
    admin, demo = ids.users["admin"], ids.users["demo"]
    demo_project = ids.projects["demo"]
    with store.db.read() as conn:
        names = [r["name"] for r in store.effective_roles(conn, admin, "project", ids.projects["admin"])]
        assert names == ["admin", "member", "reader"]
        assert [r["name"] for r in store.effective_roles(conn, demo, "project", demo_project)] == ["member", "reader"]
        assert store.effective_roles(conn, demo, "system", "all") == []
        assert [r["name"] for r in store.effective_roles(conn, admin, "system", "all")] == [
            "admin", "member", "reader"]
    store.grant("UserProject", demo, demo_project, ids.roles["member"])  # idempotent
    store.check_grant("UserProject", demo, demo_project, ids.roles["member"])
    with pytest.raises(NotFound):
        store.check_grant("UserProject", demo, demo_project, ids.roles["admin"])
    with pytest.raises(NotFound):
        store.grant("UserProject", demo, "no-such-project", ids.roles["admin"])
    direct = store.role_assignments(user_id=demo)
    assert [(r["type"], r["role_id"]) for r in direct] == [("UserProject", ids.roles["member"])]
    effective = store.role_assignments(user_id=demo, effective=True)
    assert {(r["role_id"], r["prior_role_id"]) for r in effective} == {
        (ids.roles["member"], None), (ids.roles["reader"], ids.roles["member"])}
    assert store.role_assignments(role_id=ids.roles["reader"], effective=True, project_id=demo_project)
    assert [r["actor_id"] for r in store.role_assignments(system=True)] == [admin]
    with pytest.raises(Forbidden):
        store.imply(ids.roles["reader"], ids.roles["admin"])  # would be a cycle
    store.ungrant("UserProject", demo, demo_project, ids.roles["member"])
    with pytest.raises(NotFound):
        store.ungrant("UserProject", demo, demo_project, ids.roles["member"])
    store.delete("roles", ids.roles["member"])  # takes its implications and assignments along
    assert store.implications() == {}


def test_bootstrap_is_idempotent(store: IdentityStore, spec: BootstrapSpec) -> None:
    first = bootstrap(store, spec)
    with store.db.read() as conn:
        hash_before = store.user_row(conn, first.users["admin"])["password_hash"]  # type: ignore[index]
    second = bootstrap(store, spec)
    assert first == second
    with store.db.read() as conn:
        assert store.user_row(conn, first.users["admin"])["password_hash"] == hash_before  # type: ignore[index]
        assert len(conn.execute(select(m.role_assignments)).all()) == 5  # admin x2, demo, neutron x2
    assert len(store.list_entities("endpoints")) == len(second.endpoints) == 3 + 3 + 3 + 1 + 3 * 2
    assert sorted(r["id"] for r in store.list_entities("regions")) == ["CentralRegion", "RegionOne"]
    assert sorted(x["name"] for x in store.list_entities("roles")) == ["admin", "member", "reader", "service"]
    assert store.implications() == {first.roles["admin"]: [first.roles["member"]],
                                    first.roles["member"]: [first.roles["reader"]]}
    # A changed password and a moved endpoint are brought up to date.
    moved = (CatalogEntry("network", "neutron", "RegionOne", "http://127.0.0.1:9999"),)
    bootstrap(store, BootstrapSpec(admin_password="new-admin-pw", catalog=moved))
    with store.db.read() as conn:
        row = store.user_row(conn, first.users["admin"])
        assert row is not None and store.passwords.verify(row["password_hash"], "new-admin-pw")
    urls = {e["url"] for e in store.list_entities("endpoints", {"region_id": "RegionOne"})
            if e["service_id"] == first.services[("network", "neutron")]}
    assert urls == {"http://127.0.0.1:9999"}


def test_catalog_lists_every_region_endpoint(store: IdentityStore, spec: BootstrapSpec) -> None:
    bootstrap(store, spec)
    with store.db.read() as conn:
        catalog = store.catalog(conn)
    by_type: dict[str, set[tuple[str, str, str]]] = {}
    for svc in catalog:
        for ep in svc["endpoints"]:
            by_type.setdefault(svc["type"], set()).add((ep["region_id"], ep["interface"], ep["url"]))
    assert ("RegionOne", "public", "http://127.0.0.1:9601") in by_type["network"]
    assert ("CentralRegion", "public", "http://127.0.0.1:20001") in by_type["network"]
    assert by_type["compute"] == {("RegionOne", "public", "http://127.0.0.1:8701/v2.1")}
    assert {r for r, _, _ in by_type["identity"]} == {"CentralRegion", "RegionOne"}
    assert by_type["multiregion-networking"]
