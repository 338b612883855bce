"""The identity database's tables (SQLAlchemy Core), separate from the network databases.

Why its own ``MetaData`` and Alembic version table: the lab's identity service owns a database of
its own, and keeping the version table name distinct means that even a shared database (one SQLite
file for everything in a quick demo) cannot confuse the two migration histories.

Role assignments are one table keyed by (type, actor, target, role), as in Keystone; the target of a
system assignment is the literal ``"system"``. Tokens are stored only as a SHA-256 of the opaque
token, never in clear; their roles are not stored but computed at validation, so removing a role
takes effect at once.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)

VERSION_TABLE = "identity_alembic_version"

metadata = MetaData(naming_convention={
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
})

domains = Table(
    "domains", metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(255), nullable=False, unique=True),
    Column("description", Text, nullable=False, default=""),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("extra", Text, nullable=False, default="{}"),
)

projects = Table(
    "projects", metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(255), nullable=False),
    Column("domain_id", String(64), ForeignKey("domains.id"), nullable=False),
    Column("parent_id", String(64), nullable=True),
    Column("description", Text, nullable=False, default=""),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("tags", Text, nullable=False, default="[]"),
    Column("extra", Text, nullable=False, default="{}"),
    UniqueConstraint("domain_id", "name"),
)

users = Table(
    "users", metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(255), nullable=False),
    Column("domain_id", String(64), ForeignKey("domains.id"), nullable=False),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("password_hash", String(255), nullable=True),
    Column("default_project_id", String(64), nullable=True),
    Column("description", Text, nullable=False, default=""),
    Column("extra", Text, nullable=False, default="{}"),
    UniqueConstraint("domain_id", "name"),
)

roles = Table(
    "roles", metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(255), nullable=False, unique=True),
    Column("description", Text, nullable=False, default=""),
    Column("extra", Text, nullable=False, default="{}"),
)

implied_roles = Table(
    "implied_roles", metadata,
    Column("prior_role_id", String(64), ForeignKey("roles.id", ondelete="CASCADE"), nullable=False),
    Column("implied_role_id", String(64), ForeignKey("roles.id", ondelete="CASCADE"), nullable=False),
    PrimaryKeyConstraint("prior_role_id", "implied_role_id"),
)

# type: UserProject | UserDomain | UserSystem; target_id: project id, domain id or "system".
role_assignments = Table(
    "role_assignments", metadata,
    Column("type", String(16), nullable=False),
    Column("actor_id", String(64), nullable=False),
    Column("target_id", String(64), nullable=False),
    Column("role_id", String(64), ForeignKey("roles.id", ondelete="CASCADE"), nullable=False),
    PrimaryKeyConstraint("type", "actor_id", "target_id", "role_id"),
    Index("ix_role_assignments_actor", "actor_id"),
    Index("ix_role_assignments_target", "target_id"),
)

regions = Table(
    "regions", metadata,
    Column("id", String(255), primary_key=True),
    Column("description", Text, nullable=False, default=""),
    Column("parent_region_id", String(255), nullable=True),
    Column("extra", Text, nullable=False, default="{}"),
)

services = Table(
    "services", metadata,
    Column("id", String(64), primary_key=True),
    Column("type", String(255), nullable=False),
    Column("name", String(255), nullable=False, default=""),
    Column("description", Text, nullable=False, default=""),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("extra", Text, nullable=False, default="{}"),
)

endpoints = Table(
    "endpoints", metadata,
    Column("id", String(64), primary_key=True),
    Column("service_id", String(64), ForeignKey("services.id"), nullable=False),
    Column("region_id", String(255), ForeignKey("regions.id"), nullable=True),
    Column("interface", String(8), nullable=False),
    Column("url", Text, nullable=False),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("extra", Text, nullable=False, default="{}"),
    Index("ix_endpoints_service", "service_id"),
)

# scope_type: unscoped | project | domain | system; scope_id: project/domain id, "all", or NULL.
tokens = Table(
    "tokens", metadata,
    Column("id_hash", String(64), primary_key=True),
    Column("user_id", String(64), nullable=False),
    Column("scope_type", String(16), nullable=False),
    Column("scope_id", String(64), nullable=True),
    Column("methods", Text, nullable=False),
    Column("audit_id", String(32), nullable=False),
    Column("audit_chain_id", String(32), nullable=False),
    Column("issued_at", DateTime, nullable=False),
    Column("expires_at", DateTime, nullable=False),
    Column("revoked", Boolean, nullable=False, default=False),
    Index("ix_tokens_expires_at", "expires_at"),
    Index("ix_tokens_user_id", "user_id"),
)
