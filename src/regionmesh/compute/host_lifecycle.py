"""The host side of shelve / unshelve and resize (nova/compute/manager.py's handlers for those casts).

Runs on a host's worker thread. Every step is a compare-and-swap on the task_state the API (or the
previous step) saved, so a delete that arrived meanwhile wins: the handler sees the row moved on
and only undoes what it did itself. A resize hops between hosts exactly as Nova's does
(``resize_instance`` on the source → ``finish_resize`` on the destination; ``revert_resize`` on the
destination → ``finish_revert_resize`` on the source) through the manager's ``rpc`` cast.
"""

from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING, Any

from regionmesh.compute import block_device as bd
from regionmesh.compute import images, quota
from regionmesh.compute import store as s
from regionmesh.compute.exceptions import ComputeError, Forbidden, NotFound
from regionmesh.compute.runtime import Runtime, service_context
from regionmesh.context import RequestContext
from regionmesh.db.clock import db_time

if TYPE_CHECKING:
    from regionmesh.compute.manager import ComputeManager

LOG = logging.getLogger(__name__)


def delete_shelved_snapshot(rt: Runtime, ctx: RequestContext, instance: dict[str, Any]) -> None:
    """CMP-12 / REG-25: remove the snapshot named by ``shelved_image_id``; never stop the caller over it."""
    snapshot_id = s.system_metadata(instance).get("shelved_image_id")
    if not snapshot_id:
        return
    LOG.info("Working on deleting snapshot %s from shelved instance... (%s)", snapshot_id, instance["uuid"])
    try:
        rt.db.transaction(lambda c: images.remove(c, ctx, snapshot_id))
    except (NotFound, Forbidden) as exc:  # ImageNotFound / ImageNotAuthorized
        LOG.warning("Failed to delete snapshot from shelved instance (%s).", exc.message)
    except Exception:
        LOG.exception("Something wrong happened when trying to delete snapshot from shelved instance.")


def record_confirm(rt: Runtime, migration: dict[str, Any]) -> bool:
    """The database half of a confirm: migration confirmed, vm_state back from resized (Nova keeps
    stopped instances stopped). False when the migration was not being confirmed any more."""
    now = rt.clock.now()

    def work(conn: Any) -> bool:
        if not s.update_migration(conn, migration["id"], now, expect="confirming", status="confirmed"):
            return False
        back = s.STOPPED if migration["old_vm_state"] == s.STOPPED else s.ACTIVE
        s.update_instance(conn, migration["instance_uuid"], now, expect={"vm_state": s.RESIZED}, vm_state=back)
        return True

    return bool(rt.db.transaction(work))


class HostLifecycle:
    """Shelve and resize handlers of one host's manager."""

    def __init__(self, manager: ComputeManager) -> None:
        self.m = manager
        self.rt = manager.rt
        self.host = manager.host

    def _cas(self, uuid: str, expect: dict[str, Any], **values: Any) -> bool:
        return bool(self.rt.db.transaction(lambda c: s.update_instance(c, uuid, self.rt.clock.now(), expect=expect,
                                                                       **values)))

    def _ctx(self, instance: dict[str, Any]) -> RequestContext:
        return service_context(instance["project_id"], instance["user_id"])

    def _give_up(self, uuid: str, task_state: str, err: Exception) -> None:
        """Nova's ``reverts_task_state``: the instance keeps its vm_state, the task is cleared, fault kept."""
        message = err.message if isinstance(err, ComputeError) else f"{type(err).__name__}: {err}"
        LOG.warning("%s of %s on %s failed: %s", task_state, uuid, self.host, message)
        self._cas(uuid, {"task_state": task_state}, task_state=None, fault=s.fault_json(message, self.rt.clock.now()))

    # ---- shelve ----------------------------------------------------------------------------------
    def shelve(self, uuid: str, image_id: str) -> None:
        """Power off, snapshot into the queued image, SHELVED; offload right away when shelved_offload_time is 0."""
        instance = self.m._get(uuid)
        if instance is None or not self._cas(uuid, {"task_state": s.SHELVING},
                                             task_state=s.SHELVING_IMAGE_UPLOADING):
            LOG.info("instance %s changed before shelving; dropping its snapshot image", uuid)
            self._drop_image(image_id)
            return
        try:
            self.m.driver.power_off(uuid)
            data = self.m.driver.snapshot(uuid)
            self.rt.db.transaction(lambda c: images.upload(c, self._ctx(instance), image_id, data,
                                                           self.rt.clock.now()))
        except Exception as err:
            self._drop_image(image_id)
            if instance["vm_state"] == s.ACTIVE:
                self.m.driver.power_on(uuid)
            self._give_up(uuid, s.SHELVING_IMAGE_UPLOADING, err)
            return
        now = self.rt.clock.now()
        meta = {**s.system_metadata(instance), "shelved_at": db_time(now).isoformat(), "shelved_image_id": image_id,
                "shelved_host": self.host}
        offload = self.rt.config.shelved_offload_time == 0
        if not self._cas(uuid, {"task_state": s.SHELVING_IMAGE_UPLOADING}, vm_state=s.SHELVED,
                         power_state=s.POWER_SHUTDOWN, system_metadata=s.dump_metadata(meta),
                         task_state=s.SHELVING_OFFLOADING if offload else None):
            self._drop_image(image_id)  # deleted meanwhile, before it was recorded as shelved
            return
        if offload:
            self.shelve_offload(uuid)

    def _drop_image(self, image_id: str) -> None:
        with contextlib.suppress(NotFound):
            self.rt.db.transaction(lambda c: images.remove(c, service_context(None), image_id))

    def shelve_offload(self, uuid: str) -> None:
        """Guest destroyed, volume connections closed, ports bound to no host, host cleared."""
        instance = self.m._get(uuid)
        if instance is None or instance["task_state"] not in (s.SHELVING_OFFLOADING, s.SHELVING):
            return
        ctx = self._ctx(instance)
        self.m.driver.power_off(uuid)
        self.m._destroy_guest(uuid)  # also releases the RBD locks its disks held
        with self.rt.db.read() as conn:
            volumes = [b["volume_id"] for b in bd.bdms(conn, uuid) if b["volume_id"]]
            ports = s.instance_ports(conn, uuid)
        for vid in volumes:
            self.rt.volumes.terminate_connection(ctx, vid, self.m.connector())
        for port in ports:
            self.rt.neutron.clear_binding_host(ctx, port["port_id"])
        meta = s.system_metadata(instance)
        meta.setdefault("shelved_at", db_time(self.rt.clock.now()).isoformat())
        meta.setdefault("shelved_host", self.host)
        if not self._cas(uuid, {"task_state": instance["task_state"]}, vm_state=s.SHELVED_OFFLOADED, task_state=None,
                         power_state=s.POWER_NOSTATE, host=None, system_metadata=s.dump_metadata(meta)):
            LOG.info("instance %s changed while offloading; leaving it to whoever changed it", uuid)

    def unshelve(self, uuid: str) -> None:
        """Still here (SHELVED): power on. Offloaded: bind the ports here, attach volumes, spawn from the
        snapshot. Either way the snapshot image is deleted and the shelved_* metadata forgotten."""
        instance = self.m._get(uuid)
        if instance is None or instance["task_state"] != s.UNSHELVING:
            return
        meta = s.system_metadata(instance)
        image_id = meta.get("shelved_image_id")
        try:
            if instance["vm_state"] == s.SHELVED:
                self.m.driver.power_on(uuid)
            else:
                self._spawn_here(instance, image_id)
        except Exception as err:
            if instance["vm_state"] == s.SHELVED_OFFLOADED:
                self._undo_spawn(instance)
            self._give_up(uuid, s.UNSHELVING, err)
            return
        if image_id:
            delete_shelved_snapshot(self.rt, self._ctx(instance), instance)
        rest = {k: v for k, v in meta.items() if not k.startswith("shelved_")}
        if not self._cas(uuid, {"task_state": s.UNSHELVING}, vm_state=s.ACTIVE, task_state=None,
                         power_state=s.POWER_RUNNING, host=self.host, system_metadata=s.dump_metadata(rest)):
            LOG.info("instance %s changed while unshelving (being deleted)", uuid)

    def _spawn_here(self, instance: dict[str, Any], image_id: str | None) -> None:
        uuid, ctx = instance["uuid"], self._ctx(instance)
        az = instance["availability_zone"] or self.rt.config.availability_zone
        with self.rt.db.read() as conn:
            ports = s.instance_ports(conn, uuid)
            volumes = [b for b in bd.bdms(conn, uuid) if b["volume_id"]]
        for port in ports:
            self.rt.neutron.bind_port(ctx, port["port_id"], self.host, uuid, az)
        for bdm in volumes:
            self.rt.volumes.initialize_connection(ctx, bdm["volume_id"], self.m.connector())
        with self.rt.db.read() as conn:
            ports = s.instance_ports(conn, uuid)
        self.m.driver.spawn({**instance, "image_id": image_id or instance["image_id"]}, ports)
        self.m._lock_root_volume(uuid)

    def _undo_spawn(self, instance: dict[str, Any]) -> None:
        uuid = instance["uuid"]
        self.m._destroy_guest(uuid)
        with self.rt.db.read() as conn:
            ports = s.instance_ports(conn, uuid)
        for port in ports:
            try:
                self.rt.neutron.clear_binding_host(self._ctx(instance), port["port_id"])
            except ComputeError as err:
                LOG.warning("could not unbind port %s of %s: %s", port["port_id"], uuid, err.message)
        self._cas(uuid, {"task_state": s.UNSHELVING}, host=None)

    # ---- resize ----------------------------------------------------------------------------------
    def _migration(self, migration_id: int) -> dict[str, Any]:
        with self.rt.db.read() as conn:
            return s.get_migration(conn, migration_id)

    def resize_instance(self, migration_id: int) -> None:
        """Source host: power the guest off (it stays, for a revert) and hand over to the destination."""
        migration = self._migration(migration_id)
        uuid = migration["instance_uuid"]
        now = self.rt.clock.now()

        def start(conn: Any) -> bool:
            return s.update_instance(conn, uuid, now, expect={"task_state": s.RESIZE_PREP},
                                     task_state=s.RESIZE_MIGRATING) and \
                s.update_migration(conn, migration_id, now, expect="pre-migrating", status="migrating")

        if not self.rt.db.transaction(start):
            self._abandon(migration)
            return
        self.m.driver.power_off(uuid)
        self.rt.volumes.release_locks(self.host, uuid)  # the disks move with the instance

        def hand_over(conn: Any) -> bool:
            return s.update_instance(conn, uuid, now, expect={"task_state": s.RESIZE_MIGRATING},
                                     task_state=s.RESIZE_FINISH) and \
                s.update_migration(conn, migration_id, now, expect="migrating", status="post-migrating")

        if not self.rt.db.transaction(hand_over):
            self._abandon(migration)
            return
        self.m.rpc(migration["dest_compute"], "finish_resize", migration_id)

    def _abandon(self, migration: dict[str, Any]) -> None:
        """The instance moved on (deleted): the migration and its pending quota go with it."""
        LOG.info("instance %s changed during its resize; abandoning migration %s", migration["instance_uuid"],
                 migration["id"])

        def work(conn: Any) -> None:
            if migration["reservation_id"]:
                quota.rollback(conn, migration["reservation_id"])
            s.update_migration(conn, migration["id"], self.rt.clock.now(), status="error")

        self.rt.db.transaction(work)

    def _instance_in(self, migration: dict[str, Any], task_state: str) -> dict[str, Any] | None:
        """The migration's instance while it is still in ``task_state``; otherwise the migration is abandoned."""
        instance = self.m._get(migration["instance_uuid"])
        if instance is None or instance["task_state"] != task_state:
            self._abandon(migration)
            return None
        return instance

    def finish_resize(self, migration_id: int) -> None:
        """Destination: bind the ports here, spawn with the new flavor, apply it and commit its quota."""
        migration = self._migration(migration_id)
        uuid = migration["instance_uuid"]
        instance = self._instance_in(migration, s.RESIZE_FINISH)
        if instance is None:
            return
        new = _flavor(migration, "new")
        stopped = migration["old_vm_state"] == s.STOPPED
        try:
            self._move_here(instance, {**instance, **new}, power_off=stopped)
        except Exception as err:  # Nova puts a failed finish_resize in ERROR
            message = err.message if isinstance(err, ComputeError) else f"{type(err).__name__}: {err}"
            self._cas(uuid, {"task_state": s.RESIZE_FINISH}, task_state=None, vm_state=s.ERROR,
                      fault=s.fault_json(message, self.rt.clock.now()))
            self._abandon(migration)
            return
        self._settle(migration, s.RESIZE_FINISH, s.RESIZED, new, stopped, "finished")

    def _move_here(self, instance: dict[str, Any], spawned: dict[str, Any], power_off: bool) -> None:
        """Ports bound to this host, the guest spawned here (powered off again if it was stopped)."""
        uuid, ctx = instance["uuid"], self._ctx(instance)
        az = instance["availability_zone"] or self.rt.config.availability_zone
        with self.rt.db.read() as conn:
            ports = s.instance_ports(conn, uuid)
        for port in ports:
            self.rt.neutron.bind_port(ctx, port["port_id"], self.host, uuid, az)
        with self.rt.db.read() as conn:
            ports = s.instance_ports(conn, uuid)
        self.m.driver.spawn(spawned, ports)
        if power_off:
            self.m.driver.power_off(uuid)
        self.m._lock_root_volume(uuid)

    def confirm_resize(self, migration_id: int) -> None:
        """Source: the old guest goes (unless source and destination are one host), then the records."""
        migration = self._migration(migration_id)
        if migration["status"] != "confirming":
            return
        if migration["source_compute"] != migration["dest_compute"]:
            self.m.driver.destroy(migration["instance_uuid"])
        record_confirm(self.rt, migration)

    def revert_resize(self, migration_id: int) -> None:
        """Destination: drop the new guest, then the source takes the instance back."""
        migration = self._migration(migration_id)
        if self._instance_in(migration, s.RESIZE_REVERTING) is None:
            return
        if migration["source_compute"] != migration["dest_compute"]:
            self.m._destroy_guest(migration["instance_uuid"])
        else:
            self.rt.volumes.release_locks(self.host, migration["instance_uuid"])
        self.m.rpc(migration["source_compute"], "finish_revert_resize", migration_id)

    def finish_revert_resize(self, migration_id: int) -> None:
        """Source: ports back here, the old flavor back, the kept guest powered on, the quota given back."""
        migration = self._migration(migration_id)
        uuid = migration["instance_uuid"]
        instance = self._instance_in(migration, s.RESIZE_REVERTING)
        if instance is None:
            return
        old = _flavor(migration, "old")
        stopped = migration["old_vm_state"] == s.STOPPED
        same_host = migration["source_compute"] == migration["dest_compute"]
        if same_host or self.m.driver.power_state(uuid) is None:  # its guest was replaced (or lost): spawn again
            self._move_here(instance, {**instance, **old}, power_off=stopped)
        else:
            self._move_here_kept(instance, power_on=not stopped)
        self._settle(migration, s.RESIZE_REVERTING, s.STOPPED if stopped else s.ACTIVE, old, stopped, "reverted")

    def _settle(self, migration: dict[str, Any], task_state: str, vm_state: str, flavor: dict[str, Any],
                stopped: bool, status: str) -> None:
        """One transaction: the instance is here with ``flavor`` (if still in ``task_state``), the migration's
        quota reservation is committed and the migration closed; otherwise the migration is abandoned."""
        now, uuid = self.rt.clock.now(), migration["instance_uuid"]

        def apply(conn: Any) -> bool:
            if not s.update_instance(conn, uuid, now, expect={"task_state": task_state}, task_state=None,
                                     vm_state=vm_state, host=self.host, **flavor,
                                     power_state=s.POWER_SHUTDOWN if stopped else s.POWER_RUNNING):
                return False
            quota.commit(conn, migration["reservation_id"])
            s.update_migration(conn, migration["id"], now, status=status, reservation_id=None)
            return True

        if not self.rt.db.transaction(apply):
            self._abandon(migration)

    def _move_here_kept(self, instance: dict[str, Any], power_on: bool) -> None:
        uuid, ctx = instance["uuid"], self._ctx(instance)
        az = instance["availability_zone"] or self.rt.config.availability_zone
        with self.rt.db.read() as conn:
            ports = s.instance_ports(conn, uuid)
        for port in ports:
            self.rt.neutron.bind_port(ctx, port["port_id"], self.host, uuid, az)
        if power_on:
            self.m.driver.power_on(uuid)
        self.m._lock_root_volume(uuid)


def _flavor(migration: dict[str, Any], which: str) -> dict[str, Any]:
    """The instance columns of a migration's ``old`` or ``new`` flavor."""
    return {"flavor_id": migration[f"{which}_flavor_id"], "vcpus": migration[f"{which}_vcpus"],
            "memory_mb": migration[f"{which}_memory_mb"], "root_gb": migration[f"{which}_root_gb"]}
