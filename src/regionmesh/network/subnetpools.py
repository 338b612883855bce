"""Subnet pools (Neutron's ``subnet_allocation``): prefixes subnets are carved from.

A pool's prefixes are compacted (overlapping or adjacent prefixes merged, as Neutron's IPSet does)
and may only grow. Allocation (:func:`allocate`) runs in the subnet create's transaction with the
pool row locked, so two concurrent creates can never be given overlapping CIDRs.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, delete, insert, or_, select, text
from sqlalchemy.sql.elements import ColumnElement

from regionmesh.context import RequestContext
from regionmesh.db import models as m
from regionmesh.network import exceptions as exc
from regionmesh.network import resources
from regionmesh.network.attributes import ATTR_NOT_SPECIFIED
from regionmesh.network.service import ResourceService, dumps, loads

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
# neutron's subnet pool helper: default bounds per IP version.
DEFAULT_MIN = {4: 8, 6: 64}
MAX_PREFIXLEN = {4: 32, 6: 128}


class SubnetPoolNotFound(exc.NotFound):
    message = "Subnet pool %(subnetpool_id)s could not be found."

    def __init__(self, message: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("subnetpool_id", kwargs.get("id"))
        super().__init__(message, **kwargs)


class SubnetPoolDeleteError(exc.BadRequest):
    message = "Unable to delete subnet pool: %(reason)s."


class PrefixVersionMismatch(exc.BadRequest):
    message = "Cannot mix IPv4 and IPv6 prefixes in a subnet pool."


class IllegalSubnetPoolPrefixBounds(exc.BadRequest):
    message = "Illegal prefix bounds: %(prefix_type)s=%(prefixlen)s, %(base_prefix_type)s=%(base_prefixlen)s."


class IllegalSubnetPoolPrefixUpdate(exc.BadRequest):
    message = "Illegal update to prefixes: %(msg)s."


class AddressScopeNotFound(exc.NotFound):
    message = "Address scope %(address_scope_id)s could not be found."


class SubnetAllocationError(exc.Conflict):
    message = "Failed to allocate subnet: %(reason)s."


class MinPrefixSubnetAllocationError(exc.BadRequest):
    message = "Unable to allocate subnet with prefix length %(prefixlen)s, minimum allowed prefix is " \
              "%(min_prefixlen)s."


class MaxPrefixSubnetAllocationError(exc.BadRequest):
    message = "Unable to allocate subnet with prefix length %(prefixlen)s, maximum allowed prefix is " \
              "%(max_prefixlen)s."


def _invalid(msg: str) -> exc.InvalidInput:
    return exc.InvalidInput(error_message=msg)


def compact(prefixes: Iterable[str]) -> tuple[int, list[str]]:
    """(ip_version, merged prefixes): Neutron stores a pool's prefixes as one compacted IP set."""
    nets = [ipaddress.ip_network(p, strict=False) for p in prefixes]
    if not nets:
        raise _invalid("prefixes must not be empty")
    versions = {n.version for n in nets}
    if len(versions) > 1:
        raise PrefixVersionMismatch()
    merged = ipaddress.collapse_addresses(nets)  # type: ignore[type-var]
    return versions.pop(), [str(n) for n in merged]


def check_bounds(version: int, min_len: int, max_len: int, default_len: int) -> None:
    """min ≤ default ≤ max, all within the IP version's range (IllegalSubnetPoolPrefixBounds)."""
    top = MAX_PREFIXLEN[version]
    if not 0 <= min_len <= top:
        raise IllegalSubnetPoolPrefixBounds(prefix_type="min_prefixlen", prefixlen=min_len,
                                            base_prefix_type="max_prefixlen", base_prefixlen=top)
    if not 0 <= max_len <= top:
        raise IllegalSubnetPoolPrefixBounds(prefix_type="max_prefixlen", prefixlen=max_len,
                                            base_prefix_type="max_prefixlen", base_prefixlen=top)
    if max_len < min_len:
        raise IllegalSubnetPoolPrefixBounds(prefix_type="max_prefixlen", prefixlen=max_len,
                                            base_prefix_type="min_prefixlen", base_prefixlen=min_len)
    if default_len < min_len:
        raise IllegalSubnetPoolPrefixBounds(prefix_type="default_prefixlen", prefixlen=default_len,
                                            base_prefix_type="min_prefixlen", base_prefixlen=min_len)
    if default_len > max_len:
        raise IllegalSubnetPoolPrefixBounds(prefix_type="default_prefixlen", prefixlen=default_len,
                                            base_prefix_type="max_prefixlen", base_prefixlen=max_len)


def _given(value: Any) -> bool:
    return value is not None and value is not ATTR_NOT_SPECIFIED


def _serialize(conn: Connection, key: str) -> None:
    """One writer at a time for ``key``: SQLite writers already are; PostgreSQL takes an advisory lock."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": key})


def _check_default_unique(conn: Connection, version: int, pool_id: str) -> None:
    """At most one default pool per IP version (Neutron's InvalidInput)."""
    _serialize(conn, f"regionmesh-default-subnetpool-{version}")
    t = m.subnetpools
    other = conn.execute(select(t.c.id).where(t.c.is_default.is_(True), t.c.ip_version == version,
                                              t.c.id != pool_id).limit(1)).first()
    if other is not None:
        raise _invalid("A default subnetpool for this IP family has already been set. Only one default may "
                       "exist per IP family")


def _check_quota_and_scope(item: Mapping[str, Any]) -> None:
    quota = item.get("default_quota")
    if quota is not None and quota < 0:
        raise exc.HTTPBadRequest(f"Invalid input for default_quota. Reason: '{quota}' should be non-negative.")
    if item.get("address_scope_id"):  # no address scopes here: none can be found
        raise AddressScopeNotFound(address_scope_id=item["address_scope_id"])


class SubnetPoolService(ResourceService):
    rdef = resources.SUBNETPOOL
    table = m.subnetpools
    not_found = SubnetPoolNotFound
    bool_filters = frozenset({"shared", "is_default"})
    int_filters = frozenset({"ip_version", "default_prefixlen", "min_prefixlen", "max_prefixlen",
                             "default_quota"})

    def visible_clause(self, ctx: RequestContext) -> ColumnElement[bool] | None:
        if ctx.is_admin:
            return None
        return or_(self.table.c.project_id == ctx.project_id, self.table.c.shared.is_(True))

    def load(self, conn: Connection, rows: Sequence[Any]) -> list[dict[str, Any]]:
        tags = self.load_tags(conn, [r.id for r in rows])
        out = []
        for r in rows:
            item = self.standard_view(r)
            item.update({
                "ip_version": r.ip_version,
                "prefixes": loads(r.prefixes, []),
                # Strings, as Neutron shows them (clients and Tempest compare with the strings they sent).
                "default_prefixlen": str(r.default_prefixlen),
                "min_prefixlen": str(r.min_prefixlen),
                "max_prefixlen": str(r.max_prefixlen),
                "shared": r.shared,
                "is_default": r.is_default,
                "default_quota": r.default_quota,
                "address_scope_id": r.address_scope_id,
                "tags": tags[r.id],
            })
            out.append(item)
        return out

    # ---- writes -----------------------------------------------------------------------------
    def prepare_create(self, conn: Connection, ctx: RequestContext, item: dict[str, Any]) -> None:
        version, prefixes = compact(item["prefixes"])
        item["prefixes"], item["ip_version"] = prefixes, version
        min_len = item["min_prefixlen"] if _given(item.get("min_prefixlen")) else DEFAULT_MIN[version]
        max_len = item["max_prefixlen"] if _given(item.get("max_prefixlen")) else MAX_PREFIXLEN[version]
        default_len = item["default_prefixlen"] if _given(item.get("default_prefixlen")) else min_len
        check_bounds(version, min_len, max_len, default_len)
        item.update(min_prefixlen=min_len, max_prefixlen=max_len, default_prefixlen=default_len)
        _check_quota_and_scope(item)

    def create_one(self, conn: Connection, ctx: RequestContext, item: dict[str, Any]) -> str:
        values = self.standard_values(ctx, item)
        values.update({
            "ip_version": item["ip_version"],
            "prefixes": dumps(item["prefixes"]),
            "default_prefixlen": item["default_prefixlen"],
            "min_prefixlen": item["min_prefixlen"],
            "max_prefixlen": item["max_prefixlen"],
            "shared": item["shared"],
            "is_default": item["is_default"],
            "default_quota": item.get("default_quota"),
            "address_scope_id": None,
        })
        if item["is_default"]:
            _check_default_unique(conn, item["ip_version"], values["id"])
        conn.execute(insert(self.table).values(**values))
        self.insert_tags(conn, values["id"], item.get("tags") or [])
        return str(values["id"])

    def update_one(self, conn: Connection, ctx: RequestContext, original: dict[str, Any],
                   changes: dict[str, Any]) -> None:
        lock_pool(conn, original["id"])
        _check_quota_and_scope(changes)
        version = original["ip_version"]
        values: dict[str, Any] = {}
        for name in ("name", "description", "default_quota"):
            if name in changes:
                values[name] = changes[name]
        if "prefixes" in changes:
            new_version, prefixes = compact(changes["prefixes"])
            if new_version != version:
                raise PrefixVersionMismatch()
            new_nets = [ipaddress.ip_network(p) for p in prefixes]
            for old in original["prefixes"]:
                old_net = ipaddress.ip_network(old)
                if not any(old_net.subnet_of(n) for n in new_nets):  # type: ignore[arg-type]
                    raise IllegalSubnetPoolPrefixUpdate(msg="Existing prefixes must be a subset of the new "
                                                            "prefixes")
            values["prefixes"] = dumps(prefixes)
        bounds = {n: changes[n] if _given(changes.get(n)) else int(original[n])
                  for n in ("min_prefixlen", "max_prefixlen", "default_prefixlen")}
        if any(n in changes for n in bounds):
            check_bounds(version, bounds["min_prefixlen"], bounds["max_prefixlen"], bounds["default_prefixlen"])
            used = [ipaddress.ip_network(c).prefixlen for c in pool_cidrs(conn, original["id"])]
            if used and min(used) < bounds["min_prefixlen"]:
                raise IllegalSubnetPoolPrefixBounds(prefix_type="min_prefixlen", prefixlen=bounds["min_prefixlen"],
                                                    base_prefix_type="allocated prefixlen",
                                                    base_prefixlen=min(used))
            if used and max(used) > bounds["max_prefixlen"]:
                raise IllegalSubnetPoolPrefixBounds(prefix_type="max_prefixlen", prefixlen=bounds["max_prefixlen"],
                                                    base_prefix_type="allocated prefixlen",
                                                    base_prefixlen=max(used))
            values.update(bounds)
        if "is_default" in changes:
            if changes["is_default"] and not original["is_default"]:
                _check_default_unique(conn, version, original["id"])
            values["is_default"] = changes["is_default"]
        self.bump(conn, original["id"], values)

    def delete_one(self, conn: Connection, ctx: RequestContext, original: dict[str, Any]) -> None:
        lock_pool(conn, original["id"])
        if pool_cidrs(conn, original["id"]):
            raise SubnetPoolDeleteError(reason="Subnet pool has existing allocations")
        conn.execute(delete(m.tags).where(m.tags.c.resource_type == self.rdef.collection,
                                          m.tags.c.resource_id == original["id"]))
        conn.execute(delete(self.table).where(self.table.c.id == original["id"]))


# ---- allocation (used by subnets) -----------------------------------------------------------------
def lock_pool(conn: Connection, pool_id: str) -> Any:
    """The pool row, locked for the rest of the transaction (SQLite: writers are already serial)."""
    return conn.execute(select(m.subnetpools).where(m.subnetpools.c.id == pool_id).with_for_update()).first()


def pool_cidrs(conn: Connection, pool_id: str) -> list[str]:
    return [r[0] for r in conn.execute(select(m.subnets.c.cidr).where(m.subnets.c.subnetpool_id == pool_id))]


def check_prefixlen(pool: Any, prefixlen: int) -> None:
    if prefixlen < pool.min_prefixlen:
        raise MinPrefixSubnetAllocationError(prefixlen=prefixlen, min_prefixlen=pool.min_prefixlen)
    if prefixlen > pool.max_prefixlen:
        raise MaxPrefixSubnetAllocationError(prefixlen=prefixlen, max_prefixlen=pool.max_prefixlen)


def _first_free(prefixes: Sequence[IPNetwork], used: Sequence[IPNetwork], prefixlen: int) -> IPNetwork | None:
    """The lowest free block of ``prefixlen`` in the pool: scan each prefix, skipping over used blocks."""
    for prefix in prefixes:
        if prefix.prefixlen > prefixlen:
            continue
        size = 1 << (prefix.max_prefixlen - prefixlen)
        start = int(prefix.network_address)
        end = int(prefix.broadcast_address)
        here = sorted((u for u in used if u.overlaps(prefix)), key=lambda u: int(u.network_address))
        cursor = start
        while cursor + size - 1 <= end:
            block = ipaddress.ip_network((cursor, prefixlen))
            clash = [u for u in here if u.overlaps(block)]
            if not clash:
                return block
            # Jump past the furthest clashing block, aligned up to the requested size.
            past = max(int(u.broadcast_address) for u in clash) + 1
            cursor = ((past - start + size - 1) // size) * size + start
    return None


def allocate(conn: Connection, pool_id: str, ip_version: int, cidr: str | None, prefixlen: int | None) -> str:
    """The CIDR a new subnet gets from the pool; call inside the create transaction (locks the pool)."""
    pool = lock_pool(conn, pool_id)
    if pool is None:
        raise SubnetPoolNotFound(subnetpool_id=pool_id)
    if pool.ip_version != ip_version:
        raise exc.BadRequest(resource="subnets", msg=f"Cannot allocate IPv{ip_version} subnet from "
                                                     f"IPv{pool.ip_version} subnet pool")
    prefixes = [ipaddress.ip_network(p) for p in loads(pool.prefixes, [])]
    used = [ipaddress.ip_network(c) for c in pool_cidrs(conn, pool_id)]
    if cidr is not None:
        wanted = ipaddress.ip_network(cidr)
        check_prefixlen(pool, wanted.prefixlen)
        inside = any(wanted.subnet_of(p) for p in prefixes)  # type: ignore[arg-type]
        if not inside or any(u.overlaps(wanted) for u in used):
            raise SubnetAllocationError(reason="Cannot allocate requested subnet from the available set of "
                                               "prefixes")
        return str(wanted)
    length = pool.default_prefixlen if prefixlen is None else prefixlen
    check_prefixlen(pool, length)
    block = _first_free(prefixes, used, length)
    if block is None:
        raise SubnetAllocationError(reason=f"Insufficient prefix space to allocate subnet size /{length}")
    return str(block)
