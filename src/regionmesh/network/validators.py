"""Neutron's attribute validator and converter registries, and the structured attribute validators.

The attribute-map framework looks validators up by neutron-lib name (``VALIDATORS["type:uuid"]``)
and calls ``validator(value, spec)``: ``None`` means valid, otherwise the returned text is the
reason Neutron gives (the framework wraps it as "Invalid input for <attr>. Reason: <text>.").
A few validators raise instead, exactly where Neutron raises (allowed address pairs, extra DHCP
options, availability-zone hints, the security group name "default"), because clients see a
different error type there. Converters (``CONVERTERS``) return the converted value or raise
``InvalidInput`` (or a subclass with Neutron's own type name).

This module holds the registries and the validators built on them (key-spec dicts, external gateway
info, extra DHCP options, allowed address pairs, availability-zone hints, port ranges, tags, the
security group name). The plain-value validators are in :mod:`regionmesh.network.value_validators`,
the converters in :mod:`regionmesh.network.converters` and the security-group rule checks in
:mod:`regionmesh.network.sg_rules`; their public names are re-exported here, so ``validators.NAME``
works for all of them.

Semantics follow neutron-lib 5.x ``api/validators`` and ``api/converters`` and the
security-group and IPAM code of Neutron 29; messages are Neutron's wording so that clients and
Tempest recognise them. IP parsing lives in :mod:`regionmesh.network.ipnet`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final

from regionmesh.network import ipnet
from regionmesh.network.converters import InvalidCIDR as InvalidCIDR
from regionmesh.network.converters import (
    convert_allocation_pools_to_canonical_format,
    convert_cidr_to_canonical_format,
    convert_ip_prefix_if_not_none,
    convert_ip_prefix_to_cidr,
    convert_ip_to_canonical_format,
    convert_kvp_list_to_dict,
    convert_none_to_empty_dict,
    convert_none_to_empty_list,
    convert_none_to_empty_string,
    convert_to_boolean,
    convert_to_boolean_if_not_none,
    convert_to_int,
    convert_to_int_if_not_none,
    convert_to_list,
    convert_to_lowercase,
    convert_to_mac_lower,
    convert_to_positive_float_or_none,
    convert_to_sanitized_mac_address,
)
from regionmesh.network.converters import convert_kvp_str_to_list as convert_kvp_str_to_list
from regionmesh.network.exceptions import BadRequest, HTTPBadRequest, InUse, InvalidInput

# Re-exported: the pool exceptions belong to the same validation surface.
from regionmesh.network.ipnet import (
    GatewayConflictWithAllocationPools as GatewayConflictWithAllocationPools,
)
from regionmesh.network.ipnet import InvalidAllocationPool as InvalidAllocationPool
from regionmesh.network.ipnet import OutOfBoundsAllocationPool as OutOfBoundsAllocationPool
from regionmesh.network.ipnet import OverlappingAllocationPools as OverlappingAllocationPools
from regionmesh.network.sg_rules import IP_PROTOCOL_MAP as IP_PROTOCOL_MAP
from regionmesh.network.sg_rules import IP_PROTOCOL_NAME_ALIASES as IP_PROTOCOL_NAME_ALIASES
from regionmesh.network.sg_rules import IP_PROTOCOL_NUM_TO_NAME as IP_PROTOCOL_NUM_TO_NAME
from regionmesh.network.sg_rules import SG_PORT_PROTO_NAMES as SG_PORT_PROTO_NAMES
from regionmesh.network.sg_rules import SG_PORT_PROTO_NUMS as SG_PORT_PROTO_NUMS
from regionmesh.network.sg_rules import SG_RULE_PROTO_ANY as SG_RULE_PROTO_ANY
from regionmesh.network.sg_rules import SG_SUPPORTED_ETHERTYPES as SG_SUPPORTED_ETHERTYPES
from regionmesh.network.sg_rules import SG_SUPPORTED_PROTOCOLS as SG_SUPPORTED_PROTOCOLS
from regionmesh.network.sg_rules import (
    SecurityGroupEthertypeConflictWithProtocol as SecurityGroupEthertypeConflictWithProtocol,
)
from regionmesh.network.sg_rules import SecurityGroupInvalidIcmpValue as SecurityGroupInvalidIcmpValue
from regionmesh.network.sg_rules import SecurityGroupInvalidPortRange as SecurityGroupInvalidPortRange
from regionmesh.network.sg_rules import SecurityGroupInvalidPortValue as SecurityGroupInvalidPortValue
from regionmesh.network.sg_rules import SecurityGroupInvalidProtocolForPort as SecurityGroupInvalidProtocolForPort
from regionmesh.network.sg_rules import SecurityGroupMissingIcmpType as SecurityGroupMissingIcmpType
from regionmesh.network.sg_rules import SecurityGroupMultipleRemoteEntites as SecurityGroupMultipleRemoteEntites
from regionmesh.network.sg_rules import SecurityGroupProtocolRequiredWithPorts as SecurityGroupProtocolRequiredWithPorts
from regionmesh.network.sg_rules import SecurityGroupRuleInvalidEtherType as SecurityGroupRuleInvalidEtherType
from regionmesh.network.sg_rules import SecurityGroupRuleInvalidProtocol as SecurityGroupRuleInvalidProtocol
from regionmesh.network.sg_rules import SecurityGroupRuleParameterConflict as SecurityGroupRuleParameterConflict
from regionmesh.network.sg_rules import canonical_ipv6_icmp_protocol as canonical_ipv6_icmp_protocol
from regionmesh.network.sg_rules import canonical_port_range as canonical_port_range
from regionmesh.network.sg_rules import (
    convert_ethertype_to_case_insensitive,
    convert_to_protocol,
    convert_validate_port_value,
)
from regionmesh.network.sg_rules import ip_protocol_number as ip_protocol_number
from regionmesh.network.sg_rules import security_group_rule_key as security_group_rule_key
from regionmesh.network.sg_rules import validate_ethertype_protocol as validate_ethertype_protocol
from regionmesh.network.sg_rules import validate_port_range as validate_port_range
from regionmesh.network.sg_rules import validate_remote_ip_prefix_ethertype as validate_remote_ip_prefix_ethertype
from regionmesh.network.sg_rules import validate_security_group_rule as validate_security_group_rule
from regionmesh.network.value_validators import (
    _is_valid_port,
    _validate_list_of_items,
    _verify_dict_keys,
    validate_boolean,
    validate_fixed_ips,
    validate_hostroutes,
    validate_integer,
    validate_ip_address,
    validate_ip_address_or_none,
    validate_ip_or_subnet_or_none,
    validate_ip_pools,
    validate_list_of_unique_strings,
    validate_mac_address,
    validate_mac_address_or_none,
    validate_nameservers,
    validate_non_negative,
    validate_not_empty_string,
    validate_not_empty_string_or_none,
    validate_range,
    validate_range_or_none,
    validate_route_cidr,
    validate_string,
    validate_string_or_none,
    validate_subnet,
    validate_subnet_list,
    validate_subnet_list_or_none,
    validate_subnet_or_none,
    validate_uuid,
    validate_uuid_list,
    validate_uuid_list_non_empty,
    validate_uuid_list_or_none,
    validate_uuid_or_none,
    validate_values,
)
from regionmesh.network.value_validators import is_uuid_like as is_uuid_like

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

class AllowedAddressPairsMissingIP(InvalidInput):
    message = "AllowedAddressPair must contain ip_address"


class DuplicateAddressPairInRequest(InvalidInput):
    message = ("Request contains duplicate address pair: "
               "mac_address %(mac_address)s ip_address %(ip_address)s.")


class AllowedAddressPairExhausted(BadRequest):
    message = "The number of allowed address pair exceeds the maximum %(quota)s."


class SecurityGroupDefaultAlreadyExists(InUse):
    message = "Default security group already exists."


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
