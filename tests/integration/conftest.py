"""Real servers on loopback, on SQLite and on PostgreSQL, driven by openstacksdk."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import openstack
import pytest
from keystoneauth1 import session as ks_session
from keystoneauth1.noauth import NoAuth

from regionmesh.api.server import ThreadedServer, build_neutron
from regionmesh.config import load_settings

PROJECT_A = "a" * 32
PROJECT_B = "b" * 32


class RunningNeutron:
    """A Neutron API served over real HTTP, and SDK connections to it."""

    def __init__(self, server: ThreadedServer, app: Any) -> None:
        self.server = server
        self.app = app
        self.url = server.url

    def sdk(self, project: str | None = None, roles: str = "member,reader") -> openstack.connection.Connection:
        headers = {} if project is None else {"X-Project-Id": project, "X-Roles": roles}
        sess = ks_session.Session(auth=NoAuth(endpoint=self.url), additional_headers=headers)
        return openstack.connection.Connection(session=sess, network_endpoint_override=self.url + "/",
                                               region_name="RegionOne")


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/neutron.db"
    factory: Callable[..., str] = request.getfixturevalue("pg_database_factory")
    return factory(request.node.name)


@pytest.fixture
def neutron(database_url: str) -> Iterator[RunningNeutron]:
    settings = load_settings(env={}, database__url=database_url, auth__strategy="noauth")
    app = build_neutron(settings)
    server = ThreadedServer(app).start()
    try:
        yield RunningNeutron(server, app)
    finally:
        server.stop()
        app.core.db.dispose()
