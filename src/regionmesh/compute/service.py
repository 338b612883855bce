"""The API side of compute (nova-api + conductor + scheduler): boot, delete paths, actions.

Delete follows seed 004 step by step (CMP-10…CMP-22): disable_terminate is a no-op; DELETING and
progress 0 are saved first; a quota release is reserved and then committed or rolled back on every
path; a never-scheduled instance is destroyed at once; a host that is down (or unknown) means a
local delete; an up host gets a fire-and-forget terminate. The seed's failure mode — an instance
stuck in DELETING when the host only *looked* up — is closed by :meth:`ComputeAPI.periodic`.
"""

from __future__ import annotations

import json
import logging
import secrets
import uuid as uuidlib
from datetime import timedelta
from typing import Any

from regionmesh.compute import block_device as bd
from regionmesh.compute import quota
from regionmesh.compute import store as s
from regionmesh.compute import volumes as vol
from regionmesh.compute.exceptions import BadRequest, Conflict, NotFound, NoValidHost
from regionmesh.compute.hosts import HostWorker
from regionmesh.compute.lifecycle import Lifecycle, delete_shelved_snapshot
from regionmesh.compute.manager import finish_delete
from regionmesh.compute.network import deallocate_for_instance, deallocate_port
from regionmesh.compute.runtime import Runtime, service_context
from regionmesh.compute.scheduler import select_host
from regionmesh.compute.soft_delete import SoftDeleteAPI, soft_deletable
from regionmesh.context import RequestContext
from regionmesh.db.clock import db_time

LOG = logging.getLogger(__name__)


class ComputeAPI:
    """Instance lifecycle for one region's lab compute."""

    def __init__(self, rt: Runtime, hosts: dict[str, HostWorker]) -> None:
        self.rt = rt
        self.hosts = hosts
        self.lifecycle = Lifecycle(rt, hosts, self.get)  # shelve / unshelve / resize (and their delete helpers)
        self.soft = SoftDeleteAPI(rt, hosts, self.get)  # restore of soft-deleted instances
        for worker in hosts.values():
            worker.manager.rpc = self._cast

    def _cast(self, host: str, method: str, *args: Any) -> None:
        """compute_rpcapi for the hosts themselves (a resize hops from source to destination)."""
        self.hosts[host].cast(method, *args)

    # ---- reads ---------------------------------------------------------------------------------
    def get(self, ctx: RequestContext, uuid: str) -> dict[str, Any]:
        with self.rt.db.read() as conn:
            instance = s.get_instance(conn, uuid)
        if not ctx.is_admin and instance["project_id"] != ctx.project_id:
            raise NotFound(f"Instance {uuid} could not be found.")
        return instance

    def list_instances(self, ctx: RequestContext, all_projects: bool = False) -> list[dict[str, Any]]:
        with self.rt.db.read() as conn:
            return s.list_instances(conn, None if (all_projects and ctx.is_admin) else ctx.project_id)

    def ports(self, uuid: str) -> list[dict[str, Any]]:
        with self.rt.db.read() as conn:
            return s.instance_ports(conn, uuid)

    # ---- boot ----------------------------------------------------------------------------------
    def boot(self, ctx: RequestContext, name: str, flavor_ref: str, image_ref: str | None, networks: Any,
             security_groups: list[str], availability_zone: str | None, key_name: str | None = None,
             block_devices: list[dict[str, Any]] | None = None) -> tuple[dict[str, Any], str]:
        """Record the instance (building/scheduling), commit its quota, schedule, cast the build.

        Volume BDMs are recorded with the instance; a source volume is reserved in the same
        transaction (as Nova's API does), so a failed create cannot leave it claimed.
        """
        block_devices = block_devices or []
        if block_devices and not image_ref and not any(b["boot_index"] == 0 for b in block_devices):
            raise BadRequest("Block Device Mapping is Invalid: Boot sequence for the instance and image/block "
                             "device mapping combination is not valid.")
        zone = availability_zone or self.rt.config.availability_zone
        if zone != self.rt.config.availability_zone:
            raise BadRequest(f"The requested availability zone is not available: {zone}")
        if not ctx.project_id:
            raise BadRequest("A project-scoped token is required to create a server.")
        now = self.rt.clock.now()
        uuid = str(uuidlib.uuid4())
        self._validate_ports(ctx, networks, uuid)

        def record(conn: Any) -> dict[str, Any]:
            flavor = s.get_flavor(conn, flavor_ref)
            if image_ref:
                _check_image(conn, image_ref, flavor)
            values = {"uuid": uuid, "project_id": ctx.project_id, "user_id": ctx.user_id, "name": name,
                      "flavor_id": flavor["id"], "vcpus": flavor["vcpus"], "memory_mb": flavor["memory_mb"],
                      "root_gb": flavor["root_gb"], "image_id": image_ref or None, "vm_state": s.BUILDING,
                      "task_state": s.SCHEDULING, "power_state": s.POWER_NOSTATE, "host": None,
                      "availability_zone": zone, "disable_terminate": False, "progress": 0, "fault": None,
                      "request": json.dumps({"networks": networks, "security_groups": security_groups}),
                      "key_name": key_name, "created_at": db_time(now), "updated_at": db_time(now)}
            rid = quota.reserve(conn, ctx.project_id or "", quota.instance_deltas(values, 1),
                                self.rt.config.quota_limits, now, uuid)
            s.insert_instance(conn, values)
            for bdm in block_devices:
                if bdm["volume_id"]:
                    vol.reserve(conn, ctx, bdm["volume_id"], now)
                if bdm["boot_index"] == 0:
                    bdm = {**bdm, "device_name": "/dev/vda"}
                bd.insert_bdm(conn, uuid, bdm, now)
            quota.commit(conn, rid)  # the row exists: usage counts it until it is destroyed
            return values

        instance = self.rt.db.transaction(record)
        self._schedule(ctx, instance)
        return self.get(ctx.elevated(), uuid), secrets.token_urlsafe(9)

    def _validate_ports(self, ctx: RequestContext, networks: Any, uuid: str) -> None:
        """Nova's ``validate_networks`` for ``--nic port-id=``, before anything is recorded (REG-33): a port
        the caller cannot see is not found, another project's port (an admin sees it) is not usable, a
        port bound to another device is in use."""
        for nic in networks if isinstance(networks, list) else []:
            port_id = nic.get("port")
            if not port_id:
                continue
            port = self.rt.neutron.get_port(ctx, port_id)
            if port is None:
                raise BadRequest(f"Port id {port_id} could not be found.")
            if port.get("project_id") != ctx.project_id:
                raise BadRequest(f"Port {port_id} not usable for instance {uuid}.")
            if port.get("device_id"):
                raise Conflict(f"Port {port_id} is still in use.")

    def _schedule(self, ctx: RequestContext, instance: dict[str, Any]) -> None:
        uuid = instance["uuid"]
        live = {name for name, worker in self.hosts.items()}

        def pick(conn: Any) -> str | None:
            try:
                host = select_host(self.rt, conn, instance, live)
            except NoValidHost as err:
                fault = json.dumps({"code": 500, "message": err.message,
                                    "created": db_time(self.rt.clock.now()).isoformat()})
                s.update_instance(conn, uuid, self.rt.clock.now(), expect={"task_state": s.SCHEDULING},
                                  vm_state=s.ERROR, task_state=None, fault=fault)
                return None
            ok = s.update_instance(conn, uuid, self.rt.clock.now(), expect={"task_state": s.SCHEDULING},
                                   host=host, task_state=None)
            return host if ok else None

        host = self.rt.db.transaction(pick)
        if host is not None:
            self.hosts[host].cast("build_and_run_instance", uuid, ctx)

    # ---- delete (seed 004) ---------------------------------------------------------------------
    def delete(self, ctx: RequestContext, uuid: str) -> None:
        """``DELETE /servers/{id}``: Nova's controller soft-deletes while ``reclaim_instance_interval`` > 0
        and the instance ever ran on a host; a soft-deleted one (REG-24) or one that never ran is deleted."""
        instance = self.get(ctx, uuid)
        soft = self.rt.config.reclaim_instance_interval > 0 and soft_deletable(instance)
        self._delete(ctx, instance, "soft_delete" if soft else "delete")

    def force_delete(self, ctx: RequestContext, uuid: str) -> None:
        """``forceDelete``: a real delete now, in any state (a soft-deleted instance's restore window ends)."""
        self._delete(ctx, self.get(ctx, uuid), "force_delete")

    def _delete(self, ctx: RequestContext, instance: dict[str, Any], delete_type: str) -> None:
        """Seed 004's ``_delete`` for every delete type; ``soft_delete`` saves SOFT_DELETING and casts
        ``soft_delete_instance`` instead of ``terminate_instance``."""
        uuid = instance["uuid"]
        if instance["disable_terminate"]:  # CMP-11
            LOG.info("instance termination disabled (%s)", uuid)
            return
        if instance["vm_state"] in (s.SHELVED, s.SHELVED_OFFLOADED):  # CMP-12: the snapshot goes first
            delete_shelved_snapshot(self.rt, ctx, instance)
        task_state = s.SOFT_DELETING if delete_type == "soft_delete" else s.DELETING
        now = self.rt.clock.now()
        while True:  # CMP-13: save DELETING/progress 0 first (compare-and-swap on the old task_state)
            original = instance["task_state"]
            saved = self.rt.db.transaction(lambda c, o=original: bool(s.update_instance(  # type: ignore[misc]
                c, uuid, now, expect={"task_state": o}, task_state=task_state, progress=0)))
            if saved:
                break
            instance = self.get(ctx, uuid)  # raises NotFound when another delete finished it
        reservation = self.rt.db.transaction(lambda c: quota.reserve(
            c, instance["project_id"], quota.instance_deltas(instance, -1), {}, now, uuid))
        try:
            self._delete_path(instance, original, reservation, delete_type)
        except NotFound:  # CMP-22: gone meanwhile — roll back, stay quiet
            self.rt.db.transaction(lambda c: quota.rollback(c, reservation))
        except Exception:
            self.rt.db.transaction(lambda c: quota.rollback(c, reservation))
            raise

    def _delete_path(self, instance: dict[str, Any], original: str | None, reservation: str,
                     delete_type: str = "delete") -> None:
        uuid = instance["uuid"]
        with self.rt.db.read() as conn:
            instance = s.get_instance(conn, uuid)
        if not instance["host"] and instance["vm_state"] != s.SHELVED_OFFLOADED:  # CMP-15
            self.rt.notifier.info("compute.instance.delete.start", {"instance_id": uuid, "host": None})
            if finish_delete(self.rt, uuid, reservation, unscheduled=True):
                bd.cleanup_volumes(self.rt.volumes, self.rt.db, self._ctx(instance), uuid, bd.LOCAL_CONNECTOR)
                return
            with self.rt.db.read() as conn:  # a host was assigned concurrently: take the normal path
                instance = s.get_instance(conn, uuid)
        if instance["vm_state"] == s.RESIZED:  # CMP-16: confirm the resize first
            self.lifecycle.confirm_on_deleting(instance)
            with self.rt.db.read() as conn:
                instance = s.get_instance(conn, uuid)
        is_local = True  # CMP-17: shelved-offloaded never asks for a service; an unknown host → local
        if instance["vm_state"] != s.SHELVED_OFFLOADED:
            with self.rt.db.read() as conn:
                service = s.get_service(conn, instance["host"]) if instance["host"] else None
            is_local = not s.service_is_up(service, self.rt.clock.now(), self.rt.config.service_down_time)
        if not is_local:  # CMP-19
            if original in (s.DELETING, s.SOFT_DELETING):
                LOG.info("Instance is already in deleting state, ignoring this request (%s)", uuid)
                self.rt.db.transaction(lambda c: quota.rollback(c, reservation))
                return
            worker = self.hosts.get(instance["host"])
            if worker is None:
                is_local = True
            elif delete_type == "soft_delete":
                worker.cast("soft_delete_instance", uuid, reservation)
                return
            else:
                if instance["vm_state"] == s.SOFT_DELETED and instance["soft_deleted_at"] is not None:
                    # REG-24 (Launchpad 1333145): the soft delete already released the quota; the
                    # terminate goes without a reservation so nothing is decremented twice.
                    self.rt.db.transaction(lambda c: quota.rollback(c, reservation))
                    reservation_to_send: str | None = None
                else:
                    reservation_to_send = reservation
                worker.cast("terminate_instance", uuid, reservation_to_send)
                return
        self.local_delete(instance, reservation)  # CMP-20

    def local_delete(self, instance: dict[str, Any], reservation: str | None) -> bool:
        """CMP-21: the host is not going to act, so the API frees the network and destroys the row."""
        uuid = instance["uuid"]
        if instance["vm_state"] == s.SHELVED_OFFLOADED:
            LOG.info("instance is in SHELVED_OFFLOADED state, cleanup the instance's info from database. (%s)", uuid)
        else:
            LOG.warning("instance's host %s is down, deleting from database (%s)", instance["host"], uuid)
        self.rt.notifier.info("compute.instance.delete.start", {"instance_id": uuid, "host": instance["host"]})
        deallocate_for_instance(self.rt, self._ctx(instance), uuid)
        # Step 5: terminate/detach/delete each volume, breaking a dead host's RBD lock (REG-22, REG-23).
        bd.cleanup_volumes(self.rt.volumes, self.rt.db, self._ctx(instance), uuid, bd.LOCAL_CONNECTOR)
        return finish_delete(self.rt, uuid, reservation)

    @staticmethod
    def _ctx(instance: dict[str, Any]) -> RequestContext:
        return service_context(instance["project_id"], instance["user_id"])

    def periodic(self) -> list[str]:
        """Finish deletes no host will do: host down, or (SOFT_)DELETING for longer than ``delete_timeout``.

        A soft delete whose host never acted becomes a real local delete, as Nova's ``_delete`` does
        when it finds the host down."""
        now = self.rt.clock.now()
        finished = []
        with self.rt.db.read() as conn:
            stuck = s.stuck_deleting(conn)
            services = {i["host"]: s.get_service(conn, i["host"]) for i in stuck if i["host"]}
        for instance in stuck:
            up = s.service_is_up(services.get(instance["host"]), now, self.rt.config.service_down_time)
            overdue = db_time(now) - instance["updated_at"] > timedelta(seconds=self.rt.config.delete_timeout)
            if up and not overdue:
                continue
            try:
                if self.local_delete(instance, None):
                    finished.append(instance["uuid"])
            except Exception:  # try again next period
                LOG.exception("periodic local delete of %s failed", instance["uuid"])
        return finished

    # ---- other lifecycle -----------------------------------------------------------------------
    def set_disable_terminate(self, uuid: str, value: bool) -> None:
        self.rt.db.transaction(lambda c: s.update_instance(c, uuid, self.rt.clock.now(), disable_terminate=value))

    def power_action(self, ctx: RequestContext, uuid: str, action: str) -> None:
        """os-stop, os-start, reboot: state checks as Nova, then a cast to the host."""
        instance = self.get(ctx, uuid)
        allowed = {"stop": {s.ACTIVE, s.ERROR}, "start": {s.STOPPED}}.get(action, {s.ACTIVE, s.STOPPED, s.ERROR})
        task = {"stop": "powering-off", "start": "powering-on", "reboot_hard": "rebooting_hard"}.get(
            action, "rebooting")
        if instance["vm_state"] not in allowed or instance["task_state"] is not None or not instance["host"]:
            raise Conflict(f"Cannot '{action}' instance {uuid} while it is in vm_state {instance['vm_state']}")
        if not self.rt.db.transaction(lambda c: s.update_instance(
                c, uuid, self.rt.clock.now(), expect={"task_state": None}, task_state=task)):
            raise Conflict(f"Cannot '{action}' instance {uuid}: it changed state concurrently")
        self.hosts[instance["host"]].cast("power_action", uuid, action)

    def attach_interface(self, ctx: RequestContext, uuid: str, network_id: str | None,
                         port_id: str | None) -> dict[str, Any]:
        """CMP-31: create (or adopt) the port, bind it, cache it; the driver hot-plug is a later seam."""
        from regionmesh.compute.network import allocate_for_instance

        instance = self.get(ctx, uuid)
        if instance["task_state"] is not None or instance["vm_state"] not in (s.ACTIVE, s.STOPPED):
            raise Conflict(f"Cannot 'attach_interface' instance {uuid} while it is in task_state "
                           f"{instance['task_state']}")
        before = {p["port_id"] for p in self.ports(uuid)}
        nic = {"port": port_id} if port_id else {"uuid": network_id}
        ports = allocate_for_instance(self.rt, ctx, instance, {"networks": [nic], "security_groups": []},
                                      instance["host"])
        return next(p for p in ports if p["port_id"] not in before)

    def detach_interface(self, ctx: RequestContext, uuid: str, port_id: str) -> None:
        instance = self.get(ctx, uuid)
        if instance["task_state"] == s.DELETING:  # CMP-32
            raise Conflict(f"Cannot 'detach_interface' instance {uuid} while it is in task_state deleting")
        port = next((p for p in self.ports(uuid) if p["port_id"] == port_id), None)
        if port is None:
            raise NotFound(f"Port {port_id} is not attached")
        deallocate_port(self.rt, service_context(instance["project_id"], instance["user_id"]), port)


    # ---- volumes (os-volume_attachments) --------------------------------------------------------
    def volume_attachments(self, ctx: RequestContext, uuid: str) -> list[dict[str, Any]]:
        self.get(ctx, uuid)
        with self.rt.db.read() as conn:
            return [b for b in bd.bdms(conn, uuid) if b["volume_id"]]

    def attach_volume(self, ctx: RequestContext, uuid: str, volume_id: str, device: str | None) -> dict[str, Any]:
        """Reserve the volume and record the BDM here; the host connects and attaches it (CMP-37)."""
        instance = self.get(ctx, uuid)
        if instance["vm_state"] not in (s.ACTIVE, s.STOPPED) or instance["task_state"] is not None \
                or not instance["host"]:
            raise Conflict(f"Cannot 'attach_volume' instance {uuid} while it is in vm_state "
                           f"{instance['vm_state']}")
        now = self.rt.clock.now()

        def record(conn: Any) -> str:
            if any(b["volume_id"] == volume_id for b in bd.bdms(conn, uuid)):
                raise BadRequest(f"Invalid volume: volume {volume_id} already attached to {uuid}")
            vol.reserve(conn, ctx, volume_id, now)
            name = device or bd.next_device(conn, uuid)
            bd.insert_bdm(conn, uuid, {"volume_id": volume_id, "source_type": "volume", "destination_type": "volume",
                                       "device_name": name, "delete_on_termination": False}, now)
            return name

        name = self.rt.db.transaction(record)
        self.hosts[instance["host"]].cast("attach_volume", uuid, volume_id, name)
        return {"id": volume_id, "serverId": uuid, "volumeId": volume_id, "device": name}

    def detach_volume(self, ctx: RequestContext, uuid: str, volume_id: str) -> None:
        """Nova refuses the root volume; otherwise mark it detaching and let the host finish."""
        instance = self.get(ctx, uuid)
        if instance["task_state"] == s.DELETING:
            raise Conflict(f"Cannot 'detach_volume' instance {uuid} while it is in task_state deleting")
        bdm = next((b for b in self.volume_attachments(ctx, uuid) if b["volume_id"] == volume_id), None)
        if bdm is None:
            raise NotFound(f"volume_id not found: {volume_id}")
        if bdm["boot_index"] == 0:
            raise BadRequest("Can't detach root device volume")
        self.rt.volumes.begin_detaching(None, volume_id)
        self.hosts[instance["host"]].cast("detach_volume", uuid, volume_id)


def _check_image(conn: Any, image_ref: str, flavor: dict[str, Any]) -> None:
    from regionmesh.compute.images import get_image

    image = get_image(conn, image_ref)
    if image is None:
        raise BadRequest(f"Can not find requested image {image_ref}")
    if image["status"] != "active":
        raise BadRequest(f"Image {image_ref} is not active.")
    if flavor["root_gb"] and image["min_disk"] > flavor["root_gb"]:
        raise BadRequest(f"Flavor's disk is too small for requested image. Flavor disk is "
                         f"{flavor['root_gb'] * 1024 ** 3} bytes, image is {image['min_disk'] * 1024 ** 3} bytes.")
