"""Alembic migrations produce exactly ``models.metadata`` (SQLite; PostgreSQL in tests/integration)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from regionmesh.db.migrate import alembic_config, upgrade
from regionmesh.db.models import metadata

CENTRAL_TABLES = {"pods", "resource_routings", "jobs", "job_logs", "deleting_resources"}


def schema_diff(url: str) -> list[Any]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            return list(compare_metadata(ctx, metadata))
    finally:
        engine.dispose()


def test_upgrade_head_matches_metadata(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/m.db"
    upgrade(url)
    assert schema_diff(url) == []


def test_central_revision_round_trips(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/m.db"
    upgrade(url)
    command.downgrade(alembic_config(url), "0001")
    engine = create_engine(url)
    assert not CENTRAL_TABLES & set(inspect(engine).get_table_names())
    engine.dispose()
    upgrade(url)
    assert schema_diff(url) == []
