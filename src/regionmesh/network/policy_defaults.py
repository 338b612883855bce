"""Neutron's secure-RBAC default policy rules, with what each protects (for the sample file and docs).

Targets the integrator builds (keys the defaults read): every resource: ``project_id``/``tenant_id``;
network: ``shared``, ``router:external``; subnet and port: ``network:tenant_id`` (the network owner) and
``network:shared``; port: ``device_owner``; security group: ``shared``; security group rule:
``security_group:tenant_id``; router interface actions: the router; quota actions: ``project_id`` of
the quota's project (``{}`` for the all-projects list, so only admins pass).

Tags use Neutron's newest attribute-style names, ``<get|create|update|delete>_<member>:tags`` (e.g.
``update_network:tags`` for ``PUT /networks/{id}/tags``); they default to ``rule:get_<member>`` for reads
and ``rule:update_<member>`` for writes, so overriding the parent rule moves its tags along.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

__all__ = ["DEFAULT_RULES", "RULE_DEFAULTS", "RuleDefault"]


@dataclass(frozen=True)
class RuleDefault:
    """A default rule with what it protects, for the sample file and the docs."""

    name: str
    check_str: str
    description: str
    operations: tuple[tuple[str, str], ...] = ()


ADMIN: Final = "rule:admin_only"
SERVICE: Final = "rule:service_api"
ADMIN_OR_SERVICE: Final = "rule:admin_or_service"
ADMIN_OR_MEMBER: Final = "rule:admin_or_project_member"
ADMIN_OR_READER: Final = "rule:admin_or_project_reader"
ADMIN_OR_NET_OWNER_MEMBER: Final = "rule:admin_or_net_owner_member"
NET_OWNER_MEMBER: Final = "rule:net_owner_member"
NET_OWNER_READER: Final = "rule:net_owner_reader"
ANYONE: Final = "rule:regular_user"


def _any(*checks: str) -> str:
    return " or ".join(checks)


def _ops(method: str, *paths: str) -> tuple[tuple[str, str], ...]:
    return tuple((method, p) for p in paths)


def _crud_ops(collection: str) -> dict[str, tuple[tuple[str, str], ...]]:
    item = f"{collection}/{{id}}"
    return {"create": _ops("POST", collection), "get": _ops("GET", collection, item),
            "update": _ops("PUT", item), "delete": _ops("DELETE", item)}


def _attr(action: str, attrs: Sequence[str], check: str, ops: tuple[tuple[str, str], ...],
          verb: str) -> list[RuleDefault]:
    return [RuleDefault(f"{action}:{a}", check, f"{verb} ``{a}``", ops) for a in attrs]


def _tags(member: str, collection: str) -> list[RuleDefault]:
    """Tag rules follow the parent's get/update rules (Neutron does the same with copies)."""
    item = f"{collection}/{{id}}/tags"
    tag = f"{item}/{{tag}}"
    return [
        RuleDefault(f"get_{member}:tags", f"rule:get_{member}", f"Read the tags of a {member}",
                    _ops("GET", item, tag)),
        RuleDefault(f"create_{member}:tags", f"rule:update_{member}",
                    f"Add a tag to a {member} (or give tags when creating it)",
                    _ops("PUT", tag) + _ops("POST", collection)),
        RuleDefault(f"update_{member}:tags", f"rule:update_{member}", f"Replace all tags of a {member}",
                    _ops("PUT", item)),
        RuleDefault(f"delete_{member}:tags", f"rule:update_{member}", f"Remove tags from a {member}",
                    _ops("DELETE", item, tag)),
    ]


def _base_rules() -> list[RuleDefault]:
    return [
        RuleDefault("context_is_admin", "role:admin", "Who is a cloud administrator"),
        RuleDefault("admin_only", "rule:context_is_admin", "Administrators only"),
        RuleDefault("service_api", "role:service",
                    "Service-to-service callers (e.g. Nova binding ports); never for humans"),
        RuleDefault("regular_user", "", "Any authenticated caller"),
        RuleDefault("default", ADMIN, "Fallback for an action without its own rule"),
        RuleDefault("owner", "tenant_id:%(tenant_id)s", "Caller's project owns the resource (legacy)"),
        RuleDefault("admin_or_owner", "rule:context_is_admin or rule:owner", "Legacy admin-or-owner rule"),
        RuleDefault("project_member", "role:member and project_id:%(project_id)s",
                    "Member of the project owning the resource"),
        RuleDefault("project_reader", "role:reader and project_id:%(project_id)s",
                    "Reader of the project owning the resource"),
        RuleDefault("admin_or_project_member", f"{ADMIN} or rule:project_member",
                    "Administrator, or member of the owning project"),
        RuleDefault("admin_or_project_reader", f"{ADMIN} or rule:project_reader",
                    "Administrator, or reader of the owning project"),
        RuleDefault("admin_or_service", f"{ADMIN} or {SERVICE}", "Administrator or service caller"),
        RuleDefault("network_owner", "tenant_id:%(network:tenant_id)s",
                    "Caller's project owns the resource's network"),
        RuleDefault("admin_or_network_owner", "rule:context_is_admin or rule:network_owner",
                    "Legacy admin-or-network-owner rule"),
        RuleDefault("net_owner_member", "role:member and rule:network_owner",
                    "Member of the project owning the resource's network"),
        RuleDefault("net_owner_reader", "role:reader and rule:network_owner",
                    "Reader of the project owning the resource's network"),
        RuleDefault("admin_or_net_owner_member", f"{ADMIN} or {NET_OWNER_MEMBER}",
                    "Administrator, or member of the network owner's project"),
        RuleDefault("admin_or_net_owner_reader", f"{ADMIN} or {NET_OWNER_READER}",
                    "Administrator, or reader of the network owner's project"),
        RuleDefault("sg_owner", "tenant_id:%(security_group:tenant_id)s",
                    "Caller's project owns the rule's security group"),
        RuleDefault("sg_owner_member", "role:member and rule:sg_owner",
                    "Member of the project owning the security group"),
        RuleDefault("sg_owner_reader", "role:reader and rule:sg_owner",
                    "Reader of the project owning the security group"),
        RuleDefault("admin_or_sg_owner_member", f"{ADMIN} or rule:sg_owner_member",
                    "Administrator, or member of the security group owner's project"),
        RuleDefault("admin_or_sg_owner_reader", f"{ADMIN} or rule:sg_owner_reader",
                    "Administrator, or reader of the security group owner's project"),
        RuleDefault("shared", "field:networks:shared=True",
                    "The network (or the resource's network) is shared"),
        RuleDefault("external", "field:networks:router:external=True", "The network is external"),
        RuleDefault("shared_security_group", "field:security_groups:shared=True",
                    "The security group is shared with the caller"),
        RuleDefault("network_device", "field:port:device_owner=~^network:",
                    "The port belongs to a network device (router, DHCP, ...)"),
        RuleDefault("admin_or_data_plane_int", "rule:context_is_admin or role:data_plane_integrator",
                    "Administrator or data-plane integrator"),
    ]


def _network_rules() -> list[RuleDefault]:
    ops = _crud_ops("/networks")
    admin_attrs = ("shared", "router:external", "is_default", "segments", "provider:network_type",
                   "provider:physical_network", "provider:segmentation_id")
    provider = ("segments", "provider:network_type", "provider:physical_network", "provider:segmentation_id")
    return [
        RuleDefault("create_network", ADMIN_OR_MEMBER, "Create a network", ops["create"]),
        *_attr("create_network", admin_attrs, ADMIN, ops["create"], "Create a network with"),
        RuleDefault("create_network:port_security_enabled", ADMIN_OR_MEMBER,
                    "Create a network with ``port_security_enabled``", ops["create"]),
        RuleDefault("get_network", _any(ADMIN_OR_READER, "rule:shared", "rule:external", SERVICE),
                    "Show or list networks", ops["get"]),
        RuleDefault("get_network:router:external", ANYONE, "Read ``router:external``", ops["get"]),
        *_attr("get_network", provider, ADMIN, ops["get"], "Read"),
        RuleDefault("update_network", ADMIN_OR_MEMBER, "Update a network", ops["update"]),
        *_attr("update_network", admin_attrs, ADMIN, ops["update"], "Update"),
        RuleDefault("update_network:port_security_enabled", ADMIN_OR_MEMBER,
                    "Update ``port_security_enabled``", ops["update"]),
        RuleDefault("delete_network", ADMIN_OR_MEMBER, "Delete a network", ops["delete"]),
        *_tags("network", "/networks"),
    ]


def _subnet_rules() -> list[RuleDefault]:
    ops = _crud_ops("/subnets")
    write = _any(ADMIN_OR_MEMBER, NET_OWNER_MEMBER)
    return [
        RuleDefault("create_subnet", ADMIN_OR_NET_OWNER_MEMBER,
                    "Create a subnet (on a network the caller's project owns)", ops["create"]),
        *_attr("create_subnet", ("segment_id", "service_types"), ADMIN, ops["create"],
               "Create a subnet with"),
        RuleDefault("get_subnet", _any(ADMIN_OR_READER, NET_OWNER_READER, "rule:shared"),
                    "Show or list subnets", ops["get"]),
        RuleDefault("get_subnet:segment_id", ADMIN, "Read ``segment_id``", ops["get"]),
        RuleDefault("update_subnet", write, "Update a subnet", ops["update"]),
        *_attr("update_subnet", ("segment_id", "service_types"), ADMIN, ops["update"], "Update"),
        RuleDefault("delete_subnet", write, "Delete a subnet", ops["delete"]),
        *_tags("subnet", "/subnets"),
    ]


def _subnetpool_rules() -> list[RuleDefault]:
    ops = _crud_ops("/subnetpools")
    return [
        RuleDefault("shared_subnetpools", "field:subnetpools:shared=True", "The subnet pool is shared"),
        RuleDefault("create_subnetpool", ADMIN_OR_MEMBER, "Create a subnet pool", ops["create"]),
        *_attr("create_subnetpool", ("shared", "is_default"), ADMIN, ops["create"], "Create a subnet pool with"),
        RuleDefault("get_subnetpool", _any(ADMIN_OR_READER, "rule:shared_subnetpools"),
                    "Show or list subnet pools", ops["get"]),
        RuleDefault("update_subnetpool", ADMIN_OR_MEMBER, "Update a subnet pool", ops["update"]),
        *_attr("update_subnetpool", ("is_default",), ADMIN, ops["update"], "Update"),
        RuleDefault("delete_subnetpool", ADMIN_OR_MEMBER, "Delete a subnet pool", ops["delete"]),
        *_tags("subnetpool", "/subnetpools"),
    ]


def _port_rules() -> list[RuleDefault]:
    ops = _crud_ops("/ports")
    net_owner_or_service = _any(ADMIN_OR_NET_OWNER_MEMBER, SERVICE)
    owner_or_service = _any(ADMIN_OR_MEMBER, SERVICE)
    device_owner = _any("not rule:network_device", ADMIN_OR_NET_OWNER_MEMBER, SERVICE)
    return [
        RuleDefault("create_port", _any(ADMIN_OR_MEMBER, NET_OWNER_MEMBER, SERVICE), "Create a port",
                    ops["create"]),
        RuleDefault("create_port:device_owner", device_owner,
                    "Create a port with a ``network:*`` device_owner", ops["create"]),
        RuleDefault("create_port:mac_address", net_owner_or_service, "Create a port with ``mac_address``",
                    ops["create"]),
        RuleDefault("create_port:fixed_ips", _any(net_owner_or_service, "rule:shared"),
                    "Create a port with ``fixed_ips``", ops["create"]),
        RuleDefault("create_port:fixed_ips:ip_address", net_owner_or_service,
                    "Create a port asking for a specific IP address", ops["create"]),
        RuleDefault("create_port:fixed_ips:subnet_id", _any(net_owner_or_service, "rule:shared"),
                    "Create a port on a given subnet", ops["create"]),
        RuleDefault("create_port:port_security_enabled", net_owner_or_service,
                    "Create a port with ``port_security_enabled``", ops["create"]),
        *_attr("create_port", ("binding:host_id", "binding:profile"), ADMIN_OR_SERVICE, ops["create"],
               "Create a port with"),
        RuleDefault("create_port:binding:vnic_type", owner_or_service,
                    "Create a port with ``binding:vnic_type``", ops["create"]),
        *_attr("create_port", ("allowed_address_pairs", "allowed_address_pairs:mac_address",
                               "allowed_address_pairs:ip_address"), ADMIN_OR_NET_OWNER_MEMBER, ops["create"],
               "Create a port with"),
        RuleDefault("get_port", _any(ADMIN_OR_READER, NET_OWNER_READER, SERVICE), "Show or list ports",
                    ops["get"]),
        *_attr("get_port", ("binding:vif_type", "binding:vif_details", "binding:host_id", "binding:profile",
                            "resource_request"), ADMIN_OR_SERVICE, ops["get"], "Read"),
        RuleDefault("update_port", owner_or_service, "Update a port", ops["update"]),
        RuleDefault("update_port:device_owner", device_owner, "Set a ``network:*`` device_owner",
                    ops["update"]),
        RuleDefault("update_port:mac_address", ADMIN_OR_SERVICE, "Update ``mac_address``", ops["update"]),
        RuleDefault("update_port:fixed_ips", net_owner_or_service, "Update ``fixed_ips``", ops["update"]),
        RuleDefault("update_port:fixed_ips:ip_address", net_owner_or_service,
                    "Ask for a specific IP address in ``fixed_ips``", ops["update"]),
        RuleDefault("update_port:fixed_ips:subnet_id", _any(net_owner_or_service, "rule:shared"),
                    "Give a subnet in ``fixed_ips``", ops["update"]),
        RuleDefault("update_port:port_security_enabled", net_owner_or_service,
                    "Update ``port_security_enabled``", ops["update"]),
        *_attr("update_port", ("binding:host_id", "binding:profile"), ADMIN_OR_SERVICE, ops["update"],
               "Update"),
        RuleDefault("update_port:binding:vnic_type", owner_or_service, "Update ``binding:vnic_type``",
                    ops["update"]),
        *_attr("update_port", ("allowed_address_pairs", "allowed_address_pairs:mac_address",
                               "allowed_address_pairs:ip_address"), ADMIN_OR_NET_OWNER_MEMBER, ops["update"],
               "Update"),
        RuleDefault("update_port:data_plane_status", "rule:admin_or_data_plane_int",
                    "Update ``data_plane_status``", ops["update"]),
        RuleDefault("delete_port", _any(ADMIN_OR_MEMBER, NET_OWNER_MEMBER, SERVICE), "Delete a port",
                    ops["delete"]),
        *_tags("port", "/ports"),
    ]


def _security_group_rules() -> list[RuleDefault]:
    sg = _crud_ops("/security-groups")
    rule = _crud_ops("/security-group-rules")
    sg_write = f"({ADMIN_OR_MEMBER}) and (rule:admin_or_sg_owner_member)"
    return [
        RuleDefault("create_security_group", ADMIN_OR_MEMBER, "Create a security group", sg["create"]),
        RuleDefault("get_security_group", _any(ADMIN_OR_READER, "rule:shared_security_group"),
                    "Show or list security groups", sg["get"]),
        RuleDefault("update_security_group", ADMIN_OR_MEMBER, "Update a security group", sg["update"]),
        RuleDefault("delete_security_group", ADMIN_OR_MEMBER, "Delete a security group", sg["delete"]),
        *_tags("security_group", "/security-groups"),
        RuleDefault("create_security_group_rule", sg_write,
                    "Create a security group rule (in the caller's project and security group)",
                    rule["create"]),
        RuleDefault("get_security_group_rule", _any(ADMIN_OR_READER, "rule:admin_or_sg_owner_reader"),
                    "Show or list security group rules", rule["get"]),
        RuleDefault("delete_security_group_rule", sg_write, "Delete a security group rule", rule["delete"]),
    ]


def _router_rules() -> list[RuleDefault]:
    ops = _crud_ops("/routers")
    gw_member = ("external_gateway_info", "external_gateway_info:network_id")
    gw_admin = ("external_gateway_info:enable_snat", "external_gateway_info:external_fixed_ips")
    return [
        RuleDefault("create_router", ADMIN_OR_MEMBER, "Create a router", ops["create"]),
        *_attr("create_router", ("distributed", "ha"), ADMIN, ops["create"], "Create a router with"),
        *_attr("create_router", gw_member, ADMIN_OR_MEMBER, ops["create"], "Create a router with"),
        *_attr("create_router", gw_admin, ADMIN, ops["create"], "Create a router with"),
        RuleDefault("get_router", ADMIN_OR_READER, "Show or list routers", ops["get"]),
        *_attr("get_router", ("distributed", "ha"), ADMIN, ops["get"], "Read"),
        RuleDefault("update_router", ADMIN_OR_MEMBER, "Update a router", ops["update"]),
        *_attr("update_router", ("distributed", "ha"), ADMIN, ops["update"], "Update"),
        *_attr("update_router", gw_member, ADMIN_OR_MEMBER, ops["update"], "Update"),
        *_attr("update_router", gw_admin, ADMIN, ops["update"], "Update"),
        RuleDefault("delete_router", ADMIN_OR_MEMBER, "Delete a router", ops["delete"]),
        RuleDefault("add_router_interface", ADMIN_OR_MEMBER, "Attach a subnet or port to a router",
                    _ops("PUT", "/routers/{id}/add_router_interface")),
        RuleDefault("remove_router_interface", ADMIN_OR_MEMBER, "Detach a subnet or port from a router",
                    _ops("PUT", "/routers/{id}/remove_router_interface")),
        RuleDefault("add_extraroutes", ADMIN_OR_MEMBER, "Add static routes to a router",
                    _ops("PUT", "/routers/{id}/add_extraroutes")),
        RuleDefault("remove_extraroutes", ADMIN_OR_MEMBER, "Remove static routes from a router",
                    _ops("PUT", "/routers/{id}/remove_extraroutes")),
        *_tags("router", "/routers"),
    ]


def _floatingip_rules() -> list[RuleDefault]:
    ops = _crud_ops("/floatingips")
    return [
        RuleDefault("create_floatingip", ADMIN_OR_MEMBER, "Create a floating IP", ops["create"]),
        RuleDefault("create_floatingip:floating_ip_address", ADMIN,
                    "Create a floating IP with a given address", ops["create"]),
        RuleDefault("get_floatingip", ADMIN_OR_READER, "Show or list floating IPs", ops["get"]),
        RuleDefault("update_floatingip", ADMIN_OR_MEMBER, "Associate, disassociate or update a floating IP",
                    ops["update"]),
        RuleDefault("delete_floatingip", ADMIN_OR_MEMBER, "Release a floating IP", ops["delete"]),
        *_tags("floatingip", "/floatingips"),
    ]


def _quota_rules() -> list[RuleDefault]:
    item = "/quotas/{project_id}"
    return [
        RuleDefault("get_quota", ADMIN_OR_READER,
                    "Read a project's quota (own project for readers; the all-projects list for admins)",
                    _ops("GET", "/quotas", item, f"{item}/details")),
        RuleDefault("get_quota_default", ADMIN_OR_READER, "Read the default quota as it applies to a project",
                    _ops("GET", f"{item}/default")),
        RuleDefault("update_quota", ADMIN, "Set a project's quota", _ops("PUT", item)),
        RuleDefault("delete_quota", ADMIN, "Reset a project's quota to the defaults", _ops("DELETE", item)),
    ]


RULE_DEFAULTS: Final[tuple[RuleDefault, ...]] = (
    *_base_rules(), *_network_rules(), *_subnet_rules(), *_subnetpool_rules(), *_port_rules(), *_security_group_rules(),
    *_router_rules(), *_floatingip_rules(), *_quota_rules(),
)
DEFAULT_RULES: Final[Mapping[str, str]] = MappingProxyType({r.name: r.check_str for r in RULE_DEFAULTS})
_DOCS: Final[Mapping[str, RuleDefault]] = MappingProxyType({r.name: r for r in RULE_DEFAULTS})
