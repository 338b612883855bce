"""Security group rules as Neutron checks them: protocols, port ranges, ethertypes, remotes, duplicates.

The rule converters (protocol, port value, ethertype), the checks Neutron runs on a converted rule body
(:func:`validate_security_group_rule`, normalising it in place) and the duplicate-detection key
(:func:`security_group_rule_key`), with the exceptions they raise (class names are the API's
``NeutronError.type``). Semantics follow Neutron 29's ``securitygroups_db``.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import Any, Final

from regionmesh.network import ipnet
from regionmesh.network.converters import convert_ip_prefix_to_cidr
from regionmesh.network.exceptions import InvalidInput
from regionmesh.network.value_validators import _is_valid_port

# --- Exceptions Neutron raises from validation (type names are the API's NeutronError.type) ----

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
