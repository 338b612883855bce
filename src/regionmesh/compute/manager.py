"""The host side (nova-compute's manager): build, terminate, power actions, and cleanup on start.

Runs on a host's worker thread, one message at a time. Every state change is a compare-and-swap on
the instance row, so a delete that raced a build, or a terminate that arrives after a local delete,
sees the row has moved on and does the idempotent part only (destroy the guest, free the ports).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from regionmesh.compute import block_device as bd
from regionmesh.compute import quota
from regionmesh.compute import store as s
from regionmesh.compute.exceptions import ComputeError, NeutronFailure, NotFound
from regionmesh.compute.network import allocate_for_instance, deallocate_for_instance
from regionmesh.compute.runtime import Runtime, service_context
from regionmesh.compute.virt import VirtDriver
from regionmesh.context import RequestContext

LOG = logging.getLogger(__name__)


class ComputeManager:
    """One host's nova-compute logic over its virt driver."""

    def __init__(self, rt: Runtime, host: str, driver: VirtDriver) -> None:
        self.rt = rt
        self.host = host
        self.driver = driver
        # Casts to another host's queue (resize hops source → destination); wired by the compute API.
        self.rpc: Callable[..., None] = _no_rpc
        from regionmesh.compute.host_lifecycle import HostLifecycle
        from regionmesh.compute.soft_delete import HostSoftDelete

        self.lifecycle = HostLifecycle(self)
        self.soft = HostSoftDelete(self)  # soft delete, restore, reclaim

    def _get(self, uuid: str) -> dict[str, Any] | None:
        with self.rt.db.read() as conn:
            try:
                return s.get_instance(conn, uuid)
            except NotFound:
                return None

    def build(self, uuid: str, ctx: RequestContext) -> None:
        """Network (ports + binding through the region's Neutron), then spawn; ERROR with a fault on failure."""
        instance = self._get(uuid)
        if instance is None or instance["task_state"] == s.DELETING:
            return
        self.rt.db.transaction(lambda c: s.update_instance(c, uuid, self.rt.clock.now(), task_state=s.NETWORKING))
        try:
            request = json.loads(instance["request"] or "{}")
            ports = allocate_for_instance(self.rt, ctx, instance, request, self.host)
            instance = self._get(uuid)
            if instance is None or instance["task_state"] == s.DELETING:
                return  # deleted meanwhile: the delete path frees what we cached
            self._prep_block_devices(uuid, ctx)
            self.rt.db.transaction(lambda c: s.update_instance(c, uuid, self.rt.clock.now(),
                                                               task_state=s.SPAWNING))
            self.driver.spawn(instance, ports)
            self._lock_root_volume(uuid)
        except Exception as err:  # any failure becomes the instance's fault
            message = err.message if isinstance(err, ComputeError) else f"{type(err).__name__}: {err}"
            LOG.warning("build of %s on %s failed: %s", uuid, self.host, message)
            self._fail_build(uuid, ctx, message)
            return
        ok = self.rt.db.transaction(lambda c: s.update_instance(
            c, uuid, self.rt.clock.now(), expect={"task_state": s.SPAWNING}, vm_state=s.ACTIVE, task_state=None,
            power_state=s.POWER_RUNNING, progress=100))
        if not ok:
            LOG.info("instance %s changed during spawn (being deleted); leaving it to the delete", uuid)

    def _fail_build(self, uuid: str, ctx: RequestContext, message: str) -> None:
        try:
            deallocate_for_instance(self.rt, ctx, uuid)
        except NeutronFailure as err:
            LOG.warning("could not free the ports of failed instance %s: %s", uuid, err)
        self.driver.destroy(uuid)
        fault = json.dumps({"code": 500, "message": message, "created": s.db_time(self.rt.clock.now()).isoformat()})
        self.rt.db.transaction(lambda c: s.update_instance(
            c, uuid, self.rt.clock.now(), expect={"task_state": s.NETWORKING}, vm_state=s.ERROR, task_state=None,
            power_state=s.POWER_NOSTATE, fault=fault) or s.update_instance(
            c, uuid, self.rt.clock.now(), expect={"task_state": s.SPAWNING}, vm_state=s.ERROR, task_state=None,
            power_state=s.POWER_NOSTATE, fault=fault))

    def terminate(self, uuid: str, reservation: str | None) -> None:
        """The cast from the API (CMP-19): destroy the guest, free the network, destroy the row, commit quota."""
        instance = self._get(uuid)
        if instance is None:  # already finished elsewhere (local delete): only the guest may be left
            self._destroy_guest(uuid)
            if reservation:
                self.rt.db.transaction(lambda c: quota.rollback(c, reservation))
            return
        ctx = service_context(instance["project_id"], instance["user_id"])
        self.rt.notifier.info("compute.instance.delete.start", {"instance_id": uuid, "host": self.host})
        self._destroy_guest(uuid)
        bd.cleanup_volumes(self.rt.volumes, self.rt.db, ctx, uuid, self.connector())
        deallocate_for_instance(self.rt, ctx, uuid)
        finish_delete(self.rt, uuid, reservation)

    # ---- volumes -----------------------------------------------------------------------------------
    def connector(self) -> dict[str, Any]:
        return {"ip": "127.0.0.1", "host": self.host, "initiator": f"iqn.1994-05.com.redhat:{self.host}"}

    def _destroy_guest(self, uuid: str) -> None:
        """The guest goes, and with it the RBD locks its disks held (a clean close releases them)."""
        self.driver.destroy(uuid)
        self.rt.volumes.release_locks(self.host, uuid)

    def _prep_block_devices(self, uuid: str, ctx: RequestContext) -> None:
        """Nova's ``_prep_block_device``: create the volumes the BDMs ask for, then connect and attach each."""
        vapi = self.rt.volumes
        with self.rt.db.read() as conn:
            rows = bd.bdms(conn, uuid)
        for bdm in rows:
            device = bdm["device_name"] or ("/dev/vda" if bdm["boot_index"] == 0 else None)
            vid = bdm["volume_id"]
            if vid is None:
                source = bdm["source_type"]
                volume = vapi.create(ctx, bdm["volume_size"], name=f"{uuid}-{source}",
                                     image_id=bdm["image_id"] if source == "image" else None,
                                     snapshot_id=bdm["image_id"] if source == "snapshot" else None)
                vid = volume["id"]
                vapi.reserve(ctx, vid)
            with self.rt.db.read() as conn:
                device = device or bd.next_device(conn, uuid)
            bdm_id, where = bdm["id"], device
            self.rt.db.transaction(lambda c: bd.set_volume(c, bdm_id, vid, where))  # noqa: B023
            vapi.initialize_connection(ctx, vid, self.connector())
            vapi.attach(ctx, vid, uuid, self.host, device, self.connector())

    def _lock_root_volume(self, uuid: str) -> None:
        """VOL-02: the guest opens its root volume, which takes the image's exclusive lock."""
        with self.rt.db.read() as conn:
            root = next((b for b in bd.bdms(conn, uuid) if b["boot_index"] == 0 and b["volume_id"]), None)
        if root is not None:
            self.rt.volumes.acquire_lock(root["volume_id"], self.host, uuid)

    def attach_volume(self, uuid: str, volume_id: str, device: str) -> None:
        """Connect and attach a reserved volume; on failure give it back and drop the BDM."""
        vapi = self.rt.volumes
        instance = self._get(uuid)
        try:
            if instance is None:
                raise NotFound(f"Instance {uuid} could not be found.")
            vapi.initialize_connection(None, volume_id, self.connector())
            vapi.attach(None, volume_id, uuid, self.host, device, self.connector())
        except Exception as err:
            LOG.warning("attaching volume %s to %s failed: %s", volume_id, uuid, err)
            vapi.unreserve(None, volume_id)
            self.rt.db.transaction(lambda c: _drop_bdm(c, uuid, volume_id))

    def detach_volume(self, uuid: str, volume_id: str) -> None:
        """Unplug, terminate the connection, detach in Cinder, drop the BDM (VOL-08)."""
        vapi = self.rt.volumes
        vapi.release_locks(self.host, uuid, volume_id)  # unplugged: the guest no longer holds it
        vapi.terminate_connection(None, volume_id, self.connector())
        vapi.detach(None, volume_id)
        self.rt.db.transaction(lambda c: _drop_bdm(c, uuid, volume_id))

    def power(self, uuid: str, action: str) -> None:
        """os-stop / os-start / reboot: the driver call, then the state the API promised."""
        if self._get(uuid) is None:
            return
        if action == "stop":
            self.driver.power_off(uuid)
            values: dict[str, Any] = {"vm_state": s.STOPPED, "power_state": s.POWER_SHUTDOWN}
        elif action == "start":
            self.driver.power_on(uuid)
            values = {"vm_state": s.ACTIVE, "power_state": s.POWER_RUNNING}
        else:
            self.driver.reboot(uuid, hard=action == "reboot_hard")
            values = {"vm_state": s.ACTIVE, "power_state": s.POWER_RUNNING}
        expect = {"task_state": {"stop": "powering-off", "start": "powering-on"}.get(action, "rebooting")}
        if action == "reboot_hard":
            expect = {"task_state": "rebooting_hard"}
        self.rt.db.transaction(lambda c: s.update_instance(c, uuid, self.rt.clock.now(), expect=expect,
                                                           task_state=None, **values))

    def _migrating_here(self, uuid: str) -> bool:
        with self.rt.db.read() as conn:
            return any(self.host in (mg["source_compute"], mg["dest_compute"])
                       for mg in s.active_migrations(conn, instance_uuid=uuid))

    def cleanup_deleted_guests(self) -> list[str]:
        """Nova's ``_cleanup_running_deleted_instances`` (CMP-23, REG-30): guests with no live row go."""
        removed = []
        for guest in self.driver.list_guests():
            instance = self._get(guest)
            if instance is not None and instance["host"] != self.host and self._migrating_here(guest):
                continue  # a resize's other half: the source keeps its guest until confirm or revert
            if instance is None or instance["host"] != self.host:
                LOG.info("destroying guest %s on %s: its instance was deleted while the host was away", guest,
                         self.host)
                self._destroy_guest(guest)
                removed.append(guest)
        return removed


def _no_rpc(host: str, method: str, *args: Any) -> None:
    raise RuntimeError(f"no RPC wired to reach {host} for {method}")


def finish_delete(rt: Runtime, uuid: str, reservation: str | None, *, unscheduled: bool = False) -> bool:
    """Destroy the row and settle the quota in one transaction; False when another path already did.

    ``unscheduled`` (CMP-15): destroy only while no host is assigned; when one was, the reservation is
    kept for the normal path the caller takes next (REG-26)."""
    now = rt.clock.now()

    def work(conn: Any) -> tuple[bool, dict[str, Any] | None]:
        try:
            instance: dict[str, Any] | None = s.get_instance(conn, uuid)
        except NotFound:
            instance = None
        for migration in s.active_migrations(conn, instance_uuid=uuid):  # a resize dies with its instance
            if migration["reservation_id"]:
                quota.rollback(conn, migration["reservation_id"])
            s.update_migration(conn, migration["id"], now, status="error", reservation_id=None)
        done = s.destroy_instance(conn, uuid, now, unscheduled=unscheduled)
        if done and instance is not None:
            quota.settle_release(conn, instance, reservation, now)
        elif reservation and not unscheduled:
            quota.rollback(conn, reservation)
        return done, instance

    done, instance = rt.db.transaction(work)
    if done:
        rt.notifier.info("compute.instance.delete.end", {"instance_id": uuid,
                                                          "host": instance["host"] if instance else None})
    return done


def _drop_bdm(conn: Any, instance_uuid: str, volume_id: str) -> None:
    for bdm in bd.bdms(conn, instance_uuid):
        if bdm["volume_id"] == volume_id:
            bd.destroy_bdm(conn, bdm["id"])
