"""compute soft delete: when an instance entered SOFT_DELETED (reclaim_instance_interval)

Nova keeps this in ``deleted_at``; here ``deleted_at`` marks a destroyed row, so the restore
window has its own column.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('compute_instances') as batch:
        batch.add_column(sa.Column('soft_deleted_at', sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('compute_instances') as batch:
        batch.drop_column('soft_deleted_at')
