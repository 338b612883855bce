"""Pure IP, CIDR and MAC helpers with Neutron's parsing and IPAM semantics.

Neutron parses addresses with ``netaddr``; RegionMesh uses the standard library, so the
parsers here reproduce netaddr's *acceptance rules* (what a client may send) rather than
``ipaddress``'s: IPv6 zone ids are refused, IPv4 octets with leading zeros are refused by the
strict parser, and a network keeps its host bits (``10.0.0.5/24`` stays as typed until a caller
normalises it). Everything works on integers, so no helper walks an IPv6 range.

The pool rules (which addresses a subnet hands out, which pools are acceptable) follow
``neutron/ipam/utils.py`` and ``neutron/db/ipam_backend_mixin.py`` of current Neutron, and the
exceptions raised carry Neutron's type names and messages.
"""

from __future__ import annotations

import bisect
import functools
import ipaddress
import itertools
import random
import re
import socket
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Final, NamedTuple

from regionmesh.network.exceptions import BadRequest, Conflict, InUse

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPInterface = ipaddress.IPv4Interface | ipaddress.IPv6Interface
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_WHITESPACE: Final = re.compile(r"\s")
_V4_MAX: Final = (1 << 32) - 1
_V6_MAX: Final = (1 << 128) - 1
_MAC_MAX: Final = (1 << 48) - 1
# The U/L bit of an EUI-64 interface identifier, counted from the low end of a 128-bit address.
_EUI64_UL_BIT: Final = 1 << 57

# Device owners that may own the IPv6 subnet-router anycast address (Neutron's ROUTER_PORT_OWNERS).
ROUTER_PORT_OWNERS: Final = (
    "network:router_interface",
    "network:ha_router_replicated_interface",
    "network:router_interface_distributed",
    "network:router_centralized_snat",
    "network:router_gateway",
)

# The MAC spellings netaddr accepts (its EUI-48 strategy): 6 groups of 1-2 hex digits with ':' or
# '-', 3 groups of 1-4 with ':', '-' or '.', 2 groups of 5-6 with ':' or '-', or 11-12 bare digits.
_MAC_FORMATS: Final = tuple(
    re.compile(pattern, re.IGNORECASE)
    for pattern in (
        ":".join(["([0-9A-F]{1,2})"] * 6),
        "-".join(["([0-9A-F]{1,2})"] * 6),
        ":".join(["([0-9A-F]{1,4})"] * 3),
        "-".join(["([0-9A-F]{1,4})"] * 3),
        r"\.".join(["([0-9A-F]{1,4})"] * 3),
        "-".join(["([0-9A-F]{5,6})"] * 2),
        ":".join(["([0-9A-F]{5,6})"] * 2),
        "([0-9A-F]{11,12})",
    )
)
_MAC_GROUP_BITS: Final = {6: 8, 3: 16, 2: 24, 1: 48}


# --- Neutron's pool exceptions -----------------------------------------------------------------

class InvalidAllocationPool(BadRequest):
    message = "The allocation pool %(pool)s is not valid."


class OutOfBoundsAllocationPool(BadRequest):
    message = "The allocation pool %(pool)s spans beyond the subnet cidr %(subnet_cidr)s."


class OverlappingAllocationPools(Conflict):
    message = "Found overlapping allocation pools: %(pool_1)s %(pool_2)s for subnet %(subnet_cidr)s."


class GatewayConflictWithAllocationPools(InUse):
    message = "Gateway ip %(ip_address)s conflicts with allocation pool %(pool)s."


class IPRange(NamedTuple):
    """An inclusive address range as integers; ``str()`` gives netaddr's ``first-last`` form."""

    first: int
    last: int
    version: int

    def __str__(self) -> str:
        return f"{int_to_ip(self.first, self.version)}-{int_to_ip(self.last, self.version)}"

    def holds(self, value: int) -> bool:
        """Whether the integer address ``value`` lies in the range."""
        return self.first <= value <= self.last

    @property
    def size(self) -> int:
        return max(self.last - self.first + 1, 0)

    def as_pool(self) -> dict[str, str]:
        """The API's ``{"start": ..., "end": ...}`` form."""
        return {"start": int_to_ip(self.first, self.version), "end": int_to_ip(self.last, self.version)}


# --- Parsing -----------------------------------------------------------------------------------

def _pton(text: str) -> IPAddress | None:
    """Strict presentation-format parse (netaddr's ``INET_PTON``): exactly what ``inet_pton`` takes."""
    try:
        if ":" in text:
            return ipaddress.IPv6Address(socket.inet_pton(socket.AF_INET6, text))
        # inet_pton already refuses '010.0.0.1'; netaddr refuses it explicitly too.
        return ipaddress.IPv4Address(socket.inet_pton(socket.AF_INET, text))
    except (OSError, ValueError):  # ValueError: embedded NUL or non-ASCII text
        return None


def parse_ip(value: Any) -> IPAddress | None:
    """Parse an address the way netaddr's strict mode does; ``None`` when it is not one."""
    if not isinstance(value, str) or not value or _WHITESPACE.search(value):
        return None
    return _pton(value)


def parse_ip_zerofill(value: Any) -> IPAddress | None:
    """Parse like Neutron's ``validate_ip_address`` (netaddr ``ZEROFILL``): IPv4 octets may carry
    leading zeros (``010.0.0.1`` reads as ``10.0.0.1``); the caller decides whether that is
    acceptable by comparing the canonical text with the input."""
    if not isinstance(value, str) or not value or _WHITESPACE.search(value):
        return None
    if ":" in value:
        return _pton(value)
    try:
        # netaddr rebuilds each octet with int(), so '+1' and '0001' both read as 1.
        filled = ".".join(str(int(part)) for part in value.split("."))
    except ValueError:
        return None
    return _pton(filled)


def _mask_prefix(mask: IPAddress) -> int | None:
    """Prefix length of a netmask (``255.255.255.0``) or hostmask (``0.0.0.255``), as netaddr reads them."""
    width = mask.max_prefixlen
    value = int(mask)
    inverted = ((1 << width) - 1) ^ value
    if inverted & (inverted + 1) == 0:  # ones then zeros: a netmask
        return width - inverted.bit_length()
    if value & (value + 1) == 0:  # zeros then ones: a hostmask
        return width - value.bit_length()
    return None


@functools.lru_cache(maxsize=4096)
def _parse_interface(text: str) -> IPInterface | None:
    addr_text, slash, prefix_text = text.partition("/")
    ip = _pton(addr_text)
    if ip is None:
        return None
    if not slash:
        prefixlen: int | None = ip.max_prefixlen
    else:
        try:
            prefixlen = int(prefix_text)  # netaddr uses int(): '+64' and '064' are accepted
        except ValueError:
            mask = _pton(prefix_text)
            if mask is None or mask.version != ip.version:
                return None
            prefixlen = _mask_prefix(mask)
    if prefixlen is None or not 0 <= prefixlen <= ip.max_prefixlen:
        return None
    if ip.version == 4:
        return ipaddress.IPv4Interface((int(ip), prefixlen))
    return ipaddress.IPv6Interface((int(ip), prefixlen))


def parse_interface(value: Any) -> IPInterface | None:
    """Parse ``addr[/prefix]`` like ``netaddr.IPNetwork``: host bits kept, netmask or hostmask
    accepted after the slash, no slash meaning a host route. ``None`` when invalid."""
    # The longest valid text is an IPv6 address with an IPv6 netmask (91 characters); the bound
    # also keeps hostile input out of the parse cache.
    if not isinstance(value, str) or not value or len(value) > 96 or _WHITESPACE.search(value):
        return None
    return _parse_interface(value)


def _require_interface(value: Any) -> IPInterface:
    iface = parse_interface(value)
    if iface is None:
        raise ValueError(f"{value!r} is not a valid IP network")
    return iface


def _require_ip(value: Any) -> IPAddress:
    if isinstance(value, ipaddress.IPv4Address | ipaddress.IPv6Address):
        return value
    ip = parse_ip(value)
    if ip is None:
        raise ValueError(f"{value!r} is not a valid IP address")
    return ip


def format_ip(ip: IPAddress) -> str:
    """Canonical text of an address: IPv6 compressed and lower-case as ``inet_ntop`` prints it
    (the same as netaddr's ``ipv6_compact``, e.g. ``::ffff:1.2.3.4``)."""
    if ip.version == 6:
        return socket.inet_ntop(socket.AF_INET6, ip.packed)
    return str(ip)


def format_interface(iface: IPInterface) -> str:
    """``addr/prefix`` with the host bits kept, like ``str(netaddr.IPNetwork)``."""
    return f"{format_ip(iface.ip)}/{iface.network.prefixlen}"


def ip_version(addr_or_cidr: Any) -> int:
    """4 or 6 for an address or a CIDR; ``ValueError`` when it is neither."""
    return _require_interface(addr_or_cidr).version


def ip_to_int(ip: Any) -> int:
    return int(_require_ip(ip))


def int_to_ip(value: int, version: int) -> str:
    """Canonical text of the address ``value`` of the given IP version."""
    if version == 4:
        if not 0 <= value <= _V4_MAX:
            raise ValueError(f"{value} is out of the IPv4 range")
        return str(ipaddress.IPv4Address(value))
    if version == 6:
        if not 0 <= value <= _V6_MAX:
            raise ValueError(f"{value} is out of the IPv6 range")
        return socket.inet_ntop(socket.AF_INET6, value.to_bytes(16, "big"))
    raise ValueError(f"unknown IP version {version}")


def canonical_ip(value: str) -> str:
    """An address in canonical text (IPv6 compressed); ``ValueError`` when invalid."""
    return format_ip(_require_ip(value))


def normalise_cidr(cidr: Any) -> str:
    """The network a CIDR designates, host bits cleared: what Neutron stores for a subnet and
    shows as a rule's ``normalized_cidr`` (``10.0.0.5/24`` -> ``10.0.0.0/24``)."""
    net = _require_interface(cidr).network
    return f"{format_ip(net.network_address)}/{net.prefixlen}"


def network_of(cidr: Any) -> IPNetwork:
    """The ``ipaddress`` network object for a CIDR, host bits cleared."""
    return _require_interface(cidr).network


def cidrs_overlap(a: Any, b: Any) -> bool:
    """Whether two CIDRs share an address (different IP versions never do)."""
    net_a, net_b = network_of(a), network_of(b)
    if net_a.version != net_b.version:
        return False
    return net_a.overlaps(net_b)


def ip_in_cidr(ip: Any, cidr: Any) -> bool:
    """Whether an address lies in a CIDR (different IP versions: ``False``)."""
    addr = _require_ip(ip)
    net = network_of(cidr)
    return addr.version == net.version and addr in net


# --- Subnet rules ------------------------------------------------------------------------------

def _bounds(net: IPNetwork) -> tuple[int, int]:
    return int(net.network_address), int(net.broadcast_address)


def default_gateway(cidr: Any, *, ipv6_first_host: bool = False) -> str | None:
    """Neutron's gateway when the request leaves ``gateway_ip`` unset: the first host for IPv4,
    the subnet-router anycast (network) address for IPv6 (``2001:db8::`` for ``2001:db8::/64``,
    as current Neutron's ``_gateway_ip_str`` does; ``ipv6_first_host=True`` gives the older
    ``2001:db8::1``). ``None`` for an IPv4 /32 whose next address would leave the subnet."""
    net = network_of(cidr)
    first, last = _bounds(net)
    if net.version == 6:
        if ipv6_first_host and first < last:
            return int_to_ip(first + 1, 6)
        return int_to_ip(first, 6)
    if first + 1 > last:
        return None
    return int_to_ip(first + 1, 4)


def _usable(net: IPNetwork) -> IPRange:
    first, last = _bounds(net)
    if net.version == 4 and net.prefixlen > 30:
        return IPRange(first, last, 4)
    if net.version == 4:
        return IPRange(first + 1, last - 1, 4)
    return IPRange(first + 1, last, 6)


def usable_range(cidr: Any) -> IPRange:
    """The addresses allocation pools may cover: IPv4 drops network and broadcast up to /30 and
    keeps every address of a /31 or /32; IPv6 drops only the subnet-router anycast (network)
    address, so an IPv6 /128 has an empty range (``first > last``) and refuses every pool."""
    return _usable(network_of(cidr))


def default_allocation_pools(cidr: Any, gateway_ip: Any = None) -> list[dict[str, str]]:
    """Neutron's ``generate_pools``: the usable range with the gateway cut out (a /32 or /128 is
    a single-address pool that keeps it), as API ``{"start", "end"}`` dicts."""
    net = network_of(cidr)
    first, last = _bounds(net)
    if first == last:
        return [IPRange(first, last, net.version).as_pool()]
    span = _usable(net)
    pieces = [span]
    if gateway_ip:
        gw = _require_ip(gateway_ip)
        if gw.version == net.version and span.holds(int(gw)):
            g = int(gw)
            pieces = [r for r in (IPRange(span.first, g - 1, net.version),
                                  IPRange(g + 1, span.last, net.version)) if r.first <= r.last]
    return [r.as_pool() for r in pieces]


def pools_to_ranges(pools: Iterable[Mapping[str, Any]]) -> list[IPRange]:
    """API pools to ranges; ``InvalidAllocationPool`` (with the pool as sent) for a bad address,
    mixed IP versions or a start after the end, as ``netaddr.IPRange`` would refuse them."""
    ranges = []
    for pool in pools:
        start, end = parse_ip(pool.get("start")), parse_ip(pool.get("end"))
        if start is None or end is None or start.version != end.version or int(start) > int(end):
            raise InvalidAllocationPool(pool=pool)
        ranges.append(IPRange(int(start), int(end), start.version))
    return ranges


def validate_allocation_pools(pools: Iterable[Mapping[str, Any]], cidr: str,
                              gateway_ip: Any = None) -> None:
    """Check requested pools against their subnet in Neutron's order: parse
    (``InvalidAllocationPool``, 400), IP version and bounds (``InvalidAllocationPool`` /
    ``OutOfBoundsAllocationPool``, 400), overlaps (``OverlappingAllocationPools``, 409), then the
    gateway (``GatewayConflictWithAllocationPools``, 409)."""
    ranges = pools_to_ranges(pools)
    net = network_of(cidr)
    allowed = _usable(net)
    for r in ranges:
        if r.version != net.version:
            raise InvalidAllocationPool(pool=str(r))
        if r.first < allowed.first or r.last > allowed.last:
            raise OutOfBoundsAllocationPool(pool=str(r), subnet_cidr=cidr)
    _check_overlaps(ranges, cidr)
    if gateway_ip:
        validate_gateway_out_of_pools(gateway_ip, ranges)


def _check_overlaps(ranges: Sequence[IPRange], cidr: str) -> None:
    ordered = sorted(ranges)
    if all(a.last < b.first for a, b in itertools.pairwise(ordered)):
        return
    # Rare path: report the same pair Neutron does (first pool in request order, then the next).
    for i, left in enumerate(ranges):
        for right in ranges[i + 1:]:
            if left.first <= right.last and right.first <= left.last:
                raise OverlappingAllocationPools(pool_1=str(left), pool_2=str(right), subnet_cidr=cidr)


def validate_gateway_out_of_pools(gateway_ip: Any, pools: Iterable[IPRange | Mapping[str, Any]]) -> None:
    """``GatewayConflictWithAllocationPools`` (409) when the gateway lies inside a pool."""
    gw = _require_ip(gateway_ip)
    for pool in pools:
        r = pool if isinstance(pool, IPRange) else pools_to_ranges([pool])[0]
        if r.version == gw.version and r.holds(int(gw)):
            raise GatewayConflictWithAllocationPools(pool=str(r), ip_address=gateway_ip)


def check_subnet_ip(cidr: Any, ip: Any, port_owner: str = "") -> bool:
    """Whether a fixed IP may be used on a subnet (Neutron's ``check_subnet_ip``): IPv4 refuses the
    network address and, up to /30, the broadcast address; IPv6 refuses the subnet-router anycast
    address unless the owner is a router port or unknown (empty)."""
    addr = _require_ip(ip)
    net = network_of(cidr)
    if addr.version != net.version or addr not in net:
        return False
    if net.version == 4:
        broadcast = net.broadcast_address if net.prefixlen <= 30 else None
        return addr != net.network_address and addr != broadcast
    return port_owner in ROUTER_PORT_OWNERS or port_owner == "" or addr != net.network_address


def check_gateway_invalid_in_subnet(cidr: Any, gateway: Any) -> bool:
    """Whether a gateway inside its IPv4 subnet is the network or last address (Neutron refuses
    both with "Gateway is not valid on subnet"); a gateway outside the subnet is not checked."""
    gw = _require_ip(gateway)
    net = network_of(cidr)
    if gw.version != net.version or gw not in net or net.version != 4:
        return False
    return gw in (net.network_address, net.broadcast_address)


# --- Address allocation ------------------------------------------------------------------------

def iter_pool_ips(start: Any, end: Any) -> Iterator[str]:
    """The addresses of ``start..end`` lazily (a /64 pool is never materialised)."""
    first, last = _require_ip(start), _require_ip(end)
    if first.version != last.version:
        raise ValueError("start and end IP versions differ")
    version = first.version
    for value in range(int(first), int(last) + 1):
        yield int_to_ip(value, version)


def first_free_ip(pools: Iterable[IPRange | Mapping[str, Any]], allocated: Iterable[Any]) -> str | None:
    """The lowest address of the first pool (in the given order) not in ``allocated``.

    Cost is O(a log a + p) for ``a`` allocated addresses and ``p`` pools: the allocated set is
    sorted once and each pool is probed by bisection, never by walking its addresses.
    """
    ranges = [p if isinstance(p, IPRange) else pools_to_ranges([p])[0] for p in pools]
    if not ranges:
        return None
    taken: dict[int, list[int]] = {4: [], 6: []}
    for ip in allocated:
        addr = ip if isinstance(ip, ipaddress.IPv4Address | ipaddress.IPv6Address) else _require_ip(ip)
        taken[addr.version].append(int(addr))
    for values in taken.values():
        values.sort()
    for r in ranges:
        used = taken[r.version]
        candidate = r.first
        idx = bisect.bisect_left(used, candidate)
        while idx < len(used) and used[idx] <= candidate:
            if used[idx] == candidate:
                candidate += 1
            idx += 1
            if candidate > r.last:
                break
        if candidate <= r.last:
            return int_to_ip(candidate, r.version)
    return None


# --- MAC addresses -----------------------------------------------------------------------------

def parse_mac(value: Any) -> int | None:
    """A MAC in any spelling netaddr accepts, as a 48-bit integer; ``None`` when invalid."""
    if not isinstance(value, str) or not value or _WHITESPACE.search(value):
        return None
    for pattern in _MAC_FORMATS:
        match = pattern.fullmatch(value)
        if match:
            groups = match.groups()
            bits = _MAC_GROUP_BITS[len(groups)]
            result = 0
            for group in groups:
                result = (result << bits) | int(group, 16)
            return result
    return None


def format_mac(value: int) -> str:
    """``aa:bb:cc:dd:ee:ff``: lower case, zero padded (netaddr's ``mac_unix_expanded``)."""
    if not 0 <= value <= _MAC_MAX:
        raise ValueError(f"{value} is not a 48-bit MAC address")
    text = f"{value:012x}"
    return ":".join(text[i:i + 2] for i in range(0, 12, 2))


def is_valid_mac(value: Any) -> bool:
    """Neutron's rule: a parsable MAC other than all-zeros and broadcast (multicast is allowed)."""
    mac = parse_mac(value)
    return mac is not None and mac not in (0, _MAC_MAX)


def generate_mac(base: str = "fa:16:3e:00:00:00") -> str:
    """A random MAC under ``base`` (Neutron's ``base_mac``): the first three octets are kept, the
    fourth too unless it is ``00``, and the rest are random."""
    octets = base.split(":")
    if len(octets) != 6:
        raise ValueError(f"{base!r} is not a MAC address base")
    prefix = [int(o, 16) for o in octets[:3]]
    fixed_fourth = octets[3] != "00"
    tail = random.getrandbits(24)
    values = [*prefix, (tail >> 16) & 0xFF, (tail >> 8) & 0xFF, tail & 0xFF]
    if fixed_fourth:
        values[3] = int(octets[3], 16)
    return ":".join(f"{v:02x}" for v in values)


def eui64_address(prefix_cidr: Any, mac: Any) -> str:
    """The SLAAC address of ``mac`` in an IPv6 prefix (RFC 4291 modified EUI-64, as Neutron's
    ``get_ipv6_addr_by_EUI64``); ``ValueError`` for a bad prefix or MAC."""
    mac_value = parse_mac(mac)
    if mac_value is None:
        raise ValueError(f"Bad prefix or mac format for generating IPv6 address by EUI-64: "
                         f"{prefix_cidr}, {mac}:")
    net = network_of(prefix_cidr)
    if net.version != 6:
        raise ValueError(f"Bad prefix type for generating IPv6 address by EUI-64: {prefix_cidr}")
    eui64 = ((mac_value >> 24) << 40) | (0xFFFE << 24) | (mac_value & 0xFFFFFF)
    return int_to_ip((int(net.network_address) + eui64) ^ _EUI64_UL_BIT, 6)


def pools_without(pools: Iterable[Mapping[str, Any]], address: str | None) -> list[dict[str, str]]:
    """Allocation pools with one address cut out (a region's copy of a subnet keeps its own
    gateway out of its pools); pools that do not hold it are returned as they are."""
    if address is None:
        return [dict(p) for p in pools]
    hole = _require_ip(address)
    out: list[dict[str, str]] = []
    for rng in pools_to_ranges(pools):
        if not rng.holds(int(hole)):
            out.append(rng.as_pool())
            continue
        out += [r.as_pool() for r in (IPRange(rng.first, int(hole) - 1, rng.version),
                                      IPRange(int(hole) + 1, rng.last, rng.version)) if r.first <= r.last]
    return out
