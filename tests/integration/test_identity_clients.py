"""The identity service on a real listener, driven by keystoneauth1, openstacksdk, the `openstack` CLI,
and RegionMesh's own ``KeystoneAuth`` (how the network services validate tokens)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openstack
import pytest
from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import generic, v3

from regionmesh.api.auth import KeystoneAuth
from regionmesh.api.identity_v3 import IdentityApp, create_identity_app
from regionmesh.api.server import ThreadedServer
from regionmesh.config import AuthSettings
from regionmesh.identity.bootstrap import BootstrapResult, BootstrapSpec, CatalogEntry, bootstrap
from regionmesh.identity.passwords import Passwords
from regionmesh.network import exceptions as exc

ADMIN_PW, DEMO_PW = "admin-lab-pw", "demo-lab-pw"
REGION_ONE_NEUTRON, CENTRAL_NEUTRON = "http://127.0.0.1:9601", "http://127.0.0.1:20001"
CATALOG = (
    CatalogEntry("network", "neutron", "CentralRegion", CENTRAL_NEUTRON),
    CatalogEntry("multiregion-networking", "regionmesh", "CentralRegion", "http://127.0.0.1:19999/v1.0"),
    CatalogEntry("network", "neutron", "RegionOne", REGION_ONE_NEUTRON),
    CatalogEntry("compute", "nova", "RegionOne", "http://127.0.0.1:8701/v2.1"),
    CatalogEntry("volumev3", "cinderv3", "RegionOne", "http://127.0.0.1:8801/v3"),
    CatalogEntry("image", "glance", "RegionOne", "http://127.0.0.1:9292"),
)


@pytest.fixture(autouse=True)
def _quiet_sdk() -> Iterator[None]:
    """openstacksdk's deprecation notices about its own internals are not ours to fix."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", module="openstack")
        yield


@dataclass
class RunningIdentity:
    url: str
    app: IdentityApp
    ids: BootstrapResult


def start_identity(db_url: str) -> tuple[ThreadedServer, RunningIdentity]:
    """Bind first (the catalog must name the real port), then bootstrap, then serve."""
    app = create_identity_app(db_url, passwords=Passwords.cheap())
    server = ThreadedServer(app)
    ids = bootstrap(app.store, BootstrapSpec(admin_password=ADMIN_PW, demo_password=DEMO_PW, catalog=CATALOG,
                                             identity_url=server.url + "/v3"))
    server.start()
    return server, RunningIdentity(server.url, app, ids)


@pytest.fixture(scope="module")
def identity(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningIdentity]:
    server, running = start_identity(f"sqlite:///{tmp_path_factory.mktemp('identity')}/identity.db")
    yield running
    server.stop()
    running.app.store.db.dispose()


@pytest.fixture
def identity_any_db(database_url: str) -> Iterator[RunningIdentity]:
    """The same service on SQLite and on PostgreSQL (``database_url`` comes from this folder's conftest)."""
    server, running = start_identity(database_url)
    yield running
    server.stop()
    running.app.store.db.dispose()


@pytest.mark.parametrize("suffix", ["", "/v3"])
def test_keystoneauth_password_session(identity: RunningIdentity, suffix: str) -> None:
    """keystoneauth discovers the version at auth_url (root: 300 + list; /v3: one version), then logs in."""
    auth = generic.Password(auth_url=identity.url + suffix, username="admin", password=ADMIN_PW,
                            project_name="admin", user_domain_name="Default", project_domain_name="Default")
    sess = ks_session.Session(auth=auth)
    assert sess.get_token()
    access = auth.get_access(sess)
    assert access.project_name == "admin" and access.user_domain_name == "Default"
    assert set(access.role_names or []) == {"admin", "member", "reader"}
    assert access.service_catalog.url_for(service_type="network", interface="public",
                                          region_name="RegionOne") == REGION_ONE_NEUTRON
    assert sess.get_endpoint(service_type="network", interface="public",
                             region_name="CentralRegion") == CENTRAL_NEUTRON
    assert sess.get_endpoint(service_type="compute", region_name="RegionOne") == "http://127.0.0.1:8701/v2.1"


def test_keystoneauth_wrong_password_is_401(identity: RunningIdentity) -> None:
    auth = v3.Password(auth_url=identity.url + "/v3", username="admin", password="not-it", project_name="admin",
                       user_domain_name="Default", project_domain_name="Default")
    with pytest.raises(ks_exc.Unauthorized):
        ks_session.Session(auth=auth).get_token()


def test_openstacksdk(identity_any_db: RunningIdentity) -> None:
    conn = openstack.connect(auth_url=identity_any_db.url, username="admin", password=ADMIN_PW,
                             project_name="admin", user_domain_name="Default", project_domain_name="Default",
                             region_name="RegionOne", identity_api_version="3")
    assert conn.auth_token
    ident: Any = conn.identity  # typed as v2 | v3; identity_api_version pins v3
    assert sorted(p.name for p in ident.projects()) == ["admin", "demo", "service"]
    assert conn.session.get_endpoint(service_type="network", interface="public",
                                     region_name="RegionOne") == REGION_ONE_NEUTRON
    assert conn.endpoint_for("network") == REGION_ONE_NEUTRON  # the SDK's own region-aware lookup
    project = ident.create_project(name="sdk-made", domain_id="default", description="from the SDK")
    user = ident.create_user(name="sdk-user", password="sdk-user-pw", default_project_id=project.id)
    member = ident.find_role("member")
    assert member is not None
    ident.assign_project_role_to_user(project, user, member)
    assert ident.validate_user_has_project_role(project, user, member)
    as_user = openstack.connect(auth_url=identity_any_db.url + "/v3", username="sdk-user", password="sdk-user-pw",
                                project_name="sdk-made", user_domain_name="Default", project_domain_name="Default",
                                region_name="CentralRegion")
    assert as_user.endpoint_for("network") == CENTRAL_NEUTRON
    with pytest.raises(openstack.exceptions.ForbiddenException):
        list(as_user.identity.users())


def _openstack_cli(identity: RunningIdentity, tmp_path: Path, user: str, password: str, project: str,
                   *args: str) -> Any:
    binary = Path(sys.executable).parent / "openstack"
    if not binary.exists():
        pytest.skip(f"no openstack CLI next to {sys.executable}")
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env["HOME"] = str(tmp_path)  # no clouds.yaml of the developer's
    cmd = [str(binary), "--os-auth-url", identity.url, "--os-username", user, "--os-password", password,
           "--os-project-name", project, "--os-user-domain-name", "Default", "--os-project-domain-name", "Default",
           "--os-identity-api-version", "3", "--os-region-name", "RegionOne", *args, "-f", "json"]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_openstack_cli(identity: RunningIdentity, tmp_path: Path) -> None:
    issued = _openstack_cli(identity, tmp_path, "admin", ADMIN_PW, "admin", "token", "issue")
    assert issued["project_id"] == identity.ids.projects["admin"]
    assert issued["user_id"] == identity.ids.users["admin"] and issued["id"] and issued["expires"]
    projects = _openstack_cli(identity, tmp_path, "admin", ADMIN_PW, "admin", "project", "list")
    assert sorted(p["Name"] for p in projects) == ["admin", "demo", "service"]
    catalog = _openstack_cli(identity, tmp_path, "admin", ADMIN_PW, "admin", "catalog", "list")
    by_type = {entry["Type"]: entry for entry in catalog}
    assert set(by_type) == {"identity", "network", "multiregion-networking", "compute", "volumev3", "image"}
    network = {(e["region"], e["interface"], e["url"]) for e in by_type["network"]["Endpoints"]}
    assert ("RegionOne", "public", REGION_ONE_NEUTRON) in network
    assert ("CentralRegion", "public", CENTRAL_NEUTRON) in network


def test_openstack_cli_non_admin_project_list(identity: RunningIdentity, tmp_path: Path) -> None:
    """OSC gets 403 on /v3/projects, then falls back to /v3/users/{me}/projects."""
    projects = _openstack_cli(identity, tmp_path, "demo", DEMO_PW, "demo", "project", "list")
    assert [p["Name"] for p in projects] == ["demo"]


def _token(identity: RunningIdentity, user: str, password: str, project: str) -> str:
    auth = v3.Password(auth_url=identity.url + "/v3", username=user, password=password, project_name=project,
                       user_domain_name="Default", project_domain_name="Default")
    token = ks_session.Session(auth=auth).get_token()
    assert token
    return str(token)


def test_keystone_auth_builds_the_request_context(identity: RunningIdentity) -> None:
    settings = AuthSettings(strategy="keystone", auth_url=identity.url + "/v3")
    demo_token = _token(identity, "demo", DEMO_PW, "demo")
    ctx = KeystoneAuth(settings).authenticate({"x-auth-token": demo_token})
    assert ctx.project_id == identity.ids.projects["demo"] and ctx.project_name == "demo"
    assert ctx.user_id == identity.ids.users["demo"] and ctx.user_name == "demo"
    assert ctx.domain_id == "default" and ctx.system_scope is None
    assert ctx.roles == frozenset({"member", "reader"})  # reader is implied by member
    assert ctx.is_member and not ctx.is_admin
    admin_ctx = KeystoneAuth(settings).authenticate({"x-auth-token": _token(identity, "admin", ADMIN_PW, "admin")})
    assert admin_ctx.roles == frozenset({"admin", "member", "reader"}) and admin_ctx.is_admin
    with pytest.raises(exc.Unauthenticated):
        KeystoneAuth(settings).authenticate({"x-auth-token": "not-a-token"})
    identity.app.tokens.revoke(demo_token)
    with pytest.raises(exc.Unauthenticated):
        KeystoneAuth(settings).authenticate({"x-auth-token": demo_token})
