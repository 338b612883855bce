"""Quotas with Neutron's reservation lifecycle (seed 002, NAPI-06/07/08, QP-02/03).

A reservation is written in its own transaction before the resource is created (so concurrent
creates see each other's claims), committed inside the creating transaction (the reservation row
disappears as the resource row appears: nothing is ever counted twice), and cancelled on any
failure. Expired reservations (a crashed server) stop counting after ``reservation_expiration``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, Table, bindparam, delete, func, insert, select

from regionmesh.config import QuotaSettings
from regionmesh.context import RequestContext
from regionmesh.db import models as m
from regionmesh.db.engine import Database
from regionmesh.network import exceptions as exc
from regionmesh.network.converters import convert_to_boolean
from regionmesh.network.service import new_id, utcnow

# Resource name -> the table whose rows (per project) are its usage.
USAGE_TABLES: dict[str, Table] = {
    "network": m.networks,
    "subnet": m.subnets,
    "port": m.ports,
    "security_group": m.securitygroups,
    "security_group_rule": m.securitygrouprules,
    "router": m.routers,
    "floatingip": m.floatingips,
}


_LIMITS_OF = select(m.quotas.c.resource, m.quotas.c["limit"]).where(m.quotas.c.project_id == bindparam("project_id"))
_USAGE = {name: select(func.count()).select_from(table).where(table.c.project_id == bindparam("project_id"))
          for name, table in USAGE_TABLES.items()}
_RESERVED = select(func.coalesce(func.sum(m.reservation_deltas.c.amount), 0)).select_from(
    m.reservation_deltas.join(m.reservations)).where(
    m.reservations.c.project_id == bindparam("project_id"), m.reservation_deltas.c.resource == bindparam("resource"),
    m.reservations.c.expiration > bindparam("now"))
_DELETE_RESERVATIONS = delete(m.reservations).where(m.reservations.c.id.in_(bindparam("ids", expanding=True)))


class OverQuota(exc.Conflict):
    message = "Quota exceeded for resources: %(overs)s."


class QuotaResourceUnknown(exc.NotFound):
    message = "Unknown quota resources %(unknown)s."


class InvalidQuotaValue(exc.Conflict):
    message = "Change would make usage less than 0 for the following resources: %(unders)s."


QUOTA_MAX = 2 ** 31 - 1


class QuotaLimitBelowUsage(exc.InvalidInput):
    message = ("Quota limit %(limit)s for %(resource)s must be greater than or equal to already used "
               "%(used)s and reserved %(reserved)s.")


@dataclass(frozen=True)
class Reservation:
    id: str
    project_id: str
    deltas: Mapping[str, int]


class QuotaEngine:
    """Limits (defaults + per-project rows), usage counting and reservations."""

    def __init__(self, db: Database, settings: QuotaSettings) -> None:
        self.db = db
        self.settings = settings

    @property
    def resources(self) -> list[str]:
        return list(USAGE_TABLES)

    def defaults(self) -> dict[str, int]:
        return {name: int(getattr(self.settings, name)) for name in USAGE_TABLES}

    def limits(self, conn: Connection, project_id: str) -> dict[str, int]:
        limits = self.defaults()
        for resource, limit in conn.execute(_LIMITS_OF, {"project_id": project_id}):
            if resource in limits:
                limits[resource] = limit
        return limits

    def usage(self, conn: Connection, project_id: str, resource: str) -> int:
        return int(conn.execute(_USAGE[resource], {"project_id": project_id}).scalar_one())

    def reserved(self, conn: Connection, project_id: str, resource: str) -> int:
        params = {"project_id": project_id, "resource": resource, "now": utcnow()}
        return int(conn.execute(_RESERVED, params).scalar_one())

    def details(self, conn: Connection, project_id: str) -> dict[str, dict[str, int]]:
        limits = self.limits(conn, project_id)
        return {r: {"limit": limits[r], "used": self.usage(conn, project_id, r),
                    "reserved": self.reserved(conn, project_id, r)} for r in USAGE_TABLES}

    # ---- reservations -------------------------------------------------------------------------
    def reserve(self, ctx: RequestContext, resource: str, deltas: Mapping[str, int]) -> list[Reservation] | None:
        """One reservation per project for ``resource``; raises OverQuota before anything is created."""
        if resource not in USAGE_TABLES or not deltas:
            return None
        made: list[Reservation] = []
        try:
            for project_id, amount in deltas.items():
                res = self._reserve_one(project_id, resource, amount)
                if res is not None:
                    made.append(res)
        except BaseException:
            self.cancel(made)
            raise
        return made

    def _reserve_one(self, project_id: str, resource: str, amount: int) -> Reservation | None:
        def work(conn: Connection) -> Reservation | None:
            limit = self.limits(conn, project_id)[resource]
            if limit < 0:
                return None
            used = self.usage(conn, project_id, resource) + self.reserved(conn, project_id, resource)
            if used + amount > limit:
                raise OverQuota(overs=resource)
            rid = new_id()
            conn.execute(insert(m.reservations).values(
                id=rid, project_id=project_id,
                expiration=utcnow() + timedelta(seconds=self.settings.reservation_expiration)))
            conn.execute(insert(m.reservation_deltas).values(reservation_id=rid, resource=resource, amount=amount))
            return Reservation(rid, project_id, {resource: amount})

        return self.db.transaction(work)

    def commit(self, conn: Connection, reservations: list[Reservation] | None) -> None:
        """Inside the creating transaction: the claim becomes real usage."""
        ids = [r.id for r in reservations or []]
        if ids:
            conn.execute(_DELETE_RESERVATIONS, {"ids": ids})

    def cancel(self, reservations: list[Reservation] | None) -> None:
        ids = [r.id for r in reservations or []]
        if ids:
            def work(conn: Connection) -> None:
                conn.execute(delete(m.reservations).where(m.reservations.c.id.in_(ids)))
            self.db.transaction(work)

    # ---- quota API ----------------------------------------------------------------------------
    def set_limits(self, project_id: str, values: Mapping[str, Any]) -> dict[str, int]:
        """New limits; ``check_limit: true`` (quota-check-limit) refuses a limit below what the project
        already uses and has reserved, ``force: true`` skips that check."""
        values = dict(values)
        force = convert_to_boolean(values.pop("force", False))
        check = convert_to_boolean(values.pop("check_limit", False)) and not force
        unknown = [k for k in values if k not in USAGE_TABLES]
        if unknown:
            raise QuotaResourceUnknown(unknown=", ".join(sorted(unknown)))
        clean: dict[str, int] = {}
        for key, value in values.items():
            try:
                number = int(value)
            except (TypeError, ValueError):
                raise exc.InvalidInput(error_message=f"'{value}' is not an integer") from None
            if number < -1:
                raise exc.InvalidInput(error_message=f"'{number}' is smaller than the minimum -1")
            if number > QUOTA_MAX:  # Neutron's limit: a signed 32-bit integer
                raise exc.InvalidInput(error_message=f"'{number}' is too large - must be no larger than "
                                                     f"'{QUOTA_MAX}'")
            clean[key] = number

        def work(conn: Connection) -> dict[str, int]:
            for key, number in clean.items():
                if check and number >= 0:
                    used, reserved = self.usage(conn, project_id, key), self.reserved(conn, project_id, key)
                    if number < used + reserved:
                        raise QuotaLimitBelowUsage(limit=number, resource=key, used=used, reserved=reserved)
                conn.execute(delete(m.quotas).where(m.quotas.c.project_id == project_id,
                                                    m.quotas.c.resource == key))
                conn.execute(insert(m.quotas).values(project_id=project_id, resource=key, limit=number))
            return self.limits(conn, project_id)

        return self.db.transaction(work)

    def reset(self, project_id: str) -> None:
        def work(conn: Connection) -> None:
            conn.execute(delete(m.quotas).where(m.quotas.c.project_id == project_id))
        self.db.transaction(work)

    def projects_with_quotas(self, conn: Connection) -> list[str]:
        return [r[0] for r in conn.execute(select(m.quotas.c.project_id).distinct())]


def quota_fields() -> list[str]:
    return [f.name for f in fields(QuotaSettings) if f.name != "reservation_expiration"]
