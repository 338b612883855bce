"""Shared fixtures for the whole test tree.

PostgreSQL
----------
A test asks for PostgreSQL by requesting ``pg_url`` (a fresh, empty database for its module) or
``pg_server`` (the running server, to make more databases with ``pg_server.create_database()``), or
``pg_database_factory`` (a callable returning the URL of a new empty database). Such tests are marked
``postgres`` automatically, so ``-m "not postgres"`` deselects them. A test may also carry
``@pytest.mark.postgres`` by hand.

When no PostgreSQL server binaries exist, ``postgres`` tests are *skipped* with the reason on a
developer machine, but *fail* when ``$CI`` is set: CI must never silently skip PostgreSQL.

Why one server per xdist worker: ``pg_server`` is session-scoped, and under pytest-xdist every worker
is its own session, so each worker that runs a PostgreSQL test starts (lazily, on first use) its own
server in its own temp dir on its own free port. That is the simplest robust choice: xdist has no
hook that runs once after the *last* worker finishes, so a single shared server would need a file
lock plus reference counting to know when to stop it, and a crashed worker would leak or kill it
under the others. One initdb + start costs about a second per worker (2 workers on CI's 2 cores),
and workers never see each other's databases. Databases are per test module (``pg_url`` is
module-scoped; ``make test`` uses ``--dist loadfile`` so a module's tests stay on one worker).
"""

from __future__ import annotations

import atexit
import itertools
import os
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:  # make tests/pg.py importable whatever pytest's --import-mode
    sys.path.insert(0, _HERE)

import pg  # noqa: E402

PG_FIXTURES = frozenset({"pg_server", "pg_url", "pg_database_factory"})
_db_counter = itertools.count(1)


def _worker_id() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def _new_db_name(hint: str = "") -> str:
    hint = re.sub(r"[^a-z0-9]+", "_", hint.lower()).strip("_")[-30:]
    return "_".join(filter(None, ("t", _worker_id(), str(next(_db_counter)), hint)))


def _require_pg() -> None:
    """Skip (developer machine) or fail (CI) when there are no PostgreSQL server binaries."""
    if pg.find_bin_dir() is not None:
        return
    if pg.in_ci():
        pytest.fail("CI is set but " + pg.unavailable_reason(), pytrace=False)
    pytest.skip(pg.unavailable_reason())


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if PG_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.postgres)


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("postgres") is not None:
        _require_pg()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[pg.PgServer]:
    """This worker's throwaway PostgreSQL server (see the module docstring)."""
    _require_pg()
    server = pg.start_server(dbname=f"regionmesh_{_worker_id()}")
    atexit.register(server.stop)  # in case the session dies before teardown
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def pg_database_factory(pg_server: pg.PgServer) -> Callable[..., str]:
    """``make(hint="") -> url``: a new empty database on this worker's server (not dropped)."""

    def make(hint: str = "") -> str:
        return pg_server.create_database(_new_db_name(hint))

    return make


@pytest.fixture(scope="module")
def pg_url(pg_server: pg.PgServer, request: pytest.FixtureRequest) -> Iterator[str]:
    """URL of a fresh, empty database for this test module (``postgresql+psycopg://...``).

    Created with ``CREATE DATABASE ... TEMPLATE template0`` and dropped (WITH FORCE) afterwards, so
    connections left open by the module do not block the drop.
    """
    url = pg_server.create_database(_new_db_name(request.module.__name__.rpartition(".")[2]))
    yield url
    pg.drop_database(url)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """URL of a SQLite database file in this test's tmp_path (created on first connect)."""
    return f"sqlite:///{tmp_path / 'regionmesh.db'}"
