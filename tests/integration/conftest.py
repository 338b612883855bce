"""Real servers on loopback, on SQLite and on PostgreSQL, driven by openstacksdk."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from servers import RunningNeutron

from regionmesh.api.server import ThreadedServer, build_neutron
from regionmesh.config import load_settings


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
