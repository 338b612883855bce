"""Authentication at the edge and policy overrides (foundation issue: Auth; QP-01)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from regionmesh.api.auth import KeystoneAuth
from regionmesh.api.server import build_neutron
from regionmesh.config import AuthSettings, load_settings

GOOD = "gAAAA-good-token"


class FakeKeystone:
    """Keystone's token-validation endpoint, the one edge this test cannot run for real here
    (tests/integration runs the lab identity service for real)."""

    def __init__(self) -> None:
        self.calls = 0
        self.expires = datetime.now(UTC) + timedelta(hours=1)

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        assert request.url.path == "/v3/auth/tokens"
        token = request.headers.get("x-subject-token")
        if token != GOOD or request.headers.get("x-auth-token") != GOOD:
            return httpx.Response(404, json={"error": {"code": 404, "title": "Not Found", "message": "no"}})
        return httpx.Response(200, json={"token": {
            "expires_at": self.expires.isoformat().replace("+00:00", "Z"),
            "user": {"id": "u1", "name": "alice"},
            "project": {"id": "p" * 32, "name": "demo", "domain": {"id": "default"}},
            "roles": [{"name": "member"}, {"name": "reader"}],
        }})


@pytest.fixture
def keystone() -> FakeKeystone:
    return FakeKeystone()


@pytest.fixture
def client(tmp_path: Path, keystone: FakeKeystone) -> Any:
    settings = load_settings(env={}, database__url=f"sqlite:///{tmp_path}/n.db", auth__strategy="keystone",
                             auth__auth_url="http://keystone.test/v3")
    auth = KeystoneAuth(settings.auth, client=httpx.Client(transport=httpx.MockTransport(keystone.handler)))
    from regionmesh.api.neutron_v2 import create_app
    from regionmesh.db.migrate import upgrade
    from regionmesh.network.core import NetworkCore

    upgrade(settings.database.url)
    with TestClient(create_app(NetworkCore(settings), auth)) as c:
        yield c


def test_missing_and_bad_tokens_are_rejected(client: TestClient) -> None:
    assert client.get("/v2.0/networks").status_code == 401
    resp = client.get("/v2.0/networks", headers={"X-Auth-Token": "forged"})
    assert resp.status_code == 401
    assert resp.json()["NeutronError"]["type"] == "Unauthenticated"


def test_valid_token_builds_the_context_and_is_cached(client: TestClient, keystone: FakeKeystone,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    headers = {"X-Auth-Token": GOOD}
    net = client.post("/v2.0/networks", json={"network": {"name": "n"}}, headers=headers).json()["network"]
    assert net["project_id"] == "p" * 32
    assert client.get("/v2.0/networks", headers=headers).status_code == 200
    assert keystone.calls == 1  # the second request was served from the cache
    # a member may not set admin-only attributes
    assert client.post("/v2.0/networks", json={"network": {"shared": True}}, headers=headers).status_code == 403
    client.get("/v2.0/networks", headers={"X-Auth-Token": "forged"})
    assert GOOD not in caplog.text and "forged" not in caplog.text


def test_expired_token_is_rejected(keystone: FakeKeystone) -> None:
    keystone.expires = datetime.now(UTC) - timedelta(seconds=5)
    auth = KeystoneAuth(AuthSettings(auth_url="http://keystone.test/v3"),
                        client=httpx.Client(transport=httpx.MockTransport(keystone.handler)))
    from regionmesh.network.exceptions import Unauthenticated

    with pytest.raises(Unauthenticated):
        auth.authenticate({"x-auth-token": GOOD})


def test_unreachable_identity_is_503_not_a_hang() -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    auth = KeystoneAuth(AuthSettings(auth_url="http://keystone.test/v3"),
                        client=httpx.Client(transport=httpx.MockTransport(down)))
    from regionmesh.network.exceptions import ServiceUnavailable

    with pytest.raises(ServiceUnavailable) as info:
        auth.authenticate({"x-auth-token": GOOD})
    assert "keystone.test" in str(info.value)


def test_policy_file_overrides_a_default(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text('"create_network:shared": "role:member"\n"delete_network": "role:admin"\n')
    settings = load_settings(env={}, database__url=f"sqlite:///{tmp_path}/n.db", auth__strategy="noauth",
                             api__policy_file=str(policy))
    member = {"X-Project-Id": "a" * 32, "X-Roles": "member,reader"}
    with TestClient(build_neutron(settings)) as c:
        resp = c.post("/v2.0/networks", json={"network": {"name": "s", "shared": True}}, headers=member)
        assert resp.status_code == 201 and resp.json()["network"]["shared"] is True
        net_id = resp.json()["network"]["id"]
        denied = c.delete(f"/v2.0/networks/{net_id}", headers=member)
        assert denied.status_code == 403 and denied.json()["NeutronError"]["type"] == "PolicyNotAuthorized"
        assert c.get(f"/v2.0/networks/{net_id}", headers=member).status_code == 200
