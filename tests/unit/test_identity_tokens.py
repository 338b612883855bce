"""Authentication, scoping, expiry (injected clock, no sleeps), revocation and the access rules."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from sqlalchemy import func, select

from regionmesh.db.engine import Database
from regionmesh.identity import models as m
from regionmesh.identity.bootstrap import BootstrapResult, BootstrapSpec, CatalogEntry, bootstrap
from regionmesh.identity.migrate import upgrade
from regionmesh.identity.passwords import Passwords
from regionmesh.identity.store import BadRequest, Forbidden, IdentityStore, NotFound, Unauthorized
from regionmesh.identity.tokens import TokenInfo, TokenService, allowed, authorize, token_hash

ADMIN_PW, DEMO_PW = "admin-secret-pw", "demo-secret-pw"


class FakeClock:
    """An injectable clock: tests move time instead of sleeping."""

    def __init__(self) -> None:
        self.now = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def env(tmp_path: Path, clock: FakeClock) -> Iterator[tuple[TokenService, BootstrapResult]]:
    url = f"sqlite:///{tmp_path}/identity.db"
    upgrade(url)
    db = Database(url)
    store = IdentityStore(db, Passwords.cheap())
    ids = bootstrap(store, BootstrapSpec(
        admin_password=ADMIN_PW, demo_password=DEMO_PW, service_users={"neutron": "neutron-pw"},
        catalog=[CatalogEntry("network", "neutron", "RegionOne", "http://127.0.0.1:9601")]))
    yield TokenService(store, expiration=3600, clock=clock), ids
    db.dispose()


def password_body(user: str, password: str, scope: Any = None, *, by_id: str | None = None) -> dict[str, Any]:
    user_ref: dict[str, Any] = {"id": by_id} if by_id else {"name": user, "domain": {"name": "Default"}}
    body: dict[str, Any] = {"auth": {"identity": {"methods": ["password"],
                                                  "password": {"user": {**user_ref, "password": password}}}}}
    if scope is not None:
        body["auth"]["scope"] = scope
    return body


def project_scope(name: str) -> dict[str, Any]:
    return {"project": {"name": name, "domain": {"id": "default"}}}


def test_project_scoped_token(env: tuple[TokenService, BootstrapResult], clock: FakeClock) -> None:
    tokens, ids = env
    token, info = tokens.authenticate(password_body("admin", ADMIN_PW, project_scope("admin")))
    assert len(token) >= 40
    assert info.scope_type == "project" and info.project is not None
    assert info.project == {"id": ids.projects["admin"], "name": "admin", "domain": {"id": "default",
                                                                                      "name": "Default"}}
    assert [r["name"] for r in info.roles] == ["admin", "member", "reader"]
    assert info.is_admin_project is True and info.expires_at - info.issued_at == timedelta(hours=1)
    doc = info.document(tokens.catalog())["token"]
    assert doc["issued_at"] == "2030-01-01T12:00:00.000000Z" and doc["expires_at"] == "2030-01-01T13:00:00.000000Z"
    assert doc["methods"] == ["password"] and doc["is_domain"] is False and len(doc["audit_ids"]) == 1
    assert doc["user"] == {"id": ids.users["admin"], "name": "admin", "domain": {"id": "default", "name": "Default"},
                           "password_expires_at": None}
    assert [s["type"] for s in doc["catalog"]] == ["network"]
    assert tokens.validate(token).user_id == ids.users["admin"]
    # By id, for both the user and the project.
    _, again = tokens.authenticate(password_body("", ADMIN_PW, {"project": {"id": ids.projects["admin"]}},
                                                 by_id=ids.users["admin"]))
    assert again.project == info.project
    demo_token, demo = tokens.authenticate(password_body("demo", DEMO_PW, project_scope("demo")))
    assert [r["name"] for r in demo.roles] == ["member", "reader"] and demo.is_admin_project is False
    assert token_hash(demo_token) != demo_token


@pytest.mark.parametrize("user,password", [("admin", "wrong"), ("admin", ""), ("nobody", ADMIN_PW),
                                           ("ADMIN", ADMIN_PW)])
def test_bad_credentials_are_401(env: tuple[TokenService, BootstrapResult], user: str, password: str) -> None:
    tokens, _ = env
    with pytest.raises(Unauthorized):
        tokens.authenticate(password_body(user, password, project_scope("admin")))


@pytest.mark.parametrize("body", [None, {}, {"auth": {}}, {"auth": {"identity": {"methods": []}}},
                                  {"auth": {"identity": {"methods": ["password"], "password": {"user": {}}}}},
                                  {"auth": {"identity": {"methods": ["token"], "token": {}}}}])
def test_malformed_auth_bodies_are_400(env: tuple[TokenService, BootstrapResult], body: Any) -> None:
    with pytest.raises(BadRequest):
        env[0].authenticate(body)


def test_unsupported_method_is_401(env: tuple[TokenService, BootstrapResult]) -> None:
    with pytest.raises(Unauthorized):
        env[0].authenticate({"auth": {"identity": {"methods": ["totp"], "totp": {}}}})


def test_scope_rules(env: tuple[TokenService, BootstrapResult]) -> None:
    tokens, ids = env
    with pytest.raises(Unauthorized, match="no access"):  # demo holds no role on the admin project
        tokens.authenticate(password_body("demo", DEMO_PW, project_scope("admin")))
    with pytest.raises(Unauthorized):  # system scope only for holders of a system role
        tokens.authenticate(password_body("demo", DEMO_PW, {"system": {"all": True}}))
    with pytest.raises(Unauthorized):
        tokens.authenticate(password_body("demo", DEMO_PW, project_scope("no-such-project")))
    with pytest.raises(Unauthorized):
        tokens.authenticate(password_body("demo", DEMO_PW, {"domain": {"id": "default"}}))
    with pytest.raises(BadRequest):
        tokens.authenticate(password_body("admin", ADMIN_PW, {"system": {"all": True}, "project": {"id": "x"}}))
    with pytest.raises(BadRequest):
        tokens.authenticate(password_body("admin", ADMIN_PW, {"project": {"name": "admin"}}))  # needs a domain
    _, system = tokens.authenticate(password_body("admin", ADMIN_PW, {"system": {"all": True}}))
    assert system.system and system.is_admin and system.document(None)["token"]["system"] == {"all": True}
    tokens.store.grant("UserDomain", ids.users["demo"], "default", ids.roles["reader"])
    _, dom = tokens.authenticate(password_body("demo", DEMO_PW, {"domain": {"name": "Default"}}))
    assert dom.domain == {"id": "default", "name": "Default"} and [r["name"] for r in dom.roles] == ["reader"]


def test_default_project_and_unscoped(env: tuple[TokenService, BootstrapResult]) -> None:
    tokens, ids = env
    _, info = tokens.authenticate(password_body("demo", DEMO_PW))  # no scope: the default project
    assert info.scope_type == "project" and info.project and info.project["id"] == ids.projects["demo"]
    _, bare = tokens.authenticate(password_body("demo", DEMO_PW, "unscoped"))
    assert bare.scope_type == "unscoped" and bare.roles == []
    doc = bare.document(tokens.catalog())["token"]
    assert "roles" not in doc and "catalog" not in doc and "project" not in doc


def test_rescoping_with_the_token_method(env: tuple[TokenService, BootstrapResult], clock: FakeClock) -> None:
    tokens, _ = env
    unscoped, first = tokens.authenticate(password_body("admin", ADMIN_PW, "unscoped"))
    clock.advance(600)
    body = {"auth": {"identity": {"methods": ["token"], "token": {"id": unscoped}}, "scope": project_scope("demo")}}
    with pytest.raises(Unauthorized):  # admin holds no role on demo
        tokens.authenticate(body)
    body["auth"]["scope"] = project_scope("admin")
    _, scoped = tokens.authenticate(body)
    assert scoped.methods == ["token"] and scoped.expires_at == first.expires_at  # never outlives its parent
    assert scoped.audit_ids[1] == first.audit_ids[0] and len(scoped.audit_ids) == 2
    tokens.revoke(unscoped)
    with pytest.raises(Unauthorized):
        tokens.authenticate(body)


def test_expiry_uses_the_clock_and_cleans_up_lazily(env: tuple[TokenService, BootstrapResult],
                                                    clock: FakeClock) -> None:
    tokens, _ = env
    token, _ = tokens.authenticate(password_body("demo", DEMO_PW, project_scope("demo")))
    clock.advance(3599)
    assert tokens.validate(token)
    clock.advance(1)
    with pytest.raises(NotFound):
        tokens.validate(token)
    with pytest.raises(Unauthorized):
        tokens.caller(token)
    with tokens.store.db.read() as conn:
        assert conn.execute(select(func.count()).select_from(m.tokens)).scalar() == 1
    clock.advance(1)
    tokens.authenticate(password_body("demo", DEMO_PW, project_scope("demo")))  # issuing sweeps expired rows
    with tokens.store.db.read() as conn:
        assert conn.execute(select(func.count()).select_from(m.tokens)).scalar() == 1


def test_expiration_is_configurable(env: tuple[TokenService, BootstrapResult], clock: FakeClock) -> None:
    short = TokenService(env[0].store, expiration=60, clock=clock)
    _, info = short.authenticate(password_body("demo", DEMO_PW))
    assert info.expires_at - info.issued_at == timedelta(seconds=60)


def test_revocation_and_live_role_changes(env: tuple[TokenService, BootstrapResult]) -> None:
    tokens, ids = env
    store, demo, demo_project = tokens.store, ids.users["demo"], ids.projects["demo"]
    token, _ = tokens.authenticate(password_body("demo", DEMO_PW, project_scope("demo")))
    store.grant("UserProject", demo, demo_project, ids.roles["admin"])
    assert tokens.validate(token).is_admin  # roles are computed at validation
    store.ungrant("UserProject", demo, demo_project, ids.roles["admin"])
    assert not tokens.validate(token).is_admin
    store.ungrant("UserProject", demo, demo_project, ids.roles["member"])
    with pytest.raises(NotFound):  # no role left on the scope: the token is gone
        tokens.validate(token)
    store.grant("UserProject", demo, demo_project, ids.roles["member"])
    assert tokens.validate(token)
    tokens.revoke(token)
    with pytest.raises(NotFound):
        tokens.validate(token)
    with pytest.raises(NotFound):
        tokens.revoke(token)
    with pytest.raises(NotFound):
        tokens.validate("never-issued")


@pytest.mark.parametrize("change", ["password", "disable_user", "delete_user", "disable_project",
                                    "delete_project", "disable_domain"])
def test_changes_that_invalidate_tokens(env: tuple[TokenService, BootstrapResult], change: str) -> None:
    tokens, ids = env
    store, demo, project = tokens.store, ids.users["demo"], ids.projects["demo"]
    token, _ = tokens.authenticate(password_body("demo", DEMO_PW, project_scope("demo")))
    {"password": lambda: store.update("users", demo, {"user": {"password": "another-pw"}}),
     "disable_user": lambda: store.update("users", demo, {"user": {"enabled": False}}),
     "delete_user": lambda: store.delete("users", demo),
     "disable_project": lambda: store.update("projects", project, {"project": {"enabled": False}}),
     "delete_project": lambda: store.delete("projects", project),
     "disable_domain": lambda: store.update("domains", "default", {"domain": {"enabled": False}}),
     }[change]()
    with pytest.raises(NotFound):
        tokens.validate(token)


def test_disabled_user_cannot_log_in(env: tuple[TokenService, BootstrapResult]) -> None:
    tokens, ids = env
    tokens.store.update("users", ids.users["demo"], {"user": {"enabled": False}})
    with pytest.raises(Unauthorized):
        tokens.authenticate(password_body("demo", DEMO_PW))


def test_login_upgrades_an_old_hash(env: tuple[TokenService, BootstrapResult]) -> None:
    tokens, ids = env
    tokens.store.passwords = Passwords(PasswordHasher(time_cost=2, memory_cost=2048, parallelism=1))
    tokens.authenticate(password_body("demo", DEMO_PW))
    with tokens.store.db.read() as conn:
        row = tokens.store.user_row(conn, ids.users["demo"])
    assert row is not None and "$m=2048,t=2,p=1$" in row["password_hash"]


def test_no_secret_reaches_the_logs(env: tuple[TokenService, BootstrapResult],
                                    caplog: pytest.LogCaptureFixture) -> None:
    tokens, _ = env
    with caplog.at_level(logging.DEBUG):
        token, _ = tokens.authenticate(password_body("demo", DEMO_PW, project_scope("demo")))
        for bad in ("wrong-password-xyz", DEMO_PW + "x"):
            with pytest.raises(Unauthorized):
                tokens.authenticate(password_body("demo", bad))
        tokens.validate(token)
        tokens.revoke(token)
    assert caplog.records  # something was logged...
    for secret in (token, DEMO_PW, "wrong-password-xyz", token_hash(token)):
        assert secret not in caplog.text  # ...but no secret


def _info(roles: list[str], scope: str = "project", user: str = "u1", project: str = "p1") -> TokenInfo:
    now = datetime(2030, 1, 1)
    return TokenInfo(user={"id": user}, methods=["password"], scope_type=scope,
                     project={"id": project} if scope == "project" else None, domain=None,
                     roles=[{"id": r, "name": r} for r in roles], issued_at=now, expires_at=now, audit_ids=["a"])


def test_access_rules() -> None:
    admin, member = _info(["admin", "member", "reader"]), _info(["member", "reader"])
    system_reader, service = _info(["reader"], scope="system"), _info(["service"])
    assert allowed(admin, "admin") and not allowed(member, "admin") and not allowed(system_reader, "admin")
    assert allowed(system_reader, "reader") and not allowed(member, "reader")
    assert allowed(member, "reader or self", {"user_id": "u1"}) and not allowed(member, "reader or self",
                                                                                {"user_id": "u2"})
    assert allowed(member, "reader or project", {"project_id": "p1"})
    assert not allowed(member, "reader or project", {"project_id": "p2"})
    assert allowed(service, "service or self", {"user_id": "other"})
    assert not allowed(member, "service or self", {"user_id": None})
    with pytest.raises(Forbidden, match="identity:create_user"):
        authorize(member, "create_user", "admin")
    authorize(admin, "create_user", "admin")
