"""central tables: pods, resource routings, jobs, job log, deleting markers

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 04:33:27.256552
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pods",
        sa.Column("pod_id", sa.String(length=36), nullable=False),
        sa.Column("region_name", sa.String(length=255), nullable=False),
        sa.Column("az_name", sa.String(length=255), nullable=False),
        sa.Column("pod_az_name", sa.String(length=255), nullable=False),
        sa.Column("dc_name", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("pod_id", name=op.f("pk_pods")),
        sa.UniqueConstraint("region_name", name=op.f("uq_pods_region_name")),
    )
    op.create_table(
        "resource_routings",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("top_id", sa.String(length=127), nullable=False),
        sa.Column("bottom_id", sa.String(length=36), nullable=True),
        sa.Column("pod_id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=255), nullable=True),
        sa.Column("resource_type", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["pod_id"], ["pods.pod_id"], name=op.f("fk_resource_routings_pod_id_pods")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resource_routings")),
        sa.UniqueConstraint("top_id", "pod_id", "resource_type",
                            name=op.f("uq_resource_routings_top_id_pod_id_resource_type")),
    )
    with op.batch_alter_table("resource_routings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_resource_routings_bottom_id"), ["bottom_id"], unique=False)

    op.create_table(
        "jobs",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("type", sa.String(length=36), nullable=False),
        sa.Column("resource_id", sa.String(length=255), nullable=False),
        sa.Column("project_id", sa.String(length=255), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("requested_at", sa.DateTime(), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=True),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(), nullable=True),
        sa.Column("waiting_on", sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
        sa.UniqueConstraint("type", "resource_id", name=op.f("uq_jobs_type_resource_id")),
    )
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.create_index("ix_jobs_status_next_attempt_at", ["status", "next_attempt_at"], unique=False)
        batch_op.create_index("ix_jobs_updated_at_id", ["updated_at", "id"], unique=False)

    op.create_table(
        "job_logs",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("job_id", sa.String(length=36), nullable=False),
        sa.Column("type", sa.String(length=36), nullable=False),
        sa.Column("resource_id", sa.String(length=255), nullable=False),
        sa.Column("project_id", sa.String(length=255), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_logs")),
    )
    with op.batch_alter_table("job_logs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_job_logs_job_id"), ["job_id"], unique=False)

    # Unlike the anchor's migration 011, the key is really there: one marker per resource.
    op.create_table(
        "deleting_resources",
        sa.Column("resource_id", sa.String(length=127), nullable=False),
        sa.Column("resource_type", sa.String(length=64), nullable=False),
        sa.Column("deleted_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("resource_id", "resource_type", name=op.f("pk_deleting_resources")),
    )


def downgrade() -> None:
    op.drop_table("deleting_resources")
    with op.batch_alter_table("job_logs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_job_logs_job_id"))
    op.drop_table("job_logs")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_jobs_updated_at_id")
        batch_op.drop_index("ix_jobs_status_next_attempt_at")
    op.drop_table("jobs")
    with op.batch_alter_table("resource_routings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_resource_routings_bottom_id"))
    op.drop_table("resource_routings")
    op.drop_table("pods")
