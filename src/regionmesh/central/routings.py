"""Resource routings: the only map from a top resource to its bottom copies (top id, pod, type → bottom id).

Two audiences. The Admin API's CRUD (``create_routing`` …) validates like the anchor did — plus the
pod check the anchor forgot on create. Central logic and job handlers use the internal helpers
(``add_routing`` idempotent, ``bottom_routings``, ``delete_routings``), which accept the internal
resource types too (shadow ports, NS routers, …). A row with a NULL bottom id is a placeholder
("the bottom copy is being created") that readers skip.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, delete, exists, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError

from regionmesh.central import exceptions as exc
from regionmesh.central.pods import Pod, get_pod, pods_by_ids
from regionmesh.db.clock import db_time, format_time, utcnow
from regionmesh.db.models import pods, resource_routings

# Types an operator may write through the Admin API (the anchor's ``is_valid_resource_type``).
API_RESOURCE_TYPES = ("network", "subnet", "port", "router", "security_group", "trunk", "port_pair",
                      "port_pair_group", "flow_classifier", "port_chain", "qos_policy")
# Types only RegionMesh itself records (the anchor stored them too but rejected them at the API).
INTERNAL_RESOURCE_TYPES = ("shadow_network", "shadow_subnet", "shadow_port", "ns_router", "floatingip")
RESOURCE_TYPES = frozenset(API_RESOURCE_TYPES + INTERNAL_RESOURCE_TYPES)

FILTERS = ("id", "top_id", "bottom_id", "pod_id", "project_id", "resource_type", "created_at", "updated_at")
EDITABLE = ("top_id", "bottom_id", "pod_id", "project_id", "resource_type")
MAX_LEN = {"top_id": 127, "bottom_id": 36, "pod_id": 36, "project_id": 255, "resource_type": 64}
_KEY = ("top_id", "pod_id", "resource_type")


@dataclass(frozen=True, slots=True)
class Routing:
    id: int
    top_id: str
    bottom_id: str | None
    pod_id: str
    project_id: str | None
    resource_type: str
    created_at: datetime | None = None
    updated_at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "top_id": self.top_id, "bottom_id": self.bottom_id, "pod_id": self.pod_id,
                "project_id": self.project_id, "resource_type": self.resource_type,
                "created_at": format_time(self.created_at), "updated_at": format_time(self.updated_at)}


def _routing(row: Row[Any]) -> Routing:
    m = row._mapping
    return Routing(id=int(m["id"]), top_id=m["top_id"], bottom_id=m["bottom_id"], pod_id=m["pod_id"],
                   project_id=m["project_id"], resource_type=m["resource_type"], created_at=m["created_at"],
                   updated_at=m["updated_at"])


def dialect_insert(conn: Connection, table: Table) -> postgresql.Insert | sqlite.Insert:
    """INSERT with ``on_conflict_*`` for the connection's dialect (PostgreSQL and SQLite both have it)."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    if conn.dialect.name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"database dialect {conn.dialect.name} is not supported")


def parse_int(label: str, raw: Any) -> int:
    """The anchor's integer parameter check and message (Limit, Marker, Id)."""
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise exc.InvalidRequest(msg=f"{label} should be an integer or a valid literal for int() rather "
                                     f"than '{raw}'") from None


def _parse_time(field: str, raw: str) -> datetime:
    try:
        return db_time(datetime.fromisoformat(raw.strip().replace(" ", "T")))
    except ValueError:
        raise exc.InvalidRequest(msg=f"Invalid {field} '{raw}': use ISO 8601, e.g. 2030-01-31T12:00:00Z") \
            from None


def _field(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise exc.FieldEmpty(field=name)
    value = value.strip()
    if len(value) > MAX_LEN[name]:
        raise exc.InvalidRequest(msg=f"Field {name} is longer than {MAX_LEN[name]} characters")
    return value


def _check_pod(conn: Connection, pod_id: str) -> None:
    if conn.execute(select(pods.c.pod_id).where(pods.c.pod_id == pod_id)).first() is None:
        raise exc.RoutingPodMissing(pod_id=pod_id)


# ---- Admin API CRUD -----------------------------------------------------------------------------
def get_routing(conn: Connection, routing_id: int | str) -> Routing:
    try:
        rid = int(routing_id)
    except (TypeError, ValueError):
        raise exc.RoutingNotFound() from None
    row = conn.execute(select(resource_routings).where(resource_routings.c.id == rid)).first()
    if row is None:
        raise exc.RoutingNotFound()
    return _routing(row)


def create_routing(conn: Connection, fields: Mapping[str, Any], *, now: datetime | None = None) -> Routing:
    """An operator's routing: all five fields required, API types only, the pod must exist."""
    values = {name: _field(name, fields.get(name)) for name in EDITABLE}
    if values["resource_type"] not in API_RESOURCE_TYPES:
        raise exc.InvalidResourceType()
    _check_pod(conn, values["pod_id"])
    stamp = db_time(now) if now else utcnow()
    stmt = (dialect_insert(conn, resource_routings).values(**values, created_at=stamp, updated_at=None)
            .on_conflict_do_nothing(index_elements=list(_KEY)).returning(resource_routings.c.id))
    new_id = conn.execute(stmt).scalar()
    if new_id is None:
        raise exc.RoutingExists()
    return get_routing(conn, new_id)


def update_routing(conn: Connection, routing_id: int | str, changes: Mapping[str, Any], *,
                   now: datetime | None = None) -> Routing:
    """Change any of the five fields; the id is fixed. The new pod must exist, the key stay unique."""
    current = get_routing(conn, routing_id)
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise exc.InvalidRequest(msg="Unsupported field(s): " + ", ".join(unknown))
    values = {name: _field(name, value) for name, value in changes.items()}
    if "resource_type" in values and values["resource_type"] not in API_RESOURCE_TYPES:
        raise exc.InvalidResourceType()
    if "pod_id" in values:
        _check_pod(conn, values["pod_id"])
    if values:
        stamp = db_time(now) if now else utcnow()
        try:
            with conn.begin_nested():
                conn.execute(update(resource_routings).where(resource_routings.c.id == current.id)
                             .values(**values, updated_at=stamp))
        except IntegrityError:
            raise exc.RoutingExists() from None
    return get_routing(conn, current.id)


def delete_routing(conn: Connection, routing_id: int | str) -> None:
    current = get_routing(conn, routing_id)
    conn.execute(delete(resource_routings).where(resource_routings.c.id == current.id))


def list_routings(conn: Connection, filters: Mapping[str, str], *, limit: int,
                  marker: Any = None) -> tuple[list[Routing], bool]:
    """A page of routings, newest id first, with exact-match filters; returns (page, more after it)."""
    unknown = sorted(set(filters) - set(FILTERS))
    if unknown:
        raise exc.InvalidRequest(msg="Unsupported filter type: " + ", ".join(unknown))
    query = select(resource_routings)
    for name, raw in filters.items():
        value: Any = raw
        if name == "id":
            value = parse_int("Id", raw)
        elif name in ("created_at", "updated_at"):
            value = _parse_time(name, raw)
        query = query.where(resource_routings.c[name] == value)
    if marker is not None:
        mark = parse_int("Marker", marker)
        if conn.execute(select(resource_routings.c.id).where(resource_routings.c.id == mark)).first() is None:
            raise exc.InvalidMarker(marker=marker)
        query = query.where(resource_routings.c.id < mark)
    rows = conn.execute(query.order_by(resource_routings.c.id.desc()).limit(limit + 1)).all()
    return [_routing(r) for r in rows[:limit]], len(rows) > limit


# ---- internal helpers ---------------------------------------------------------------------------
def get_routing_by_key(conn: Connection, top_id: str, pod_id: str, resource_type: str) -> Routing | None:
    row = conn.execute(select(resource_routings).where(
        resource_routings.c.top_id == top_id, resource_routings.c.pod_id == pod_id,
        resource_routings.c.resource_type == resource_type)).first()
    return _routing(row) if row is not None else None


def _insert_if_absent(conn: Connection, top_id: str, bottom_id: str | None, pod_id: str, project_id: str | None,
                      resource_type: str, now: datetime | None) -> bool:
    if resource_type not in RESOURCE_TYPES:
        raise exc.InvalidResourceType()
    get_pod(conn, pod_id)
    stamp = db_time(now) if now else utcnow()
    stmt = (dialect_insert(conn, resource_routings)
            .values(top_id=top_id, bottom_id=bottom_id, pod_id=pod_id, project_id=project_id,
                    resource_type=resource_type, created_at=stamp, updated_at=None)
            .on_conflict_do_nothing(index_elements=list(_KEY)).returning(resource_routings.c.id))
    return conn.execute(stmt).scalar() is not None


def add_routing(conn: Connection, top_id: str, bottom_id: str | None, pod_id: str, project_id: str | None,
                resource_type: str, *, now: datetime | None = None, may_exist: bool = True) -> Routing:
    """Record that ``top_id`` has the bottom copy ``bottom_id`` in ``pod_id`` (race-free upsert).

    ``may_exist`` (ovsdbapp-style): an existing row is fine and returned; a placeholder (NULL bottom
    id) is filled in. Pointing an existing routing at a *different* bottom id is a conflict: the
    table must only ever hold real bottom ids (seed 000's bug). ``may_exist=False``: any row → 409.
    """
    if _insert_if_absent(conn, top_id, bottom_id, pod_id, project_id, resource_type, now):
        found = get_routing_by_key(conn, top_id, pod_id, resource_type)
        assert found is not None
        return found
    if not may_exist:
        raise exc.RoutingExists()
    existing = get_routing_by_key(conn, top_id, pod_id, resource_type)
    assert existing is not None
    if bottom_id is None or existing.bottom_id == bottom_id:
        return existing
    if existing.bottom_id is not None:
        raise exc.RoutingBottomMismatch(resource_type=resource_type, top_id=top_id, pod_id=pod_id,
                                        existing=existing.bottom_id, bottom_id=bottom_id)
    stamp = db_time(now) if now else utcnow()
    conn.execute(update(resource_routings).where(resource_routings.c.id == existing.id,
                                                 resource_routings.c.bottom_id.is_(None))
                 .values(bottom_id=bottom_id, updated_at=stamp))
    found = get_routing_by_key(conn, top_id, pod_id, resource_type)
    assert found is not None
    return found


def try_claim_routing(conn: Connection, top_id: str, pod_id: str, project_id: str | None, resource_type: str,
                      *, now: datetime | None = None) -> bool:
    """Insert a placeholder (NULL bottom id); True only for the caller that created it (the claim)."""
    return _insert_if_absent(conn, top_id, None, pod_id, project_id, resource_type, now)


def bottom_routings(conn: Connection, top_id: str, resource_type: str) -> list[tuple[Pod, str]]:
    """(pod, bottom id) for every real bottom copy of ``top_id``; placeholders are skipped."""
    rows = conn.execute(select(resource_routings.c.pod_id, resource_routings.c.bottom_id)
                        .join(pods, pods.c.pod_id == resource_routings.c.pod_id)
                        .where(resource_routings.c.top_id == top_id,
                               resource_routings.c.resource_type == resource_type,
                               resource_routings.c.bottom_id.is_not(None))
                        .order_by(pods.c.region_name)).all()
    by_id = pods_by_ids(conn, [r.pod_id for r in rows])
    return [(by_id[r.pod_id], r.bottom_id) for r in rows]


def get_bottom_id_by_top_id_region_name(conn: Connection, top_id: str, region_name: str,
                                        resource_type: str) -> str | None:
    """RR-02: the bottom id of ``top_id`` in the named region, or None (no routing, or a placeholder)."""
    return conn.execute(select(resource_routings.c.bottom_id)
                        .join(pods, pods.c.pod_id == resource_routings.c.pod_id)
                        .where(resource_routings.c.top_id == top_id, pods.c.region_name == region_name,
                               resource_routings.c.resource_type == resource_type)).scalar()


def delete_routings(conn: Connection, top_id: str, resource_type: str, pod_id: str | None = None) -> int:
    """Drop the routings of ``top_id`` (in one pod, or all); returns how many went."""
    stmt = delete(resource_routings).where(resource_routings.c.top_id == top_id,
                                           resource_routings.c.resource_type == resource_type)
    if pod_id is not None:
        stmt = stmt.where(resource_routings.c.pod_id == pod_id)
    return conn.execute(stmt).rowcount


def project_owns(conn: Connection, project_id: str, resource_type: str, top_id: str) -> bool:
    """Whether a routing says ``top_id`` belongs to ``project_id`` (the anchor's job-create check)."""
    return bool(conn.execute(select(exists().where(
        resource_routings.c.project_id == project_id, resource_routings.c.resource_type == resource_type,
        resource_routings.c.top_id == top_id))).scalar())
