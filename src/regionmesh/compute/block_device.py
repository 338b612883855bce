"""Nova's block device mappings and the volume work around them (boot from volume, attach, delete).

The BDM rows say which volumes an instance has and whether each dies with it
(``delete_on_termination``, VOL-03). Cleanup is the same on every delete path, seed 004's
``_local_delete`` step 5: terminate the connection, detach, delete if asked — any failure is only
logged (``Ignoring volume cleanup failure due to …``, REG-23) and the BDM is destroyed regardless.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from regionmesh.compute.exceptions import BadRequest
from regionmesh.compute.volumes import ATTACHING, DELETED, RESERVED, VolumeAPI
from regionmesh.context import RequestContext
from regionmesh.db import models as m
from regionmesh.db.clock import db_time

LOG = logging.getLogger(__name__)

LOCAL_CONNECTOR = {"ip": "127.0.0.1", "initiator": "iqn.fake"}  # what _local_delete passes (CMP-21)
SOURCES = {"image", "volume", "blank", "snapshot"}


def parse_bdm_v2(raw: Any) -> list[dict[str, Any]]:
    """Validate ``block_device_mapping_v2`` (the volume-destination subset) into BDM row values."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise BadRequest("Invalid input for field/attribute block_device_mapping_v2.")
    out = []
    for item in raw:
        if not isinstance(item, dict):
            raise BadRequest("Invalid input for field/attribute block_device_mapping_v2.")
        source, dest = item.get("source_type"), item.get("destination_type", "volume")
        if source not in SOURCES or dest not in ("volume", "local"):
            raise BadRequest(f"Block Device Mapping is Invalid: source_type {source!r} / destination_type "
                             f"{dest!r} is not supported.")
        if dest == "local":  # image → local is the classic image boot: nothing to record
            continue
        size = item.get("volume_size")
        if source in ("image", "blank") and not size:
            raise BadRequest("Block Device Mapping is Invalid: Images with destination_type 'volume' need to have "
                             "a non-zero size specified" if source == "image" else
                             "Block Device Mapping is Invalid: blank volumes need a size.")
        if source != "blank" and not item.get("uuid"):
            raise BadRequest("Block Device Mapping is Invalid: a uuid is required for this source_type.")
        boot_index = item.get("boot_index")
        out.append({"source_type": source, "destination_type": "volume",
                    "boot_index": None if boot_index in (None, -1, "-1") else int(boot_index),
                    "volume_id": item["uuid"] if source == "volume" else None,
                    "image_id": item["uuid"] if source == "image" else None,
                    "snapshot_id": item["uuid"] if source == "snapshot" else None,
                    "volume_size": int(size) if size else None,
                    "delete_on_termination": bool(item.get("delete_on_termination", False)),
                    "device_name": item.get("device_name")})
    return out


def insert_bdm(conn: Connection, instance_uuid: str, values: dict[str, Any], now: Any) -> None:
    row = {k: values.get(k) for k in ("volume_id", "boot_index", "device_name", "source_type", "destination_type",
                                      "image_id", "volume_size")}
    row["image_id"] = values.get("image_id") or values.get("snapshot_id")  # the creation source, for the host
    conn.execute(insert(m.compute_block_device_mappings).values(
        instance_uuid=instance_uuid, delete_on_termination=bool(values.get("delete_on_termination")),
        created_at=db_time(now), **row))


def bdms(conn: Connection, instance_uuid: str) -> list[dict[str, Any]]:
    t = m.compute_block_device_mappings
    query = select(t).where(t.c.instance_uuid == instance_uuid).order_by(t.c.boot_index.is_(None), t.c.boot_index,
                                                                          t.c.id)
    return [dict(r._mapping) for r in conn.execute(query)]


def set_volume(conn: Connection, bdm_id: int, volume_id: str, device_name: str) -> None:
    conn.execute(update(m.compute_block_device_mappings).where(m.compute_block_device_mappings.c.id == bdm_id)
                 .values(volume_id=volume_id, device_name=device_name))


def destroy_bdm(conn: Connection, bdm_id: int) -> None:
    conn.execute(delete(m.compute_block_device_mappings).where(m.compute_block_device_mappings.c.id == bdm_id))


def next_device(conn: Connection, instance_uuid: str, root: bool = False) -> str:
    """vda for the root, then vdb, vdc, … in order (VOL-08)."""
    if root:
        return "/dev/vda"
    used = {b["device_name"] for b in bdms(conn, instance_uuid)}
    for letter in "bcdefghijklmnopqrstuvwxyz":
        if f"/dev/vd{letter}" not in used:
            return f"/dev/vd{letter}"
    raise BadRequest("No free disk device names")


def cleanup_volumes(volumes: VolumeAPI, db: Any, ctx: RequestContext, instance_uuid: str,
                    connector: dict[str, Any]) -> list[str]:
    """Seed 004 step 5 for every volume BDM; returns the failures it ignored (each also logged)."""
    with db.read() as conn:
        rows = bdms(conn, instance_uuid)
    failures = []
    for bdm in rows:
        vid = bdm["volume_id"]
        try:
            if vid:
                volume = volumes.row(vid)
                if volume is not None and volume["deleted_at"] is None:
                    volumes.terminate_connection(ctx, vid, connector)
                    if volume["status"] in (RESERVED, ATTACHING) and volume["attach_status"] != "attached":
                        volumes.unreserve(ctx, vid)
                    else:
                        volumes.detach(ctx, vid)
                    if bdm["delete_on_termination"]:
                        end = volumes.delete(ctx, vid, cascade=True)  # VOL-04
                        if end != DELETED:
                            raise RuntimeError(f"volume {vid} ended {end}")
        except Exception as exc:  # REG-23: never abort the delete over a volume
            LOG.warning("Ignoring volume cleanup failure due to %s", getattr(exc, "message", exc))
            failures.append(str(getattr(exc, "message", exc)))
        db.transaction(lambda c, i=bdm["id"]: destroy_bdm(c, i))
    return failures
