"""region outbox: bindings applied locally while central was down, waiting to be forwarded

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "region_outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("resource_type", sa.String(length=64), nullable=False),
        sa.Column("resource_id", sa.String(length=36), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_region_outbox")),
    )
    with op.batch_alter_table("region_outbox") as batch:
        batch.create_index(batch.f("ix_region_outbox_resource_id"), ["resource_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("region_outbox") as batch:
        batch.drop_index(batch.f("ix_region_outbox_resource_id"))
    op.drop_table("region_outbox")
