"""Neutron's attribute converters: request values turned into their canonical stored form.

Each converter returns the converted value or raises ``InvalidInput`` (or :class:`InvalidCIDR`, with
Neutron's own type name). Semantics and messages follow neutron-lib 5.x ``api/converters``; the
security-group rule converters (protocol, port value, ethertype) live in :mod:`regionmesh.network.sg_rules`.
:mod:`regionmesh.network.validators` registers them by name in ``CONVERTERS`` (and re-exports them).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from regionmesh.network import ipnet
from regionmesh.network.exceptions import BadRequest, InvalidInput
from regionmesh.network.value_validators import _bool_from_string

# --- Exceptions Neutron raises from validation (type names are the API's NeutronError.type) ----

class InvalidCIDR(BadRequest):
    message = "Invalid CIDR %(input)s given as IP prefix."


# --- Converters ----------------------------------------------------------------------------------

def convert_to_boolean(data: Any) -> bool:
    value = _bool_from_string(data)
    if value is None:
        raise InvalidInput(error_message=f"'{data}' cannot be converted to boolean")
    return value


def convert_to_boolean_if_not_none(data: Any) -> bool | None:
    return None if data is None else convert_to_boolean(data)


def convert_to_int(data: Any) -> int:
    try:
        return int(data)
    except (ValueError, TypeError, OverflowError) as exc:
        raise InvalidInput(error_message=f"'{data}' is not an integer") from exc


def convert_to_int_if_not_none(data: Any) -> int | None:
    return None if data is None else convert_to_int(data)


def convert_to_positive_float_or_none(data: Any) -> float | None:
    if data is None:
        return None
    try:
        value = float(data)
    except (ValueError, TypeError) as exc:
        raise InvalidInput(error_message=f"'{data}' must be a non negative decimal") from exc
    if value < 0:
        raise InvalidInput(error_message=f"'{value}' must be a non negative decimal")
    return value


def convert_kvp_str_to_list(data: str) -> list[str]:
    """``"key=value"`` -> ``["key", "value"]`` (query-string list filters)."""
    kvp = [part.strip() for part in data.split("=", 1)]
    if len(kvp) == 2 and kvp[0]:
        return kvp
    raise InvalidInput(error_message=f"'{data}' is not of the form <key>=[value]")


def convert_kvp_list_to_dict(kvp_list: Sequence[str]) -> dict[str, list[str]]:
    """``["ip_address=10.0.0.3", "subnet_id=X"]`` -> ``{"ip_address": [...], "subnet_id": [...]}``."""
    if list(kvp_list) == ["True"]:
        return {}
    result: dict[str, list[str]] = {}
    for item in kvp_list:
        key, value = convert_kvp_str_to_list(item)
        values = result.setdefault(key, [])
        if value not in values:
            values.append(value)
    return result


def convert_none_to_empty_list(value: Any) -> Any:
    return [] if value is None else value


def convert_none_to_empty_dict(value: Any) -> Any:
    return {} if value is None else value


def convert_none_to_empty_string(value: Any) -> Any:
    return "" if value is None else value


def convert_to_list(data: Any) -> list[Any]:
    if data is None:
        return []
    if hasattr(data, "__iter__") and not isinstance(data, str):
        return list(data)
    return [data]


def convert_to_lowercase(data: Any) -> str:
    """neutron-lib's ``convert_string_to_case_insensitive``."""
    try:
        return str(data.lower())
    except AttributeError as exc:
        raise InvalidInput(error_message=f"Input value {data} must be string type") from exc


def convert_ip_to_canonical_format(value: Any) -> Any:
    """IPv6 addresses compressed and lower-cased; anything else (IPv4, junk) returned as is."""
    ip = ipnet.parse_ip(value)
    if ip is not None and ip.version == 6:
        return ipnet.format_ip(ip)
    return value


def convert_cidr_to_canonical_format(value: Any) -> str:
    """``addr/prefix`` with an IPv6 address compressed (a bare address gets /32 or /128); host
    bits are kept, as in Neutron."""
    iface = ipnet.parse_interface(value)
    if iface is None:
        raise InvalidInput(error_message=f"{value} is not in a CIDR format")
    return ipnet.format_interface(iface)


def convert_allocation_pools_to_canonical_format(value: Any) -> list[dict[str, Any]]:
    if value is None:
        return []
    try:
        return [{k: convert_ip_to_canonical_format(v) for k, v in pool.items()} for pool in value]
    except (AttributeError, TypeError) as exc:
        raise InvalidInput(error_message="Invalid data format for allocation pools") from exc


def convert_ip_prefix_to_cidr(value: Any) -> str | None:
    """A security-group rule's ``remote_ip_prefix``: empty -> ``None``; an address gets its full
    mask, a netmask becomes a length, IPv6 is compressed. Host bits are *kept* (Neutron reports
    the masked network separately as ``normalized_cidr``). ``InvalidCIDR`` otherwise."""
    if not value:
        return None
    iface = ipnet.parse_interface(value)
    if iface is None:
        raise InvalidCIDR(input=value)
    return ipnet.format_interface(iface)


convert_ip_prefix_if_not_none = convert_ip_prefix_to_cidr


def convert_to_mac_lower(value: Any) -> Any:
    """Any accepted MAC spelling -> ``aa:bb:cc:dd:ee:ff``; invalid input is returned unchanged so
    that the validator reports it (neutron-lib's ``convert_to_sanitized_mac_address``)."""
    mac = ipnet.parse_mac(value)
    return value if mac is None else ipnet.format_mac(mac)


convert_to_sanitized_mac_address = convert_to_mac_lower
