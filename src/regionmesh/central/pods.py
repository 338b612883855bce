"""The pod registry: one pod per region, the top (central) region being the pod whose az_name is ''.

Domain functions over an open connection; the caller owns the transaction. The anchor's rules are
kept (one top region, region names unique, a pod may not reuse the top region's name) and its gaps
closed: values are type- and length-checked, pods can be updated (dc_name, pod_az_name) and a pod
still referenced by routings is refused with 409 instead of failing on the foreign key with a 500.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, text, update
from sqlalchemy.engine import Row

from regionmesh.central import exceptions as exc
from regionmesh.db.clock import db_time, format_time, utcnow
from regionmesh.db.models import pods, resource_routings

NAME_MAX = 255
UPDATABLE = frozenset({"dc_name", "pod_az_name"})
FIELDS = ("pod_id", "region_name", "az_name", "pod_az_name", "dc_name")


@dataclass(frozen=True, slots=True)
class Pod:
    """One registered region."""

    pod_id: str
    region_name: str
    az_name: str
    pod_az_name: str
    dc_name: str
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def is_top(self) -> bool:
        return self.az_name == ""

    def to_dict(self) -> dict[str, Any]:
        """The Admin API's view (the anchor's five fields plus timestamps)."""
        return {"pod_id": self.pod_id, "region_name": self.region_name, "az_name": self.az_name,
                "pod_az_name": self.pod_az_name, "dc_name": self.dc_name,
                "created_at": format_time(self.created_at), "updated_at": format_time(self.updated_at)}


def _pod(row: Row[Any]) -> Pod:
    m = row._mapping
    return Pod(pod_id=m["pod_id"], region_name=m["region_name"], az_name=m["az_name"],
               pod_az_name=m["pod_az_name"], dc_name=m["dc_name"], created_at=m["created_at"],
               updated_at=m["updated_at"])


def clean_name(field: str, value: Any, max_len: int = NAME_MAX) -> str:
    """A stripped string field (missing → ''), as the anchor read them; wrong types are 400, not 500."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise exc.InvalidRequest(msg=f"Field {field} must be a string")
    value = value.strip()
    if len(value) > max_len:
        raise exc.InvalidRequest(msg=f"Field {field} is longer than {max_len} characters")
    return value


def _serialize_writers(conn: Connection) -> None:
    """One top region / unique names are checked then written: serialise pod writers on PostgreSQL.

    SQLite writers are already serialised by BEGIN IMMEDIATE. Pod changes are rare admin operations,
    so a table lock costs nothing and closes the check-then-insert race for good.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(text("LOCK TABLE pods IN SHARE ROW EXCLUSIVE MODE"))


# ---- reads --------------------------------------------------------------------------------------
def list_pods(conn: Connection) -> list[Pod]:
    return [_pod(r) for r in conn.execute(select(pods).order_by(pods.c.region_name))]


def get_pod(conn: Connection, pod_id: str) -> Pod:
    row = conn.execute(select(pods).where(pods.c.pod_id == pod_id)).first()
    if row is None:
        raise exc.PodNotFound(pod_id=pod_id)
    return _pod(row)


def get_pod_by_region(conn: Connection, region_name: str) -> Pod | None:
    row = conn.execute(select(pods).where(pods.c.region_name == region_name)).first()
    return _pod(row) if row is not None else None


def get_top_pod(conn: Connection) -> Pod | None:
    """The central region's pod (az_name ''), or None before it is registered."""
    row = conn.execute(select(pods).where(pods.c.az_name == "", pods.c.region_name != "")).first()
    return _pod(row) if row is not None else None


def pods_for_hint(conn: Connection, name: str) -> list[Pod]:
    """Every pod an availability-zone hint may place a resource in.

    A region name means that region; otherwise every pod of that availability zone (several pods
    may share one az_name). Unknown names raise ``PodRegionNotFound``.
    """
    name = name.strip() if isinstance(name, str) else ""
    if not name:
        raise exc.PodRegionNotFound(name=repr(name))
    pod = get_pod_by_region(conn, name)
    if pod is not None:
        return [pod]
    rows = conn.execute(select(pods).where(pods.c.az_name == name).order_by(pods.c.region_name)).all()
    if not rows:
        raise exc.PodRegionNotFound(name=name)
    return [_pod(r) for r in rows]


def find_pod_by_az_or_region(conn: Connection, name: str) -> Pod:
    """Exactly one pod for a region or availability-zone name (the anchor's helper).

    A region name always wins; an availability zone with several pods is ambiguous here
    (``MultiplePodsFound``) — use :func:`pods_for_hint` where several are fine.
    """
    found = pods_for_hint(conn, name)
    if len(found) > 1:
        raise exc.MultiplePodsFound()
    return found[0]


# ---- writes -------------------------------------------------------------------------------------
def create_pod(conn: Connection, *, region_name: Any, az_name: Any = "", pod_az_name: Any = "",
               dc_name: Any = "", now: datetime | None = None, pod_id: str | None = None) -> Pod:
    """Register a region, with the anchor's rules and messages (422/409)."""
    region = clean_name("region_name", region_name)
    az = clean_name("az_name", az_name)
    pod_az = clean_name("pod_az_name", pod_az_name)
    dc = clean_name("dc_name", dc_name)
    _serialize_writers(conn)
    top = get_top_pod(conn)
    if az == "":
        if not region:
            raise exc.PodRegionRequired(kind="top region")
        if top is not None:
            raise exc.TopRegionExists()
        pod_az = ""  # the top region never passes an AZ to a local Neutron
    else:
        if not region:
            raise exc.PodRegionRequired(kind="pod")
        if top is not None and top.region_name == region:
            raise exc.PodDuplicatesTopRegion()
    if get_pod_by_region(conn, region) is not None:
        raise exc.PodExists()
    pod = Pod(pod_id=pod_id or str(uuid.uuid4()), region_name=region, az_name=az, pod_az_name=pod_az,
              dc_name=dc, created_at=db_time(now) if now else utcnow())
    conn.execute(insert(pods).values(pod_id=pod.pod_id, region_name=region, az_name=az, pod_az_name=pod_az,
                                     dc_name=dc, created_at=pod.created_at, updated_at=None))
    return pod


def update_pod(conn: Connection, pod_id: str, changes: Mapping[str, Any], *, now: datetime | None = None) -> Pod:
    """Change dc_name and/or pod_az_name (the anchor had no update).

    Other fields may be echoed back unchanged (a GET-then-PUT client) but not changed: region and AZ
    identify where routings and placement point, so they are immutable.
    """
    _serialize_writers(conn)
    pod = get_pod(conn, pod_id)
    current = {f: getattr(pod, f) for f in FIELDS}
    values: dict[str, str] = {}
    refused: list[str] = []
    for key, value in changes.items():
        if key in UPDATABLE:
            values[key] = clean_name(key, value)
        elif key in current and isinstance(value, str) and value.strip() == current[key]:
            continue
        else:
            refused.append(key)
    if refused:
        raise exc.InvalidRequest(msg="Only dc_name and pod_az_name can be updated, not: "
                                     + ", ".join(sorted(refused)))
    if pod.is_top and values.get("pod_az_name"):
        raise exc.InvalidRequest(msg="pod_az_name must stay empty for the top region")
    if values:
        stamp = db_time(now) if now else utcnow()
        conn.execute(update(pods).where(pods.c.pod_id == pod_id).values(**values, updated_at=stamp))
    return get_pod(conn, pod_id)


def delete_pod(conn: Connection, pod_id: str) -> None:
    """Remove a pod; refused (409) while routings still point at it."""
    get_pod(conn, pod_id)
    count = conn.execute(select(func.count()).select_from(resource_routings)
                         .where(resource_routings.c.pod_id == pod_id)).scalar_one()
    if count:
        raise exc.PodInUse(pod_id=pod_id, count=count)
    conn.execute(delete(pods).where(pods.c.pod_id == pod_id))


def pods_by_ids(conn: Connection, pod_ids: list[str]) -> dict[str, Pod]:
    """Pods keyed by id (for views that join routings to regions)."""
    if not pod_ids:
        return {}
    rows = conn.execute(select(pods).where(pods.c.pod_id.in_(set(pod_ids))))
    return {r.pod_id: _pod(r) for r in rows}
