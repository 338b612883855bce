"""The identity API over in-process HTTP: every call, its status codes and Keystone's bodies."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from regionmesh.api.identity_v3 import IdentityApp, create_identity_app
from regionmesh.identity.bootstrap import BootstrapSpec, CatalogEntry
from regionmesh.identity.passwords import Passwords

ADMIN_PW, DEMO_PW, SVC_PW = "admin-api-pw", "demo-api-pw", "neutron-api-pw"
PUBLIC = "http://identity.example:5000"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2030, 6, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def identity(tmp_path: Path, clock: Clock) -> Iterator[IdentityApp]:
    spec = BootstrapSpec(admin_password=ADMIN_PW, demo_password=DEMO_PW, service_users={"neutron": SVC_PW},
                         identity_url=PUBLIC + "/v3",
                         catalog=[CatalogEntry("network", "neutron", "RegionOne", "http://127.0.0.1:9601"),
                                  CatalogEntry("network", "central", "CentralRegion", "http://127.0.0.1:20001")])
    app = create_identity_app(f"sqlite:///{tmp_path}/identity.db", public_url=PUBLIC, clock=clock,
                              passwords=Passwords.cheap(), bootstrap_spec=spec)
    yield app
    app.store.db.dispose()


@pytest.fixture
def client(identity: IdentityApp) -> Iterator[TestClient]:
    with TestClient(identity) as c:
        yield c


def login(client: TestClient, user: str, password: str, scope: Any = None, **params: Any) -> Any:
    auth: dict[str, Any] = {"identity": {"methods": ["password"], "password": {
        "user": {"name": user, "domain": {"id": "default"}, "password": password}}}}
    if scope is not None:
        auth["scope"] = scope
    return client.post("/v3/auth/tokens", json={"auth": auth}, params=params)


def token_for(client: TestClient, user: str, password: str, project: str | None = None, scope: Any = None) -> str:
    resp = login(client, user, password, scope or ({"project": {"name": project, "domain": {"name": "Default"}}}
                                                    if project else None))
    assert resp.status_code == 201, resp.text
    return str(resp.headers["X-Subject-Token"])


@pytest.fixture
def admin(client: TestClient) -> dict[str, str]:
    return {"X-Auth-Token": token_for(client, "admin", ADMIN_PW, "admin")}


@pytest.fixture
def demo(client: TestClient) -> dict[str, str]:
    return {"X-Auth-Token": token_for(client, "demo", DEMO_PW, "demo")}


def assert_error(resp: Any, code: int) -> dict[str, Any]:
    assert resp.status_code == code, resp.text
    err: dict[str, Any] = resp.json()["error"]
    assert err["code"] == code and err["title"] and err["message"]
    if code == 401:
        assert resp.headers["WWW-Authenticate"] == f'Keystone uri="{PUBLIC}"'
    return err


# ---- discovery -----------------------------------------------------------------------------------
def test_version_discovery(client: TestClient) -> None:
    root = client.get("/")
    assert root.status_code == 300 and root.headers["content-type"] == "application/json"
    (v3,) = root.json()["versions"]["values"]
    assert v3["id"].startswith("v3.") and v3["status"] == "stable"
    assert v3["links"] == [{"rel": "self", "href": f"{PUBLIC}/v3/"}]
    assert v3["media-types"] == [{"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}]
    for path in ("/v3", "/v3/"):
        resp = client.get(path)
        assert resp.status_code == 200 and resp.json() == {"version": v3}


# ---- tokens --------------------------------------------------------------------------------------
def test_issue_token(client: TestClient, identity: IdentityApp) -> None:
    resp = login(client, "admin", ADMIN_PW, {"project": {"name": "admin", "domain": {"id": "default"}}})
    assert resp.status_code == 201 and resp.headers["content-type"] == "application/json"
    tok = resp.json()["token"]
    assert resp.headers["X-Subject-Token"] and resp.headers["X-Subject-Token"] not in resp.text
    assert tok["methods"] == ["password"] and tok["user"]["name"] == "admin"
    assert tok["user"]["domain"] == {"id": "default", "name": "Default"}
    assert tok["project"]["name"] == "admin" and tok["is_admin_project"] is True
    assert {r["name"] for r in tok["roles"]} == {"admin", "member", "reader"}
    assert tok["issued_at"] == "2030-06-01T00:00:00.000000Z" and tok["expires_at"] == "2030-06-01T01:00:00.000000Z"
    assert len(tok["audit_ids"]) == 1
    network = [s for s in tok["catalog"] if s["type"] == "network"]
    regions = {(e["region_id"], e["interface"], e["url"]) for s in network for e in s["endpoints"]}
    assert ("RegionOne", "public", "http://127.0.0.1:9601") in regions
    nocat = login(client, "admin", ADMIN_PW, {"project": {"name": "admin", "domain": {"id": "default"}}},
                  nocatalog=1)
    assert "catalog" not in nocat.json()["token"]
    unscoped = login(client, "admin", ADMIN_PW, "unscoped").json()["token"]
    assert "catalog" not in unscoped and "roles" not in unscoped and "project" not in unscoped
    system = login(client, "admin", ADMIN_PW, {"system": {"all": True}}).json()["token"]
    assert system["system"] == {"all": True} and system["catalog"]
    domain = login(client, "admin", ADMIN_PW, {"domain": {"id": "default"}})
    assert_error(domain, 401)  # admin holds no domain role


@pytest.mark.parametrize("user,password", [("admin", "wrong"), ("ghost", ADMIN_PW)])
def test_bad_credentials(client: TestClient, user: str, password: str) -> None:
    err = assert_error(login(client, user, password), 401)
    assert err["title"] == "Unauthorized"


def test_scope_denied_is_401(client: TestClient) -> None:
    assert_error(login(client, "demo", DEMO_PW, {"project": {"name": "admin", "domain": {"id": "default"}}}), 401)
    assert_error(login(client, "demo", DEMO_PW, {"system": {"all": True}}), 401)


@pytest.mark.parametrize("raw", [b"{not json", b"{}", b'{"auth": {"identity": {}}}'])
def test_bad_auth_bodies_are_400(client: TestClient, raw: bytes) -> None:
    assert_error(client.post("/v3/auth/tokens", content=raw, headers={"Content-Type": "application/json"}), 400)


def test_validate_and_revoke(client: TestClient, admin: dict[str, str], demo: dict[str, str]) -> None:
    demo_token = demo["X-Auth-Token"]
    own = client.get("/v3/auth/tokens", headers={**demo, "X-Subject-Token": demo_token})  # a token validates itself
    assert own.status_code == 200 and own.headers["X-Subject-Token"] == demo_token
    assert own.json()["token"]["project"]["name"] == "demo" and "catalog" in own.json()["token"]
    head = client.head("/v3/auth/tokens", headers={**demo, "X-Subject-Token": demo_token})
    assert head.status_code == 200 and head.content == b""
    by_admin = client.get("/v3/auth/tokens", headers={**admin, "X-Subject-Token": demo_token},
                          params={"nocatalog": ""})
    assert by_admin.status_code == 200 and "catalog" not in by_admin.json()["token"]
    service = {"X-Auth-Token": token_for(client, "neutron", SVC_PW, "service")}
    assert client.get("/v3/auth/tokens", headers={**service, "X-Subject-Token": demo_token}).status_code == 200
    assert_error(client.get("/v3/auth/tokens", headers={**demo, "X-Subject-Token": admin["X-Auth-Token"]}), 403)
    assert_error(client.get("/v3/auth/tokens", headers=demo), 400)  # no subject
    assert_error(client.get("/v3/auth/tokens", headers={**admin, "X-Subject-Token": "nope"}), 404)
    assert client.delete("/v3/auth/tokens", headers={**demo, "X-Subject-Token": demo_token}).status_code == 204
    err = assert_error(client.get("/v3/auth/tokens", headers={**admin, "X-Subject-Token": demo_token}), 404)
    assert err["title"] == "Not Found" and demo_token not in err["message"]
    assert client.head("/v3/auth/tokens", headers={**admin, "X-Subject-Token": demo_token}).status_code == 404
    assert_error(client.get("/v3/auth/catalog", headers=demo), 401)  # a revoked token authenticates nothing


def test_expired_token_is_404_then_401(client: TestClient, clock: Clock, admin: dict[str, str]) -> None:
    demo_token = token_for(client, "demo", DEMO_PW, "demo")
    clock.now += timedelta(minutes=59)
    admin = {"X-Auth-Token": token_for(client, "admin", ADMIN_PW, "admin")}  # still fresh
    clock.now += timedelta(minutes=1)
    assert_error(client.get("/v3/auth/tokens", headers={**admin, "X-Subject-Token": demo_token}), 404)
    assert_error(client.get("/v3/auth/projects", headers={"X-Auth-Token": demo_token}), 401)


@pytest.mark.parametrize("headers", [{}, {"X-Auth-Token": ""}, {"X-Auth-Token": "garbage"}])
def test_missing_or_bad_auth_token_is_401(client: TestClient, headers: dict[str, str]) -> None:
    for method, path in (("GET", "/v3/projects"), ("POST", "/v3/users"), ("GET", "/v3/auth/catalog"),
                         ("GET", "/v3/auth/tokens"), ("PUT", "/v3/regions/R"), ("GET", "/v3/role_assignments")):
        assert_error(client.request(method, path, headers=headers, json={}), 401)


def test_auth_helpers(client: TestClient, admin: dict[str, str], demo: dict[str, str]) -> None:
    catalog = client.get("/v3/auth/catalog", headers=demo).json()
    assert {s["type"] for s in catalog["catalog"]} == {"identity", "network"}
    assert catalog["links"]["self"] == f"{PUBLIC}/v3/auth/catalog"
    unscoped = {"X-Auth-Token": token_for(client, "demo", DEMO_PW, scope="unscoped")}
    assert_error(client.get("/v3/auth/catalog", headers=unscoped), 403)
    projects = client.get("/v3/auth/projects", headers=unscoped).json()["projects"]
    assert [p["name"] for p in projects] == ["demo"]
    assert projects[0]["links"]["self"] == f"{PUBLIC}/v3/projects/{projects[0]['id']}"
    assert client.get("/v3/auth/domains", headers=demo).json()["domains"] == []
    assert client.get("/v3/auth/system", headers=admin).json()["system"] == [{"all": True}]
    assert client.get("/v3/auth/system", headers=demo).json()["system"] == []


# ---- admin CRUD ----------------------------------------------------------------------------------
def test_projects_crud(client: TestClient, admin: dict[str, str]) -> None:
    made = client.post("/v3/projects", headers=admin, json={"project": {"name": "p1", "description": "d"}})
    assert made.status_code == 201
    p = made.json()["project"]
    assert p["domain_id"] == "default" and p["links"]["self"] == f"{PUBLIC}/v3/projects/{p['id']}"
    assert_error(client.post("/v3/projects", headers=admin, json={"project": {"name": "p1"}}), 409)
    assert_error(client.post("/v3/projects", headers=admin, json={"project": {}}), 400)
    assert_error(client.post("/v3/projects", headers=admin, json={"nothing": {}}), 400)
    listed = client.get("/v3/projects", headers=admin, params={"name": "p1"}).json()
    assert [x["id"] for x in listed["projects"]] == [p["id"]]
    assert listed["links"] == {"self": f"{PUBLIC}/v3/projects?name=p1", "previous": None, "next": None}
    assert client.get(f"/v3/projects/{p['id']}", headers=admin).json()["project"]["name"] == "p1"
    patched = client.patch(f"/v3/projects/{p['id']}", headers=admin, json={"project": {"enabled": False}})
    assert patched.status_code == 200 and patched.json()["project"]["enabled"] is False
    assert client.head(f"/v3/projects/{p['id']}", headers=admin).status_code == 200
    assert client.delete(f"/v3/projects/{p['id']}", headers=admin).status_code == 204
    assert_error(client.get(f"/v3/projects/{p['id']}", headers=admin), 404)
    assert_error(client.get("/v3/nonsense", headers=admin), 404)


def test_routing_errors_use_keystone_bodies(client: TestClient, admin: dict[str, str]) -> None:
    assert assert_error(client.put("/v3/projects", headers=admin, json={}), 405)["title"] == "Method Not Allowed"
    assert_error(client.get("/v3/projects/x/y/z/w", headers=admin), 404)
    assert_error(client.get("/v2.0/networks"), 404)


def test_non_admin_is_forbidden(client: TestClient, demo: dict[str, str], identity: IdentityApp) -> None:
    err = assert_error(client.post("/v3/users", headers=demo, json={"user": {"name": "x", "password": "y"}}), 403)
    assert "identity:create_user" in err["message"]
    for path in ("/v3/projects", "/v3/users", "/v3/roles", "/v3/domains", "/v3/regions", "/v3/services",
                 "/v3/endpoints", "/v3/role_assignments", "/v3/role_inferences"):
        assert_error(client.get(path, headers=demo), 403)
    me = client.get("/v3/auth/tokens", headers={**demo, "X-Subject-Token": demo["X-Auth-Token"]}).json()["token"]
    # ...but one's own user, projects and scoped project are readable (as OSC's fallback needs).
    assert client.get(f"/v3/users/{me['user']['id']}", headers=demo).status_code == 200
    assert client.get(f"/v3/users/{me['user']['id']}/projects", headers=demo).json()["projects"][0]["name"] == "demo"
    assert client.get(f"/v3/projects/{me['project']['id']}", headers=demo).status_code == 200
    mine = client.get("/v3/role_assignments", headers=demo, params={"user.id": me["user"]["id"]})
    assert mine.status_code == 200 and len(mine.json()["role_assignments"]) == 1
    admin_id = identity.store.list_entities("users", {"name": "admin"})[0]["id"]
    assert_error(client.get(f"/v3/users/{admin_id}", headers=demo), 403)
    assert_error(client.delete(f"/v3/users/{admin_id}", headers=demo), 403)


def test_system_reader_reads_but_cannot_write(client: TestClient, admin: dict[str, str],
                                              identity: IdentityApp) -> None:
    ids = {r["name"]: r["id"] for r in identity.store.list_entities("roles")}
    user = client.post("/v3/users", headers=admin, json={"user": {"name": "auditor", "password": "aud-pw"}})
    uid = user.json()["user"]["id"]
    assert client.put(f"/v3/system/users/{uid}/roles/{ids['reader']}", headers=admin).status_code == 204
    reader = {"X-Auth-Token": token_for(client, "auditor", "aud-pw", scope={"system": {"all": True}})}
    assert client.get("/v3/users", headers=reader).status_code == 200
    assert_error(client.post("/v3/projects", headers=reader, json={"project": {"name": "nope"}}), 403)


def test_users_and_passwords(client: TestClient, admin: dict[str, str], identity: IdentityApp) -> None:
    made = client.post("/v3/users", headers=admin, json={"user": {"name": "bob", "password": "bob-pw-1",
                                                                   "email": "bob@example.org"}})
    assert made.status_code == 201
    bob = made.json()["user"]
    assert "password" not in bob and bob["email"] == "bob@example.org" and bob["password_expires_at"] is None
    assert_error(client.post("/v3/users", headers=admin, json={"user": {"name": "bob"}}), 409)
    assert_error(login(client, "bob", "bob-pw-1", {"project": {"name": "demo", "domain": {"id": "default"}}}), 401)
    bare = token_for(client, "bob", "bob-pw-1")
    assert client.patch(f"/v3/users/{bob['id']}", headers=admin,
                        json={"user": {"password": "bob-pw-2"}}).status_code == 200
    assert_error(client.get("/v3/auth/projects", headers={"X-Auth-Token": bare}), 401)  # password change revokes
    assert_error(login(client, "bob", "bob-pw-1"), 401)
    assert login(client, "bob", "bob-pw-2").status_code == 201
    change = {"user": {"original_password": "bob-pw-2", "password": "bob-pw-3"}}
    assert client.post(f"/v3/users/{bob['id']}/password", json=change).status_code == 204
    assert_error(client.post(f"/v3/users/{bob['id']}/password", json=change), 401)  # original is wrong now
    assert login(client, "bob", "bob-pw-3").status_code == 201
    assert client.get(f"/v3/users/{bob['id']}/projects", headers=admin).json()["projects"] == []
    assert [u["name"] for u in client.get("/v3/users", headers=admin, params={"name": "bob"}).json()["users"]] == [
        "bob"]


def test_role_assignments(client: TestClient, admin: dict[str, str], identity: IdentityApp) -> None:
    store = identity.store
    roles = {r["name"]: r["id"] for r in store.list_entities("roles")}
    demo_user = store.list_entities("users", {"name": "demo"})[0]["id"]
    admin_project = store.list_entities("projects", {"name": "admin"})[0]["id"]
    path = f"/v3/projects/{admin_project}/users/{demo_user}/roles"
    assert_error(login(client, "demo", DEMO_PW, {"project": {"id": admin_project}}), 401)
    assert client.head(f"{path}/{roles['reader']}", headers=admin).status_code == 404
    assert client.put(f"{path}/{roles['reader']}", headers=admin).status_code == 204
    assert client.put(f"{path}/{roles['reader']}", headers=admin).status_code == 204  # idempotent
    assert client.head(f"{path}/{roles['reader']}", headers=admin).status_code == 204
    assert client.get(f"{path}/{roles['reader']}", headers=admin).status_code == 204
    assert [r["name"] for r in client.get(path, headers=admin).json()["roles"]] == ["reader"]
    scoped = login(client, "demo", DEMO_PW, {"project": {"id": admin_project}})
    assert [r["name"] for r in scoped.json()["token"]["roles"]] == ["reader"]
    listed = client.get("/v3/role_assignments", headers=admin, params={
        "scope.project.id": admin_project, "user.id": demo_user, "include_names": "1"}).json()["role_assignments"]
    assert listed == [{"role": {"id": roles["reader"], "name": "reader"},
                       "user": {"id": demo_user, "name": "demo", "domain": {"id": "default", "name": "Default"}},
                       "scope": {"project": {"id": admin_project, "name": "admin",
                                             "domain": {"id": "default", "name": "Default"}}},
                       "links": {"assignment": f"{PUBLIC}{path}/{roles['reader']}"}}]
    effective = client.get("/v3/role_assignments", headers=admin, params={
        "user.id": demo_user, "effective": "", "role.id": roles["reader"]}).json()["role_assignments"]
    assert len(effective) == 2  # reader on admin (direct), reader on demo (implied by member)
    assert sum("prior_role" in a["links"] for a in effective) == 1
    system = client.get("/v3/role_assignments", headers=admin, params={"scope.system": "all"}).json()
    assert [a["scope"] for a in system["role_assignments"]] == [{"system": {"all": True}}]
    assert client.get("/v3/role_assignments", headers=admin, params={"group.id": "g"}).json()[
        "role_assignments"] == []
    assert client.delete(f"{path}/{roles['reader']}", headers=admin).status_code == 204
    assert_error(client.delete(f"{path}/{roles['reader']}", headers=admin), 404)
    assert_error(client.put(f"{path}/no-such-role", headers=admin), 404)
    # Domain and system assignments.
    dpath = f"/v3/domains/default/users/{demo_user}/roles/{roles['member']}"
    assert client.put(dpath, headers=admin).status_code == 204
    dom = login(client, "demo", DEMO_PW, {"domain": {"name": "Default"}})
    assert dom.status_code == 201 and dom.json()["token"]["domain"]["name"] == "Default"
    assert [r["name"] for r in client.get(f"/v3/domains/default/users/{demo_user}/roles",
                                          headers=admin).json()["roles"]] == ["member"]
    assert client.delete(dpath, headers=admin).status_code == 204
    spath = f"/v3/system/users/{demo_user}/roles/{roles['reader']}"
    assert client.put(spath, headers=admin).status_code == 204
    assert client.head(spath, headers=admin).status_code == 204
    assert [r["name"] for r in client.get(f"/v3/system/users/{demo_user}/roles", headers=admin).json()["roles"]] == [
        "reader"]
    assert login(client, "demo", DEMO_PW, {"system": {"all": True}}).status_code == 201
    assert client.delete(spath, headers=admin).status_code == 204


def test_roles_domains_and_implied_roles(client: TestClient, admin: dict[str, str]) -> None:
    made = client.post("/v3/roles", headers=admin, json={"role": {"name": "auditor"}})
    assert made.status_code == 201 and made.json()["role"]["domain_id"] is None
    rid = made.json()["role"]["id"]
    assert_error(client.post("/v3/roles", headers=admin, json={"role": {"name": "auditor"}}), 409)
    reader = client.get("/v3/roles", headers=admin, params={"name": "reader"}).json()["roles"][0]["id"]
    imp = client.put(f"/v3/roles/{rid}/implies/{reader}", headers=admin)
    assert imp.status_code == 201 and imp.json()["role_inference"]["implies"]["name"] == "reader"
    assert client.get(f"/v3/roles/{rid}/implies/{reader}", headers=admin).status_code == 200
    assert client.head(f"/v3/roles/{rid}/implies/{reader}", headers=admin).status_code == 204
    listed = client.get(f"/v3/roles/{rid}/implies", headers=admin).json()["role_inference"]
    assert [r["name"] for r in listed["implies"]] == ["reader"]
    rules = client.get("/v3/role_inferences", headers=admin).json()["role_inferences"]
    assert {r["prior_role"]["name"] for r in rules} == {"admin", "member", "auditor"}
    assert client.delete(f"/v3/roles/{rid}/implies/{reader}", headers=admin).status_code == 204
    assert_error(client.get(f"/v3/roles/{rid}/implies/{reader}", headers=admin), 404)
    assert client.delete(f"/v3/roles/{rid}", headers=admin).status_code == 204
    dom = client.post("/v3/domains", headers=admin, json={"domain": {"name": "Lab"}}).json()["domain"]
    assert dom["enabled"] is True and client.get("/v3/domains", headers=admin, params={"name": "Lab"}).json()[
        "domains"][0]["id"] == dom["id"]
    assert_error(client.delete(f"/v3/domains/{dom['id']}", headers=admin), 403)  # enabled
    client.patch(f"/v3/domains/{dom['id']}", headers=admin, json={"domain": {"enabled": False}})
    assert client.delete(f"/v3/domains/{dom['id']}", headers=admin).status_code == 204


def test_catalog_crud(client: TestClient, admin: dict[str, str]) -> None:
    put = client.put("/v3/regions/RegionTwo", headers=admin, json={"region": {"description": "two"}})
    assert put.status_code == 201 and put.json()["region"]["id"] == "RegionTwo"
    assert_error(client.put("/v3/regions/RegionTwo", headers=admin, json={"region": {}}), 409)
    posted = client.post("/v3/regions", headers=admin, json={"region": {"id": "RegionThree",
                                                                        "parent_region_id": "RegionTwo"}})
    assert posted.status_code == 201 and posted.json()["region"]["parent_region_id"] == "RegionTwo"
    svc = client.post("/v3/services", headers=admin, json={"service": {"type": "compute", "name": "nova"}})
    assert svc.status_code == 201
    sid = svc.json()["service"]["id"]
    assert_error(client.post("/v3/services", headers=admin, json={"service": {"name": "typeless"}}), 400)
    for interface in ("public", "internal"):
        ep = client.post("/v3/endpoints", headers=admin, json={"endpoint": {
            "service_id": sid, "interface": interface, "region_id": "RegionTwo", "url": "http://127.0.0.1:8702"}})
        assert ep.status_code == 201 and ep.json()["endpoint"]["region"] == "RegionTwo"
    assert_error(client.post("/v3/endpoints", headers=admin, json={"endpoint": {
        "service_id": "nope", "interface": "public", "url": "http://x"}}), 400)
    found = client.get("/v3/endpoints", headers=admin, params={"service_id": sid, "interface": "public",
                                                               "region_id": "RegionTwo"}).json()["endpoints"]
    assert len(found) == 1 and found[0]["url"] == "http://127.0.0.1:8702"
    assert len(client.get("/v3/services", headers=admin, params={"type": "network"}).json()["services"]) == 2
    assert_error(client.delete("/v3/regions/RegionTwo", headers=admin), 403)  # endpoints and a child region
    eid = found[0]["id"]
    patched = client.patch(f"/v3/endpoints/{eid}", headers=admin, json={"endpoint": {"url": "http://127.0.0.1:1"}})
    assert patched.json()["endpoint"]["url"] == "http://127.0.0.1:1"
    assert client.delete(f"/v3/services/{sid}", headers=admin).status_code == 204
    assert_error(client.get(f"/v3/endpoints/{eid}", headers=admin), 404)


def test_logs_never_contain_secrets(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        token = token_for(client, "admin", ADMIN_PW, "admin")
        headers = {"X-Auth-Token": token}
        login(client, "admin", "a-wrong-password-123")
        client.post("/v3/users", headers=headers, json={"user": {"name": "carol", "password": "carol-pw-777"}})
        client.get("/v3/auth/tokens", headers={**headers, "X-Subject-Token": token})
        client.get("/v3/projects", headers={"X-Auth-Token": "forged-token-abc"})
        client.delete("/v3/auth/tokens", headers={**headers, "X-Subject-Token": token})
    assert caplog.records
    for secret in (token, ADMIN_PW, "a-wrong-password-123", "carol-pw-777", "forged-token-abc"):
        assert secret not in caplog.text
