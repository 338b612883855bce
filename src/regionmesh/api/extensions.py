"""The extensions this API advertises: exactly what is implemented (clients feature-detect on it)."""

from __future__ import annotations

from typing import Any

_UPDATED = "2026-11-22T00:00:00-00:00"

_ALIASES: list[tuple[str, str, str]] = [
    ("project-id", "project_id field enabled", "Extension that indicates that project_id field is enabled."),
    ("standard-attr-description", "standard-attr-description", "Extension to add descriptions to resources."),
    ("standard-attr-timestamp", "Resource timestamps", "Adds created_at and updated_at fields to resources."),
    ("standard-attr-revisions", "Resource revision numbers", "Adds revision_number to resources."),
    ("standard-attr-tag", "Tag support for resources with standard attribute", "Enables tags on resources."),
    ("tag-creation", "Tag support on resource creation", "Tags can be set in a POST body."),
    ("revision-if-match", "If-Match constraints based on revision_number",
     "Conditional updates and deletes with If-Match: revision_number=N."),
    ("pagination", "Pagination support", "Keyset pagination with limit, marker and page_reverse."),
    ("sorting", "Sorting support", "sort_key and sort_dir on list calls."),
    ("filter-validation", "Filter parameters validation", "Unknown filters are rejected with 400."),
    ("fields", "Fields selection", "fields query parameter on list and show calls."),
    ("ip-substring-filtering", "IP address substring filtering", "fixed_ips=ip_address_substr=... filters."),
    ("net-mtu", "Network MTU", "Provides MTU attribute for a network resource."),
    ("net-mtu-writable", "Network MTU (writable)", "The MTU of a network can be set and updated."),
    ("external-net", "Neutron external network", "Adds external network attribute to network resource."),
    ("provider", "Provider Network", "Expose mapping of virtual networks to physical networks."),
    ("availability_zone", "Availability Zone", "The availability zone extension."),
    ("network_availability_zone", "Network Availability Zone", "Availability zone support for network."),
    ("router_availability_zone", "Router Availability Zone", "Availability zone support for router."),
    ("port-security", "Port Security", "Provides port security."),
    ("allowed-address-pairs", "Allowed Address Pairs", "Provides allowed address pairs."),
    ("extra_dhcp_opt", "Neutron Extra DHCP options", "Extra options configuration for DHCP."),
    ("binding", "Port Binding", "Expose port bindings of a virtual port to external application."),
    ("security-group", "security-group", "The security groups extension."),
    ("stateful-security-group", "Stateful security group", "Indicates if the security group is stateful."),
    ("quotas", "Quota management support", "Expose functions for quotas management per project."),
    ("quota_details", "Quota details management support", "Expose used and reserved quota per project."),
    ("quota-check-limit", "Quota engine limit check", "check_limit (or force) on a quota update: a limit below "
     "the usage is refused."),
    ("router", "Neutron L3 Router", "Router abstraction for basic L3 forwarding between L2 networks."),
    ("ext-gw-mode", "Neutron L3 Configurable external gateway mode", "Configurable SNAT on the gateway."),
    ("extraroute", "Neutron Extra Route", "Extra routes configuration for L3 router."),
    ("extraroute-atomic", "Atomically add/remove extra routes", "add_extraroutes and remove_extraroutes."),
    ("subnet_allocation", "Subnet Allocation", "Enables allocation of subnets from a subnet pool."),
    ("default-subnetpools", "Default Subnetpools", "Provides ability to mark and use a subnetpool as the "
     "default."),
    ("fip-port-details", "Floating IP Port Details Extension", "Adds port_details to floating IPs."),
]


def _ext(alias: str, name: str, description: str) -> dict[str, Any]:
    return {"alias": alias, "name": name, "description": description, "updated": _UPDATED, "links": []}


EXTENSIONS: dict[str, dict[str, Any]] = {a: _ext(a, n, d) for a, n, d in _ALIASES}
