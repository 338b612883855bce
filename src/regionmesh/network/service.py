"""The base of every resource service: how a collection is stored, read and shown.

A service owns one collection's SQL (insert, update, delete, load) and its domain rules; the
generic request pipeline (``pipeline.py``) does everything that is the same for all resources.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy import Connection, Select, and_, bindparam, delete, insert, select, update
from sqlalchemy.sql.elements import ColumnElement

from regionmesh.context import RequestContext
from regionmesh.db.models import tags as tags_table
from regionmesh.network import exceptions as exc
from regionmesh.network.attributes import ResourceDef
from regionmesh.network.query import ColumnMap, ListParams, filter_clauses, paged_select

if TYPE_CHECKING:
    from regionmesh.network.core import NetworkCore


_TAGS_OF = select(tags_table.c.resource_id, tags_table.c.tag).where(
    tags_table.c.resource_type == bindparam("rtype"), tags_table.c.resource_id.in_(bindparam("ids", expanding=True)))


def utcnow() -> datetime:
    """Naive UTC with second precision, as Neutron stores and shows timestamps."""
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def fmt_time(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def new_id() -> str:
    return str(uuid.uuid4())


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def loads(value: str | None, default: Any) -> Any:
    return json.loads(value) if value else default


def to_bool(value: str) -> bool:
    lowered = value.lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    raise ValueError(f"'{value}' is not a boolean")


class ResourceService:
    """Storage and rules of one collection. Subclasses fill the class attributes and hooks."""

    rdef: ClassVar[ResourceDef]
    table: ClassVar[Any]
    not_found: ClassVar[type[exc.NotFound]]
    conflict: ClassVar[type[exc.NeutronException]] = exc.Conflict
    # Columns that share the API attribute's name; others are mapped in ``extra_columns``.
    extra_columns: ClassVar[Mapping[str, str]] = {}
    bool_filters: ClassVar[frozenset[str]] = frozenset()
    int_filters: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, core: NetworkCore) -> None:
        self.core = core
        self.db = core.db
        self.settings = core.settings
        cols: dict[str, Any] = {}
        for name in self.rdef.attrs:
            colname = self.extra_columns.get(name, name)
            if colname in self.table.c:
                cols[name] = self.table.c[colname]
        if "tenant_id" in self.rdef.attrs:
            cols["tenant_id"] = self.table.c.project_id
        converters: dict[str, Any] = {n: to_bool for n in self.bool_filters}
        converters.update({n: int for n in self.int_filters | {"revision_number"}})
        self.cmap = ColumnMap(table=self.table, columns=cols, converters=converters,
                              hooks=self.filter_hooks(),
                              tag_type=self.rdef.collection if self.rdef.taggable else None)

    # ---- hooks -------------------------------------------------------------------------------
    def filter_hooks(self) -> dict[str, Any]:
        return {}

    def visible_clause(self, ctx: RequestContext) -> ColumnElement[bool] | None:
        """Rows a non-admin caller may see; ``None`` means all (admin)."""
        if ctx.is_admin:
            return None
        return self.table.c.project_id == ctx.project_id

    def load(self, conn: Connection, rows: Sequence[Any]) -> list[dict[str, Any]]:
        """Build API dicts for rows (with their related data), in the same order."""
        raise NotImplementedError

    def policy_target(self, conn: Connection, ctx: RequestContext, item: Mapping[str, Any]) -> dict[str, Any]:
        """The dict policy rules see for ``item`` (adds e.g. its network's owner)."""
        target = dict(item)
        target.setdefault("tenant_id", target.get("project_id"))
        return target

    def check_references(self, conn: Connection, ctx: RequestContext, item: Mapping[str, Any]) -> None:
        """Before policy: a parent the caller cannot see is reported missing (404), as Neutron does."""

    def prepare_create(self, conn: Connection, ctx: RequestContext, item: dict[str, Any]) -> None:
        """Checks before the write transaction (read-only)."""

    def before_list(self, ctx: RequestContext) -> None:
        """Work a list implies (Neutron creates the default security group on first list)."""

    def extra_quota(self, items: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, int]]:
        """Other quota resources a create consumes ({resource: {project: amount}}), reserved with it."""
        return {}

    def implied_changes(self, changes: dict[str, Any]) -> dict[str, Any]:
        """What an update body means beyond what it says (a blank floating IP update disassociates)."""
        return changes

    def delete_first(self, conn: Connection, original: Mapping[str, Any]) -> list[tuple[str, str]]:
        """(collection, id) of resources Neutron deletes before this one, each a delete of its own
        (its BEFORE_DELETE work, e.g. an external network's unassociated floating IPs)."""
        return []

    def create_one(self, conn: Connection, ctx: RequestContext, item: dict[str, Any]) -> str:
        raise NotImplementedError

    def update_one(self, conn: Connection, ctx: RequestContext, original: dict[str, Any],
                   changes: dict[str, Any]) -> None:
        raise NotImplementedError

    def delete_one(self, conn: Connection, ctx: RequestContext, original: dict[str, Any]) -> None:
        conn.execute(delete(self.table).where(self.table.c.id == original["id"]))

    # ---- shared helpers ----------------------------------------------------------------------
    def standard_values(self, ctx: RequestContext, item: Mapping[str, Any]) -> dict[str, Any]:
        now = utcnow()
        values: dict[str, Any] = {
            "id": item.get("id") or new_id(),
            "project_id": item.get("project_id"),
            "description": item.get("description", "") or "",
            "created_at": now,
            "updated_at": now,
            "revision_number": 1,
        }
        if "name" in self.table.c:
            values["name"] = item.get("name", "") or ""
        return values

    def standard_view(self, row: Any) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": row.id,
            "project_id": row.project_id,
            "tenant_id": row.project_id,
            "description": row.description,
            "created_at": fmt_time(row.created_at),
            "updated_at": fmt_time(row.updated_at),
            "revision_number": row.revision_number,
        }
        if "name" in row._mapping:
            out["name"] = row.name
        return out

    def insert_tags(self, conn: Connection, resource_id: str, tags: Iterable[str]) -> None:
        tags = sorted(set(tags))
        if tags and self.rdef.taggable:
            conn.execute(insert(tags_table), [
                {"resource_type": self.rdef.collection, "resource_id": resource_id, "tag": t} for t in tags])

    def load_tags(self, conn: Connection, ids: Sequence[str]) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {i: [] for i in ids}
        if not self.rdef.taggable or not ids:
            return out
        rows = conn.execute(_TAGS_OF, {"rtype": self.rdef.collection, "ids": list(ids)})
        for rid, tag in rows:
            out[rid].append(tag)
        for v in out.values():
            v.sort()
        return out

    def bump(self, conn: Connection, resource_id: str, values: Mapping[str, Any] | None = None) -> None:
        """Apply ``values`` and count one revision (every change bumps ``revision_number``)."""
        stmt = update(self.table).where(self.table.c.id == resource_id).values(
            **(values or {}), updated_at=utcnow(), revision_number=self.table.c.revision_number + 1)
        conn.execute(stmt)

    def base_select(self) -> Select[Any]:
        return select(self.table)

    def fetch_rows(self, conn: Connection, ids: Sequence[str]) -> list[Any]:
        if not ids:
            return []
        rows = {r.id: r for r in conn.execute(self.base_select().where(self.table.c.id.in_(list(ids))))}
        return [rows[i] for i in ids if i in rows]

    def get_many(self, conn: Connection, ids: Sequence[str]) -> list[dict[str, Any]]:
        return self.load(conn, self.fetch_rows(conn, ids))

    def get_raw(self, conn: Connection, ctx: RequestContext | None, resource_id: str) -> dict[str, Any]:
        """The resource as the API shows it, or ``not_found`` (also when the caller may not see it)."""
        stmt = self.base_select().where(self.table.c.id == resource_id)
        if ctx is not None:
            clause = self.visible_clause(ctx)
            if clause is not None:
                stmt = stmt.where(clause)
        row = conn.execute(stmt).first()
        if row is None:
            raise self.not_found(id=resource_id)
        return self.load(conn, [row])[0]

    def list_raw(self, conn: Connection, ctx: RequestContext, params: ListParams) -> tuple[list[dict[str, Any]],
                                                                                           bool]:
        stmt = self.base_select()
        clauses = filter_clauses(self.cmap, params)
        visible = self.visible_clause(ctx)
        if visible is not None:
            clauses.append(visible)
        if clauses:
            stmt = stmt.where(and_(*clauses))
        rows, more = paged_select(conn, self.cmap, params, stmt, self.rdef.member)
        return self.load(conn, rows), more

    def exists(self, conn: Connection, resource_id: str) -> bool:
        return conn.execute(select(self.table.c.id).where(self.table.c.id == resource_id)).first() is not None
