"""Glance v2 subset records: image metadata plus size/checksum of uploaded data (the bytes are not kept)."""

from __future__ import annotations

import hashlib
import uuid as uuidlib
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, or_, select, update

from regionmesh.compute.exceptions import BadRequest, Conflict, Forbidden, NotFound
from regionmesh.context import RequestContext
from regionmesh.db import models as m
from regionmesh.db.clock import db_time

VISIBILITIES = {"public", "private", "shared", "community"}
MUTABLE = {"name", "visibility", "protected", "min_disk", "min_ram", "disk_format", "container_format"}


def get_image(conn: Connection, image_id: str) -> dict[str, Any] | None:
    row = conn.execute(select(m.compute_images).where(m.compute_images.c.id == image_id)).first()
    return dict(row._mapping) if row is not None else None


def visible(ctx: RequestContext, image: dict[str, Any]) -> bool:
    return ctx.is_admin or image["visibility"] in ("public", "community") or image["owner"] == ctx.project_id


def show(conn: Connection, ctx: RequestContext, image_id: str) -> dict[str, Any]:
    image = get_image(conn, image_id)
    if image is None or not visible(ctx, image):
        raise NotFound(f"No image found with ID {image_id}")
    return image


def list_images(conn: Connection, ctx: RequestContext) -> list[dict[str, Any]]:
    t = m.compute_images
    query = select(t).order_by(t.c.created_at.desc(), t.c.id)
    if not ctx.is_admin:
        query = query.where(or_(t.c.visibility.in_(["public", "community"]), t.c.owner == ctx.project_id))
    return [dict(r._mapping) for r in conn.execute(query)]


def create(conn: Connection, ctx: RequestContext, body: dict[str, Any], now: datetime) -> dict[str, Any]:
    """A queued image (IMG-02): no data yet."""
    reserved = set(body) & {"status", "size", "checksum", "owner", "created_at", "updated_at", "file", "self"}
    if reserved:
        raise Forbidden(f"Attribute '{sorted(reserved)[0]}' is read-only.")
    # Other extra properties (the SDK sends owner_specified.*) are accepted; the lab does not keep them.
    visibility = body.get("visibility", "private")  # IMG-06
    if visibility not in VISIBILITIES:
        raise BadRequest(f"Invalid visibility value: {visibility}")
    if visibility == "public" and not ctx.is_admin:
        raise Forbidden("You are not authorized to create public images.")
    values = {"id": body.get("id") or str(uuidlib.uuid4()), "name": body.get("name"), "status": "queued",
              "visibility": visibility, "protected": bool(body.get("protected", False)), "owner": ctx.project_id,
              "min_disk": int(body.get("min_disk") or 0), "min_ram": int(body.get("min_ram") or 0),
              "disk_format": body.get("disk_format"), "container_format": body.get("container_format"),
              "size": None, "checksum": None, "created_at": db_time(now), "updated_at": db_time(now)}
    if get_image(conn, values["id"]) is not None:
        raise Conflict(f"Image with identifier {values['id']} already exists!")
    conn.execute(insert(m.compute_images).values(**values))
    return values


def _owned(conn: Connection, ctx: RequestContext, image_id: str) -> dict[str, Any]:
    image = show(conn, ctx, image_id)
    if not ctx.is_admin and image["owner"] != ctx.project_id:
        raise Forbidden("You are not permitted to modify this image.")
    return image


def upload(conn: Connection, ctx: RequestContext, image_id: str, data: bytes, now: datetime) -> None:
    image = _owned(conn, ctx, image_id)
    if image["status"] not in ("queued", "saving"):
        raise Conflict(f"Image status transition from {image['status']} to saving is not allowed")
    conn.execute(update(m.compute_images).where(m.compute_images.c.id == image_id).values(
        status="active", size=len(data), checksum=hashlib.md5(data, usedforsecurity=False).hexdigest(),
        updated_at=db_time(now)))


def patch(conn: Connection, ctx: RequestContext, image_id: str, changes: dict[str, Any],
          now: datetime) -> dict[str, Any]:
    image = _owned(conn, ctx, image_id)
    bad = set(changes) & {"status", "size", "checksum", "owner", "id", "created_at", "updated_at"}
    if bad:
        raise Forbidden(f"Attribute '{sorted(bad)[0]}' is read-only.")
    changes = {k: val for k, val in changes.items() if k in MUTABLE}
    if "disk_format" in changes and image["status"] != "queued":  # IMG-02
        raise BadRequest("disk_format can only be changed while the image is queued")
    conn.execute(update(m.compute_images).where(m.compute_images.c.id == image_id).values(
        updated_at=db_time(now), **changes))
    return show(conn, ctx, image_id)


def remove(conn: Connection, ctx: RequestContext, image_id: str) -> None:
    image = _owned(conn, ctx, image_id)
    if image["protected"]:  # IMG-04: nobody, admin included
        raise Forbidden(f"Image {image_id} is protected and cannot be deleted.")
    conn.execute(delete(m.compute_images).where(m.compute_images.c.id == image_id))
