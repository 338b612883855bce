"""Compute rows: instances, flavors, services (heartbeats) and the network info cache.

Plain functions over a SQLAlchemy ``Connection`` so callers group them into one transaction
(``Database.transaction``). Times are stored naive UTC via ``db_time``.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, delete, insert, select, update

from regionmesh.compute.exceptions import NotFound
from regionmesh.db import models as m
from regionmesh.db.clock import db_time

# Nova's vm_state / task_state values used here (CMP-30).
ACTIVE, BUILDING, STOPPED, ERROR, DELETED = "active", "building", "stopped", "error", "deleted"
SOFT_DELETED, SHELVED, SHELVED_OFFLOADED, RESIZED = "soft-delete", "shelved", "shelved_offloaded", "resized"
SHELVING, SHELVING_IMAGE_UPLOADING, SHELVING_OFFLOADING, UNSHELVING = "shelving", "shelving_image_uploading", \
    "shelving_offloading", "unshelving"
RESIZE_PREP, RESIZE_MIGRATING, RESIZE_FINISH, RESIZE_REVERTING, RESIZE_CONFIRMING = "resize_prep", \
    "resize_migrating", "resize_finish", "resize_reverting", "resize_confirming"
# Migration statuses (Nova's names); the first group still holds resources on a second host.
MIGRATION_ACTIVE = ("pre-migrating", "migrating", "post-migrating", "finished", "confirming", "reverting")
DELETING, SOFT_DELETING, SCHEDULING, SPAWNING, NETWORKING = "deleting", "soft-deleting", "scheduling", \
    "spawning", "networking"
RESTORING = "restoring"
POWER_NOSTATE, POWER_RUNNING, POWER_SHUTDOWN = 0, 1, 4

DEFAULT_FLAVORS = [("1", "m1.tiny", 1, 512, 1), ("2", "m1.small", 1, 2048, 20), ("3", "m1.medium", 2, 4096, 40)]


def row_dict(row: Any) -> dict[str, Any]:
    return dict(row._mapping)


# ---- instances -----------------------------------------------------------------------------------
def insert_instance(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(insert(m.compute_instances).values(**values))


def get_instance(conn: Connection, uuid: str, *, deleted: bool = False) -> dict[str, Any]:
    t = m.compute_instances
    query = select(t).where(t.c.uuid == uuid)
    if not deleted:
        query = query.where(t.c.deleted_at.is_(None))
    row = conn.execute(query).first()
    if row is None:
        raise NotFound(f"Instance {uuid} could not be found.")
    return row_dict(row)


def list_instances(conn: Connection, project_id: str | None = None, **filters: Any) -> list[dict[str, Any]]:
    t = m.compute_instances
    query = select(t).where(t.c.deleted_at.is_(None)).order_by(t.c.created_at.desc(), t.c.uuid)
    if project_id is not None:
        query = query.where(t.c.project_id == project_id)
    for name, value in filters.items():
        query = query.where(t.c[name] == value)
    return [row_dict(r) for r in conn.execute(query)]


def update_instance(conn: Connection, uuid: str, now: datetime, *, expect: dict[str, Any] | None = None,
                    **values: Any) -> bool:
    """Conditional update (compare-and-swap on ``expect``): False when the row changed under us."""
    t = m.compute_instances
    cond = [t.c.uuid == uuid, t.c.deleted_at.is_(None)]
    for name, value in (expect or {}).items():
        cond.append(t.c[name].is_(None) if value is None else t.c[name] == value)
    result = conn.execute(update(t).where(and_(*cond)).values(updated_at=db_time(now), **values))
    return bool(result.rowcount)


def destroy_instance(conn: Connection, uuid: str, now: datetime, *, unscheduled: bool = False) -> bool:
    """Soft-delete the row (vm_state deleted); False when someone else already destroyed it, or — with
    ``unscheduled`` — when a host was assigned meanwhile (Nova's ``ObjectActionError`` on destroy, REG-26)."""
    return update_instance(conn, uuid, now, expect={"host": None} if unscheduled else None, vm_state=DELETED,
                           task_state=None, power_state=POWER_NOSTATE, deleted_at=db_time(now),
                           terminated_at=db_time(now))


def system_metadata(instance: dict[str, Any]) -> dict[str, Any]:
    """Nova's ``instance.system_metadata`` (shelved_image_id, shelved_host, …) as a dict."""
    return json.loads(instance.get("system_metadata") or "{}")


def fault_json(message: str, now: datetime, code: int = 500) -> str:
    """An instance fault as the server view shows it."""
    return json.dumps({"code": code, "message": message, "created": db_time(now).isoformat()})


def dump_metadata(values: dict[str, Any]) -> str | None:
    return json.dumps(values, sort_keys=True) if values else None


def stuck_deleting(conn: Connection) -> list[dict[str, Any]]:
    """Deletes (and soft deletes) still waiting for their host."""
    t = m.compute_instances
    return [row_dict(r) for r in conn.execute(select(t).where(t.c.deleted_at.is_(None),
                                                              t.c.task_state.in_((DELETING, SOFT_DELETING))))]


def soft_deleted_before(conn: Connection, host: str, cutoff: datetime) -> list[dict[str, Any]]:
    """SOFT_DELETED instances of ``host`` idle since before ``cutoff`` (Nova's ``_deleted_old_enough``)."""
    t = m.compute_instances
    return [row_dict(r) for r in conn.execute(select(t).where(
        t.c.deleted_at.is_(None), t.c.host == host, t.c.vm_state == SOFT_DELETED, t.c.task_state.is_(None),
        t.c.soft_deleted_at <= db_time(cutoff)).order_by(t.c.soft_deleted_at))]


def instance_exists(conn: Connection, uuid: str) -> bool:
    t = m.compute_instances
    return conn.execute(select(t.c.uuid).where(t.c.uuid == uuid, t.c.deleted_at.is_(None))).first() is not None


# ---- network info cache --------------------------------------------------------------------------
def add_port(conn: Connection, instance_uuid: str, port: dict[str, Any], network_name: str | None,
             preexisting: bool) -> None:
    conn.execute(insert(m.compute_instance_ports).values(
        port_id=port["id"], instance_uuid=instance_uuid, network_id=port["network_id"], network_name=network_name,
        fixed_ips=json.dumps(port.get("fixed_ips", [])), mac_address=port.get("mac_address"),
        preexisting=preexisting))


def instance_ports(conn: Connection, instance_uuid: str) -> list[dict[str, Any]]:
    t = m.compute_instance_ports
    rows = [row_dict(r) for r in conn.execute(select(t).where(t.c.instance_uuid == instance_uuid))]
    for row in rows:
        row["fixed_ips"] = json.loads(row["fixed_ips"])
    return rows


def remove_port(conn: Connection, port_id: str) -> None:
    conn.execute(delete(m.compute_instance_ports).where(m.compute_instance_ports.c.port_id == port_id))


# ---- flavors -------------------------------------------------------------------------------------
def ensure_default_flavors(conn: Connection) -> None:
    t = m.compute_flavors
    have = {r.id for r in conn.execute(select(t.c.id))}
    for fid, name, vcpus, ram, disk in DEFAULT_FLAVORS:
        if fid not in have:
            conn.execute(insert(t).values(id=fid, name=name, vcpus=vcpus, memory_mb=ram, root_gb=disk,
                                          ephemeral_gb=0, is_public=True))


def get_flavor(conn: Connection, flavor_id: str) -> dict[str, Any]:
    t = m.compute_flavors
    row = conn.execute(select(t).where(t.c.id == flavor_id)).first()
    if row is None:
        row = conn.execute(select(t).where(t.c.name == flavor_id)).first()
    if row is None:
        raise NotFound(f"Flavor {flavor_id} could not be found.")
    return row_dict(row)


def list_flavors(conn: Connection) -> list[dict[str, Any]]:
    return [row_dict(r) for r in conn.execute(select(m.compute_flavors).order_by(m.compute_flavors.c.memory_mb,
                                                                                 m.compute_flavors.c.id))]


# ---- services ------------------------------------------------------------------------------------
def ensure_service(conn: Connection, host: str, zone: str, vcpus: int, memory_mb: int) -> None:
    t = m.compute_services
    row = conn.execute(select(t.c.id).where(t.c.host == host, t.c.binary == "nova-compute")).first()
    if row is None:
        conn.execute(insert(t).values(host=host, binary="nova-compute", zone=zone, disabled=False, forced_down=False,
                                      last_seen_up=None, vcpus=vcpus, memory_mb=memory_mb))


def report(conn: Connection, host: str, now: datetime) -> None:
    t = m.compute_services
    conn.execute(update(t).where(t.c.host == host, t.c.binary == "nova-compute").values(last_seen_up=db_time(now)))


def get_service(conn: Connection, host: str) -> dict[str, Any] | None:
    t = m.compute_services
    row = conn.execute(select(t).where(t.c.host == host, t.c.binary == "nova-compute")).first()
    return row_dict(row) if row is not None else None


def list_services(conn: Connection) -> list[dict[str, Any]]:
    return [row_dict(r) for r in conn.execute(select(m.compute_services).order_by(m.compute_services.c.id))]


def update_service(conn: Connection, service_id: int, **values: Any) -> dict[str, Any]:
    t = m.compute_services
    conn.execute(update(t).where(t.c.id == service_id).values(**values))
    row = conn.execute(select(t).where(t.c.id == service_id)).first()
    if row is None:
        raise NotFound(f"Service {service_id} could not be found.")
    return row_dict(row)


def service_is_up(service: dict[str, Any] | None, now: datetime, service_down_time: float) -> bool:
    """Nova's DB servicegroup driver: up while the last report is at most ``service_down_time`` old."""
    if service is None or service["forced_down"] or service["last_seen_up"] is None:
        return False
    return db_time(now) - service["last_seen_up"] <= timedelta(seconds=service_down_time)


def host_usage(conn: Connection, host: str) -> tuple[int, int]:
    """(vcpus, memory_mb) used on ``host`` by live instances, plus what unfinished resizes hold there.

    Until a resize is confirmed or reverted the instance holds resources on two hosts, as Nova's
    claims do: the new flavor at the destination while it migrates, the old one at the source after.
    """
    t = m.compute_instances
    rows = conn.execute(select(t.c.vcpus, t.c.memory_mb).where(t.c.host == host, t.c.deleted_at.is_(None)))
    vcpus = ram = 0
    for row in rows:
        vcpus += row.vcpus
        ram += row.memory_mb
    for mig in active_migrations(conn, host=host):
        flavor_applied = mig["status"] in ("finished", "confirming", "reverting")
        if flavor_applied and mig["source_compute"] == host:
            vcpus, ram = vcpus + mig["old_vcpus"], ram + mig["old_memory_mb"]
        elif not flavor_applied and mig["dest_compute"] == host:
            vcpus, ram = vcpus + mig["new_vcpus"], ram + mig["new_memory_mb"]
    return vcpus, ram


# ---- migrations (resize) -------------------------------------------------------------------------
def insert_migration(conn: Connection, values: dict[str, Any]) -> int:
    result = conn.execute(insert(m.compute_migrations).values(**values))
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def active_migrations(conn: Connection, *, host: str | None = None,
                      instance_uuid: str | None = None) -> list[dict[str, Any]]:
    """Migrations of live instances not yet confirmed, reverted or failed."""
    t, i = m.compute_migrations, m.compute_instances
    query = select(t).join(i, i.c.uuid == t.c.instance_uuid).where(
        t.c.status.in_(MIGRATION_ACTIVE), i.c.deleted_at.is_(None)).order_by(t.c.id)
    if host is not None:
        query = query.where((t.c.source_compute == host) | (t.c.dest_compute == host))
    if instance_uuid is not None:
        query = query.where(t.c.instance_uuid == instance_uuid)
    return [row_dict(r) for r in conn.execute(query)]


def get_migration(conn: Connection, migration_id: int) -> dict[str, Any]:
    row = conn.execute(select(m.compute_migrations).where(m.compute_migrations.c.id == migration_id)).first()
    if row is None:
        raise NotFound(f"Migration {migration_id} could not be found.")
    return row_dict(row)


def update_migration(conn: Connection, migration_id: int, now: datetime, *, expect: str | None = None,
                     **values: Any) -> bool:
    """Compare-and-swap on the migration's status (``expect``); False when it moved on."""
    t = m.compute_migrations
    cond = [t.c.id == migration_id]
    if expect is not None:
        cond.append(t.c.status == expect)
    return bool(conn.execute(update(t).where(and_(*cond)).values(updated_at=db_time(now), **values)).rowcount)
