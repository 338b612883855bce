"""IP address management: fixed IPs for ports, race-free.

The (subnet, address) primary key of ``ipallocations`` is the arbiter: an allocator picks
candidates, inserts, and a concurrent winner turns the loser's insert into a retry of its whole
transaction (automatic addresses) or a 409 (an address the caller asked for). Candidates are drawn
at random from the pools, like Neutron's IPAM, and checked with one indexed query, so a create
costs the same with 10 or 10 000 ports on the subnet.
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, select
from sqlalchemy.exc import IntegrityError

from regionmesh.db import models as m
from regionmesh.db.engine import RetryRequest
from regionmesh.network import exceptions as exc
from regionmesh.network import ipnet
from regionmesh.network.service import loads

ROUTER_OWNERS = ("network:router_interface", "network:router_gateway", "network:router_interface_distributed",
                 "network:ha_router_replicated_interface")
_SAMPLE = 16

# Built once: statement construction costs more than SQLite's execution on this hot path.
_A = m.ipallocations
_SUBNETS_OF_NETWORK = (select(m.subnets.c.id, m.subnets.c.cidr, m.subnets.c.ip_version, m.subnets.c.gateway_ip,
                              m.subnets.c.allocation_pools, m.subnets.c.ipv6_address_mode)
                       .where(m.subnets.c.network_id == bindparam("network_id"))
                       .order_by(m.subnets.c.created_at, m.subnets.c.id))
_USED_AMONG = select(_A.c.ip_address).where(_A.c.subnet_id == bindparam("subnet_id"),
                                            _A.c.ip_address.in_(bindparam("ips", expanding=True)))
_USED_COUNT = select(func.count()).select_from(_A).where(_A.c.subnet_id == bindparam("subnet_id"))
_USED_ALL = select(_A.c.ip_address).where(_A.c.subnet_id == bindparam("subnet_id"))
_INSERT = insert(_A)


class IpAddressAlreadyAllocated(exc.Conflict):
    message = "IP address %(ip)s already allocated in subnet %(subnet_id)s"


class IpAddressGenerationFailure(exc.Conflict):
    message = "No more IP addresses available on network %(net_id)s."


class InvalidIpForNetwork(exc.BadRequest):
    message = "IP address %(ip_address)s is not a valid IP for any of the subnets on the specified network."


class InvalidIpForSubnet(exc.BadRequest):
    message = "IP address %(ip_address)s is not a valid IP for the specified subnet."


class FixedIpsInvalidSubnet(exc.BadRequest):
    message = "Failed to create port on network %(network_id)s, because fixed_ips included invalid subnet " \
              "%(subnet_id)s"


@dataclass(frozen=True)
class SubnetInfo:
    id: str
    cidr: str
    ip_version: int
    gateway_ip: str | None
    pools: tuple[tuple[int, int], ...]
    address_mode: str | None

    @property
    def is_auto_address(self) -> bool:
        return self.ip_version == 6 and self.address_mode in ("slaac", "dhcpv6-stateless")

    @property
    def size(self) -> int:
        return sum(end - start + 1 for start, end in self.pools)


def network_subnets(conn: Connection, network_id: str) -> list[SubnetInfo]:
    rows = conn.execute(_SUBNETS_OF_NETWORK, {"network_id": network_id})
    out = []
    for r in rows:
        pools = tuple((int(ipaddress.ip_address(p["start"])), int(ipaddress.ip_address(p["end"])))
                      for p in loads(r.allocation_pools, []))
        out.append(SubnetInfo(r.id, r.cidr, r.ip_version, r.gateway_ip, pools, r.ipv6_address_mode))
    return out


def _addr(version: int, number: int) -> str:
    return str(ipaddress.IPv4Address(number) if version == 4 else ipaddress.IPv6Address(number))


def _used_among(conn: Connection, subnet_id: str, candidates: Sequence[str]) -> set[str]:
    rows = conn.execute(_USED_AMONG, {"subnet_id": subnet_id, "ips": list(candidates)})
    return {r[0] for r in rows}


def _pick_free(conn: Connection, subnet: SubnetInfo, avoid: set[str]) -> str | None:
    """A free address in the subnet's pools, or None when they are exhausted."""
    size = subnet.size
    if size <= 0:
        return None
    used_count = conn.execute(_USED_COUNT, {"subnet_id": subnet.id}).scalar_one()
    if size - used_count > size // 4 and size > _SAMPLE:
        # Sparse: random samples almost always hit a free address in one query.
        weights = [end - start + 1 for start, end in subnet.pools]
        for _ in range(4):
            picks = set()
            for _n in range(_SAMPLE):
                start, end = random.choices(subnet.pools, weights=weights)[0]
                picks.add(_addr(subnet.ip_version, random.randint(start, end)))
            picks -= avoid
            if subnet.gateway_ip:
                picks.discard(subnet.gateway_ip)
            free = sorted(picks - _used_among(conn, subnet.id, sorted(picks)))
            if free:
                return random.choice(free)
    # Dense (or small): scan the used set once and take the first free address.
    used = {r[0] for r in conn.execute(_USED_ALL, {"subnet_id": subnet.id})} | avoid
    if subnet.gateway_ip:
        used.add(subnet.gateway_ip)
    for start, end in subnet.pools:
        number = start
        while number <= end:
            addr = _addr(subnet.ip_version, number)
            if addr not in used:
                return addr
            number += 1
    return None


def _subnet_for_ip(subnets: Iterable[SubnetInfo], ip: str) -> SubnetInfo | None:
    for s in subnets:
        if ipnet.ip_in_cidr(ip, s.cidr):
            return s
    return None


def plan_fixed_ips(conn: Connection, network_id: str, requested: Sequence[Mapping[str, Any]] | None,
                   mac: str, device_owner: str) -> list[tuple[str, str, bool]]:
    """Decide the port's (subnet_id, ip, explicit) list; does not write."""
    subnets = network_subnets(conn, network_id)
    by_id = {s.id: s for s in subnets}
    plan: list[tuple[str, str, bool]] = []
    taken: set[str] = set()
    if requested is None:
        # One address per IP version from the first subnet with room; SLAAC addresses on every SLAAC subnet.
        done_versions: set[int] = set()
        for sub in subnets:
            if sub.is_auto_address:
                if device_owner not in ROUTER_OWNERS:
                    plan.append((sub.id, ipnet.eui64_address(sub.cidr, mac), False))
                continue
            if sub.ip_version in done_versions:
                continue
            picked = _pick_free(conn, sub, taken)
            if picked is not None:
                plan.append((sub.id, picked, False))
                taken.add(picked)
                done_versions.add(sub.ip_version)
        if subnets and not plan:
            raise IpAddressGenerationFailure(net_id=network_id)
        return plan
    for entry in requested:
        s: SubnetInfo | None
        subnet_id = entry.get("subnet_id")
        ip = entry.get("ip_address")
        if subnet_id is not None:
            s = by_id.get(subnet_id)
            if s is None:
                raise FixedIpsInvalidSubnet(network_id=network_id, subnet_id=subnet_id)
            if ip is not None and not ipnet.ip_in_cidr(ip, s.cidr):
                raise InvalidIpForSubnet(ip_address=ip)
        elif ip is not None:
            s = _subnet_for_ip(subnets, ip)
            if s is None:
                raise InvalidIpForNetwork(ip_address=ip)
        else:
            raise exc.InvalidInput(error_message="Invalid input for fixed_ips. Reason: a subnet_id or "
                                                 "ip_address is required.")
        assert s is not None
        if ip is not None:
            ip = str(ipaddress.ip_address(ip))
            if ip in taken or _used_among(conn, s.id, [ip]):
                raise IpAddressAlreadyAllocated(ip=ip, subnet_id=s.id)
            plan.append((s.id, ip, True))
        elif s.is_auto_address:
            plan.append((s.id, ipnet.eui64_address(s.cidr, mac), False))
        else:
            picked = _pick_free(conn, s, taken)
            if picked is None:
                raise IpAddressGenerationFailure(net_id=network_id)
            plan.append((s.id, picked, False))
        taken.add(plan[-1][1])
    return plan


def allocate(conn: Connection, port_id: str, network_id: str, plan: Sequence[tuple[str, str, bool]]) -> None:
    """Write the planned allocations; a lost race retries (automatic) or conflicts (explicit)."""
    # No savepoint: a lost race abandons the whole transaction anyway (retry or 409).
    for subnet_id, ip, explicit in plan:
        try:
            conn.execute(_INSERT, {"port_id": port_id, "ip_address": ip, "subnet_id": subnet_id,
                                   "network_id": network_id})
        except IntegrityError as err:
            if explicit:
                raise IpAddressAlreadyAllocated(ip=ip, subnet_id=subnet_id) from err
            raise RetryRequest(f"address {ip} taken concurrently", IpAddressGenerationFailure(
                net_id=network_id)) from err
