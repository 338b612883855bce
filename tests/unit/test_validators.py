"""Unit tests for Neutron's validators, converters and IP helpers.

Expected messages and edge cases were checked against neutron-lib 5.0.1 and Neutron 29
(``neutron/ipam/utils.py``, ``neutron/db/securitygroups_db.py``), run side by side.
"""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from regionmesh.network import ipnet
from regionmesh.network import validators as v
from regionmesh.network.exceptions import BadRequest, Conflict, InvalidInput

U1 = "3f2504e0-4f89-11d3-9a0c-0305e82c3301"
U2 = "6a1b3a6e-5f3b-4c84-9d0b-0b7d3c2f1e11"


def check(name: str, value: Any, spec: Any = None) -> str | None:
    return v.VALIDATORS[name](value, spec)


# --- Registry ------------------------------------------------------------------------------------

CONTRACT_VALIDATORS = [
    "type:uuid", "type:uuid_or_none", "type:uuid_list", "type:uuid_list_or_none", "type:string",
    "type:string_or_none", "type:not_empty_string", "type:boolean", "type:non_negative", "type:range",
    "type:values", "type:mac_address", "type:mac_address_or_none", "type:ip_address",
    "type:ip_address_or_none", "type:subnet", "type:subnet_or_none", "type:subnet_list", "type:ip_pools",
    "type:fixed_ips", "type:nameservers", "type:hostroutes", "type:allowed_address_pairs",
    "type:list_of_extra_dhcp_opts", "type:dict_or_none", "type:dict_or_empty", "type:list_of_unique_strings",
    "type:availability_zone_hint_list", "type:port_range", "type:external_gw_info", "type:routes", "type:tag",
    "type:list_of_tags",
]


@pytest.mark.parametrize("name", CONTRACT_VALIDATORS)
def test_contract_validators_are_registered(name: str) -> None:
    assert callable(v.VALIDATORS[name])


def test_converters_registered_by_function_name() -> None:
    for name, fn in v.CONVERTERS.items():
        assert getattr(v, name) is fn


# --- Scalars -------------------------------------------------------------------------------------

@pytest.mark.parametrize("value", [U1, U1.upper(), U1.replace("-", ""), "{" + U1 + "}", "urn:uuid:" + U1])
def test_uuid_accepts_oslo_spellings(value: str) -> None:
    assert check("type:uuid", value) is None


@pytest.mark.parametrize("value", ["abc", "", U1 + "0", U1[:-1], " " + U1, None, 5])
def test_uuid_rejects(value: Any) -> None:
    assert check("type:uuid", value) == f"'{value}' is not a valid UUID"


def test_uuid_variants() -> None:
    assert check("type:uuid_or_none", None) is None
    assert check("type:uuid_list_or_none", None) is None
    assert check("type:uuid_list", [U1, U2]) is None
    assert check("type:uuid_list", U1) == f"'{U1}' is not a list"
    assert check("type:uuid_list", [U1, U2, U1]) == f"Duplicate items in the list: '{U1}'"
    assert check("type:uuid_list", ["x"]) == "'x' is not a valid UUID"
    assert check("type:uuid_list_non_empty", []) == "List should not be empty"


def test_string_family() -> None:
    assert check("type:string", "x" * 255, 255) is None
    assert check("type:string", "x" * 256, 255) == f"'{'x' * 256}' exceeds maximum length of 255"
    assert check("type:string", 5, None) == "'5' is not a valid string"
    assert check("type:string_or_none", None, 10) is None
    assert check("type:not_empty_string", "  ", None) == "'  ' Blank strings are not permitted"
    assert check("type:list_of_unique_strings", ["a", "b", "a"]) == "Duplicate items in the list: 'a'"


@pytest.mark.parametrize(("value", "expected"), [
    (True, True), ("true", True), ("True", True), ("1", True), (1, True), ("yes", True), (" on ", True),
    (False, False), ("false", False), ("0", False), (0, False), ("off", False), ("n", False),
])
def test_boolean_accepts_oslo_strings(value: Any, expected: bool) -> None:
    assert check("type:boolean", value) is None
    assert v.convert_to_boolean(value) is expected


@pytest.mark.parametrize("value", [None, "", "abc", 2, 1.0, []])
def test_boolean_rejects(value: Any) -> None:
    assert check("type:boolean", value) == f"'{value}' is not a valid boolean value"
    with pytest.raises(InvalidInput) as err:
        v.convert_to_boolean(value)
    assert str(err.value) == f"Invalid input for operation: '{value}' cannot be converted to boolean."


def test_integers_and_ranges() -> None:
    assert check("type:non_negative", "3") is None
    assert check("type:non_negative", -1) == "'-1' should be non-negative"
    assert check("type:non_negative", "x") == "'x' is not an integer"
    assert check("type:range", 5, [0, 10]) is None
    assert check("type:range", 11, [0, 10]) == "'11' is too large - must be no larger than '10'"
    assert check("type:range", -1, [0, None]) == "'-1' is too small - must be at least '0'"
    assert check("type:integer", True) == "'True' is not an integer:boolean"
    assert check("type:integer", 1.5) == "'1.5' is not an integer"


def test_values_message_names_valid_values() -> None:
    assert check("type:values", 4, [4, 6]) is None
    assert check("type:values", 5, [4, 6]) == "5 is not in valid_values"
    assert check("type:values", None, [None, "slaac"]) is None
    assert check("type:values", [], frozenset({"a"})) == "[] is not in valid_values"


# --- Addresses -----------------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["10.0.0.1", "0.0.0.0", "::1", "2001:DB8::1", "::ffff:1.2.3.4", "fe80::1"])
def test_ip_address_accepts(value: str) -> None:
    assert check("type:ip_address", value) is None


@pytest.mark.parametrize("value", ["1.2.3", "256.1.1.1", "abc", "", "1.2.3.4 ", "fe80::1%eth0", "1::2::3",
                                   "10.0.0.1/24", None, 5])
def test_ip_address_rejects(value: Any) -> None:
    assert check("type:ip_address", value) == f"'{value}' is not a valid IP address"


@pytest.mark.parametrize(("value", "canonical"), [("010.0.0.1", "10.0.0.1"), ("1.2.3.04", "1.2.3.4")])
def test_ip_address_leading_zeros_suggest_canonical(value: str, canonical: str) -> None:
    assert check("type:ip_address", value) == (
        f"'{value}' is not an accepted IP address, '{canonical}' is recommended")


@pytest.mark.parametrize("value", ["10.0.0.0/24", "10.0.0.1/24", "0.0.0.0/0", "2001:db8::/64",
                                   "2001:DB8::1/64", "::/0"])
def test_subnet_accepts_host_bits(value: str) -> None:
    assert check("type:subnet", value) is None


@pytest.mark.parametrize("value", ["10.0.0.0", "10.0.0.0/33", "10.0.0.0/255.255.255.0", "010.0.0.0/8",
                                   "10.0.0.0/024", "2001:db8::/129", "x/24", "", None])
def test_subnet_rejects(value: Any) -> None:
    assert check("type:subnet", value) == f"'{value}' is not a valid IP subnet"


def test_subnet_list_and_mixed() -> None:
    assert check("type:subnet_or_none", None) is None
    assert check("type:subnet_list", ["10.0.0.0/24", "10.0.0.0/24"]) == "Duplicate items in the list: '10.0.0.0/24'"
    assert check("type:ip_or_subnet_or_none", "x") == (
        "'x' is neither a valid IP address, nor is it a valid IP subnet")
    assert check("type:ip_or_subnet_or_none", "10.0.0.1") is None


@pytest.mark.parametrize("value", ["fa:16:3e:00:00:01", "FA:16:3E:00:00:01", "fa-16-3e-00-00-01",
                                   "fa163e000001", "fa16.3e00.0001", "01:00:5e:00:00:01"])
def test_mac_accepts_netaddr_spellings(value: str) -> None:
    assert check("type:mac_address", value) is None


@pytest.mark.parametrize("value", ["00:00:00:00:00:00", "ff:ff:ff:ff:ff:ff", "fa:16:3e:00:00",
                                   "fa:16:3e:00-00:01", "fa:16:3e:00:00:0g", "fa:16:3e:00:00:01 ", "", 5])
def test_mac_rejects(value: Any) -> None:
    assert check("type:mac_address", value) == f"'{value}' is not a valid MAC address"
    assert check("type:mac_address_or_none", None) is None


# --- Composite validators ------------------------------------------------------------------------

def test_ip_pools() -> None:
    assert check("type:ip_pools", [{"start": "10.0.0.2", "end": "10.0.0.9"}]) is None
    assert check("type:ip_pools", "x") == "Invalid data format for IP pool: 'x'"
    assert check("type:ip_pools", [{"start": "10.0.0.2"}]) == (
        "Validation of dictionary's keys failed. Expected keys: {'end', 'start'} Provided keys: {'start'}")
    assert check("type:ip_pools", ["x"]) == (
        "Invalid input. 'x' must be a dictionary with keys: ['start', 'end']")
    assert check("type:ip_pools", [{"start": "10.0.0.2", "end": "x"}]) == "'x' is not a valid IP address"


def test_fixed_ips() -> None:
    assert check("type:fixed_ips", [{"subnet_id": U1, "ip_address": "10.0.0.2"}, {"subnet_id": U1}]) is None
    assert check("type:fixed_ips", [{"ip_address": "10.0.0.2"}, {"ip_address": "10.0.0.2"}]) == (
        "Duplicate IP address '10.0.0.2'")
    assert check("type:fixed_ips", [{"subnet_id": "x"}]) == "'x' is not a valid UUID"
    assert check("type:fixed_ips", "x") == "Invalid data format for fixed IP: 'x'"


def test_nameservers() -> None:
    assert check("type:nameservers", ["8.8.8.8", "2001:4860:4860::8888"]) is None
    assert check("type:nameservers", ["8.8.8.8", "8.8.8.8"]) == "Duplicate nameserver '8.8.8.8'"
    assert check("type:nameservers", ["x"]) == "'x' is not a valid nameserver. 'x' is not a valid IP address"


@pytest.mark.parametrize("name", ["type:hostroutes", "type:routes"])
def test_routes(name: str) -> None:
    route = {"destination": "10.1.0.0/16", "nexthop": "10.0.0.1"}
    assert check(name, [route]) is None
    assert check(name, [route, dict(route)]) == f"Duplicate hostroute '{route}'"
    assert check(name, [{"destination": "10.1.0.1/16", "nexthop": "10.0.0.1"}]) == "'10.1.0.1/16' is not a valid CIDR"
    assert check(name, [{"destination": "127.0.0.0/8", "nexthop": "10.0.0.1"}]) == (
        "'127.0.0.0/8' is not a routable CIDR")
    assert check(name, [{"destination": "10.1.0.0/16", "nexthop": "x"}]) == "'x' is not a valid IP address"
    assert check(name, "x") == "Invalid data format for hostroute: 'x'"


def test_dicts() -> None:
    assert check("type:dict_or_none", None) is None
    assert check("type:dict_or_none", "x") == "'x' is not a dictionary"
    assert check("type:dict_or_empty", {}) is None
    assert check("type:dict_or_empty", []) == "'[]' is not a dictionary"


def test_external_gw_info_converts_enable_snat_in_place() -> None:
    assert check("type:external_gw_info", None) is None
    assert check("type:external_gw_info", {}) is None
    info = {"network_id": U1, "enable_snat": "false",
            "external_fixed_ips": [{"subnet_id": U2, "ip_address": "172.24.4.10"}]}
    assert check("type:external_gw_info", info) is None
    assert info["enable_snat"] is False
    assert check("type:external_gw_info", {"enable_snat": True}) == (
        "Validation of dictionary's keys failed. Expected keys: {'network_id'} Provided keys: {'enable_snat'}")
    assert check("type:external_gw_info", {"network_id": U1, "foo": 1}) == "Unexpected keys supplied: foo"
    assert check("type:external_gw_info", {"network_id": "x"}) == "'x' is not a valid UUID"
    assert check("type:external_gw_info", {"network_id": U1, "external_fixed_ips": [{"ip_address": "x"}]}) == (
        "'x' is not a valid IP address")
    with pytest.raises(InvalidInput, match="'maybe' cannot be converted to boolean"):
        check("type:external_gw_info", {"network_id": U1, "enable_snat": "maybe"})


def test_allowed_address_pairs() -> None:
    pairs = [{"ip_address": "10.0.0.0/24"}, {"ip_address": "10.0.0.5", "mac_address": "fa:16:3e:00:00:01"}]
    assert check("type:allowed_address_pairs", pairs) is None
    with pytest.raises(v.HTTPBadRequest) as err:
        check("type:allowed_address_pairs", "x")
    assert str(err.value) == "Allowed address pairs must be a list."
    assert err.value.type_name == "HTTPBadRequest"
    with pytest.raises(v.AllowedAddressPairsMissingIP):
        check("type:allowed_address_pairs", [{"mac_address": "fa:16:3e:00:00:01"}])
    with pytest.raises(v.DuplicateAddressPairInRequest) as dup:
        check("type:allowed_address_pairs", [{"ip_address": "10.0.0.1"}] * 2)
    assert str(dup.value) == (
        "Request contains duplicate address pair: mac_address None ip_address 10.0.0.1.")
    with pytest.raises(v.HTTPBadRequest, match="Unrecognized attribute"):
        check("type:allowed_address_pairs", [{"ip_address": "10.0.0.1", "foo": 1}])
    with pytest.raises(v.HTTPBadRequest, match=re.escape("'10.0.0.1/33' is not a valid IP subnet")):
        check("type:allowed_address_pairs", [{"ip_address": "10.0.0.1/33"}])
    with pytest.raises(v.AllowedAddressPairExhausted) as many:
        check("type:allowed_address_pairs", [{"ip_address": f"10.0.0.{i}"} for i in range(11)])
    assert str(many.value) == "The number of allowed address pair exceeds the maximum 10."


def test_extra_dhcp_opts() -> None:
    opts = [{"opt_name": "tftp-server", "opt_value": "10.0.0.5", "ip_version": "4"},
            {"opt_name": "router", "opt_value": ""}]
    assert check("type:list_of_extra_dhcp_opts", opts) is None
    assert opts[0]["ip_version"] == 4
    assert check("type:list_of_extra_dhcp_opts", None) is None
    with pytest.raises(InvalidInput, match="No valid key specs matched for"):
        check("type:list_of_extra_dhcp_opts", [{"opt_name": "tftp-server", "opt_value": ""}])
    with pytest.raises(InvalidInput, match="No valid key specs matched for"):
        check("type:list_of_extra_dhcp_opts", [{"opt_name": "x", "opt_value": "y", "ip_version": 5}])
    with pytest.raises(InvalidInput, match="'x' is not a list"):
        check("type:list_of_extra_dhcp_opts", "x")


def test_availability_zone_hints() -> None:
    assert check("type:availability_zone_hint_list", ["az1", "az2"]) is None
    assert check("type:availability_zone_hint_list", ["az1", "az1"]) == "Duplicate items in the list: 'az1'"
    with pytest.raises(InvalidInput) as err:
        check("type:availability_zone_hint_list", [f"zone-{i}" for i in range(30)])
    assert str(err.value) == "Invalid input for operation: Too many availability_zone_hints specified."


@pytest.mark.parametrize(("value", "spec", "expected"), [
    ("80", None, None), ("80:90", None, None), (None, None, None),
    ("90:80", None, "First port in a port range must be lower than the second port"),
    ("80:", None, "Port range must be two integers separated by a colon"),
    ("1:2:3", None, "Port range must be two integers separated by a colon"),
    ("x", None, "Invalid port: x"),
    ("5", [10, 20], "Invalid port: 5, the port must be in the range [10, 20]"),
])
def test_port_range_strings(value: Any, spec: Any, expected: str | None) -> None:
    assert check("type:port_range", value, spec) == expected


def test_tags() -> None:
    assert check("type:tag", "red") is None
    assert check("type:tag", "x" * 256) == f"'{'x' * 256}' exceeds maximum length of 255"
    assert check("type:tag", "") == "'' Blank strings are not permitted"
    assert check("type:tag", "a,b") == "Tag 'a,b' must not contain a comma"
    assert check("type:list_of_tags", ["a", "b"]) is None
    assert check("type:list_of_tags", ["a", "a"]) == "Duplicate items in the list: 'a'"
    assert check("type:list_of_tags", "a") == "'a' is not a list"
    v.validate_tags_limit("network", [str(i) for i in range(50)])
    with pytest.raises(BadRequest, match="exceed the per-resource limit of 50"):
        v.validate_tags_limit("network", [str(i) for i in range(51)])


def test_security_group_name_default_is_a_conflict() -> None:
    assert check("type:name_not_default", "web") is None
    with pytest.raises(v.SecurityGroupDefaultAlreadyExists) as err:
        check("type:name_not_default", "Default")
    assert isinstance(err.value, Conflict)


def test_check_ip_version() -> None:
    v.check_ip_version(4, "10.0.0.1", "gateway_ip")
    with pytest.raises(InvalidInput) as err:
        v.check_ip_version(4, "2001:db8::1", "gateway_ip")
    assert str(err.value) == (
        "Invalid input for operation: gateway_ip '2001:db8::1' does not match the ip_version '4'.")


# --- Converters ----------------------------------------------------------------------------------

def test_int_converters() -> None:
    assert v.convert_to_int("7") == 7
    assert v.convert_to_int_if_not_none(None) is None
    with pytest.raises(InvalidInput, match="'x' is not an integer"):
        v.convert_to_int("x")
    assert v.convert_to_boolean_if_not_none(None) is None


def test_collection_converters() -> None:
    assert v.convert_none_to_empty_list(None) == []
    assert v.convert_none_to_empty_dict(None) == {}
    assert v.convert_none_to_empty_list([1]) == [1]
    assert v.convert_to_list("x") == ["x"]
    assert v.convert_kvp_list_to_dict(["ip_address=10.0.0.3", "subnet_id=a", "ip_address=10.0.0.4"]) == {
        "ip_address": ["10.0.0.3", "10.0.0.4"], "subnet_id": ["a"]}
    with pytest.raises(InvalidInput, match="is not of the form <key>=\\[value\\]"):
        v.convert_kvp_list_to_dict(["novalue"])
    assert v.convert_to_lowercase("ABC") == "abc"
    with pytest.raises(InvalidInput, match="Input value 5 must be string type"):
        v.convert_to_lowercase(5)


def test_address_converters() -> None:
    assert v.convert_ip_to_canonical_format("2001:0DB8:0:0:0:0:0:0001") == "2001:db8::1"
    assert v.convert_ip_to_canonical_format("::ffff:1.2.3.4") == "::ffff:1.2.3.4"
    assert v.convert_ip_to_canonical_format("10.0.0.1") == "10.0.0.1"
    assert v.convert_ip_to_canonical_format("junk") == "junk"
    assert v.convert_cidr_to_canonical_format("2001:DB8::1/64") == "2001:db8::1/64"
    assert v.convert_cidr_to_canonical_format("10.0.0.5") == "10.0.0.5/32"
    with pytest.raises(InvalidInput, match="x is not in a CIDR format"):
        v.convert_cidr_to_canonical_format("x")
    assert v.convert_to_mac_lower("FA-16-3E-00-00-01") == "fa:16:3e:00:00:01"
    assert v.convert_to_mac_lower("f:1:3:0:0:1") == "0f:01:03:00:00:01"
    assert v.convert_to_mac_lower("junk") == "junk"
    assert v.convert_to_mac_lower(None) is None


@pytest.mark.parametrize(("value", "expected"), [
    ("10.0.0.5/24", "10.0.0.5/24"),  # host bits kept; normalized_cidr is computed separately
    ("10.0.0.5", "10.0.0.5/32"),
    ("10.0.0.0/255.255.255.0", "10.0.0.0/24"),
    ("2001:DB8::1", "2001:db8::1/128"),
    ("", None),
    (None, None),
])
def test_remote_ip_prefix_converter(value: Any, expected: str | None) -> None:
    assert v.convert_ip_prefix_to_cidr(value) == expected
    assert v.convert_ip_prefix_if_not_none(value) == expected


def test_remote_ip_prefix_converter_rejects() -> None:
    with pytest.raises(v.InvalidCIDR) as err:
        v.convert_ip_prefix_to_cidr("10.0.0.0/33")
    assert str(err.value) == "Invalid CIDR 10.0.0.0/33 given as IP prefix."
    assert isinstance(err.value, BadRequest)


@pytest.mark.parametrize(("value", "expected"), [
    ("tcp", "tcp"), ("TCP", "tcp"), ("icmpv6", "icmpv6"), ("ipv6-icmp", "ipv6-icmp"), ("gre", "gre"),
    (6, "6"), ("17", "17"), (0, "0"), ("255", "255"), (None, None), ("any", None), ("ANY", None),
])
def test_convert_to_protocol(value: Any, expected: str | None) -> None:
    assert v.convert_to_protocol(value) == expected


@pytest.mark.parametrize("value", ["foo", 256, "-1", True, 6.0, []])
def test_convert_to_protocol_rejects(value: Any) -> None:
    with pytest.raises(v.SecurityGroupRuleInvalidProtocol) as err:
        v.convert_to_protocol(value)
    assert str(err.value).startswith(
        f"Security group rule protocol {value} not supported. Only protocol values (None, 'any', 'ah', ")
    assert str(err.value).endswith("'vrrp') and integer representations [0 to 255] are supported.")


def test_port_value_and_ethertype_converters() -> None:
    assert v.convert_validate_port_value("22") == 22
    assert v.convert_validate_port_value(None) is None
    with pytest.raises(v.SecurityGroupInvalidPortValue, match="Invalid value for port 70000"):
        v.convert_validate_port_value(70000)
    assert v.convert_ethertype_to_case_insensitive("ipv6") == "IPv6"
    with pytest.raises(v.SecurityGroupRuleInvalidEtherType) as err:
        v.convert_ethertype_to_case_insensitive("arp")
    assert str(err.value) == (
        "Security group rule for ethertype 'arp' not supported. Allowed values are ['IPv4', 'IPv6'].")


# --- Security group rules ------------------------------------------------------------------------

@pytest.mark.parametrize(("protocol", "low", "high"), [
    ("tcp", 22, 22), ("udp", 1, 65535), ("6", 80, 90), ("sctp", 5, 6), ("dccp", 1, 2), ("udplite", 3, 3),
    ("icmp", 8, 0), ("icmp", 8, None), ("icmp", None, None), ("ipv6-icmp", 128, 0), ("icmpv6", 0, 255),
    ("58", 1, 1), ("gre", None, None), (None, None, None),
])
def test_port_range_accepts(protocol: Any, low: Any, high: Any) -> None:
    v.validate_port_range(protocol, low, high)


@pytest.mark.parametrize(("protocol", "low", "high", "exc", "message"), [
    (None, 22, 22, v.SecurityGroupProtocolRequiredWithPorts,
     "Must also specify protocol if port range is given."),
    ("tcp", 90, 80, v.SecurityGroupInvalidPortRange,
     "For TCP/UDP protocols, port_range_min must be <= port_range_max"),
    ("tcp", 22, None, v.SecurityGroupInvalidPortRange,
     "For TCP/UDP protocols, port_range_min must be <= port_range_max"),
    ("tcp", 0, 10, v.SecurityGroupInvalidPortValue, "Invalid value for port 0"),
    ("icmp", 256, None, v.SecurityGroupInvalidIcmpValue,
     "Invalid value for ICMP type (port_range_min) 256. It must be 0 to 255."),
    ("icmp", 8, 300, v.SecurityGroupInvalidIcmpValue,
     "Invalid value for ICMP code (port_range_max) 300. It must be 0 to 255."),
    ("icmp", None, 0, v.SecurityGroupMissingIcmpType,
     "ICMP code (port-range-max) 0 is provided but ICMP type (port-range-min) is missing."),
    ("gre", 1, 2, v.SecurityGroupInvalidProtocolForPort,
     "Ports cannot be specified for protocol 47. Ports are only supported for DCCP, SCTP, TCP, UDP, UDPLITE."),
])
def test_port_range_rejects(protocol: Any, low: Any, high: Any, exc: type[Exception], message: str) -> None:
    with pytest.raises(exc) as err:
        v.validate_port_range(protocol, low, high)
    assert str(err.value) == message
    assert isinstance(err.value, InvalidInput)


def test_prefix_and_protocol_conflicts() -> None:
    v.validate_remote_ip_prefix_ethertype("IPv4", "10.0.0.0/8")
    v.validate_remote_ip_prefix_ethertype("IPv4", None)
    with pytest.raises(v.SecurityGroupRuleParameterConflict) as err:
        v.validate_remote_ip_prefix_ethertype("IPv4", "2001:db8::/64")
    assert str(err.value) == "Conflicting value ethertype IPv4 for CIDR 2001:db8::/64"
    v.validate_ethertype_protocol("IPv6", "ipv6-icmp")
    v.validate_ethertype_protocol("IPv4", "icmp")
    for protocol in ("icmpv6", "ipv6-icmp", "58", "ipv6-frag"):
        with pytest.raises(v.SecurityGroupEthertypeConflictWithProtocol,
                           match=re.escape(f"Invalid ethertype IPv4 for protocol {protocol}.")):
            v.validate_ethertype_protocol("IPv4", protocol)


def test_validate_security_group_rule_normalises_like_neutron() -> None:
    rule: dict[str, Any] = {"ethertype": "IPv6", "protocol": "icmp", "port_range_min": None,
                            "port_range_max": None, "remote_ip_prefix": "2001:DB8::5/64"}
    v.validate_security_group_rule(rule)
    assert rule["protocol"] == "ipv6-icmp"
    assert rule["remote_ip_prefix"] == "2001:db8::5/64"
    whole = {"ethertype": "IPv4", "protocol": "tcp", "port_range_min": 1, "port_range_max": 65535}
    v.validate_security_group_rule(whole)
    assert (whole["port_range_min"], whole["port_range_max"]) == (None, None)
    with pytest.raises(v.SecurityGroupMultipleRemoteEntites):
        v.validate_security_group_rule({"ethertype": "IPv4", "protocol": None, "remote_ip_prefix": "10.0.0.0/8",
                                        "remote_group_id": U1})


def test_rule_key_matches_equivalent_rules() -> None:
    base = {"direction": "ingress", "ethertype": "IPv4", "port_range_min": 22, "port_range_max": 22,
            "security_group_id": U1, "remote_ip_prefix": None}
    assert (v.security_group_rule_key({**base, "protocol": "tcp"})
            == v.security_group_rule_key({**base, "protocol": "6"}))
    assert (v.security_group_rule_key({**base, "protocol": "tcp", "remote_ip_prefix": "0.0.0.0/0"})
            == v.security_group_rule_key({**base, "protocol": "tcp"}))
    assert (v.security_group_rule_key({**base, "protocol": "tcp"})
            != v.security_group_rule_key({**base, "protocol": "udp"}))


# --- IP helpers ----------------------------------------------------------------------------------

def test_normalise_and_versions() -> None:
    assert ipnet.normalise_cidr("10.0.0.5/24") == "10.0.0.0/24"
    assert ipnet.normalise_cidr("2001:DB8::1/64") == "2001:db8::/64"
    assert ipnet.ip_version("10.0.0.1") == 4
    assert ipnet.ip_version("2001:db8::/64") == 6
    with pytest.raises(ValueError, match="not a valid IP network"):
        ipnet.ip_version("x")
    assert ipnet.cidrs_overlap("10.0.0.0/24", "10.0.0.128/25")
    assert not ipnet.cidrs_overlap("10.0.0.0/24", "10.0.1.0/24")
    assert not ipnet.cidrs_overlap("10.0.0.0/8", "::/0")
    assert ipnet.ip_in_cidr("10.0.0.7", "10.0.0.0/29")
    assert not ipnet.ip_in_cidr("10.0.0.8", "10.0.0.0/29")
    assert not ipnet.ip_in_cidr("::1", "10.0.0.0/8")
    assert ipnet.ip_to_int("10.0.0.1") == 0x0A000001
    assert ipnet.int_to_ip(1, 6) == "::1"


@pytest.mark.parametrize(("cidr", "gateway"), [
    ("10.0.0.0/24", "10.0.0.1"), ("10.0.0.0/31", "10.0.0.1"), ("10.0.0.0/32", None),
    ("2001:db8::/64", "2001:db8::"),  # IPv6 defaults to the subnet-router anycast address
])
def test_default_gateway(cidr: str, gateway: str | None) -> None:
    assert ipnet.default_gateway(cidr) == gateway


def test_default_gateway_ipv6_first_host_option() -> None:
    assert ipnet.default_gateway("2001:db8::/64", ipv6_first_host=True) == "2001:db8::1"
    assert ipnet.default_gateway("2001:db8::1/128", ipv6_first_host=True) == "2001:db8::1"
    assert ipnet.default_gateway("10.0.0.0/24", ipv6_first_host=True) == "10.0.0.1"


@pytest.mark.parametrize(("cidr", "gateway", "pools"), [
    ("10.0.0.0/24", "10.0.0.1", [("10.0.0.2", "10.0.0.254")]),
    ("10.0.0.0/24", None, [("10.0.0.1", "10.0.0.254")]),
    ("10.0.0.0/24", "10.0.0.100", [("10.0.0.1", "10.0.0.99"), ("10.0.0.101", "10.0.0.254")]),
    ("10.0.0.0/24", "10.0.0.254", [("10.0.0.1", "10.0.0.253")]),
    ("10.0.0.0/24", "192.168.0.1", [("10.0.0.1", "10.0.0.254")]),  # gateway outside: no cut
    ("10.0.0.0/30", "10.0.0.1", [("10.0.0.2", "10.0.0.2")]),
    ("10.0.0.0/31", None, [("10.0.0.0", "10.0.0.1")]),
    ("10.0.0.0/31", "10.0.0.0", [("10.0.0.1", "10.0.0.1")]),
    ("10.0.0.0/32", "10.0.0.0", [("10.0.0.0", "10.0.0.0")]),
    ("2001:db8::/64", "2001:db8::", [("2001:db8::1", "2001:db8::ffff:ffff:ffff:ffff")]),
    ("2001:db8::/64", "2001:db8::1", [("2001:db8::2", "2001:db8::ffff:ffff:ffff:ffff")]),
    ("2001:db8::/127", None, [("2001:db8::1", "2001:db8::1")]),
    ("2001:db8::/128", None, [("2001:db8::", "2001:db8::")]),
])
def test_default_allocation_pools(cidr: str, gateway: str | None, pools: list[tuple[str, str]]) -> None:
    assert ipnet.default_allocation_pools(cidr, gateway) == [{"start": s, "end": e} for s, e in pools]


def _pools(*ranges: tuple[str, str]) -> list[dict[str, str]]:
    return [{"start": s, "end": e} for s, e in ranges]


def test_validate_allocation_pools_accepts() -> None:
    ipnet.validate_allocation_pools(_pools(("10.0.0.2", "10.0.0.100"), ("10.0.0.150", "10.0.0.254")),
                                    "10.0.0.0/24", "10.0.0.1")
    ipnet.validate_allocation_pools(_pools(("10.0.0.0", "10.0.0.1")), "10.0.0.0/31", None)
    ipnet.validate_allocation_pools(_pools(("2001:db8::10", "2001:db8::ff")), "2001:db8::/64", "2001:db8::")


@pytest.mark.parametrize(("pools", "gateway", "exc", "base", "message"), [
    (_pools(("10.0.0.20", "10.0.0.10")), None, v.InvalidAllocationPool, BadRequest,
     "The allocation pool {'start': '10.0.0.20', 'end': '10.0.0.10'} is not valid."),
    (_pools(("2001:db8::1", "2001:db8::2")), None, v.InvalidAllocationPool, BadRequest,
     "The allocation pool 2001:db8::1-2001:db8::2 is not valid."),
    (_pools(("10.0.0.0", "10.0.0.254")), None, v.OutOfBoundsAllocationPool, BadRequest,
     "The allocation pool 10.0.0.0-10.0.0.254 spans beyond the subnet cidr 10.0.0.0/24."),
    (_pools(("10.0.0.2", "10.0.0.255")), None, v.OutOfBoundsAllocationPool, BadRequest,
     "The allocation pool 10.0.0.2-10.0.0.255 spans beyond the subnet cidr 10.0.0.0/24."),
    (_pools(("10.0.0.100", "10.0.0.150"), ("10.0.0.2", "10.0.0.9"), ("10.0.0.5", "10.0.0.6")), None,
     v.OverlappingAllocationPools, Conflict,
     "Found overlapping allocation pools: 10.0.0.2-10.0.0.9 10.0.0.5-10.0.0.6 for subnet 10.0.0.0/24."),
    (_pools(("10.0.0.2", "10.0.0.254")), "10.0.0.5", v.GatewayConflictWithAllocationPools, Conflict,
     "Gateway ip 10.0.0.5 conflicts with allocation pool 10.0.0.2-10.0.0.254."),
])
def test_validate_allocation_pools_rejects(pools: list[dict[str, str]], gateway: str | None,
                                           exc: type[Exception], base: type[Exception], message: str) -> None:
    with pytest.raises(exc) as err:
        ipnet.validate_allocation_pools(pools, "10.0.0.0/24", gateway)
    assert str(err.value) == message
    assert isinstance(err.value, base)


def test_ipv6_pool_must_skip_anycast_address() -> None:
    with pytest.raises(v.OutOfBoundsAllocationPool):
        ipnet.validate_allocation_pools(_pools(("2001:db8::", "2001:db8::ff")), "2001:db8::/64")


def test_subnet_ip_rules() -> None:
    assert ipnet.check_subnet_ip("10.0.0.0/24", "10.0.0.5")
    assert not ipnet.check_subnet_ip("10.0.0.0/24", "10.0.0.0")
    assert not ipnet.check_subnet_ip("10.0.0.0/24", "10.0.0.255")
    assert not ipnet.check_subnet_ip("10.0.0.0/24", "10.0.1.5")
    assert ipnet.check_subnet_ip("10.0.0.0/31", "10.0.0.1")
    assert not ipnet.check_subnet_ip("2001:db8::/64", "2001:db8::", "compute:nova")
    assert ipnet.check_subnet_ip("2001:db8::/64", "2001:db8::", "network:router_interface")
    assert ipnet.check_gateway_invalid_in_subnet("10.0.0.0/24", "10.0.0.255")
    assert not ipnet.check_gateway_invalid_in_subnet("10.0.0.0/24", "10.0.0.1")
    assert not ipnet.check_gateway_invalid_in_subnet("10.0.0.0/24", "192.168.0.1")
    assert not ipnet.check_gateway_invalid_in_subnet("2001:db8::/64", "2001:db8::")


def test_first_free_ip_skips_allocated_and_moves_across_pools() -> None:
    pools = _pools(("10.0.0.2", "10.0.0.4"), ("10.0.0.10", "10.0.0.11"))
    assert ipnet.first_free_ip(pools, []) == "10.0.0.2"
    assert ipnet.first_free_ip(pools, ["10.0.0.2", "10.0.0.4"]) == "10.0.0.3"
    assert ipnet.first_free_ip(pools, ["10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.2"]) == "10.0.0.10"
    assert ipnet.first_free_ip(pools, ["10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.10", "10.0.0.11"]) is None
    assert ipnet.first_free_ip([], []) is None


def test_first_free_ip_on_a_huge_ipv6_pool() -> None:
    pool = _pools(("2001:db8::1", "2001:db8::ffff:ffff:ffff:ffff"))
    taken = [ipnet.int_to_ip(ipnet.ip_to_int("2001:db8::1") + i, 6) for i in range(5000)]
    assert ipnet.first_free_ip(pool, taken) == "2001:db8::1389"


def test_iter_pool_ips_is_lazy() -> None:
    it = ipnet.iter_pool_ips("2001:db8::1", "2001:db8::ffff:ffff:ffff:ffff")
    assert [next(it), next(it)] == ["2001:db8::1", "2001:db8::2"]
    assert list(ipnet.iter_pool_ips("10.0.0.254", "10.0.1.1")) == [
        "10.0.0.254", "10.0.0.255", "10.0.1.0", "10.0.1.1"]


def test_macs() -> None:
    assert ipnet.is_valid_mac("fa:16:3e:00:00:01")
    assert not ipnet.is_valid_mac("00:00:00:00:00:00")
    assert ipnet.format_mac(ipnet.parse_mac("FA163E000001") or 0) == "fa:16:3e:00:00:01"
    for _ in range(20):
        mac = ipnet.generate_mac()
        assert mac.startswith("fa:16:3e:") and ipnet.is_valid_mac(mac)
    assert ipnet.generate_mac("fa:16:3e:4b:00:00").startswith("fa:16:3e:4b:")


@pytest.mark.parametrize(("prefix", "mac", "address"), [
    ("2001:db8::/64", "fa:16:3e:12:34:56", "2001:db8::f816:3eff:fe12:3456"),
    ("2001:db8:1:2::/64", "00:00:00:00:00:01", "2001:db8:1:2:200:ff:fe00:1"),
    ("fe80::/64", "FA-16-3E-AB-CD-EF", "fe80::f816:3eff:feab:cdef"),
])
def test_eui64(prefix: str, mac: str, address: str) -> None:
    assert ipnet.eui64_address(prefix, mac) == address


def test_eui64_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="Bad prefix or mac format"):
        ipnet.eui64_address("2001:db8::/64", "junk")
    with pytest.raises(ValueError, match="Bad prefix type"):
        ipnet.eui64_address("10.0.0.0/24", "fa:16:3e:00:00:01")


def test_validators_do_not_mutate_plain_inputs() -> None:
    body = [{"destination": "10.1.0.0/16", "nexthop": "10.0.0.1"}]
    snapshot = copy.deepcopy(body)
    check("type:hostroutes", body)
    assert body == snapshot
