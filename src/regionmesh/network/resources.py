"""The attribute maps of every Neutron resource RegionMesh serves (facts from neutron-lib's
API definitions; see docs/api.md for the surface). Pure data."""

from __future__ import annotations

import regionmesh.network.validators as v
from regionmesh.network.attributes import ATTR_NOT_SPECIFIED, MISSING, Attr, ResourceDef

NAME_MAX = 255
DESC_MAX = 255

_bool = v.convert_to_boolean


def _standard(name: bool = True, tags: bool = True) -> dict[str, Attr]:
    attrs: dict[str, Attr] = {
        "id": Attr(validate=("type:uuid", None), is_filter=True, is_sort_key=True, required_by_policy=True),
        "project_id": Attr(allow_post=True, default=None, validate=("type:string_or_none", NAME_MAX),
                           is_filter=True, is_sort_key=True, required_by_policy=True),
        "tenant_id": Attr(allow_post=True, default=None, validate=("type:string_or_none", NAME_MAX),
                          is_filter=True, is_sort_key=True, required_by_policy=True),
        "description": Attr(allow_post=True, allow_put=True, default="",
                            validate=("type:string", DESC_MAX), is_filter=True, is_sort_key=True),
        "created_at": Attr(is_filter=True, is_sort_key=True),
        "updated_at": Attr(is_filter=True, is_sort_key=True),
        "revision_number": Attr(is_filter=True, is_sort_key=True),
    }
    if tags:
        attrs["tags"] = Attr(allow_post=True, default=list, validate=("type:list_of_tags", None))
    if name:
        attrs["name"] = Attr(allow_post=True, allow_put=True, default="", validate=("type:string", NAME_MAX),
                             is_filter=True, is_sort_key=True)
    return attrs


def _admin_state() -> Attr:
    return Attr(allow_post=True, allow_put=True, default=True, convert_to=_bool,
                validate=("type:boolean", None), is_filter=True, is_sort_key=True)


def _status() -> Attr:
    return Attr(is_filter=True, is_sort_key=True)


NETWORK = ResourceDef(
    collection="networks", member="network", quota_resource="network",
    attrs={
        **_standard(),
        "subnets": Attr(default=list),
        "admin_state_up": _admin_state(),
        "status": _status(),
        "shared": Attr(allow_post=True, allow_put=True, default=False, convert_to=_bool,
                       validate=("type:boolean", None), is_filter=True, is_sort_key=True,
                       enforce_policy=True, required_by_policy=True),
        "mtu": Attr(allow_post=True, allow_put=True, default=0, convert_to=v.convert_to_int,
                    validate=("type:non_negative", None), is_filter=True, is_sort_key=True),
        "router:external": Attr(allow_post=True, allow_put=True, default=False, convert_to=_bool,
                                validate=("type:boolean", None), is_filter=True, enforce_policy=True),
        "provider:network_type": Attr(allow_post=True, default=None,
                                      validate=("type:string_or_none", 32), is_filter=True,
                                      enforce_policy=True),
        "provider:physical_network": Attr(allow_post=True, default=None,
                                          validate=("type:string_or_none", 64), is_filter=True,
                                          enforce_policy=True),
        "provider:segmentation_id": Attr(allow_post=True, default=None,
                                         convert_to=v.convert_to_int_if_not_none, is_filter=True,
                                         enforce_policy=True),
        "availability_zone_hints": Attr(allow_post=True, default=list,
                                        convert_to=v.convert_none_to_empty_list,
                                        validate=("type:availability_zone_hint_list", None)),
        "availability_zones": Attr(),
        "port_security_enabled": Attr(allow_post=True, allow_put=True, default=True, convert_to=_bool,
                                      validate=("type:boolean", None), is_filter=True),
        "ipv4_address_scope": Attr(),
        "ipv6_address_scope": Attr(),
        "is_default": Attr(is_filter=True),
        "l2_adjacency": Attr(),
    },
)

SUBNET = ResourceDef(
    collection="subnets", member="subnet", quota_resource="subnet",
    attrs={
        **_standard(),
        "network_id": Attr(allow_post=True, default=MISSING, validate=("type:uuid", None), is_filter=True,
                           is_sort_key=True, required_by_policy=True),
        "ip_version": Attr(allow_post=True, default=MISSING, convert_to=v.convert_to_int,
                           validate=("type:values", [4, 6]), is_filter=True, is_sort_key=True),
        "cidr": Attr(allow_post=True, default=None, validate=("type:subnet_or_none", None), is_filter=True,
                     is_sort_key=True),
        "prefixlen": Attr(allow_post=True, default=None, convert_to=v.convert_to_int_if_not_none,
                          is_visible=False),
        # Neutron's hidden subnet attribute: its network's ``shared``, a filter only.
        "shared": Attr(is_visible=False, is_filter=True),
        "subnetpool_id": Attr(allow_post=True, default=None, validate=("type:uuid_or_none", None),
                              is_filter=True, is_sort_key=True),
        # default-subnetpools: allocate from the default pool of ip_version (never shown).
        "use_default_subnetpool": Attr(allow_post=True, default=False, convert_to=_bool,
                                       validate=("type:boolean", None), is_visible=False),
        "gateway_ip": Attr(allow_post=True, allow_put=True, default=ATTR_NOT_SPECIFIED,
                           validate=("type:ip_address_or_none", None), is_filter=True, is_sort_key=True),
        "allocation_pools": Attr(allow_post=True, allow_put=True, default=None,
                                 validate=("type:ip_pools", None)),
        "dns_nameservers": Attr(allow_post=True, allow_put=True, default=list,
                                convert_to=v.convert_none_to_empty_list,
                                validate=("type:nameservers", None), is_filter=True),
        "host_routes": Attr(allow_post=True, allow_put=True, default=list,
                            convert_to=v.convert_none_to_empty_list, validate=("type:hostroutes", None)),
        "enable_dhcp": Attr(allow_post=True, allow_put=True, default=True, convert_to=_bool,
                            validate=("type:boolean", None), is_filter=True, is_sort_key=True),
        "ipv6_ra_mode": Attr(allow_post=True, default=None,
                             validate=("type:values", [None, "slaac", "dhcpv6-stateful", "dhcpv6-stateless"]),
                             is_filter=True, is_sort_key=True),
        "ipv6_address_mode": Attr(allow_post=True, default=None,
                                  validate=("type:values",
                                            [None, "slaac", "dhcpv6-stateful", "dhcpv6-stateless"]),
                                  is_filter=True, is_sort_key=True),
        "segment_id": Attr(allow_post=True, default=None, validate=("type:uuid_or_none", None),
                           is_filter=True, enforce_policy=True),
        "service_types": Attr(allow_post=True, allow_put=True, default=list,
                              convert_to=v.convert_none_to_empty_list),
    },
)

def _prefixlen() -> Attr:
    return Attr(allow_post=True, allow_put=True, default=ATTR_NOT_SPECIFIED,
                convert_to=v.convert_to_int, validate=("type:non_negative", None), is_filter=True,
                is_sort_key=True)


SUBNETPOOL = ResourceDef(
    collection="subnetpools", member="subnetpool",
    attrs={
        **_standard(),
        "name": Attr(allow_post=True, allow_put=True, default=MISSING, validate=("type:not_empty_string", NAME_MAX),
                     is_filter=True, is_sort_key=True),
        "prefixes": Attr(allow_post=True, allow_put=True, default=MISSING, convert_to=v.convert_to_list,
                         validate=("type:subnet_list", None)),
        "ip_version": Attr(is_filter=True, is_sort_key=True),
        "default_prefixlen": _prefixlen(),
        "min_prefixlen": _prefixlen(),
        "max_prefixlen": _prefixlen(),
        "default_quota": Attr(allow_post=True, allow_put=True, default=None,
                              convert_to=v.convert_to_int_if_not_none, is_filter=True, is_sort_key=True),
        "address_scope_id": Attr(allow_post=True, allow_put=True, default=None,
                                 validate=("type:uuid_or_none", None), is_filter=True, is_sort_key=True),
        "shared": Attr(allow_post=True, default=False, convert_to=_bool, validate=("type:boolean", None),
                       is_filter=True, is_sort_key=True, enforce_policy=True, required_by_policy=True),
        "is_default": Attr(allow_post=True, allow_put=True, default=False, convert_to=_bool,
                           validate=("type:boolean", None), is_filter=True, is_sort_key=True,
                           enforce_policy=True, required_by_policy=True),
    },
)

PORT = ResourceDef(
    collection="ports", member="port", quota_resource="port",
    extra_filters=frozenset({"fixed_ips"}),
    attrs={
        **_standard(),
        "network_id": Attr(allow_post=True, default=MISSING, validate=("type:uuid", None), is_filter=True,
                           is_sort_key=True, required_by_policy=True),
        "admin_state_up": _admin_state(),
        "mac_address": Attr(allow_post=True, allow_put=True, default=None,
                            convert_to=v.convert_to_mac_lower,
                            validate=("type:mac_address_or_none", None), is_filter=True, is_sort_key=True,
                            enforce_policy=True),
        "fixed_ips": Attr(allow_post=True, allow_put=True, default=None, validate=("type:fixed_ips", None),
                          enforce_policy=True),
        "device_id": Attr(allow_post=True, allow_put=True, default="", validate=("type:string", NAME_MAX),
                          is_filter=True, is_sort_key=True),
        "device_owner": Attr(allow_post=True, allow_put=True, default="",
                             validate=("type:string", NAME_MAX), is_filter=True, is_sort_key=True,
                             enforce_policy=True),
        "status": _status(),
        "security_groups": Attr(allow_post=True, allow_put=True, default=None,
                                validate=("type:uuid_list_or_none", None), is_filter=True),
        "port_security_enabled": Attr(allow_post=True, allow_put=True, default=None,
                                      convert_to=v.convert_to_boolean_if_not_none, is_filter=True,
                                      enforce_policy=True),
        "allowed_address_pairs": Attr(allow_post=True, allow_put=True, default=list,
                                      convert_to=v.convert_none_to_empty_list,
                                      validate=("type:allowed_address_pairs", None), enforce_policy=True),
        "extra_dhcp_opts": Attr(allow_post=True, allow_put=True, default=list,
                                convert_to=v.convert_none_to_empty_list,
                                validate=("type:list_of_extra_dhcp_opts", None)),
        "binding:host_id": Attr(allow_post=True, allow_put=True, default="", is_filter=True,
                                validate=("type:string_or_none", NAME_MAX), enforce_policy=True),
        "binding:profile": Attr(allow_post=True, allow_put=True, default=dict,
                                convert_to=v.convert_none_to_empty_dict,
                                validate=("type:dict_or_empty", None), enforce_policy=True),
        "binding:vnic_type": Attr(allow_post=True, allow_put=True, default="normal",
                                  validate=("type:values",
                                            ["normal", "direct", "macvtap", "baremetal", "direct-physical",
                                             "virtio-forwarder", "smart-nic", "vdpa", "remote-managed"]),
                                  is_filter=True, enforce_policy=True),
        "binding:vif_type": Attr(enforce_policy=True),
        "binding:vif_details": Attr(enforce_policy=True),
        "dns_name": Attr(allow_post=True, allow_put=True, default="", validate=("type:string", NAME_MAX)),
        "ip_allocation": Attr(),
    },
)

SECURITY_GROUP = ResourceDef(
    collection="security_groups", member="security_group", quota_resource="security_group",
    attrs={
        **_standard(),
        # Neutron's name_not_default: no second "default" group, by create or by rename (409).
        "name": Attr(allow_post=True, allow_put=True, default="", validate=("type:name_not_default", NAME_MAX),
                     is_filter=True, is_sort_key=True),
        "security_group_rules": Attr(),
        "stateful": Attr(allow_post=True, allow_put=True, default=True, convert_to=_bool,
                         validate=("type:boolean", None), is_filter=True),
        "shared": Attr(is_filter=True),
    },
)

SECURITY_GROUP_RULE = ResourceDef(
    collection="security_group_rules", member="security_group_rule", quota_resource="security_group_rule",
    taggable=False,
    attrs={
        **_standard(name=False, tags=False),
        # No UUID check, as in Neutron: an id that names no group is SecurityGroupNotFound (404).
        "security_group_id": Attr(allow_post=True, default=MISSING, is_filter=True, is_sort_key=True,
                                  required_by_policy=True),
        "remote_group_id": Attr(allow_post=True, default=None, is_filter=True, is_sort_key=True),
        "remote_address_group_id": Attr(allow_post=True, default=None,
                                        validate=("type:uuid_or_none", None), is_filter=True),
        "direction": Attr(allow_post=True, default=MISSING, validate=("type:values", ["ingress", "egress"]),
                          is_filter=True, is_sort_key=True),
        "protocol": Attr(allow_post=True, default=None, convert_to=v.convert_to_protocol,
                         is_filter=True, is_sort_key=True),
        "port_range_min": Attr(allow_post=True, default=None, convert_to=v.convert_validate_port_value,
                               is_filter=True, is_sort_key=True),
        "port_range_max": Attr(allow_post=True, default=None, convert_to=v.convert_validate_port_value,
                               is_filter=True, is_sort_key=True),
        "ethertype": Attr(allow_post=True, default="IPv4", convert_to=v.convert_ethertype_to_case_insensitive,
                          validate=("type:values", ["IPv4", "IPv6"]),
                          is_filter=True, is_sort_key=True),
        "remote_ip_prefix": Attr(allow_post=True, default=None, convert_to=v.convert_ip_prefix_if_not_none,
                                 validate=("type:subnet_or_none", None), is_filter=True, is_sort_key=True),
        "normalized_cidr": Attr(),
        "belongs_to_default_sg": Attr(is_filter=True),
    },
)

ROUTER = ResourceDef(
    collection="routers", member="router", quota_resource="router",
    attrs={
        **_standard(),
        "admin_state_up": _admin_state(),
        "status": _status(),
        "external_gateway_info": Attr(allow_post=True, allow_put=True, default=None,
                                      validate=("type:external_gw_info", None), enforce_policy=True),
        "routes": Attr(allow_post=False, allow_put=True, default=list, convert_to=v.convert_none_to_empty_list,
                       validate=("type:routes", None)),
        "availability_zone_hints": Attr(allow_post=True, default=list,
                                        convert_to=v.convert_none_to_empty_list,
                                        validate=("type:availability_zone_hint_list", None)),
        "availability_zones": Attr(),
        "distributed": Attr(allow_post=True, default=False, convert_to=_bool,
                            validate=("type:boolean", None), enforce_policy=True),
        "ha": Attr(allow_post=True, default=False, convert_to=_bool,
                   validate=("type:boolean", None), enforce_policy=True),
        "flavor_id": Attr(allow_post=True, default=None, validate=("type:uuid_or_none", None)),
    },
)

FLOATINGIP = ResourceDef(
    collection="floatingips", member="floatingip", quota_resource="floatingip",
    attrs={
        **_standard(name=False),
        "floating_ip_address": Attr(allow_post=True, default=None, validate=("type:ip_address_or_none", None),
                                    is_filter=True, is_sort_key=True, enforce_policy=True),
        "subnet_id": Attr(allow_post=True, default=None, validate=("type:uuid_or_none", None),
                          is_visible=False),
        "floating_network_id": Attr(allow_post=True, default=MISSING, validate=("type:uuid", None),
                                    is_filter=True, is_sort_key=True),
        "router_id": Attr(is_filter=True, is_sort_key=True),
        "port_id": Attr(allow_post=True, allow_put=True, default=None, validate=("type:uuid_or_none", None),
                        is_filter=True, is_sort_key=True, required_by_policy=True),
        "fixed_ip_address": Attr(allow_post=True, allow_put=True, default=None,
                                 validate=("type:ip_address_or_none", None), is_filter=True,
                                 is_sort_key=True),
        "status": _status(),
        "port_details": Attr(),
        "dns_name": Attr(allow_post=True, default="", validate=("type:string", NAME_MAX)),
        "dns_domain": Attr(allow_post=True, default="", validate=("type:string", NAME_MAX)),
        "qos_policy_id": Attr(allow_post=True, allow_put=True, default=None),
    },
)

ALL: dict[str, ResourceDef] = {
    r.collection: r
    for r in (NETWORK, SUBNET, SUBNETPOOL, PORT, SECURITY_GROUP, SECURITY_GROUP_RULE, ROUTER, FLOATINGIP)
}
BY_MEMBER: dict[str, ResourceDef] = {r.member: r for r in ALL.values()}
