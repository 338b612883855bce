"""Deleting markers: "this top resource is being deleted", so regions do not lazily re-create it.

The marker lives in its own committed transaction for the whole cross-region delete (other
processes must see it while bottom copies go), and :func:`deleting` removes it in ``finally`` — seed
000's bug was a marker leaked by an exception. The primary key makes a second concurrent delete of
the same resource fail with 409 ``ResourceIsInDeleting`` (the anchor's migration had no key).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy import Connection, delete, select

from regionmesh.central import exceptions as exc
from regionmesh.central.routings import dialect_insert
from regionmesh.db.clock import db_time, utcnow
from regionmesh.db.engine import Database
from regionmesh.db.models import deleting_resources

LOG = logging.getLogger(__name__)
_T = deleting_resources.c


def mark_deleting(conn: Connection, resource_id: str, resource_type: str, *, now: datetime | None = None) -> None:
    """Insert the marker; a marker already there means someone else is deleting it (409)."""
    stmt = (dialect_insert(conn, deleting_resources)
            .values(resource_id=resource_id, resource_type=resource_type,
                    deleted_at=db_time(now) if now else utcnow())
            .on_conflict_do_nothing(index_elements=["resource_id", "resource_type"]))
    if conn.execute(stmt).rowcount == 0:
        raise exc.ResourceIsInDeleting(resource_id=resource_id, resource_type=resource_type)


def unmark(conn: Connection, resource_id: str, resource_type: str) -> bool:
    """Remove the marker; False when there was none."""
    result = conn.execute(delete(deleting_resources).where(_T.resource_id == resource_id,
                                                           _T.resource_type == resource_type))
    return bool(result.rowcount)


def is_deleting(conn: Connection, resource_id: str, resource_type: str | None = None) -> bool:
    """Whether a marker exists (for any type when ``resource_type`` is None)."""
    query = select(_T.resource_id).where(_T.resource_id == resource_id)
    if resource_type is not None:
        query = query.where(_T.resource_type == resource_type)
    return conn.execute(query.limit(1)).first() is not None


def ensure_not_deleting(conn: Connection, resource_id: str, resource_type: str, *, for_region: bool = False) -> None:
    """OQ-05: 409 ``ResourceIsInDeleting`` for ordinary clients; 404 for a region's lazy lookup."""
    if is_deleting(conn, resource_id, resource_type):
        if for_region:
            raise exc.ResourceNotFoundWhileDeleting(resource_id=resource_id, resource_type=resource_type)
        raise exc.ResourceIsInDeleting(resource_id=resource_id, resource_type=resource_type)


def clear_stale(conn: Connection, *, older_than: datetime) -> int:
    """Drop markers set before ``older_than`` (a process that died between mark and finally)."""
    return conn.execute(delete(deleting_resources).where(_T.deleted_at < db_time(older_than))).rowcount


@contextmanager
def deleting(db: Database, resource_id: str, resource_type: str, *, now: datetime | None = None) -> Iterator[None]:
    """Hold the marker for the body of the ``with``; it is removed whatever happens inside.

    If the marker cannot be set (someone else is deleting), nothing is removed: it is not ours.
    """
    db.transaction(lambda conn: mark_deleting(conn, resource_id, resource_type, now=now))
    body_ok = False
    try:
        yield
        body_ok = True
    finally:
        try:
            db.transaction(lambda conn: unmark(conn, resource_id, resource_type))
        except Exception:
            LOG.exception("could not remove the deleting marker of %s %s; clear_stale() will", resource_type,
                          resource_id)
            if body_ok:  # otherwise the body's own error is the one to report
                raise
