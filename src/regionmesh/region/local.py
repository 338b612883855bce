"""A lab region's local behaviour (Tricircle's local plugin, LP-01…LP-09).

* A GET of a network, subnet, security group or port this region does not have fetches it from
  central and creates it here with the **same UUID** (never for internal, identity-less calls;
  never when central says it is gone or being deleted; never for a network whose
  availability-zone hints exclude this region).
* A port created here is created in central first (central allocates its IP and MAC) and then
  here with the same id, addresses and groups.
* Each region's copy of a subnet has its own gateway: the address of a central reserved port
  ``interface_<region>_<subnet>``; the copy's pools leave that address out.
* A binding update is forwarded to central before it is applied here; deleting a ``compute:*``
  port here deletes it in central.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

from regionmesh.context import RequestContext
from regionmesh.db import models as m
from regionmesh.identity.client import service_token
from regionmesh.network import exceptions as exc
from regionmesh.network import ipnet
from regionmesh.network.attributes import prepare_post
from regionmesh.network.core import NetworkCore
from regionmesh.network.query import ListParams
from regionmesh.network.role import Role
from regionmesh.network.service import ResourceService
from regionmesh.region.central_client import CentralClient, CentralUnavailable
from regionmesh.region.outbox import RegionOutbox

LOG = logging.getLogger(__name__)

BINDING_FIELDS = ("binding:host_id", "binding:profile", "binding:vnic_type", "device_owner", "device_id")
_NET_FIELDS = ("name", "description", "admin_state_up", "shared", "mtu", "port_security_enabled", "router:external")
_SUBNET_FIELDS = ("name", "description", "network_id", "ip_version", "cidr", "enable_dhcp", "dns_nameservers",
                  "host_routes", "ipv6_ra_mode", "ipv6_address_mode")
_PORT_FIELDS = ("name", "description", "network_id", "mac_address", "admin_state_up", "device_id", "device_owner",
                "port_security_enabled", "allowed_address_pairs", "extra_dhcp_opts")
_TO_CENTRAL = ("name", "description", "network_id", "admin_state_up", "device_id", "device_owner", "mac_address",
               "fixed_ips", "security_groups", "port_security_enabled", "allowed_address_pairs", "extra_dhcp_opts",
               "project_id")


# A region's stand-in for a port that lives in another region (same IP and MAC; created by central's jobs).
SHADOW_OWNER = "compute:shadow"


def reserved_gateway_name(region: str, subnet_id: str) -> str:
    return f"interface_{region}_{subnet_id}"


def is_internal(ctx: RequestContext) -> bool:
    """Calls with no caller identity (workers, start-up) never trigger lazy creation."""
    return ctx.user_id is None and ctx.auth_token is None


class RegionRole(Role):
    """The region role for one NetworkCore, talking to central through a :class:`CentralClient`."""

    name = "region"

    def __init__(self, core: NetworkCore, central: CentralClient, region_name: str, az_name: str = "") -> None:
        self.core = core
        self.central = central
        self.outbox = RegionOutbox(core.db, central)
        self.outbox_stop = threading.Event()
        self.region_name = region_name
        self.az_name = az_name

    # ---- helpers ------------------------------------------------------------------------------
    def _owner_ctx(self, ctx: RequestContext, project_id: str | None) -> RequestContext:
        """An admin context in the resource's project for writing local copies."""
        return RequestContext(user_id=ctx.user_id or "region", project_id=project_id,
                              roles=frozenset({"admin", "member", "reader"}), request_id=ctx.request_id)

    def _exists(self, svc: ResourceService, resource_id: str) -> bool:
        with self.core.db.read() as conn:
            return svc.exists(conn, resource_id)

    def _create_copy(self, ctx: RequestContext, svc: ResourceService, raw: dict[str, Any], resource_id: str,
                     project_id: str | None) -> None:
        """Create a copy with central's id; a concurrent creator of the same id wins quietly."""
        owner = self._owner_ctx(ctx, project_id)
        item = prepare_post(svc.rdef, raw)
        item["id"] = resource_id
        item["project_id"] = item["tenant_id"] = project_id
        with self.core.db.read() as conn:
            svc.prepare_create(conn, owner, item)
        try:
            self.core.pipeline.create_items(owner, svc, [item], check_quota=False)
        except exc.Conflict:
            if not self._exists(svc, resource_id):
                raise

    def _hints_exclude_me(self, hints: Sequence[str]) -> bool:
        return bool(hints) and self.region_name not in hints and (not self.az_name or self.az_name not in hints)

    # ---- materialisation ----------------------------------------------------------------------
    def ensure_network(self, ctx: RequestContext, network_id: str) -> bool:
        if self._exists(self.core.networks, network_id):
            return True
        top = self.central.get(ctx, "networks", "network", network_id)
        if top is None:
            return False
        if self._hints_exclude_me(top.get("availability_zone_hints") or []) and not ctx.via_central:
            return False
        raw = {k: top[k] for k in _NET_FIELDS if k in top}
        self._create_copy(ctx, self.core.networks, raw, network_id, top.get("project_id"))
        for subnet_id in top.get("subnets") or []:
            self.ensure_subnet(ctx, subnet_id, network_ready=True)
        return True

    def _region_gateway(self, ctx: RequestContext, top: dict[str, Any]) -> str | None:
        """The address of the central reserved port that is this region's gateway on the subnet."""
        if top.get("gateway_ip") is None:
            return None
        name = reserved_gateway_name(self.region_name, top["id"])
        found = self.central.list(ctx, "ports", "ports", name=name, network_id=top["network_id"])
        port = found[0] if found else self.central.create(ctx, "ports", "port", {
            "network_id": top["network_id"], "name": name, "device_id": "reserved_gateway_port",
            "fixed_ips": [{"subnet_id": top["id"]}], "port_security_enabled": False})
        for fixed in port["fixed_ips"]:
            if fixed["subnet_id"] == top["id"]:
                return str(fixed["ip_address"])
        return None

    def ensure_subnet(self, ctx: RequestContext, subnet_id: str, network_ready: bool = False) -> bool:
        if self._exists(self.core.subnets, subnet_id):
            return True
        top = self.central.get(ctx, "subnets", "subnet", subnet_id)
        if top is None:
            return False
        if not network_ready:
            # The network brings all its subnets with it.
            return self.ensure_network(ctx, top["network_id"]) and self._exists(self.core.subnets, subnet_id)
        gateway = self._region_gateway(ctx, top)
        raw = {k: top[k] for k in _SUBNET_FIELDS if k in top}
        raw["gateway_ip"] = gateway
        raw["allocation_pools"] = ipnet.pools_without(top.get("allocation_pools") or [], gateway)
        self._create_copy(ctx, self.core.subnets, raw, subnet_id, top.get("project_id"))
        return True

    def ensure_security_group(self, ctx: RequestContext, sg_id: str) -> bool:
        svc = self.core.security_groups
        if self._exists(svc, sg_id):
            return True
        top = self.central.get(ctx, "security-groups", "security_group", sg_id)
        if top is None:
            return False
        project = top.get("project_id")
        default = top.get("name") == "default"

        def work(conn: Any) -> None:
            if svc.exists(conn, sg_id):
                return
            item = {"id": sg_id, "name": top.get("name", ""), "description": top.get("description", ""),
                    "project_id": project, "stateful": top.get("stateful", True)}
            svc.insert_group(conn, self._owner_ctx(ctx, project), item)
            # Mirror central's rules exactly (same ids): the copy must admit what central admits.
            conn.execute(m.securitygrouprules.delete().where(m.securitygrouprules.c.security_group_id == sg_id))
            from regionmesh.network.security_groups import insert_rule

            for rule in top.get("security_group_rules") or []:
                if rule.get("remote_group_id") and rule["remote_group_id"] != sg_id:
                    continue  # remote-group rules across groups are expanded by the seg_rule_setup job
                insert_rule(conn, rule, rule.get("project_id") or project, rule["id"])
            if default and project:
                existing = conn.execute(m.default_security_groups.select().where(
                    m.default_security_groups.c.project_id == project)).first()
                if existing is None:
                    conn.execute(m.default_security_groups.insert().values(project_id=project,
                                                                           security_group_id=sg_id))

        self.core.db.transaction(work)
        return True

    def ensure_port(self, ctx: RequestContext, port_id: str) -> bool:
        if self._exists(self.core.ports, port_id):
            return True
        top = self.central.get(ctx, "ports", "port", port_id)
        if top is None or not self.ensure_network(ctx, top["network_id"]):
            return False
        for sg_id in top.get("security_groups") or []:
            self.ensure_security_group(ctx, sg_id)
        raw = {k: top[k] for k in _PORT_FIELDS if k in top}
        raw["fixed_ips"] = [{"subnet_id": f["subnet_id"], "ip_address": f["ip_address"]} for f in top["fixed_ips"]]
        raw["security_groups"] = top.get("security_groups") or []
        self._create_copy(ctx, self.core.ports, raw, port_id, top.get("project_id"))
        return True

    # ---- Role hooks ---------------------------------------------------------------------------
    def resolve_missing(self, ctx: RequestContext, svc: ResourceService, resource_id: str) -> dict[str, Any] | None:
        if is_internal(ctx):
            return None
        ensures: dict[str, Callable[[RequestContext, str], bool]] = {
            "networks": self.ensure_network, "subnets": self.ensure_subnet,
            "security_groups": self.ensure_security_group, "ports": self.ensure_port}
        ensure = ensures.get(svc.rdef.collection)
        if ensure is None or not ensure(ctx, resource_id):
            return None
        with self.core.db.read() as conn:
            return svc.get_raw(conn, None, resource_id)

    def before_list(self, ctx: RequestContext, svc: ResourceService, params: ListParams) -> None:
        if is_internal(ctx):
            return
        for resource_id in params.filters.get("id", []):
            if not self._exists(svc, resource_id):
                self.resolve_missing(ctx, svc, resource_id)
        if svc.rdef.collection == "security_groups" and ctx.project_id:
            # The project's default group is central's, not a second one made here.
            for top in self.central.list(ctx, "security-groups", "security_groups", name="default",
                                         project_id=ctx.project_id, fields="id"):
                self.ensure_security_group(ctx, top["id"])

    def prepare_create(self, ctx: RequestContext, svc: ResourceService, items: Sequence[dict[str, Any]]) -> None:
        if svc.rdef.collection != "ports":
            return
        for item in items:
            if item.get("device_owner") == SHADOW_OWNER or ctx.via_central:
                continue  # central already has it: the real port (in another region), or its own bridge port
            explicit = item.get("__explicit__", frozenset())
            body = {k: item[k] for k in _TO_CENTRAL if k in explicit or k == "network_id"}
            if item.get("project_id"):
                body["project_id"] = item["project_id"]
            top = self.central.create(ctx, "ports", "port", body)
            try:
                for sg_id in top.get("security_groups") or []:
                    self.ensure_security_group(ctx, sg_id)
                self.ensure_network(ctx, top["network_id"])
            except Exception:
                self.central.delete(ctx, "ports", top["id"])
                raise
            item["id"] = top["id"]
            item["mac_address"] = top["mac_address"]
            item["fixed_ips"] = [{"subnet_id": f["subnet_id"], "ip_address": f["ip_address"]}
                                 for f in top["fixed_ips"]]
            item["security_groups"] = top.get("security_groups") or []
            item["__central_port__"] = top["id"]

    def before_update(self, ctx: RequestContext, svc: ResourceService, original: dict[str, Any],
                      changes: dict[str, Any]) -> None:
        if svc.rdef.collection != "ports" or not any(k in changes for k in BINDING_FIELDS):
            return
        if original.get("device_owner") == SHADOW_OWNER:
            return
        body = {k: changes[k] for k in BINDING_FIELDS if k in changes}
        if "binding:host_id" in changes:
            profile = dict(changes.get("binding:profile") or original.get("binding:profile") or {})
            profile["region"] = self.region_name
            body["binding:profile"] = profile
        try:
            self.central.update(ctx, "ports", "port", original["id"], body)
        except CentralUnavailable:
            # OQ-01: the region stays autonomous; central learns of the binding when it is back.
            self.outbox.add("port", original["id"], body)

    def before_delete(self, ctx: RequestContext, svc: ResourceService, original: dict[str, Any]) -> None:
        if svc.rdef.collection == "ports" and str(original.get("device_owner", "")).startswith("compute:") \
                and original.get("device_owner") != SHADOW_OWNER:
            self.central.delete(ctx, "ports", original["id"])


def install_region_role(core: NetworkCore) -> RegionRole:
    """Make ``core`` a lab region of the central API named in its settings."""
    role_settings = core.settings.role
    client = CentralClient(role_settings.central_url, role_settings.region_name,
                           timeout=role_settings.central_timeout, token=service_token(core.settings.auth))
    role = RegionRole(core, client, role_settings.region_name, role_settings.az_name)
    core.role = role
    # A floating IP here may translate to a shadow port or a network of an east-west router: the
    # north-south router (the one with its gateway on the external network) serves it (L3-06).
    core.floatingips.unattached_router = core.floatingips.router_with_gateway_on  # type: ignore[method-assign]
    # Forwards kept while central was away go out by themselves once it answers again.
    threading.Thread(target=role.outbox.run_forever, args=(role.outbox_stop,), name=f"outbox-{role.region_name}",
                     daemon=True).start()
    return role
