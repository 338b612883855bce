"""Soft delete, restore and reclaim (Nova's ``reclaim_instance_interval``), API side and host side.

With ``reclaim_instance_interval`` > 0, ``DELETE /servers/{id}`` goes through seed 004's ``_delete``
as ``soft_delete``: SOFT_DELETING is saved, a quota release is reserved, and the host powers the
guest off and commits that release in the same transaction that makes the instance SOFT_DELETED
(``soft_deleted_at`` set — the marker that its quota is already released). ``restore`` re-reserves
the quota (403 when it no longer fits) and the host powers the guest on again. The host's periodic
reclaim deletes soft-deleted instances older than the interval. Deleting a soft-deleted instance
(``forceDelete``, DELETE, or reclaim) never releases the quota a second time (REG-24).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from regionmesh.compute import quota
from regionmesh.compute import store as s
from regionmesh.compute.exceptions import Conflict
from regionmesh.compute.runtime import Runtime
from regionmesh.context import RequestContext
from regionmesh.db.clock import db_time

if TYPE_CHECKING:
    from regionmesh.compute.hosts import HostWorker
    from regionmesh.compute.manager import ComputeManager

LOG = logging.getLogger(__name__)

# vm_states of an instance that has run on a host (Nova's ``must_have_launched``); others are deleted.
SOFT_DELETABLE = (s.ACTIVE, s.STOPPED, s.SHELVED, s.RESIZED)


def soft_deletable(instance: dict[str, Any]) -> bool:
    """Whether DELETE may keep the instance restorable: it ran on a host and is not soft-deleted already."""
    return bool(instance["host"]) and instance["vm_state"] in SOFT_DELETABLE


def _invalid(action: str, instance: dict[str, Any]) -> Conflict:
    attr, state = ("task_state", instance["task_state"]) if instance["task_state"] is not None \
        else ("vm_state", instance["vm_state"])
    return Conflict(f"Cannot '{action}' instance {instance['uuid']} while it is in {attr} {state}")


class SoftDeleteAPI:
    """``restore`` for one region's compute API (soft delete itself is a delete type of ``ComputeAPI``)."""

    def __init__(self, rt: Runtime, hosts: dict[str, HostWorker],
                 get: Callable[[RequestContext, str], dict[str, Any]]) -> None:
        self.rt = rt
        self.hosts = hosts
        self.get = get

    def restore(self, ctx: RequestContext, uuid: str) -> None:
        """Nova's ``restore``: SOFT_DELETED only (409), quota re-reserved and committed here (403 when over)."""
        instance = self.get(ctx, uuid)
        if instance["vm_state"] != s.SOFT_DELETED or instance["task_state"] is not None:
            raise _invalid("restore", instance)
        now = self.rt.clock.now()
        host = instance["host"]

        def work(conn: Any) -> None:
            rid = quota.reserve(conn, instance["project_id"], quota.instance_deltas(instance, 1),
                                self.rt.config.quota_limits, now, uuid)
            values: dict[str, Any] = {"task_state": s.RESTORING} if host else \
                {"vm_state": s.ACTIVE, "task_state": None}
            if not s.update_instance(conn, uuid, now, expect={"vm_state": s.SOFT_DELETED, "task_state": None},
                                     soft_deleted_at=None, **values):
                raise _invalid("restore", s.get_instance(conn, uuid))  # the transaction drops the reservation
            quota.commit(conn, rid)  # soft_deleted_at cleared with it: a later delete releases again

        self.rt.db.transaction(work)
        if host:
            self.hosts[host].cast("restore_instance", uuid)


class HostSoftDelete:
    """The host's ``soft_delete_instance``, ``restore_instance`` and ``_reclaim_queued_deletes``."""

    def __init__(self, manager: ComputeManager) -> None:
        self.m = manager
        self.rt = manager.rt
        self.host = manager.host

    def soft_delete(self, uuid: str, reservation: str | None) -> None:
        """Power the guest off; SOFT_DELETED and the quota release commit together (or roll back together)."""
        if self.m._get(uuid) is None:
            if reservation:
                self.rt.db.transaction(lambda c: quota.rollback(c, reservation))
            return
        self.rt.notifier.info("compute.instance.soft_delete.start", {"instance_id": uuid, "host": self.host})
        self.m.driver.power_off(uuid)  # Nova's fallback when the driver has no soft_delete
        now = self.rt.clock.now()

        def work(conn: Any) -> bool:
            ok = s.update_instance(conn, uuid, now, expect={"task_state": s.SOFT_DELETING}, vm_state=s.SOFT_DELETED,
                                   task_state=None, power_state=s.POWER_SHUTDOWN, soft_deleted_at=db_time(now))
            if reservation:
                (quota.commit if ok else quota.rollback)(conn, reservation)
            return ok

        if self.rt.db.transaction(work):
            self.rt.notifier.info("compute.instance.soft_delete.end", {"instance_id": uuid, "host": self.host})
        else:
            LOG.info("instance %s changed during soft delete (deleted meanwhile); nothing to record", uuid)

    def restore(self, uuid: str) -> None:
        """Power the guest on again and make the instance ACTIVE (the API already took the quota back)."""
        if self.m._get(uuid) is None:
            return
        self.m.driver.power_on(uuid)
        self.rt.db.transaction(lambda c: s.update_instance(
            c, uuid, self.rt.clock.now(), expect={"task_state": s.RESTORING}, vm_state=s.ACTIVE, task_state=None,
            power_state=s.POWER_RUNNING))

    def reclaim_queued_deletes(self) -> list[str]:
        """Delete this host's SOFT_DELETED instances older than ``reclaim_instance_interval``; no quota
        moves (their soft delete released it). Returns the reclaimed uuids."""
        interval = self.rt.config.reclaim_instance_interval
        if interval <= 0:
            return []
        now = self.rt.clock.now()
        with self.rt.db.read() as conn:
            due = s.soft_deleted_before(conn, self.host, now - timedelta(seconds=interval))
        reclaimed = []
        for instance in due:
            uuid = instance["uuid"]
            if not self.rt.db.transaction(lambda c, u=uuid: s.update_instance(  # type: ignore[misc]
                    c, u, now, expect={"vm_state": s.SOFT_DELETED, "task_state": None}, task_state=s.DELETING)):
                continue  # restored or deleted meanwhile
            LOG.info("Reclaiming deleted instance %s", uuid)
            try:
                self.m.terminate(uuid, None)
            except Exception:  # Nova logs and tries again next period
                LOG.exception("reclaiming %s failed", uuid)
                continue
            reclaimed.append(uuid)
        return reclaimed
