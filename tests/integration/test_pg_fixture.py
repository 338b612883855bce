"""The PostgreSQL test fixtures work: real server, psycopg through SQLAlchemy, isolated databases."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url

import pg

# No explicit pytestmark: requesting pg_url / pg_server / pg_database_factory marks a test `postgres`.


@pytest.fixture
def engines() -> Iterator[Callable[..., Engine]]:
    made: list[Engine] = []

    def make(url: str, **kwargs: Any) -> Engine:
        engine = create_engine(url, **kwargs)
        made.append(engine)
        return engine

    yield make
    for engine in made:
        engine.dispose()


def test_pg_url_is_a_fresh_postgres_database_over_psycopg(
    pg_url: str, engines: Callable[..., Engine]
) -> None:
    url = make_url(pg_url)
    assert url.drivername == "postgresql+psycopg"
    assert url.host == "127.0.0.1" and url.username == "postgres"
    engine = engines(pg_url)
    assert engine.dialect.driver == "psycopg"
    with engine.connect() as conn:
        assert conn.execute(text("SELECT current_database()")).scalar_one() == url.database
        assert conn.execute(text("SHOW server_version_num")).scalar_one().isdigit()
        assert conn.execute(text("SHOW fsync")).scalar_one() == "off"
        assert int(conn.execute(text("SHOW max_connections")).scalar_one()) >= 200
        tables = conn.execute(
            text("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")
        ).scalars()
        assert set(tables) <= {"marker"}  # empty, but for what this module's other test makes


def test_two_databases_are_isolated(
    pg_url: str, pg_database_factory: Callable[..., str], engines: Callable[..., Engine]
) -> None:
    other_url = pg_database_factory("isolation")
    assert make_url(other_url).database != make_url(pg_url).database

    one, two = engines(pg_url), engines(other_url)
    with one.begin() as conn:
        conn.execute(text("CREATE TABLE IF NOT EXISTS marker (v text)"))
        conn.execute(text("INSERT INTO marker VALUES ('one')"))
    with two.begin() as conn:
        assert conn.execute(text("SELECT to_regclass('public.marker')")).scalar_one() is None
        conn.execute(text("CREATE TABLE marker (v text)"))
        conn.execute(text("INSERT INTO marker VALUES ('two')"))
    with one.connect() as conn:
        assert conn.execute(text("SELECT array_agg(v) FROM marker")).scalar_one() == ["one"]
    with two.connect() as conn:
        assert conn.execute(text("SELECT array_agg(v) FROM marker")).scalar_one() == ["two"]


def test_create_database_helper_and_concurrent_connections(
    pg_server: pg.PgServer, engines: Callable[..., Engine]
) -> None:
    url = pg.create_database(pg_server.url, "helper_made")
    assert make_url(url).database == "helper_made"
    engine = engines(url, pool_size=20)
    conns = [engine.connect() for _ in range(20)]  # well within max_connections=200
    try:
        assert {c.execute(text("SELECT 1")).scalar_one() for c in conns} == {1}
    finally:
        for c in conns:
            c.close()
    engine.dispose()
    pg.drop_database(url)
    with engines(pg_server.url).connect() as conn:
        assert (
            conn.execute(text("SELECT count(*) FROM pg_database WHERE datname = 'helper_made'")).scalar_one()
            == 0
        )


def test_postgres_marker_is_added_by_the_fixtures(request: pytest.FixtureRequest, pg_url: str) -> None:
    assert request.node.get_closest_marker("postgres") is not None


def test_sqlite_url_points_into_tmp_path(sqlite_url: str, engines: Callable[..., Engine]) -> None:
    assert sqlite_url.startswith("sqlite:///") and sqlite_url.endswith("/regionmesh.db")
    with engines(sqlite_url).connect() as conn:
        assert conn.execute(text("SELECT 1")).scalar_one() == 1
