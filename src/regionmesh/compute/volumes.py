"""The lab Cinder v3 domain: volumes, snapshots, attachments and the RBD exclusive lock.

Compute calls :class:`VolumeAPI` in process, as Nova calls Cinder's API; the HTTP edge is
``regionmesh.api.volume_v3``. The "backend" is an RBD pool made of rows: creating is instant,
and deleting does what seed 004's patched ``RBDDriver.delete_volume`` does (VOL-01) — list the
lockers and break the first one's lock before removing the image, when its holder is gone. The
lock is taken by the host whose guest uses a root volume (VOL-02) and released when that guest is
destroyed; a host that dies keeps it, which is why a local delete needs the break (REG-22).

Quota usage is computed from live rows in the creating transaction (SQLite ``BEGIN IMMEDIATE``
serialises writers), so nothing can leak: a deleted volume simply stops counting.
"""

from __future__ import annotations

import json
import logging
import math
import uuid as uuidlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from regionmesh.compute import store
from regionmesh.compute.exceptions import BadRequest, ComputeError, Forbidden, NotFound
from regionmesh.compute.images import get_image
from regionmesh.context import RequestContext
from regionmesh.db import models as m
from regionmesh.db.clock import Clock, SystemClock, db_time
from regionmesh.db.engine import Database

LOG = logging.getLogger(__name__)

CREATING, AVAILABLE, RESERVED, ATTACHING, IN_USE = "creating", "available", "reserved", "attaching", "in-use"
DETACHING, DELETING, ERROR, ERROR_DELETING, DELETED = "detaching", "deleting", "error", "error_deleting", "deleted"
ATTACHED, DETACHED = "attached", "detached"
DELETABLE = (AVAILABLE, ERROR, "error_restoring", "error_extending", "error_managing", ERROR_DELETING)
ALL_STATUSES = (CREATING, AVAILABLE, RESERVED, ATTACHING, IN_USE, DETACHING, DELETING, ERROR, ERROR_DELETING)
SNAPSHOT_STATUSES = (CREATING, AVAILABLE, DELETING, ERROR, ERROR_DELETING)
DEFAULT_LIMITS = {"volumes": 10, "snapshots": 10, "gigabytes": 1000}


class OverLimit(ComputeError):
    """Cinder answers 413 ``overLimit`` for a volume or snapshot over quota."""

    code = 413
    key = "overLimit"


@dataclass
class VolumeConfig:
    """cinder.conf knobs that matter here; ``service_down_time`` judges lock holders (Nova's value)."""

    availability_zone: str = "nova"
    backend_host: str = "lab@rbd#rbd"
    service_down_time: float = 60.0
    quota_limits: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_LIMITS))


def _row(row: Any) -> dict[str, Any]:
    return dict(row._mapping)


def _invalid(message: str) -> BadRequest:
    return BadRequest(f"Invalid volume: {message}")


# ---- rows ------------------------------------------------------------------------------------------
def get_volume(conn: Connection, ctx: RequestContext | None, volume_id: str) -> dict[str, Any]:
    """A live volume visible to ``ctx`` (None: the service itself); 404 otherwise."""
    t = m.volumes
    row = conn.execute(select(t).where(t.c.id == volume_id, t.c.deleted_at.is_(None))).first()
    if row is None or (ctx is not None and not ctx.is_admin and row.project_id != ctx.project_id):
        raise NotFound(f"Volume {volume_id} could not be found.")
    return _row(row)


def volume_row(conn: Connection, volume_id: str) -> dict[str, Any] | None:
    """Any volume row, deleted ones included (tests and views of how a volume ended)."""
    row = conn.execute(select(m.volumes).where(m.volumes.c.id == volume_id)).first()
    return _row(row) if row is not None else None


def list_volumes(conn: Connection, project_id: str | None) -> list[dict[str, Any]]:
    t = m.volumes
    query = select(t).where(t.c.deleted_at.is_(None)).order_by(t.c.created_at.desc(), t.c.id)
    if project_id is not None:
        query = query.where(t.c.project_id == project_id)
    return [_row(r) for r in conn.execute(query)]


def get_snapshot(conn: Connection, ctx: RequestContext | None, snapshot_id: str) -> dict[str, Any]:
    t = m.volume_snapshots
    row = conn.execute(select(t).where(t.c.id == snapshot_id, t.c.deleted_at.is_(None))).first()
    if row is None or (ctx is not None and not ctx.is_admin and row.project_id != ctx.project_id):
        raise NotFound(f"Snapshot {snapshot_id} could not be found.")
    return _row(row)


def list_snapshots(conn: Connection, project_id: str | None, volume_id: str | None = None) -> list[dict[str, Any]]:
    t = m.volume_snapshots
    query = select(t).where(t.c.deleted_at.is_(None)).order_by(t.c.created_at.desc(), t.c.id)
    if project_id is not None:
        query = query.where(t.c.project_id == project_id)
    if volume_id is not None:
        query = query.where(t.c.volume_id == volume_id)
    return [_row(r) for r in conn.execute(query)]


def attachments(conn: Connection, volume_id: str, *, live: bool = True) -> list[dict[str, Any]]:
    t = m.volume_attachments
    query = select(t).where(t.c.volume_id == volume_id).order_by(t.c.attached_at, t.c.id)
    if live:
        query = query.where(t.c.attach_status == ATTACHED)
    return [_row(r) for r in conn.execute(query)]


def locks(conn: Connection, volume_id: str, *, active: bool = True) -> list[dict[str, Any]]:
    """The image's lockers, oldest first (``list_lockers``); ``active=False`` includes broken/released."""
    t = m.volume_locks
    query = select(t).where(t.c.volume_id == volume_id).order_by(t.c.id)
    if active:
        query = query.where(t.c.released_at.is_(None), t.c.broken_at.is_(None))
    return [_row(r) for r in conn.execute(query)]


def usage(conn: Connection, project_id: str) -> dict[str, int]:
    """In-use quota, counted from live rows (so a deleted volume can never stay counted)."""
    v, sn = m.volumes, m.volume_snapshots
    vols, vgb = conn.execute(select(func.count(), func.coalesce(func.sum(v.c.size), 0)).where(
        v.c.project_id == project_id, v.c.deleted_at.is_(None))).one()
    snaps, sgb = conn.execute(select(func.count(), func.coalesce(func.sum(sn.c.size), 0)).where(
        sn.c.project_id == project_id, sn.c.deleted_at.is_(None))).one()
    return {"volumes": int(vols), "snapshots": int(snaps), "gigabytes": int(vgb) + int(sgb)}


def _check_quota(conn: Connection, project_id: str, limits: dict[str, int], kind: str, size: int) -> None:
    used = usage(conn, project_id)
    limit = limits.get(kind, -1)
    if limit >= 0 and used[kind] + 1 > limit:
        raise OverLimit(f"Maximum number of {kind} allowed ({limit}) exceeded for quota '{kind}'.")
    gb = limits.get("gigabytes", -1)
    if gb >= 0 and used["gigabytes"] + size > gb:
        raise OverLimit(f"Requested volume or snapshot exceeds allowed gigabytes quota. Requested {size}G, quota is "
                        f"{gb}G and {used['gigabytes']}G has been consumed.")


def set_volume(conn: Connection, volume_id: str, now: datetime, *, expect: tuple[str, ...] | None = None,
         **values: Any) -> bool:
    """Compare-and-swap on status: False when the volume moved on (a concurrent action won)."""
    t = m.volumes
    cond = [t.c.id == volume_id, t.c.deleted_at.is_(None)]
    if expect is not None:
        cond.append(t.c.status.in_(expect))
    return bool(conn.execute(update(t).where(*cond).values(updated_at=db_time(now), **values)).rowcount)


def reserve(conn: Connection, ctx: RequestContext | None, volume_id: str, now: datetime) -> dict[str, Any]:
    """``os-reserve``: available → reserved (a boot or attach claims it before the host connects it)."""
    volume = get_volume(conn, ctx, volume_id)
    if volume["status"] != AVAILABLE or not set_volume(conn, volume_id, now, expect=(AVAILABLE,), status=RESERVED):
        raise _invalid(f"volume '{volume_id}' status must be 'available'. Currently in '{volume['status']}'")
    return volume


# ---- the service -----------------------------------------------------------------------------------
class VolumeAPI:
    """One region's volume service over the region's database (compute shares the database)."""

    def __init__(self, db: Database, clock: Clock | None = None, config: VolumeConfig | None = None) -> None:
        self.db = db
        self.clock = clock or SystemClock()
        self.config = config or VolumeConfig()

    def _tx(self, fn: Any) -> Any:
        return self.db.transaction(fn)

    # reads
    def get(self, ctx: RequestContext | None, volume_id: str) -> dict[str, Any]:
        with self.db.read() as conn:
            return get_volume(conn, ctx, volume_id)

    def row(self, volume_id: str) -> dict[str, Any] | None:
        with self.db.read() as conn:
            return volume_row(conn, volume_id)

    def usage(self, project_id: str) -> dict[str, int]:
        with self.db.read() as conn:
            return usage(conn, project_id)

    # create / delete
    def create(self, ctx: RequestContext, size: Any = None, *, name: str | None = None,
               description: str | None = None, image_id: str | None = None, snapshot_id: str | None = None,
               source_volid: str | None = None, availability_zone: str | None = None) -> dict[str, Any]:
        """VOL-06/07: validate the source, take quota, record ``creating``; the backend makes it ``available``."""
        if not ctx.project_id:
            raise BadRequest("A project-scoped token is required to create a volume.")
        zone = availability_zone or self.config.availability_zone
        if zone != self.config.availability_zone:
            raise BadRequest(f"Invalid input received: Availability zone '{zone}' is invalid.")
        now = self.clock.now()
        vid = str(uuidlib.uuid4())

        def record(conn: Connection) -> dict[str, Any]:
            want = size
            bootable = False
            if snapshot_id:
                snap = get_snapshot(conn, ctx, snapshot_id)
                if snap["status"] != AVAILABLE:
                    raise BadRequest(f"Invalid snapshot: Originating snapshot status must be one of 'available' "
                                     f"values (snapshot {snapshot_id} is {snap['status']}).")
                want = snap["size"] if want is None else want
                parent = volume_row(conn, snap["volume_id"])
                bootable = bool(parent and parent["bootable"])
            if source_volid:
                src = get_volume(conn, ctx, source_volid)
                if src["status"] not in (AVAILABLE, IN_USE):
                    raise _invalid(f"Volume {source_volid} status must be available or in-use.")
                want = src["size"] if want is None else want
                bootable = bool(src["bootable"])
            number = _size(want)
            if snapshot_id and number < snap["size"]:
                raise BadRequest(f"Invalid input received: Volume size '{number}'GB cannot be smaller than the "
                                 f"snapshot size {snap['size']}GB. They must be >= original snapshot size.")
            if source_volid and number < src["size"]:
                raise BadRequest("Invalid input received: Clones currently must be >= original volume size.")
            if image_id:
                image = get_image(conn, image_id)
                if image is None or (not ctx.is_admin and image["visibility"] not in ("public", "community")
                                     and image["owner"] != ctx.project_id):
                    raise BadRequest("Invalid image identifier or unable to access requested image.")
                if image["status"] != "active":
                    raise BadRequest(f"Invalid image: Image {image_id} is not active.")
                image_gb = math.ceil((image["size"] or 0) / 1024 ** 3)
                if max(image["min_disk"], image_gb) > number:
                    raise BadRequest(f"Invalid input received: Image minDisk size {max(image['min_disk'], image_gb)} "
                                     f"is larger than the volume size {number}.")
                bootable = True
            _check_quota(conn, ctx.project_id or "", self.config.quota_limits, "volumes", number)
            values = {"id": vid, "project_id": ctx.project_id, "user_id": ctx.user_id, "name": name,
                      "description": description, "size": number, "status": CREATING, "attach_status": DETACHED,
                      "availability_zone": zone, "host": None, "bootable": bootable, "image_id": image_id,
                      "snapshot_id": snapshot_id, "source_volid": source_volid, "created_at": db_time(now),
                      "updated_at": db_time(now), "deleted_at": None}
            conn.execute(insert(m.volumes).values(**values))
            return values

        self._tx(record)
        # The scheduler picks the (only) backend and the driver creates the image (VOL-06).
        self._tx(lambda c: set_volume(c, vid, self.clock.now(), expect=(CREATING,), status=AVAILABLE,
                                host=self.config.backend_host))
        return self.get(None, vid)

    def delete(self, ctx: RequestContext | None, volume_id: str, *, cascade: bool = False) -> str:
        """Accept a delete (state checks as Cinder's API), then run the backend delete; returns the end status.

        Returns ``deleted``, or ``error_deleting`` when the RBD image is locked by a live holder.
        """
        now = self.clock.now()

        def accept(conn: Connection) -> list[str]:
            volume = get_volume(conn, ctx, volume_id)
            snaps = list_snapshots(conn, None, volume_id)
            if volume["status"] not in DELETABLE or volume["attach_status"] == ATTACHED \
                    or attachments(conn, volume_id):
                raise _invalid("Volume status must be available or error or error_restoring or error_extending or "
                               "error_managing and must not be migrating, attached, belong to a group, have "
                               "snapshots or be disassociated from snapshots after volume transfer.")
            if snaps and not cascade:  # VOL-05
                raise _invalid(f"Volume {volume_id} still has {len(snaps)} dependent snapshots.")
            if any(sn["status"] not in (AVAILABLE, ERROR) for sn in snaps):
                raise _invalid("Snapshots must be available or error to be deleted with the volume.")
            if not set_volume(conn, volume_id, now, expect=(volume["status"],), status=DELETING):
                raise _invalid(f"Volume {volume_id} changed state concurrently.")
            return [sn["id"] for sn in snaps]

        snap_ids: list[str] = self._tx(accept)
        return str(self._tx(lambda c: self._backend_delete(c, volume_id, snap_ids)))

    def _backend_delete(self, conn: Connection, volume_id: str, snap_ids: list[str]) -> str:
        """VOL-01: list lockers; break the first one's lock if its holder is gone; then remove the image."""
        now = self.clock.now()
        lockers = locks(conn, volume_id)
        if lockers:
            first = lockers[0]
            if not self._holder_gone(conn, first):
                LOG.warning("rbd image volume-%s is busy: locked by %s", volume_id, first["holder_host"])
                set_volume(conn, volume_id, now, status=ERROR_DELETING)
                return ERROR_DELETING
            LOG.debug("Unlock the rbd volume %s firstly.", f"volume-{volume_id}")
            conn.execute(update(m.volume_locks).where(m.volume_locks.c.id == first["id"])
                         .values(broken_at=db_time(now)))
            if len(lockers) > 1:  # exclusive lock: there is one; anything else is equally stale
                conn.execute(update(m.volume_locks).where(m.volume_locks.c.volume_id == volume_id,
                                                          m.volume_locks.c.broken_at.is_(None),
                                                          m.volume_locks.c.released_at.is_(None))
                             .values(broken_at=db_time(now)))
        t = m.volume_snapshots
        if snap_ids:
            conn.execute(update(t).where(t.c.id.in_(snap_ids)).values(status=DELETED, deleted_at=db_time(now),
                                                                     updated_at=db_time(now)))
        set_volume(conn, volume_id, now, status=DELETED, deleted_at=db_time(now))
        return DELETED

    def _holder_gone(self, conn: Connection, lock: dict[str, Any]) -> bool:
        """The holder's compute service is down (or unknown), or its instance is gone or being deleted."""
        service = store.get_service(conn, lock["holder_host"])
        if not store.service_is_up(service, self.clock.now(), self.config.service_down_time):
            return True
        if not lock["instance_uuid"]:
            return False
        try:
            instance = store.get_instance(conn, lock["instance_uuid"])
        except NotFound:
            return True
        return bool(instance["task_state"] == store.DELETING)

    # snapshots
    def create_snapshot(self, ctx: RequestContext, volume_id: str, *, name: str | None = None,
                        description: str | None = None, force: bool = False) -> dict[str, Any]:
        """VOL-09: the volume must be available (in-use only with ``force``); the snapshot ends available."""
        now = self.clock.now()
        sid = str(uuidlib.uuid4())

        def record(conn: Connection) -> dict[str, Any]:
            volume = get_volume(conn, ctx, volume_id)
            allowed = (AVAILABLE, IN_USE) if force else (AVAILABLE,)
            if volume["status"] not in allowed:
                raise _invalid(f"Volume {volume_id} status must be available, but current status is: "
                               f"{volume['status']}.")
            _check_quota(conn, volume["project_id"], self.config.quota_limits, "snapshots", volume["size"])
            values = {"id": sid, "project_id": volume["project_id"], "volume_id": volume_id, "name": name,
                      "description": description, "size": volume["size"], "status": AVAILABLE,
                      "created_at": db_time(now), "updated_at": db_time(now), "deleted_at": None}
            conn.execute(insert(m.volume_snapshots).values(**values))
            return values

        return dict(self._tx(record))

    def delete_snapshot(self, ctx: RequestContext, snapshot_id: str) -> None:
        """VOL-09: available or error, and no live volume created from it."""
        now = self.clock.now()

        def work(conn: Connection) -> None:
            snap = get_snapshot(conn, ctx, snapshot_id)
            if snap["status"] not in (AVAILABLE, ERROR):
                raise BadRequest(f"Invalid snapshot: Snapshot status must be available or error and must not be "
                                 f"part of a group (it is {snap['status']}).")
            v = m.volumes
            users = conn.execute(select(v.c.id).where(v.c.snapshot_id == snapshot_id,
                                                      v.c.deleted_at.is_(None))).all()
            if users:
                raise BadRequest(f"Invalid snapshot: Snapshot {snapshot_id} has dependent volumes: "
                                 f"{', '.join(r.id for r in users)}.")
            t = m.volume_snapshots
            conn.execute(update(t).where(t.c.id == snapshot_id).values(status=DELETED, deleted_at=db_time(now),
                                                                       updated_at=db_time(now)))

        self._tx(work)

    # attach / detach (what Nova calls)
    def reserve(self, ctx: RequestContext | None, volume_id: str) -> None:
        self._tx(lambda c: reserve(c, ctx, volume_id, self.clock.now()))

    def unreserve(self, ctx: RequestContext | None, volume_id: str) -> None:
        """``os-unreserve``: a claimed but never attached volume goes back to available."""
        def work(conn: Connection) -> None:
            get_volume(conn, ctx, volume_id)
            if not attachments(conn, volume_id):
                set_volume(conn, volume_id, self.clock.now(), expect=(RESERVED, ATTACHING), status=AVAILABLE)
        self._tx(work)

    def initialize_connection(self, ctx: RequestContext | None, volume_id: str,
                              connector: dict[str, Any]) -> dict[str, Any]:
        """Connection info for the host (rbd); a reserved volume starts attaching."""
        def work(conn: Connection) -> dict[str, Any]:
            volume = get_volume(conn, ctx, volume_id)
            if volume["status"] in (RESERVED, ATTACHING):
                set_volume(conn, volume_id, self.clock.now(), expect=(RESERVED, ATTACHING), status=ATTACHING)
            elif volume["status"] not in (IN_USE, DETACHING):
                raise _invalid(f"Volume {volume_id} status must be reserved or in-use, not {volume['status']}.")
            return {"driver_volume_type": "rbd", "data": {"name": f"volumes/volume-{volume_id}",
                                                          "hosts": ["127.0.0.1"], "ports": ["6789"],
                                                          "auth_enabled": False, "discard": True}}
        return dict(self._tx(work))

    def attach(self, ctx: RequestContext | None, volume_id: str, instance_uuid: str | None, host_name: str | None,
               mountpoint: str, connector: dict[str, Any] | None = None) -> str:
        """``os-attach``: reserved/attaching → in-use with an attachment record (VOL-08)."""
        now = self.clock.now()
        aid = str(uuidlib.uuid4())

        def work(conn: Connection) -> str:
            volume = get_volume(conn, ctx, volume_id)
            if not set_volume(conn, volume_id, now, expect=(RESERVED, ATTACHING), status=IN_USE,
                        attach_status=ATTACHED):
                raise _invalid(f"Volume {volume_id} status must be reserved or attaching, not {volume['status']}.")
            conn.execute(insert(m.volume_attachments).values(
                id=aid, volume_id=volume_id, instance_uuid=instance_uuid, attached_host=host_name,
                mountpoint=mountpoint, attach_status=ATTACHED, connector=json.dumps(connector or {}),
                attached_at=db_time(now), detached_at=None))
            return aid
        return str(self._tx(work))

    def begin_detaching(self, ctx: RequestContext | None, volume_id: str) -> None:
        def work(conn: Connection) -> None:
            volume = get_volume(conn, ctx, volume_id)
            moved = volume["attach_status"] == ATTACHED and set_volume(conn, volume_id, self.clock.now(),
                                                                        expect=(IN_USE,), status=DETACHING)
            if not moved:
                raise _invalid(f"Unable to detach volume. Volume status must be 'in-use' and attach_status must be "
                               f"'attached' to detach (it is {volume['status']}/{volume['attach_status']}).")
        self._tx(work)

    def roll_detaching(self, ctx: RequestContext | None, volume_id: str) -> None:
        self._tx(lambda c: set_volume(c, volume_id, self.clock.now(), expect=(DETACHING,), status=IN_USE))

    def terminate_connection(self, ctx: RequestContext | None, volume_id: str, connector: dict[str, Any]) -> None:
        """The host stops using the connection; the guest's RBD lock is not the connection's to release."""
        self.get(ctx, volume_id)

    def detach(self, ctx: RequestContext | None, volume_id: str, attachment_id: str | None = None,
               *, force: bool = False) -> None:
        """``os-detach``: needs in-use (or detaching) and attached (VOL-08); ends available once unattached."""
        now = self.clock.now()

        def work(conn: Connection) -> None:
            volume = get_volume(conn, ctx, volume_id)
            live = attachments(conn, volume_id)
            if not force and (volume["status"] not in (IN_USE, DETACHING) or volume["attach_status"] != ATTACHED):
                raise _invalid(f"Unable to detach volume. Volume status must be 'in-use' and attach_status must be "
                               f"'attached' to detach (it is {volume['status']}/{volume['attach_status']}).")
            if attachment_id is not None and attachment_id not in {a["id"] for a in live}:
                raise NotFound(f"Volume attachment {attachment_id} could not be found.")
            t = m.volume_attachments
            targets = [attachment_id] if attachment_id else [a["id"] for a in live]
            conn.execute(update(t).where(t.c.id.in_(targets)).values(attach_status=DETACHED,
                                                                     detached_at=db_time(now)))
            if not attachments(conn, volume_id):
                set_volume(conn, volume_id, now, status=AVAILABLE, attach_status=DETACHED)
        self._tx(work)

    # admin actions
    def reset_status(self, ctx: RequestContext, volume_id: str, status: str | None,
                     attach_status: str | None) -> None:
        if not ctx.is_admin:
            raise Forbidden("Policy doesn't allow volume_extension:volume_admin_actions:reset_status to be "
                            "performed.")
        if status is not None and status not in ALL_STATUSES:
            raise BadRequest(f"Invalid input received: Must specify a valid status (got {status}).")
        if attach_status is not None and attach_status not in (ATTACHED, DETACHED):
            raise BadRequest(f"Invalid input received: Must specify a valid attach status (got {attach_status}).")
        pairs = (("status", status), ("attach_status", attach_status))
        values: dict[str, Any] = {k: val for k, val in pairs if val is not None}
        if not values:
            raise BadRequest("Invalid input received: Must specify 'status' or 'attach_status' to update.")
        self._tx(lambda c: get_volume(c, ctx, volume_id) and set_volume(c, volume_id, self.clock.now(), **values))

    def reset_snapshot_status(self, ctx: RequestContext, snapshot_id: str, status: str | None) -> None:
        """Admin repair of a snapshot's status (Cinder's snapshot ``os-reset_status``)."""
        if not ctx.is_admin:
            raise Forbidden("Policy doesn't allow volume_extension:snapshot_admin_actions:reset_status to be "
                            "performed.")
        if status not in SNAPSHOT_STATUSES:
            raise BadRequest(f"Invalid input received: Must specify a valid status (got {status}).")
        t = m.volume_snapshots

        def work(conn: Connection) -> None:
            get_snapshot(conn, ctx, snapshot_id)
            conn.execute(update(t).where(t.c.id == snapshot_id).values(status=status,
                                                                       updated_at=db_time(self.clock.now())))

        self._tx(work)

    def force_detach(self, ctx: RequestContext, volume_id: str, attachment_id: str | None,
                     connector: dict[str, Any] | None) -> None:
        """VOL-11: terminate and detach whatever the recorded state, to repair attaching/detaching mismatches."""
        if not ctx.is_admin:
            raise Forbidden("Policy doesn't allow volume_extension:volume_admin_actions:force_detach to be "
                            "performed.")
        self.terminate_connection(ctx, volume_id, connector or {})
        self.detach(ctx, volume_id, attachment_id, force=True)
        self._tx(lambda c: not attachments(c, volume_id) and set_volume(c, volume_id, self.clock.now(),
                                                                    status=AVAILABLE, attach_status=DETACHED))

    # the RBD lock (taken and released by compute hosts' guests)
    def acquire_lock(self, volume_id: str, host: str, instance_uuid: str) -> None:
        """The guest opened the image with exclusive-lock (a root disk, VOL-02)."""
        def work(conn: Connection) -> None:
            if not locks(conn, volume_id):
                conn.execute(insert(m.volume_locks).values(
                    volume_id=volume_id, holder_host=host, instance_uuid=instance_uuid,
                    cookie=f"auto {uuidlib.uuid4().int % 10 ** 15}", acquired_at=db_time(self.clock.now())))
        self._tx(work)

    def release_locks(self, host: str, instance_uuid: str, volume_id: str | None = None) -> None:
        """The guest is gone (or the disk unplugged): its locks are released by their holder."""
        t = m.volume_locks
        cond = [t.c.holder_host == host, t.c.instance_uuid == instance_uuid, t.c.released_at.is_(None),
                t.c.broken_at.is_(None)]
        if volume_id is not None:
            cond.append(t.c.volume_id == volume_id)
        self._tx(lambda c: c.execute(update(t).where(*cond).values(released_at=db_time(self.clock.now()))))

    def locks(self, volume_id: str, *, active: bool = True) -> list[dict[str, Any]]:
        with self.db.read() as conn:
            return locks(conn, volume_id, active=active)


def _size(value: Any) -> int:
    try:
        number = int(value)
        if isinstance(value, bool) or (number != value and str(number) != str(value)):
            raise ValueError
    except (TypeError, ValueError):
        number = 0
    if number <= 0:
        raise BadRequest(f"Invalid input received: Volume size '{value}' must be an integer and greater than 0")
    return number
