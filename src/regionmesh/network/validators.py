"""Neutron's attribute validators and converters, reimplemented without neutron-lib.

The attribute-map framework looks validators up by neutron-lib name (``VALIDATORS["type:uuid"]``)
and calls ``validator(value, spec)``: ``None`` means valid, otherwise the returned text is the
reason Neutron gives (the framework wraps it as "Invalid input for <attr>. Reason: <text>.").
A few validators raise instead, exactly where Neutron raises (allowed address pairs, extra DHCP
options, availability-zone hints, the security group name "default"), because clients see a
different error type there. Converters (``CONVERTERS``) return the converted value or raise
``InvalidInput`` (or a subclass with Neutron's own type name).

Semantics follow neutron-lib 5.x ``api/validators`` and ``api/converters`` and the
security-group and IPAM code of Neutron 29; messages are Neutron's wording so that clients and
Tempest recognise them. IP parsing lives in :mod:`regionmesh.network.ipnet`.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterable, Mapping, MutableMapping, Sequence
from typing import Any, Final

from regionmesh.network import ipnet
from regionmesh.network.exceptions import BadRequest, HTTPBadRequest, InUse, InvalidInput

# Re-exported: the pool exceptions belong to the same validation surface.
from regionmesh.network.ipnet import (
    GatewayConflictWithAllocationPools as GatewayConflictWithAllocationPools,
)
from regionmesh.network.ipnet import InvalidAllocationPool as InvalidAllocationPool
from regionmesh.network.ipnet import OutOfBoundsAllocationPool as OutOfBoundsAllocationPool
from regionmesh.network.ipnet import OverlappingAllocationPools as OverlappingAllocationPools

Validator = Callable[[Any, Any], str | None]
Converter = Callable[[Any], Any]

NAME_MAX_LEN: Final = 255
TAG_MAX_LEN: Final = 255
MAX_TAGS_PER_RESOURCE: Final = 50
AZ_HINTS_MAX_JSON_LEN: Final = 255
MAX_ALLOWED_ADDRESS_PAIRS: Final = 10  # Neutron's max_allowed_address_pair default
DHCP_OPT_NAME_MAX_LEN: Final = 64
DHCP_OPT_VALUE_MAX_LEN: Final = 255
DHCP_OPTS_ALLOWING_BLANK_VALUE: Final = ("router", "classless-static-route")


# --- Exceptions Neutron raises from validation (type names are the API's NeutronError.type) ----

class InvalidCIDR(BadRequest):
    message = "Invalid CIDR %(input)s given as IP prefix."


class AllowedAddressPairsMissingIP(InvalidInput):
    message = "AllowedAddressPair must contain ip_address"


class DuplicateAddressPairInRequest(InvalidInput):
    message = ("Request contains duplicate address pair: "
               "mac_address %(mac_address)s ip_address %(ip_address)s.")


class AllowedAddressPairExhausted(BadRequest):
    message = "The number of allowed address pair exceeds the maximum %(quota)s."


class SecurityGroupInvalidPortRange(InvalidInput):
    message = "For TCP/UDP protocols, port_range_min must be <= port_range_max"


class SecurityGroupInvalidProtocolForPort(InvalidInput):
    message = ("Ports cannot be specified for protocol %(protocol)s. "
               "Ports are only supported for %(valid_port_protocols)s.")


class SecurityGroupInvalidPortValue(InvalidInput):
    message = "Invalid value for port %(port)s"


class SecurityGroupInvalidIcmpValue(InvalidInput):
    message = "Invalid value for ICMP %(field)s (%(attr)s) %(value)s. It must be 0 to 255."


class SecurityGroupEthertypeConflictWithProtocol(InvalidInput):
    message = "Invalid ethertype %(ethertype)s for protocol %(protocol)s."


class SecurityGroupMissingIcmpType(InvalidInput):
    message = ("ICMP code (port-range-max) %(value)s is provided"
               " but ICMP type (port-range-min) is missing.")


class SecurityGroupRuleInvalidProtocol(InvalidInput):
    message = ("Security group rule protocol %(protocol)s not supported. "
               "Only protocol values %(values)s and integer representations "
               "[0 to 255] are supported.")


class SecurityGroupRuleInvalidEtherType(InvalidInput):
    message = ("Security group rule for ethertype '%(ethertype)s' not "
               "supported. Allowed values are %(values)s.")


class SecurityGroupProtocolRequiredWithPorts(InvalidInput):
    message = "Must also specify protocol if port range is given."


class SecurityGroupMultipleRemoteEntites(InvalidInput):  # sic: Neutron's spelling
    message = ("Only one of remote_ip_prefix or remote_group_id or "
               "remote_address_group_id may be provided.")


class SecurityGroupRuleParameterConflict(InvalidInput):
    message = "Conflicting value ethertype %(ethertype)s for CIDR %(cidr)s"


class SecurityGroupDefaultAlreadyExists(InUse):
    message = "Default security group already exists."


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


# --- Dict validators (Neutron's key-spec dicts: {key: {"type:x": spec, "required": bool,
#     "convert_to": fn}}) ------------------------------------------------------------------------

def _validate_dict_item(key: str, key_spec: Mapping[str, Any], data: dict[str, Any]) -> str | None:
    converter = key_spec.get("convert_to")
    if converter:
        data[key] = converter(data.get(key))  # Neutron converts nested values in place
    for name, param in key_spec.items():
        if name.startswith("type:"):
            validator = VALIDATORS.get(name)
            if validator is None:
                return f"Validator '{name}' does not exist"
            return validator(data.get(key), param)
    return None


def validate_dict(data: Any, key_specs: Any = None) -> str | None:
    """A dict; with key specs, required keys present, no unknown keys, each value validated
    (and converted in place when the spec has ``convert_to``)."""
    if not isinstance(data, dict):
        return f"'{data}' is not a dictionary"
    if not key_specs:
        return None
    required = [key for key, spec in key_specs.items() if spec.get("required")]
    if required:
        msg = _verify_dict_keys(required, data, strict=False)
        if msg:
            return msg
    unexpected = [key for key in data if key not in key_specs]
    if unexpected:
        return "Unexpected keys supplied: {}".format(", ".join(str(k) for k in unexpected))
    for key, spec in key_specs.items():
        if key in data:
            msg = _validate_dict_item(key, spec, data)
            if msg:
                return msg
    return None


def validate_dict_or_none(data: Any, key_specs: Any = None) -> str | None:
    return None if data is None else validate_dict(data, key_specs)


def validate_dict_or_empty(data: Any, key_specs: Any = None) -> str | None:
    return None if data == {} else validate_dict(data, key_specs)


def validate_dict_or_nodata(data: Any, key_specs: Any = None) -> str | None:
    return validate_dict(data, key_specs) if data else None


def _validate_any_key_specs_or_none(data: Any, key_specs: Sequence[Mapping[str, Any]]) -> None:
    """Each dict must match one of the key specs; raises ``InvalidInput`` like Neutron."""
    if data is None:
        return

    def matches_one(item: Any) -> str | None:
        for spec in key_specs:
            if validate_dict(item, spec) is None:
                return None
        raise InvalidInput(error_message=f"No valid key specs matched for: {item}")

    msg = _validate_list_of_items(matches_one, data)
    if msg:
        raise InvalidInput(error_message=msg)


_IP_VERSION_SPEC: Final = {"convert_to": lambda v: convert_to_int(v), "type:values": [4, 6],
                           "required": False}
EXTRA_DHCP_OPT_KEY_SPECS: Final = (
    {"opt_name": {"type:values": DHCP_OPTS_ALLOWING_BLANK_VALUE, "required": True},
     "opt_value": {"type:string_or_none": DHCP_OPT_VALUE_MAX_LEN, "required": True},
     "ip_version": _IP_VERSION_SPEC},
    {"opt_name": {"type:not_empty_string": DHCP_OPT_NAME_MAX_LEN, "required": True},
     "opt_value": {"type:not_empty_string_or_none": DHCP_OPT_VALUE_MAX_LEN, "required": True},
     "ip_version": _IP_VERSION_SPEC},
)


def validate_list_of_extra_dhcp_opts(data: Any, valid_values: Any = None) -> str | None:
    """``[{opt_name, opt_value, ip_version?}]``; only ``router`` and ``classless-static-route``
    may have a blank value. ``ip_version`` is converted to int in place. Raises ``InvalidInput``
    ("No valid key specs matched for: ...") as Neutron does."""
    _validate_any_key_specs_or_none(data, EXTRA_DHCP_OPT_KEY_SPECS)
    return None


EXTERNAL_GW_INFO_KEY_SPECS: Final = {
    "network_id": {"type:uuid": None, "required": True},
    "enable_snat": {"type:boolean": None, "required": False,
                    "convert_to": lambda v: convert_to_boolean(v)},
    "external_fixed_ips": {"type:fixed_ips": None, "required": False},
}


def validate_external_gw_info(data: Any, key_specs: Any = None) -> str | None:
    """A router's ``external_gateway_info``: ``None``/``{}`` or ``{network_id, enable_snat?,
    external_fixed_ips?}``; ``enable_snat`` is converted to bool in place. Pass key specs to
    extend it (e.g. ``qos_policy_id``)."""
    return validate_dict_or_nodata(data, key_specs or EXTERNAL_GW_INFO_KEY_SPECS)


# --- Other composite validators ------------------------------------------------------------------

def validate_allowed_address_pairs(data: Any, max_pairs: Any = None) -> str | None:
    """``[{ip_address, mac_address?}]``; most failures raise (``HTTPBadRequest`` and the
    allowed-address-pair exceptions) because that is what Neutron's clients receive."""
    limit = MAX_ALLOWED_ADDRESS_PAIRS if max_pairs is None else max_pairs
    if not isinstance(data, list):
        raise HTTPBadRequest("Allowed address pairs must be a list.")
    if len(data) > limit:
        raise AllowedAddressPairExhausted(quota=limit)
    seen: set[tuple[Any, Any]] = set()
    for pair in data:
        msg = validate_dict(pair)
        if msg:
            return msg
        if "mac_address" in pair:
            msg = validate_mac_address(pair["mac_address"])
            if msg:
                raise HTTPBadRequest(msg)
        if "ip_address" not in pair:
            raise AllowedAddressPairsMissingIP()
        mac, ip = pair.get("mac_address"), pair["ip_address"]
        try:
            key_seen = (mac, ip) in seen
            seen.add((mac, ip))
        except TypeError:
            key_seen = False
        if key_seen:
            raise DuplicateAddressPairInRequest(mac_address=mac, ip_address=ip)
        unknown = set(pair) - {"mac_address", "ip_address"}
        if unknown:
            names = ", ".join(sorted(map(str, unknown)))
            raise HTTPBadRequest(f"Unrecognized attribute(s) '{names}'")
        msg = validate_subnet(ip) if isinstance(ip, str) and "/" in ip else validate_ip_address(ip)
        if msg:
            raise HTTPBadRequest(msg)
    return None


def validate_availability_zone_hint_list(data: Any, valid_values: Any = None) -> str | None:
    """Unique strings whose JSON form fits the 255-character column; too many raises
    ``InvalidInput`` ("Too many availability_zone_hints specified")."""
    msg = validate_list_of_unique_strings(data)
    if msg:
        return msg
    if len(json.dumps(data)) > AZ_HINTS_MAX_JSON_LEN:
        raise InvalidInput(error_message="Too many availability_zone_hints specified")
    return None


def validate_port_range_or_none(data: Any, valid_values: Any = None) -> str | None:
    """``"80"`` or ``"80:90"`` (port-forwarding style), each port within ``valid_values``
    (default ``[0, 65535]``), the first not above the second."""
    if data is None:
        return None
    low, high = valid_values or (0, 65535)
    ports = str(data).split(":")
    if len(ports) > 2:
        return "Port range must be two integers separated by a colon"
    for port in ports:  # checked in order: "80x:" reports the bad port, not the missing one
        if not port:
            return "Port range must be two integers separated by a colon"
        if not _is_valid_port(port):
            return f"Invalid port: {port}"
        if not low <= int(port) <= high:
            return f"Invalid port: {port}, the port must be in the range [{low}, {high}]"
    if len(ports) == 2 and int(ports[0]) > int(ports[1]):
        return "First port in a port range must be lower than the second port"
    return None


def validate_tag(data: Any, valid_values: Any = None) -> str | None:
    """A tag: a string of at most 255 characters. RegionMesh also refuses the empty string and
    commas, which tag filters (``?tags=a,b``) could never match; Neutron itself does not."""
    msg = validate_string(data, TAG_MAX_LEN)
    if msg:
        return msg
    if not data:
        return "'' Blank strings are not permitted"
    if "," in data:
        return f"Tag '{data}' must not contain a comma"
    return None


def validate_list_of_tags(data: Any, valid_values: Any = None) -> str | None:
    return _validate_list_of_items(validate_tag, data)


def validate_tags_limit(resource: str, tags: Iterable[str]) -> None:
    """Neutron's per-resource cap of 50 tags (``BadRequest``)."""
    if len(set(tags)) > MAX_TAGS_PER_RESOURCE:
        raise BadRequest(resource=resource,
                         msg=f"The number of tags exceed the per-resource limit of {MAX_TAGS_PER_RESOURCE}")


def validate_name_not_default(data: Any, max_len: Any = NAME_MAX_LEN) -> str | None:
    """A security group name; "default" (any case) raises ``SecurityGroupDefaultAlreadyExists``."""
    msg = validate_string(data, max_len)
    if msg:
        return msg
    if data.lower() == "default":
        raise SecurityGroupDefaultAlreadyExists()
    return None


def check_ip_version(ip_version: int, addr: str, name: str) -> None:
    """Neutron's subnet check that ``gateway_ip``/``dns_nameserver``/route fields match the
    subnet's version: ``InvalidInput`` "<name> '<addr>' does not match the ip_version '<v>'"."""
    if ipnet.ip_version(addr) != ip_version:
        raise InvalidInput(error_message=f"{name} '{addr}' does not match the ip_version '{ip_version}'")


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


# --- Security group rules ------------------------------------------------------------------------

IP_PROTOCOL_MAP: Final[Mapping[str, int]] = {
    "ah": 51, "dccp": 33, "egp": 8, "esp": 50, "gre": 47, "hopopt": 0, "icmp": 1, "igmp": 2,
    "ip": 0, "ipip": 4, "ipv6-encap": 41, "ipv6-frag": 44, "ipv6-icmp": 58, "icmpv6": 58,
    "ipv6-nonxt": 59, "ipv6-opts": 60, "ipv6-route": 43, "ospf": 89, "pgm": 113, "rsvp": 46,
    "sctp": 132, "tcp": 6, "udp": 17, "udplite": 136, "vrrp": 112,
}
IP_PROTOCOL_NAME_ALIASES: Final = {"icmpv6": "ipv6-icmp"}
IP_PROTOCOL_NUM_TO_NAME: Final = {str(n): name for name, n in IP_PROTOCOL_MAP.items() if name != "icmpv6"}
SG_RULE_PROTO_ANY: Final = (None, "any")
# The order and tuple form matter: they are printed in SecurityGroupRuleInvalidProtocol.
SG_SUPPORTED_PROTOCOLS: Final = (*SG_RULE_PROTO_ANY, *IP_PROTOCOL_MAP)
SG_SUPPORTED_ETHERTYPES: Final = ["IPv4", "IPv6"]
SG_PORT_PROTO_NUMS: Final = frozenset((33, 132, 6, 17, 136))  # dccp, sctp, tcp, udp, udplite
SG_PORT_PROTO_NAMES: Final = ("dccp", "sctp", "tcp", "udp", "udplite")
_ICMP_PROTO_NUMS: Final = frozenset((1, 58))
_IPV6_ICMP_LEGACY: Final = ("icmp", "icmpv6")
_IPV6_ONLY_PROTOCOLS: Final = frozenset(
    ("ipv6-encap", "ipv6-frag", "ipv6-icmp", "icmpv6", "ipv6-nonxt", "ipv6-opts", "ipv6-route",
     "41", "44", "58", "59", "60", "43"))
_PORT_RANGE_MIN: Final = 1
_PORT_RANGE_MAX: Final = 65535


def convert_to_protocol(value: Any) -> str | None:
    """A rule's protocol: ``None``/"any" -> ``None``; a known name (any case) -> lower-case name;
    0-255 (int or text) -> its decimal text, as Neutron stores protocols as strings.
    ``SecurityGroupRuleInvalidProtocol`` otherwise."""
    if value is None or (isinstance(value, str) and value.lower() == "any"):
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        number: int | None = value
    elif isinstance(value, str):
        try:
            number = int(value)
        except ValueError:
            number = None
            if value.lower() in IP_PROTOCOL_MAP:
                return value.lower()
    else:
        number = None
    if number is not None and 0 <= number <= 255:
        return str(number)
    raise SecurityGroupRuleInvalidProtocol(protocol=value, values=SG_SUPPORTED_PROTOCOLS)


def convert_validate_port_value(port: Any) -> int | None:
    """A rule's ``port_range_min``/``max``: ``None`` or an int 0-65535, else
    ``SecurityGroupInvalidPortValue``."""
    if port is None:
        return None
    if _is_valid_port(port) and not isinstance(port, bool):
        return int(port)
    raise SecurityGroupInvalidPortValue(port=port)


def convert_ethertype_to_case_insensitive(value: Any) -> str:
    """"ipv4" -> "IPv4"; anything else raises ``SecurityGroupRuleInvalidEtherType``."""
    if isinstance(value, str):
        for ethertype in SG_SUPPORTED_ETHERTYPES:
            if ethertype.lower() == value.lower():
                return ethertype
    raise SecurityGroupRuleInvalidEtherType(ethertype=value, values=SG_SUPPORTED_ETHERTYPES)


def ip_protocol_number(protocol: Any) -> int | None:
    """The IP protocol number of a converted rule protocol (``None`` for "any")."""
    if protocol in SG_RULE_PROTO_ANY:
        return None
    name = IP_PROTOCOL_NAME_ALIASES.get(protocol, protocol)
    return int(IP_PROTOCOL_MAP.get(name, name))


def canonical_ipv6_icmp_protocol(ethertype: Any, protocol: Any) -> Any:
    """Neutron rewrites legacy ICMP spellings on IPv6 rules: "icmp"/"icmpv6" -> "ipv6-icmp",
    "1" -> "58"."""
    if ethertype == "IPv6":
        if protocol in _IPV6_ICMP_LEGACY:
            return "ipv6-icmp"
        if protocol == "1":
            return "58"
    return protocol


def canonical_port_range(port_range_min: Any, port_range_max: Any) -> tuple[Any, Any]:
    """Neutron stores 1-65535 (the whole range) as no range at all."""
    if port_range_min == _PORT_RANGE_MIN and port_range_max == _PORT_RANGE_MAX:
        return None, None
    return port_range_min, port_range_max


def validate_port_range(protocol: Any, port_range_min: int | None, port_range_max: int | None) -> None:
    """Neutron's rule check: ports need a protocol; TCP/UDP/SCTP/DCCP/UDPLITE need both ends,
    1-65535 and min <= max (port 0 is refused); ICMP/ICMPv6 use min as type and max as code,
    each 0-255, and a code needs a type; any other protocol refuses ports."""
    if port_range_min is None and port_range_max is None:
        return
    if not protocol or protocol == "any":
        raise SecurityGroupProtocolRequiredWithPorts()
    number = ip_protocol_number(protocol)
    if number in SG_PORT_PROTO_NUMS:
        if port_range_min == 0 or port_range_max == 0:
            raise SecurityGroupInvalidPortValue(port=0)
        if port_range_min is None or port_range_max is None or port_range_min > port_range_max:
            raise SecurityGroupInvalidPortRange()
    elif number in _ICMP_PROTO_NUMS:
        for attr, field, value in (("port_range_min", "type", port_range_min),
                                   ("port_range_max", "code", port_range_max)):
            if value is not None and not 0 <= value <= 255:
                raise SecurityGroupInvalidIcmpValue(field=field, attr=attr, value=value)
        if port_range_min is None and port_range_max is not None:
            raise SecurityGroupMissingIcmpType(value=port_range_max)
    else:
        raise SecurityGroupInvalidProtocolForPort(
            protocol=number, valid_port_protocols=", ".join(p.upper() for p in SG_PORT_PROTO_NAMES))


def validate_remote_ip_prefix_ethertype(ethertype: Any, prefix: Any) -> None:
    """``SecurityGroupRuleParameterConflict`` when the prefix's IP version is not the rule's."""
    if prefix and ethertype != f"IPv{ipnet.ip_version(prefix)}":
        raise SecurityGroupRuleParameterConflict(ethertype=ethertype, cidr=prefix)


def validate_ethertype_protocol(ethertype: Any, protocol: Any) -> None:
    """IPv6-only protocols (ipv6-icmp, icmpv6, ipv6-frag, ... or their numbers) on an IPv4 rule
    raise ``SecurityGroupEthertypeConflictWithProtocol``."""
    if ethertype == "IPv4" and protocol is not None and str(protocol) in _IPV6_ONLY_PROTOCOLS:
        raise SecurityGroupEthertypeConflictWithProtocol(ethertype=ethertype, protocol=protocol)


def validate_security_group_rule(rule: MutableMapping[str, Any]) -> None:
    """Neutron's checks on a converted rule body, in Neutron's order, normalising in place:
    legacy IPv6 ICMP names, the whole-range port shortcut, port range, remote prefix vs
    ethertype, ethertype vs protocol, and at most one remote (prefix, group or address group)."""
    ethertype = rule.get("ethertype", "IPv4")
    rule["protocol"] = canonical_ipv6_icmp_protocol(ethertype, rule.get("protocol"))
    low, high = canonical_port_range(rule.get("port_range_min"), rule.get("port_range_max"))
    rule["port_range_min"], rule["port_range_max"] = low, high
    validate_port_range(rule["protocol"], low, high)
    prefix = rule.get("remote_ip_prefix")
    if prefix:
        rule["remote_ip_prefix"] = convert_ip_prefix_to_cidr(prefix)
        validate_remote_ip_prefix_ethertype(ethertype, prefix)
    validate_ethertype_protocol(ethertype, rule["protocol"])
    remotes = [k for k in ("remote_ip_prefix", "remote_group_id", "remote_address_group_id") if rule.get(k)]
    if len(remotes) > 1:
        raise SecurityGroupMultipleRemoteEntites()


def _protocol_key(protocol: Any, ethertype: Any) -> str:
    text = str(protocol)
    if ethertype == "IPv6":
        if text in _IPV6_ICMP_LEGACY:
            text = "ipv6-icmp"
        elif text == "1":
            text = "58"
    if text in IP_PROTOCOL_MAP:
        return str([text, str(IP_PROTOCOL_MAP[text])])
    if text in IP_PROTOCOL_NUM_TO_NAME:
        return str([IP_PROTOCOL_NUM_TO_NAME[text], text])
    return str([text, text])


def security_group_rule_key(rule: Mapping[str, Any]) -> str:
    """Neutron's duplicate-detection key: equal keys mean the same rule ("tcp" and "6" match,
    an any-address prefix matches no prefix). Use it for ``SecurityGroupRuleExists`` (409)."""
    parts = []
    for key in ("direction", "ethertype", "port_range_max", "port_range_min", "protocol",
                "remote_group_id", "remote_address_group_id", "remote_ip_prefix", "security_group_id"):
        value = rule.get(key)
        if value is None or (key == "remote_ip_prefix" and value in ("0.0.0.0/0", "::/0")) or (
                key == "protocol" and value in SG_RULE_PROTO_ANY):
            parts.append("+")
        elif key == "protocol":
            parts.append(_protocol_key(value, rule.get("ethertype")))
        else:
            parts.append(str(value))
    return "_".join(parts)


# --- Registries ----------------------------------------------------------------------------------

VALIDATORS: Final[dict[str, Validator]] = {
    "type:allowed_address_pairs": validate_allowed_address_pairs,
    "type:availability_zone_hint_list": validate_availability_zone_hint_list,
    "type:boolean": validate_boolean,
    "type:dict": validate_dict,
    "type:dict_or_empty": validate_dict_or_empty,
    "type:dict_or_none": validate_dict_or_none,
    "type:dict_or_nodata": validate_dict_or_nodata,
    "type:external_gw_info": validate_external_gw_info,
    "type:fixed_ips": validate_fixed_ips,
    "type:hostroutes": validate_hostroutes,
    "type:integer": validate_integer,
    "type:ip_address": validate_ip_address,
    "type:ip_address_or_none": validate_ip_address_or_none,
    "type:ip_or_subnet_or_none": validate_ip_or_subnet_or_none,
    "type:ip_pools": validate_ip_pools,
    "type:list_of_extra_dhcp_opts": validate_list_of_extra_dhcp_opts,
    "type:list_of_subnets_or_none": validate_subnet_list_or_none,
    "type:list_of_tags": validate_list_of_tags,
    "type:list_of_unique_strings": validate_list_of_unique_strings,
    "type:mac_address": validate_mac_address,
    "type:mac_address_or_none": validate_mac_address_or_none,
    "type:name_not_default": validate_name_not_default,
    "type:nameservers": validate_nameservers,
    "type:non_negative": validate_non_negative,
    "type:not_empty_string": validate_not_empty_string,
    "type:not_empty_string_or_none": validate_not_empty_string_or_none,
    "type:port_range": validate_port_range_or_none,
    "type:range": validate_range,
    "type:range_or_none": validate_range_or_none,
    "type:route_cidr": validate_route_cidr,
    "type:routes": validate_hostroutes,
    "type:string": validate_string,
    "type:string_or_none": validate_string_or_none,
    "type:subnet": validate_subnet,
    "type:subnet_list": validate_subnet_list,
    "type:subnet_or_none": validate_subnet_or_none,
    "type:tag": validate_tag,
    "type:uuid": validate_uuid,
    "type:uuid_list": validate_uuid_list,
    "type:uuid_list_non_empty": validate_uuid_list_non_empty,
    "type:uuid_list_or_none": validate_uuid_list_or_none,
    "type:uuid_or_none": validate_uuid_or_none,
    "type:values": validate_values,
}

CONVERTERS: Final[dict[str, Converter]] = {
    "convert_allocation_pools_to_canonical_format": convert_allocation_pools_to_canonical_format,
    "convert_cidr_to_canonical_format": convert_cidr_to_canonical_format,
    "convert_ethertype_to_case_insensitive": convert_ethertype_to_case_insensitive,
    "convert_ip_prefix_if_not_none": convert_ip_prefix_if_not_none,
    "convert_ip_prefix_to_cidr": convert_ip_prefix_to_cidr,
    "convert_ip_to_canonical_format": convert_ip_to_canonical_format,
    "convert_kvp_list_to_dict": convert_kvp_list_to_dict,
    "convert_none_to_empty_dict": convert_none_to_empty_dict,
    "convert_none_to_empty_list": convert_none_to_empty_list,
    "convert_none_to_empty_string": convert_none_to_empty_string,
    "convert_to_boolean": convert_to_boolean,
    "convert_to_boolean_if_not_none": convert_to_boolean_if_not_none,
    "convert_to_int": convert_to_int,
    "convert_to_int_if_not_none": convert_to_int_if_not_none,
    "convert_to_list": convert_to_list,
    "convert_to_lowercase": convert_to_lowercase,
    "convert_to_mac_lower": convert_to_mac_lower,
    "convert_to_positive_float_or_none": convert_to_positive_float_or_none,
    "convert_to_protocol": convert_to_protocol,
    "convert_to_sanitized_mac_address": convert_to_sanitized_mac_address,
    "convert_validate_port_value": convert_validate_port_value,
}
