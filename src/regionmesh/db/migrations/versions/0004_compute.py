"""compute: lab Nova/Glance subset (instances, flavors, services, ports cache, images, quotas)

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('compute_flavors',
    sa.Column('id', sa.String(length=255), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('vcpus', sa.Integer(), nullable=False),
    sa.Column('memory_mb', sa.Integer(), nullable=False),
    sa.Column('root_gb', sa.Integer(), nullable=False),
    sa.Column('ephemeral_gb', sa.Integer(), nullable=False),
    sa.Column('is_public', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_compute_flavors')),
    sa.UniqueConstraint('name', name=op.f('uq_compute_flavors_name'))
    )
    op.create_table('compute_images',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=True),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('visibility', sa.String(length=32), nullable=False),
    sa.Column('protected', sa.Boolean(), nullable=False),
    sa.Column('owner', sa.String(length=255), nullable=True),
    sa.Column('min_disk', sa.Integer(), nullable=False),
    sa.Column('min_ram', sa.Integer(), nullable=False),
    sa.Column('disk_format', sa.String(length=32), nullable=True),
    sa.Column('container_format', sa.String(length=32), nullable=True),
    sa.Column('size', sa.BigInteger(), nullable=True),
    sa.Column('checksum', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_compute_images'))
    )
    op.create_table('compute_instance_ports',
    sa.Column('port_id', sa.String(length=36), nullable=False),
    sa.Column('instance_uuid', sa.String(length=36), nullable=False),
    sa.Column('network_id', sa.String(length=36), nullable=False),
    sa.Column('network_name', sa.String(length=255), nullable=True),
    sa.Column('fixed_ips', sa.Text(), nullable=False),
    sa.Column('mac_address', sa.String(length=32), nullable=True),
    sa.Column('preexisting', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('port_id', name=op.f('pk_compute_instance_ports'))
    )
    with op.batch_alter_table('compute_instance_ports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_compute_instance_ports_instance_uuid'), ['instance_uuid'], unique=False)

    op.create_table('compute_instances',
    sa.Column('uuid', sa.String(length=36), nullable=False),
    sa.Column('project_id', sa.String(length=255), nullable=False),
    sa.Column('user_id', sa.String(length=255), nullable=True),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('flavor_id', sa.String(length=255), nullable=False),
    sa.Column('vcpus', sa.Integer(), nullable=False),
    sa.Column('memory_mb', sa.Integer(), nullable=False),
    sa.Column('root_gb', sa.Integer(), nullable=False),
    sa.Column('image_id', sa.String(length=36), nullable=True),
    sa.Column('vm_state', sa.String(length=32), nullable=False),
    sa.Column('task_state', sa.String(length=32), nullable=True),
    sa.Column('power_state', sa.Integer(), nullable=False),
    sa.Column('host', sa.String(length=255), nullable=True),
    sa.Column('availability_zone', sa.String(length=255), nullable=True),
    sa.Column('disable_terminate', sa.Boolean(), nullable=False),
    sa.Column('progress', sa.Integer(), nullable=False),
    sa.Column('fault', sa.Text(), nullable=True),
    sa.Column('request', sa.Text(), nullable=True),
    sa.Column('key_name', sa.String(length=255), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('deleted_at', sa.DateTime(), nullable=True),
    sa.Column('terminated_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('uuid', name=op.f('pk_compute_instances'))
    )
    with op.batch_alter_table('compute_instances', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_compute_instances_host'), ['host'], unique=False)
        batch_op.create_index(batch_op.f('ix_compute_instances_project_id'), ['project_id'], unique=False)

    op.create_table('compute_quota_reservations',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('project_id', sa.String(length=255), nullable=False),
    sa.Column('instance_uuid', sa.String(length=36), nullable=True),
    sa.Column('resource', sa.String(length=32), nullable=False),
    sa.Column('delta', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', 'resource', name=op.f('pk_compute_quota_reservations'))
    )
    with op.batch_alter_table('compute_quota_reservations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_compute_quota_reservations_instance_uuid'), ['instance_uuid'],
                              unique=False)

    op.create_table('compute_quota_usages',
    sa.Column('project_id', sa.String(length=255), nullable=False),
    sa.Column('resource', sa.String(length=32), nullable=False),
    sa.Column('in_use', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('project_id', 'resource', name=op.f('pk_compute_quota_usages'))
    )
    op.create_table('compute_services',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('host', sa.String(length=255), nullable=False),
    sa.Column('binary', sa.String(length=64), nullable=False),
    sa.Column('zone', sa.String(length=255), nullable=False),
    sa.Column('disabled', sa.Boolean(), nullable=False),
    sa.Column('disabled_reason', sa.String(length=255), nullable=True),
    sa.Column('forced_down', sa.Boolean(), nullable=False),
    sa.Column('last_seen_up', sa.DateTime(), nullable=True),
    sa.Column('vcpus', sa.Integer(), nullable=False),
    sa.Column('memory_mb', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_compute_services')),
    sa.UniqueConstraint('host', 'binary', name=op.f('uq_compute_services_host_binary'))
    )


def downgrade() -> None:
    op.drop_table('compute_services')
    op.drop_table('compute_quota_usages')
    with op.batch_alter_table('compute_quota_reservations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_compute_quota_reservations_instance_uuid'))

    op.drop_table('compute_quota_reservations')
    with op.batch_alter_table('compute_instances', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_compute_instances_project_id'))
        batch_op.drop_index(batch_op.f('ix_compute_instances_host'))

    op.drop_table('compute_instances')
    with op.batch_alter_table('compute_instance_ports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_compute_instance_ports_instance_uuid'))

    op.drop_table('compute_instance_ports')
    op.drop_table('compute_images')
    op.drop_table('compute_flavors')
