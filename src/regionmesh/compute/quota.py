"""Compute quotas (instances, cores, ram) with Nova's reserve → commit/rollback discipline.

A reservation is rows of deltas; ``commit`` folds them into usage, ``rollback`` drops them. Every
path that reserves ends in one of the two, in the same transaction as the state change it guards
where possible, so nothing leaks when a boot or delete fails.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, case, delete, func, insert, select, update

from regionmesh.compute.exceptions import QuotaExceeded
from regionmesh.db import models as m
from regionmesh.db.clock import db_time

DEFAULT_LIMITS = {"instances": 10, "cores": 20, "ram": 51200}


def usage(conn: Connection, project_id: str) -> dict[str, int]:
    t = m.compute_quota_usages
    out = dict.fromkeys(DEFAULT_LIMITS, 0)
    for row in conn.execute(select(t).where(t.c.project_id == project_id)):
        out[row.resource] = row.in_use
    return out


def _pending_increase(conn: Connection, project_id: str, resource: str) -> int:
    t = m.compute_quota_reservations
    value = conn.execute(select(func.coalesce(func.sum(t.c.delta), 0)).where(
        t.c.project_id == project_id, t.c.resource == resource, t.c.delta > 0)).scalar()
    return int(value or 0)


def reserved(conn: Connection, project_id: str) -> dict[str, int]:
    """Pending increases per resource (Nova's ``reserved``: releases are not shown until committed)."""
    return {resource: _pending_increase(conn, project_id, resource) for resource in DEFAULT_LIMITS}


def reserve(conn: Connection, project_id: str, deltas: dict[str, int], limits: dict[str, int], now: datetime,
            instance_uuid: str | None = None) -> str:
    """Reserve ``deltas``; raises :class:`QuotaExceeded` (Nova's message) when an increase would not fit."""
    used = usage(conn, project_id)
    for resource, delta in deltas.items():
        if delta <= 0:
            continue
        limit = limits.get(resource, -1)
        current = used[resource] + _pending_increase(conn, project_id, resource)
        if limit >= 0 and current + delta > limit:
            raise QuotaExceeded(f"Quota exceeded for {resource}: Requested {delta}, but already used "
                                f"{current} of {limit} {resource}")
    rid = str(uuid.uuid4())
    for resource, delta in deltas.items():
        conn.execute(insert(m.compute_quota_reservations).values(
            id=rid, project_id=project_id, instance_uuid=instance_uuid, resource=resource, delta=delta,
            created_at=db_time(now)))
    return rid


def commit(conn: Connection, reservation: str) -> None:
    t, u = m.compute_quota_reservations, m.compute_quota_usages
    for row in conn.execute(select(t).where(t.c.id == reservation)).all():
        changed = conn.execute(update(u).where(u.c.project_id == row.project_id, u.c.resource == row.resource)
                               .values(in_use=case((u.c.in_use + row.delta < 0, 0),
                                                            else_=u.c.in_use + row.delta))).rowcount
        if not changed:
            conn.execute(insert(u).values(project_id=row.project_id, resource=row.resource,
                                          in_use=max(row.delta, 0)))
    conn.execute(delete(t).where(t.c.id == reservation))


def rollback(conn: Connection, reservation: str) -> None:
    conn.execute(delete(m.compute_quota_reservations).where(m.compute_quota_reservations.c.id == reservation))


def reservations_for(conn: Connection, instance_uuid: str) -> list[str]:
    t = m.compute_quota_reservations
    return sorted({r.id for r in conn.execute(select(t.c.id).where(t.c.instance_uuid == instance_uuid))})


def instance_deltas(instance: dict[str, int], sign: int) -> dict[str, int]:
    return {"instances": sign, "cores": sign * instance["vcpus"], "ram": sign * instance["memory_mb"]}


def settle_release(conn: Connection, instance: dict[str, Any], reservation: str | None, now: datetime) -> None:
    """An instance is gone: release its usage exactly once, whichever delete paths reserved for it.

    Two deletes can hold release reservations for one instance (a cast the dead host never ran, then a
    local delete); one is committed, the rest rolled back, and if none survived one is made and committed.
    A soft-deleted instance (``soft_deleted_at`` set) was released by its soft delete: every release is
    rolled back and none is made, so the usage is not decremented twice (REG-24, Launchpad 1333145).
    """
    t = m.compute_quota_reservations
    releases = sorted({r.id for r in conn.execute(select(t.c.id).where(
        t.c.instance_uuid == instance["uuid"], t.c.resource == "instances", t.c.delta < 0))})
    if instance.get("soft_deleted_at") is not None:
        for rid in releases:
            rollback(conn, rid)
        return
    keep = reservation if reservation in releases else (releases[0] if releases else None)
    for rid in releases:
        if rid != keep:
            rollback(conn, rid)
    if keep is None:
        keep = reserve(conn, instance["project_id"], instance_deltas(instance, -1), {}, now, instance["uuid"])
    commit(conn, keep)
