"""Alembic environment of the identity database (its own schema and its own version table)."""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

from regionmesh.identity.models import VERSION_TABLE, metadata

config = context.config


def run() -> None:
    url = config.get_main_option("sqlalchemy.url")
    assert url
    options: dict[str, Any] = {"target_metadata": metadata, "version_table": VERSION_TABLE,
                               "render_as_batch": url.startswith("sqlite")}
    connectable = config.attributes.get("connection")
    if connectable is not None:
        context.configure(connection=connectable, **options)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(url, poolclass=NullPool)
    with engine.connect() as conn:
        context.configure(connection=conn, **options)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run()
