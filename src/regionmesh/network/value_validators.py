"""Neutron's validators for plain attribute values, and the helpers every validator module shares.

Strings, numbers, booleans, UUIDs, MAC and IP addresses, subnets and routes, and lists of them (fixed
IPs, allocation pools, nameservers, host routes). Each is called as ``validator(value, spec)`` and
returns ``None`` when valid, otherwise Neutron's reason text. None of them looks anything up in the
registry, so :mod:`regionmesh.network.validators` registers them all (and re-exports them).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Final

from regionmesh.network import ipnet

# --- Shared helpers -----------------------------------------------------------------------------

_WHITESPACE: Final = re.compile(r"\s")
_CANONICAL_UUID: Final = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_TRUE_STRINGS: Final = frozenset(("1", "t", "true", "on", "y", "yes"))
_FALSE_STRINGS: Final = frozenset(("0", "f", "false", "off", "n", "no"))


def _set_repr(keys: Iterable[Any]) -> str:
    """A set printed like Python's repr, but sorted so messages are stable across runs."""
    items = sorted({repr(k) for k in keys})
    return "{" + ", ".join(items) + "}" if items else "set()"


def _verify_dict_keys(expected_keys: Sequence[str], target: Any, strict: bool = True) -> str | None:
    if not isinstance(target, dict):
        return (f"Invalid input. '{target}' must be a dictionary "
                f"with keys: {list(expected_keys)}")
    provided = set(target)
    expected = set(expected_keys)
    if (provided == expected) if strict else expected.issubset(provided):
        return None
    return (f"Validation of dictionary's keys failed. Expected keys: {_set_repr(expected)} "
            f"Provided keys: {_set_repr(provided)}")


def _collect_duplicates(items: Iterable[Any]) -> list[Any]:
    """Items seen more than once, in the order their repeat appears (hashing when possible, so a
    long list of UUIDs costs O(n))."""
    seen_hashable: set[Any] = set()
    seen_other: list[Any] = []
    dups: list[Any] = []
    for item in items:
        try:
            repeated = item in seen_hashable
            if not repeated:
                seen_hashable.add(item)
        except TypeError:  # dicts and lists
            repeated = item in seen_other
            if not repeated:
                seen_other.append(item)
        if repeated and item not in dups:
            dups.append(item)
    return dups


def _validate_list_of_items(item_validator: Callable[..., str | None], data: Any,
                            *args: Any) -> str | None:
    if not isinstance(data, list):
        return f"'{data}' is not a list"
    dups = _collect_duplicates(data)
    if dups:
        return "Duplicate items in the list: '{}'".format(", ".join(str(d) for d in dups))
    for item in data:
        msg = item_validator(item, *args)
        if msg:
            return msg
    return None


def _bool_from_string(data: Any) -> bool | None:
    """oslo ``bool_from_string(strict=True)``: bools as is, anything else by its trimmed,
    lower-cased text ('1', 't', 'true', 'on', 'y', 'yes' and their negatives)."""
    if isinstance(data, bool):
        return data
    lowered = (data if isinstance(data, str) else str(data)).strip().lower()
    if lowered in _TRUE_STRINGS:
        return True
    if lowered in _FALSE_STRINGS:
        return False
    return None


def is_uuid_like(data: Any) -> bool:
    """oslo ``is_uuid_like``: hyphens optional and anywhere, any case, braces or ``urn:uuid:``."""
    if isinstance(data, str) and _CANONICAL_UUID.fullmatch(data):
        return True
    try:
        parsed = uuid.UUID(data)
    except (TypeError, ValueError, AttributeError):
        return False
    cleaned = data.replace("urn:", "").replace("uuid:", "").strip("{}").replace("-", "").lower()
    return bool(parsed.hex == cleaned)


def _is_valid_port(value: Any) -> bool:
    try:
        return 0 <= int(value) <= 65535
    except (ValueError, TypeError, OverflowError):
        return False


# --- Scalar validators ---------------------------------------------------------------------------

def validate_values(data: Any, valid_values: Any = None) -> str | None:
    """Membership in ``valid_values``; the message names the list "valid_values" as Neutron does."""
    if valid_values is None:
        return None
    try:
        if data in valid_values:
            return None
    except TypeError:  # an unhashable value against a set: simply not one of them
        pass
    return f"{data} is not in valid_values"


def validate_string(data: Any, max_len: Any = None) -> str | None:
    if not isinstance(data, str):
        return f"'{data}' is not a valid string"
    if max_len is not None and len(data) > max_len:
        return f"'{data}' exceeds maximum length of {max_len}"
    return None


def validate_string_or_none(data: Any, max_len: Any = None) -> str | None:
    return None if data is None else validate_string(data, max_len)


def validate_not_empty_string(data: Any, max_len: Any = None) -> str | None:
    msg = validate_string(data, max_len)
    if msg:
        return msg
    if not data.strip():
        return f"'{data}' Blank strings are not permitted"
    return None


def validate_not_empty_string_or_none(data: Any, max_len: Any = None) -> str | None:
    return None if data is None else validate_not_empty_string(data, max_len)


def validate_list_of_unique_strings(data: Any, max_len: Any = None) -> str | None:
    return _validate_list_of_items(validate_string, data, max_len)


def validate_boolean(data: Any, valid_values: Any = None) -> str | None:
    if _bool_from_string(data) is None:
        return f"'{data}' is not a valid boolean value"
    return None


def validate_integer(data: Any, valid_values: Any = None) -> str | None:
    if valid_values is not None:
        msg = validate_values(data, valid_values)
        if msg:
            return msg
    try:
        as_float, as_int = float(data), int(data)
    except (ValueError, TypeError, OverflowError):
        return f"'{data}' is not an integer"
    if as_float != as_int:
        return f"'{data}' is not an integer"
    if isinstance(data, bool):
        return f"'{data}' is not an integer:boolean"
    return None


def validate_range(data: Any, valid_values: Any = None) -> str | None:
    """Inclusive ``[min, max]``; either bound may be ``None`` (unlimited)."""
    low, high = valid_values if valid_values is not None else (None, None)
    try:
        value = int(data)
    except (ValueError, TypeError, OverflowError):
        return f"'{data}' is not an integer"
    if low is not None and value < low:
        return f"'{value}' is too small - must be at least '{int(low)}'"
    if high is not None and value > high:
        return f"'{value}' is too large - must be no larger than '{int(high)}'"
    return None


def validate_range_or_none(data: Any, valid_values: Any = None) -> str | None:
    return None if data is None else validate_range(data, valid_values)


def validate_non_negative(data: Any, valid_values: Any = None) -> str | None:
    try:
        value = int(data)
    except (ValueError, TypeError, OverflowError):
        return f"'{data}' is not an integer"
    if value < 0:
        return f"'{value}' should be non-negative"
    return None


def validate_uuid(data: Any, valid_values: Any = None) -> str | None:
    if not is_uuid_like(data):
        return f"'{data}' is not a valid UUID"
    return None


def validate_uuid_or_none(data: Any, valid_values: Any = None) -> str | None:
    return None if data is None else validate_uuid(data)


def validate_uuid_list(data: Any, valid_values: Any = None) -> str | None:
    return _validate_list_of_items(validate_uuid, data)


def validate_uuid_list_or_none(data: Any, valid_values: Any = None) -> str | None:
    return None if data is None else validate_uuid_list(data)


def validate_uuid_list_non_empty(data: Any, valid_values: Any = None) -> str | None:
    msg = validate_uuid_list(data)
    if msg:
        return msg
    if not data:
        return "List should not be empty"
    return None


# --- Address validators --------------------------------------------------------------------------

def validate_mac_address(data: Any, valid_values: Any = None) -> str | None:
    """Any spelling netaddr accepts except all-zeros and broadcast (multicast is not refused)."""
    if not ipnet.is_valid_mac(data):
        return f"'{data}' is not a valid MAC address"
    return None


def validate_mac_address_or_none(data: Any, valid_values: Any = None) -> str | None:
    return None if data is None else validate_mac_address(data)


def validate_ip_address(data: Any, valid_values: Any = None) -> str | None:
    """An IPv4 or IPv6 address. IPv4 with leading zeros is refused with the canonical spelling
    suggested, since octal and decimal readings differ."""
    if ipnet.parse_ip(data) is not None:  # strict parse: canonical IPv4 or any IPv6 spelling
        return None
    ip = ipnet.parse_ip_zerofill(data)
    if ip is None:
        return f"'{data}' is not a valid IP address"
    if ip.version == 4 and str(ip) != data:
        return f"'{data}' is not an accepted IP address, '{ip}' is recommended"
    return None


def validate_ip_address_or_none(data: Any, valid_values: Any = None) -> str | None:
    return None if data is None else validate_ip_address(data)


def validate_subnet(data: Any, valid_values: Any = None) -> str | None:
    """A CIDR with an explicit prefix. Host bits are accepted (Neutron clears them when it stores
    a subnet); IPv4 must be spelt canonically (no netmask form, no leading zeros)."""
    iface = ipnet.parse_interface(data)
    if iface is None or "/" not in data or (iface.version == 4 and ipnet.format_interface(iface) != data):
        return f"'{data}' is not a valid IP subnet"
    return None


def validate_subnet_or_none(data: Any, valid_values: Any = None) -> str | None:
    return None if data is None else validate_subnet(data)


def validate_subnet_list(data: Any, valid_values: Any = None) -> str | None:
    return _validate_list_of_items(validate_subnet, data)


def validate_subnet_list_or_none(data: Any, valid_values: Any = None) -> str | None:
    return None if data is None else validate_subnet_list(data)


def validate_ip_or_subnet_or_none(data: Any, valid_values: Any = None) -> str | None:
    if validate_ip_address_or_none(data) is not None and validate_subnet_or_none(data) is not None:
        return f"'{data}' is neither a valid IP address, nor is it a valid IP subnet"
    return None


def validate_route_cidr(data: Any, valid_values: Any = None) -> str | None:
    """A route destination: a CIDR without host bits, not loopback."""
    iface = ipnet.parse_interface(data)
    if iface is None or "/" not in data or iface.ip != iface.network.network_address:
        return f"'{data}' is not a valid CIDR"
    if iface.network.is_loopback:
        return f"'{data}' is not a routable CIDR"
    return None


def validate_ip_pools(data: Any, valid_values: Any = None) -> str | None:
    if not isinstance(data, list):
        return f"Invalid data format for IP pool: '{data}'"
    for pool in data:
        msg = _verify_dict_keys(("start", "end"), pool)
        if msg:
            return msg
        msg = validate_ip_address(pool["start"]) or validate_ip_address(pool["end"])
        if msg:
            return msg
    return None


def validate_fixed_ips(data: Any, valid_values: Any = None) -> str | None:
    """A list of ``{subnet_id?, ip_address?}`` dicts; a repeated IP address is refused, a
    repeated subnet is legitimate (two addresses from one subnet)."""
    if not isinstance(data, list):
        return f"Invalid data format for fixed IP: '{data}'"
    ips: list[Any] = []
    for fixed_ip in data:
        if not isinstance(fixed_ip, dict):
            return f"Invalid data format for fixed IP: '{fixed_ip}'"
        if "ip_address" in fixed_ip:
            address = fixed_ip["ip_address"]
            if address in ips:
                return f"Duplicate IP address '{address}'"
            msg = validate_ip_address(address)
            if msg:
                return msg
            ips.append(address)
        if "subnet_id" in fixed_ip:
            msg = validate_uuid(fixed_ip["subnet_id"])
            if msg:
                return msg
    return None


def validate_nameservers(data: Any, valid_values: Any = None) -> str | None:
    if not hasattr(data, "__iter__"):
        return f"Invalid data format for nameserver: '{data}'"
    hosts: list[Any] = []
    for host in data:
        msg = validate_ip_address(host)
        if msg:
            return f"'{host}' is not a valid nameserver. {msg}"
        if host in hosts:
            return f"Duplicate nameserver '{host}'"
        hosts.append(host)
    return None


def validate_hostroutes(data: Any, valid_values: Any = None) -> str | None:
    """Subnet host routes and router extra routes: unique ``{destination, nexthop}`` dicts."""
    if not isinstance(data, list):
        return f"Invalid data format for hostroute: '{data}'"
    routes: list[Any] = []
    for route in data:
        msg = (_verify_dict_keys(("destination", "nexthop"), route)
               or validate_route_cidr(route["destination"])
               or validate_ip_address(route["nexthop"]))
        if msg:
            return msg
        if route in routes:
            return f"Duplicate hostroute '{route}'"
        routes.append(route)
    return None
