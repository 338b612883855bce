"""compute lifecycle: instance system_metadata (shelve) and migrations (resize)

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('compute_instances') as batch:
        batch.add_column(sa.Column('system_metadata', sa.Text(), nullable=True))
    op.create_table('compute_migrations',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('instance_uuid', sa.String(length=36), nullable=False),
    sa.Column('migration_type', sa.String(length=32), nullable=False),
    sa.Column('source_compute', sa.String(length=255), nullable=True),
    sa.Column('dest_compute', sa.String(length=255), nullable=True),
    sa.Column('old_flavor_id', sa.String(length=255), nullable=False),
    sa.Column('new_flavor_id', sa.String(length=255), nullable=False),
    sa.Column('old_vcpus', sa.Integer(), nullable=False),
    sa.Column('old_memory_mb', sa.Integer(), nullable=False),
    sa.Column('old_root_gb', sa.Integer(), nullable=False),
    sa.Column('new_vcpus', sa.Integer(), nullable=False),
    sa.Column('new_memory_mb', sa.Integer(), nullable=False),
    sa.Column('new_root_gb', sa.Integer(), nullable=False),
    sa.Column('old_vm_state', sa.String(length=32), nullable=True),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('reservation_id', sa.String(length=36), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_compute_migrations'))
    )
    op.create_index(op.f('ix_compute_migrations_instance_uuid'), 'compute_migrations', ['instance_uuid'],
        unique=False)
    op.create_index(op.f('ix_compute_migrations_status'), 'compute_migrations', ['status'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_compute_migrations_status'), table_name='compute_migrations')
    op.drop_index(op.f('ix_compute_migrations_instance_uuid'), table_name='compute_migrations')
    op.drop_table('compute_migrations')
    with op.batch_alter_table('compute_instances') as batch:
        batch.drop_column('system_metadata')
