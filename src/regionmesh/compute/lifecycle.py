"""The API side of shelve / unshelve and resize / confirm / revert (nova/compute/api.py + conductor).

Each action checks Nova's states, saves its task_state with a compare-and-swap (so a concurrent
action or delete wins cleanly and the loser gets a 409 that changed nothing), then casts to the
host that does the work (:mod:`regionmesh.compute.host_lifecycle`). The delete path uses two
helpers from here: the shelved snapshot's best-effort removal (CMP-12) and confirming a resize
before deleting (CMP-16).

Quotas: shelving changes nothing (a shelved-offloaded instance still counts its instance, cores
and RAM, as Nova's DB counting does; only the host's capacity is freed). A resize reserves the
flavor difference at the API (403 when an increase does not fit) and the host commits it in the
same transaction that applies the new flavor; a revert does the same the other way.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from regionmesh.compute import block_device as bd
from regionmesh.compute import images, quota
from regionmesh.compute import store as s
from regionmesh.compute.exceptions import BadRequest, Conflict, NotFound, NoValidHost
from regionmesh.compute.host_lifecycle import delete_shelved_snapshot, record_confirm
from regionmesh.compute.hosts import HostWorker
from regionmesh.compute.runtime import Runtime, service_context
from regionmesh.compute.scheduler import select_host
from regionmesh.context import RequestContext
from regionmesh.db.clock import db_time

LOG = logging.getLogger(__name__)

__all__ = ["Lifecycle", "delete_shelved_snapshot", "invalid_state", "is_volume_backed"]

Getter = Callable[[RequestContext, str], dict[str, Any]]


def invalid_state(action: str, instance: dict[str, Any]) -> Conflict:
    """Nova's ``InstanceInvalidState`` as the API renders it (409)."""
    attr, state = ("task_state", instance["task_state"]) if instance["task_state"] is not None \
        else ("vm_state", instance["vm_state"])
    return Conflict(f"Cannot '{action}' instance {instance['uuid']} while it is in {attr} {state}")


def is_volume_backed(rt: Runtime, uuid: str) -> bool:
    with rt.db.read() as conn:
        return any(b["boot_index"] == 0 and b["destination_type"] == "volume" for b in bd.bdms(conn, uuid))


class Lifecycle:
    """Shelve and resize requests for one region's compute API."""

    def __init__(self, rt: Runtime, hosts: dict[str, HostWorker], get: Getter) -> None:
        self.rt = rt
        self.hosts = hosts
        self.get = get

    def _save_task(self, action: str, instance: dict[str, Any], task_state: str, **values: Any) -> None:
        """Move task_state None → ``task_state`` unless someone else moved first (then 409, nothing changed)."""
        uuid = instance["uuid"]
        if not self.rt.db.transaction(lambda c: s.update_instance(
                c, uuid, self.rt.clock.now(), expect={"task_state": None, "vm_state": instance["vm_state"]},
                task_state=task_state, **values)):
            raise invalid_state(action, self.get(service_context(None), uuid))

    @staticmethod
    def _check(action: str, instance: dict[str, Any], vm_states: tuple[str, ...]) -> None:
        if instance["vm_state"] not in vm_states or instance["task_state"] is not None:
            raise invalid_state(action, instance)

    # ---- shelve ----------------------------------------------------------------------------------
    def shelve(self, ctx: RequestContext, uuid: str) -> None:
        """Image-backed: create ``<name>-shelved`` (queued) and cast ``shelve_instance``; volume-backed
        instances have nothing to snapshot and are offloaded directly, as Nova does."""
        instance = self.get(ctx, uuid)
        self._check("shelve", instance, (s.ACTIVE, s.STOPPED))
        if not instance["host"]:
            raise invalid_state("shelve", instance)
        if is_volume_backed(self.rt, uuid):
            self._save_task("shelve", instance, s.SHELVING)
            self.hosts[instance["host"]].cast("shelve_offload_instance", uuid)
            return
        now = self.rt.clock.now()
        owner = service_context(instance["project_id"], instance["user_id"])

        def record(conn: Any) -> str:
            if not s.update_instance(conn, uuid, now, expect={"task_state": None, "vm_state": instance["vm_state"]},
                                     task_state=s.SHELVING):
                raise invalid_state("shelve", s.get_instance(conn, uuid))
            image = images.create(conn, owner, {"name": f"{instance['name']}-shelved", "disk_format": "raw",
                                                "container_format": "bare"}, now)
            return str(image["id"])

        image_id = self.rt.db.transaction(record)
        self.hosts[instance["host"]].cast("shelve_instance", uuid, image_id)

    def shelve_offload(self, ctx: RequestContext, uuid: str) -> None:
        instance = self.get(ctx, uuid)
        self._check("shelveOffload", instance, (s.SHELVED,))
        self._save_task("shelveOffload", instance, s.SHELVING_OFFLOADING)
        self.hosts[instance["host"]].cast("shelve_offload_instance", uuid)

    def unshelve(self, ctx: RequestContext, uuid: str, availability_zone: str | None) -> None:
        """SHELVED: the same host powers it on. SHELVED_OFFLOADED: schedule again, then the new host
        binds the ports and spawns from the snapshot (conductor's ``unshelve_instance``)."""
        instance = self.get(ctx, uuid)
        self._check("unshelve", instance, (s.SHELVED, s.SHELVED_OFFLOADED))
        if availability_zone is not None:
            if instance["vm_state"] != s.SHELVED_OFFLOADED:
                raise Conflict(f"The availability_zone parameter can only be specified when unshelving a shelved "
                               f"offloaded server; instance {uuid} is in vm_state {instance['vm_state']}")
            if availability_zone != self.rt.config.availability_zone:
                raise BadRequest(f"The requested availability zone is not available: {availability_zone}")
        self._save_task("unshelve", instance, s.UNSHELVING)
        if instance["vm_state"] == s.SHELVED:
            self.hosts[instance["host"]].cast("unshelve_instance", uuid)
            return
        now = self.rt.clock.now()

        def pick(conn: Any) -> str | None:
            current = s.get_instance(conn, uuid)
            try:
                host = select_host(self.rt, conn, current, set(self.hosts))
            except NoValidHost as err:  # Nova leaves it offloaded, task cleared, with the fault
                LOG.warning("No valid host found for unshelve (%s)", uuid)
                s.update_instance(conn, uuid, now, expect={"task_state": s.UNSHELVING}, task_state=None,
                                  fault=s.fault_json(err.message, now))
                return None
            ok = s.update_instance(conn, uuid, now, expect={"task_state": s.UNSHELVING}, host=host)
            return host if ok else None

        host = self.rt.db.transaction(pick)
        if host is not None:
            self.hosts[host].cast("unshelve_instance", uuid)

    # ---- resize ----------------------------------------------------------------------------------
    def resize(self, ctx: RequestContext, uuid: str, flavor_ref: str) -> None:
        """Reserve the flavor difference, record the migration, schedule a destination, cast the source."""
        instance = self.get(ctx, uuid)
        self._check("resize", instance, (s.ACTIVE, s.STOPPED))
        if not instance["host"]:
            raise invalid_state("resize", instance)
        now = self.rt.clock.now()

        def record(conn: Any) -> tuple[int, dict[str, Any]]:
            try:
                flavor = s.get_flavor(conn, flavor_ref)
            except NotFound as err:
                raise BadRequest(f"Unable to find flavor {flavor_ref}") from err
            if flavor["id"] == instance["flavor_id"]:
                raise BadRequest("When resizing, instances must change flavor!")
            deltas = {"cores": flavor["vcpus"] - instance["vcpus"], "ram": flavor["memory_mb"] - instance["memory_mb"]}
            rid = quota.reserve(conn, instance["project_id"], deltas, self.rt.config.quota_limits, now, uuid)
            if not s.update_instance(conn, uuid, now, expect={"task_state": None, "vm_state": instance["vm_state"]},
                                     task_state=s.RESIZE_PREP):
                raise invalid_state("resize", s.get_instance(conn, uuid))
            mid = s.insert_migration(conn, {
                "instance_uuid": uuid, "migration_type": "resize", "source_compute": instance["host"],
                "dest_compute": None, "old_flavor_id": instance["flavor_id"], "new_flavor_id": flavor["id"],
                "old_vcpus": instance["vcpus"], "old_memory_mb": instance["memory_mb"],
                "old_root_gb": instance["root_gb"], "new_vcpus": flavor["vcpus"],
                "new_memory_mb": flavor["memory_mb"], "new_root_gb": flavor["root_gb"],
                "old_vm_state": instance["vm_state"], "status": "pre-migrating", "reservation_id": rid,
                "created_at": db_time(now), "updated_at": db_time(now)})
            return mid, flavor

        mid, flavor = self.rt.db.transaction(record)
        ignore = frozenset() if self.rt.config.allow_resize_to_same_host else frozenset({instance["host"]})

        def pick(conn: Any) -> str | None:
            spec = {**instance, "vcpus": flavor["vcpus"], "memory_mb": flavor["memory_mb"]}
            try:
                host = select_host(self.rt, conn, spec, set(self.hosts), ignore)
            except NoValidHost as err:  # the resize fails; the instance stays as it was
                migration = s.get_migration(conn, mid)
                quota.rollback(conn, migration["reservation_id"])
                s.update_migration(conn, mid, now, status="error")
                s.update_instance(conn, uuid, now, expect={"task_state": s.RESIZE_PREP}, task_state=None,
                                  fault=s.fault_json(err.message, now))
                return None
            s.update_migration(conn, mid, now, dest_compute=host)
            return host

        if self.rt.db.transaction(pick) is not None:
            self.hosts[instance["host"]].cast("resize_instance", mid)

    def _finished_migration(self, conn: Any, uuid: str) -> dict[str, Any] | None:
        return next((mg for mg in s.active_migrations(conn, instance_uuid=uuid) if mg["status"] == "finished"), None)

    def confirm_resize(self, ctx: RequestContext, uuid: str) -> None:
        """The source host destroys the old guest; the old flavor's resources are freed there."""
        instance = self.get(ctx, uuid)
        self._check("confirmResize", instance, (s.RESIZED,))
        migration = self._claim_finished(uuid, "confirming")
        if migration is None:
            raise BadRequest("Instance has not been resized.")
        self.hosts[migration["source_compute"]].cast("confirm_resize", migration["id"])

    def _claim_finished(self, uuid: str, status: str, **values: Any) -> dict[str, Any] | None:
        now = self.rt.clock.now()

        def work(conn: Any) -> dict[str, Any] | None:
            migration = self._finished_migration(conn, uuid)
            if migration is None or not s.update_migration(conn, migration["id"], now, expect="finished",
                                                            status=status, **values):
                return None
            return migration

        return self.rt.db.transaction(work)

    def revert_resize(self, ctx: RequestContext, uuid: str) -> None:
        """Reserve the way back (a reverted downsize needs quota), then the destination lets go."""
        instance = self.get(ctx, uuid)
        self._check("revertResize", instance, (s.RESIZED,))
        now = self.rt.clock.now()

        def record(conn: Any) -> dict[str, Any]:
            migration = self._finished_migration(conn, uuid)
            if migration is None:
                raise BadRequest("Instance has not been resized.")
            deltas = {"cores": migration["old_vcpus"] - instance["vcpus"],
                      "ram": migration["old_memory_mb"] - instance["memory_mb"]}
            rid = quota.reserve(conn, instance["project_id"], deltas, self.rt.config.quota_limits, now, uuid)
            if not s.update_instance(conn, uuid, now, expect={"task_state": None, "vm_state": s.RESIZED},
                                     task_state=s.RESIZE_REVERTING):
                raise invalid_state("revertResize", s.get_instance(conn, uuid))
            s.update_migration(conn, migration["id"], now, expect="finished", status="reverting",
                               reservation_id=rid)
            return migration

        migration = self.rt.db.transaction(record)
        self.hosts[instance["host"]].cast("revert_resize", migration["id"])

    def confirm_on_deleting(self, instance: dict[str, Any]) -> None:
        """CMP-16 (``_confirm_resize_on_deleting``): a synchronous call to the source host; when that host
        is down the confirm is recorded here and the host drops the old guest when it returns (CMP-23)."""
        migration = self._claim_finished(instance["uuid"], "confirming")
        if migration is None:
            LOG.info("Instance may have been confirmed during delete (%s)", instance["uuid"])
            return
        source = migration["source_compute"]
        worker = self.hosts.get(source)
        with self.rt.db.read() as conn:
            service = s.get_service(conn, source)
        up = s.service_is_up(service, self.rt.clock.now(), self.rt.config.service_down_time)
        if worker is not None and up and worker.running and \
                worker.call("confirm_resize", migration["id"], timeout=self.rt.config.rpc_call_timeout):
            return
        LOG.warning("source host %s of %s did not confirm the resize; confirming in the database",
                    source, instance["uuid"])
        record_confirm(self.rt, migration)
