"""Alembic migrations produce exactly ``models.metadata`` on PostgreSQL too."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from regionmesh.db.migrate import upgrade
from regionmesh.db.models import metadata


def test_upgrade_head_matches_metadata_on_postgresql(pg_database_factory: Callable[..., str]) -> None:
    url = pg_database_factory("migrations")
    upgrade(url)
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            diff: list[Any] = list(compare_metadata(ctx, metadata))
    finally:
        engine.dispose()
    assert diff == []
