"""volumes: lab Cinder v3 subset (volumes, snapshots, attachments, RBD locks) and Nova BDMs

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('compute_block_device_mappings',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('instance_uuid', sa.String(length=36), nullable=False),
    sa.Column('volume_id', sa.String(length=36), nullable=True),
    sa.Column('boot_index', sa.Integer(), nullable=True),
    sa.Column('device_name', sa.String(length=255), nullable=True),
    sa.Column('source_type', sa.String(length=32), nullable=False),
    sa.Column('destination_type', sa.String(length=32), nullable=False),
    sa.Column('image_id', sa.String(length=36), nullable=True),
    sa.Column('volume_size', sa.Integer(), nullable=True),
    sa.Column('delete_on_termination', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_compute_block_device_mappings'))
    )
    op.create_index(op.f('ix_compute_block_device_mappings_instance_uuid'), 'compute_block_device_mappings',
        ['instance_uuid'], unique=False)
    op.create_index(op.f('ix_compute_block_device_mappings_volume_id'), 'compute_block_device_mappings',
        ['volume_id'], unique=False)
    op.create_table('volume_attachments',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('volume_id', sa.String(length=36), nullable=False),
    sa.Column('instance_uuid', sa.String(length=36), nullable=True),
    sa.Column('attached_host', sa.String(length=255), nullable=True),
    sa.Column('mountpoint', sa.String(length=255), nullable=True),
    sa.Column('attach_status', sa.String(length=32), nullable=False),
    sa.Column('connector', sa.Text(), nullable=True),
    sa.Column('attached_at', sa.DateTime(), nullable=True),
    sa.Column('detached_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_volume_attachments'))
    )
    op.create_index(op.f('ix_volume_attachments_instance_uuid'), 'volume_attachments',
        ['instance_uuid'], unique=False)
    op.create_index(op.f('ix_volume_attachments_volume_id'), 'volume_attachments', ['volume_id'], unique=False)
    op.create_table('volume_locks',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('volume_id', sa.String(length=36), nullable=False),
    sa.Column('holder_host', sa.String(length=255), nullable=False),
    sa.Column('instance_uuid', sa.String(length=36), nullable=True),
    sa.Column('cookie', sa.String(length=64), nullable=False),
    sa.Column('acquired_at', sa.DateTime(), nullable=False),
    sa.Column('released_at', sa.DateTime(), nullable=True),
    sa.Column('broken_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_volume_locks'))
    )
    op.create_index(op.f('ix_volume_locks_volume_id'), 'volume_locks', ['volume_id'], unique=False)
    op.create_table('volume_snapshots',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('project_id', sa.String(length=255), nullable=False),
    sa.Column('volume_id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('deleted_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_volume_snapshots'))
    )
    op.create_index(op.f('ix_volume_snapshots_project_id'), 'volume_snapshots', ['project_id'], unique=False)
    op.create_index(op.f('ix_volume_snapshots_volume_id'), 'volume_snapshots', ['volume_id'], unique=False)
    op.create_table('volumes',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('project_id', sa.String(length=255), nullable=False),
    sa.Column('user_id', sa.String(length=255), nullable=True),
    sa.Column('name', sa.String(length=255), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('attach_status', sa.String(length=32), nullable=False),
    sa.Column('availability_zone', sa.String(length=255), nullable=True),
    sa.Column('host', sa.String(length=255), nullable=True),
    sa.Column('bootable', sa.Boolean(), nullable=False),
    sa.Column('image_id', sa.String(length=36), nullable=True),
    sa.Column('snapshot_id', sa.String(length=36), nullable=True),
    sa.Column('source_volid', sa.String(length=36), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('deleted_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_volumes'))
    )
    op.create_index(op.f('ix_volumes_project_id'), 'volumes', ['project_id'], unique=False)
    op.create_index(op.f('ix_volumes_snapshot_id'), 'volumes', ['snapshot_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_volumes_snapshot_id'), table_name='volumes')
    op.drop_index(op.f('ix_volumes_project_id'), table_name='volumes')
    op.drop_table('volumes')
    op.drop_index(op.f('ix_volume_snapshots_volume_id'), table_name='volume_snapshots')
    op.drop_index(op.f('ix_volume_snapshots_project_id'), table_name='volume_snapshots')
    op.drop_table('volume_snapshots')
    op.drop_index(op.f('ix_volume_locks_volume_id'), table_name='volume_locks')
    op.drop_table('volume_locks')
    op.drop_index(op.f('ix_volume_attachments_volume_id'), table_name='volume_attachments')
    op.drop_index(op.f('ix_volume_attachments_instance_uuid'), table_name='volume_attachments')
    op.drop_table('volume_attachments')
    op.drop_index(op.f('ix_compute_block_device_mappings_volume_id'), table_name='compute_block_device_mappings')
    op.drop_index(op.f('ix_compute_block_device_mappings_instance_uuid'), table_name='compute_block_device_mappings')
    op.drop_table('compute_block_device_mappings')
