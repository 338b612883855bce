"""Schema management of the identity database through Alembic (its own script location)."""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config

from regionmesh.db import migrate

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    return migrate.alembic_config(url, MIGRATIONS)


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the identity database at ``url`` to ``revision`` (idempotent)."""
    migrate.upgrade(url, revision, MIGRATIONS)
