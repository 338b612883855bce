"""Ports: fixed IPs, MACs, bindings, security groups, address pairs and DHCP options."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, bindparam, delete, insert, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import ColumnElement

from regionmesh.context import RequestContext
from regionmesh.db import models as m
from regionmesh.db.engine import RetryRequest
from regionmesh.network import exceptions as exc
from regionmesh.network import ipam, ipnet, resources
from regionmesh.network.networks import NetworkNotFound
from regionmesh.network.security_groups import SecurityGroupConflict, SecurityGroupNotFound
from regionmesh.network.service import ResourceService, dumps, loads

VIF_TYPE_BOUND = "ovs"
VIF_DETAILS_BOUND = {"port_filter": True, "connectivity": "l2", "bridge_name": "br-int"}


# Built once: on the port-create hot path, building statements costs more than running them.
_NETWORK = select(m.networks.c.id, m.networks.c.project_id, m.networks.c.shared, m.networks.c.router_external,
                  m.networks.c.port_security_enabled).where(m.networks.c.id == bindparam("id"))
_INSERT_PORT = insert(m.ports)
_INSERT_BINDINGS = insert(m.securitygroupportbindings)
_IPS_OF = select(m.ipallocations.c.port_id, m.ipallocations.c.subnet_id, m.ipallocations.c.ip_address).where(
    m.ipallocations.c.port_id.in_(bindparam("ids", expanding=True)))
_GROUPS_OF = select(m.securitygroupportbindings).where(
    m.securitygroupportbindings.c.port_id.in_(bindparam("ids", expanding=True)))
_PORTS_BY_ID = select(m.ports).where(m.ports.c.id.in_(bindparam("ids", expanding=True)))


class PortNotFound(exc.NotFound):
    message = "Port %(id)s could not be found."


class MacAddressInUse(exc.InUse):
    message = "Unable to complete operation for network %(net_id)s. The mac address %(mac)s is in use."


class PortSecurityPortHasSecurityGroup(exc.InUse):
    message = ("Port has security group associated. Cannot disable port security or ip address until "
               "security group is removed")


class PortSecurityAndIPRequiredForSecurityGroups(exc.InvalidInput):
    message = "Port security must be enabled and port must have an IP address in order to use security groups."


class AddressPairAndPortSecurityRequired(exc.Conflict):
    message = "Port Security must be enabled in order to have allowed address pairs on a port."


class PortBound(exc.InUse):
    message = "Unable to complete operation on port %(port_id)s, port is already bound, port type: %(vif_type)s, " \
              "old_mac %(old_mac)s, new_mac %(new_mac)s."


class ServicePortInUse(exc.InUse):
    message = "Port %(port_id)s cannot be deleted directly via the port API: %(reason)s."


def _is_network_owned(owner: str) -> bool:
    return owner.startswith("network:")


class PortService(ResourceService):
    rdef = resources.PORT
    table = m.ports
    not_found = PortNotFound
    extra_columns = {"binding:host_id": "binding_host_id", "binding:vnic_type": "binding_vnic_type"}
    bool_filters = frozenset({"admin_state_up", "port_security_enabled"})

    def filter_hooks(self) -> dict[str, Any]:
        def fixed_ips(vals: list[str]) -> ColumnElement[bool]:
            clauses = []
            for raw in vals:
                key, _, value = raw.partition("=")
                t = m.ipallocations
                if key == "ip_address":
                    cond = t.c.ip_address == value
                elif key == "subnet_id":
                    cond = t.c.subnet_id == value
                elif key == "ip_address_substr":
                    cond = t.c.ip_address.contains(value)
                else:
                    raise exc.BadRequest(resource="port", msg=f"{raw} is an invalid fixed_ips filter")
                clauses.append(self.table.c.id.in_(select(t.c.port_id).where(cond)))
            return or_(*clauses)

        def security_groups(vals: list[str]) -> ColumnElement[bool]:
            b = m.securitygroupportbindings
            return self.table.c.id.in_(select(b.c.port_id).where(b.c.security_group_id.in_(vals)))

        return {"fixed_ips": fixed_ips, "security_groups": security_groups}

    def visible_clause(self, ctx: RequestContext) -> ColumnElement[bool] | None:
        if ctx.is_admin:
            return None
        own_nets = select(m.networks.c.id).where(m.networks.c.project_id == ctx.project_id)
        return or_(self.table.c.project_id == ctx.project_id, self.table.c.network_id.in_(own_nets))

    def load(self, conn: Connection, rows: Sequence[Any]) -> list[dict[str, Any]]:
        ids = [r.id for r in rows]
        ips: dict[str, list[dict[str, str]]] = {i: [] for i in ids}
        sgs: dict[str, list[str]] = {i: [] for i in ids}
        if ids:
            for a in conn.execute(_IPS_OF, {"ids": ids}):
                ips[a.port_id].append({"subnet_id": a.subnet_id, "ip_address": a.ip_address})
            for b in conn.execute(_GROUPS_OF, {"ids": ids}):
                sgs[b.port_id].append(b.security_group_id)
        tags = self.load_tags(conn, ids)
        out = []
        for r in rows:
            item = self.standard_view(r)
            item.update({
                "network_id": r.network_id,
                "mac_address": r.mac_address,
                "admin_state_up": r.admin_state_up,
                "status": r.status,
                "device_id": r.device_id,
                "device_owner": r.device_owner,
                "fixed_ips": sorted(ips[r.id], key=lambda a: (a["subnet_id"], a["ip_address"])),
                "security_groups": sorted(sgs[r.id]),
                "port_security_enabled": r.port_security_enabled,
                "allowed_address_pairs": loads(r.allowed_address_pairs, []),
                "extra_dhcp_opts": loads(r.extra_dhcp_opts, []),
                "binding:host_id": r.binding_host_id,
                "binding:profile": loads(r.binding_profile, {}),
                "binding:vif_type": r.binding_vif_type,
                "binding:vnic_type": r.binding_vnic_type,
                "binding:vif_details": loads(r.binding_vif_details, {}),
                "dns_name": r.dns_name,
                "ip_allocation": "immediate",
                "tags": tags[r.id],
            })
            out.append(item)
        return out

    def fetch_rows(self, conn: Connection, ids: Sequence[str]) -> list[Any]:
        rows = {r.id: r for r in conn.execute(_PORTS_BY_ID, {"ids": list(ids)})} if ids else {}
        return [rows[i] for i in ids if i in rows]

    def policy_target(self, conn: Connection, ctx: RequestContext, item: Mapping[str, Any]) -> dict[str, Any]:
        target = super().policy_target(conn, ctx, item)
        net = item.get("__network__") or conn.execute(_NETWORK, {"id": item.get("network_id")}).first()
        if net is not None:
            target["network:project_id"] = net.project_id
            target["network:tenant_id"] = net.project_id
            target["network:shared"] = net.shared
        return target

    # ---- helpers ------------------------------------------------------------------------------
    def _network(self, conn: Connection, ctx: RequestContext, network_id: str) -> Any:
        net = conn.execute(_NETWORK, {"id": network_id}).first()
        if net is None or not (ctx.is_admin or net.project_id == ctx.project_id or net.shared
                               or (net.router_external and ctx.is_service)):
            raise NetworkNotFound(id=network_id)
        return net

    def _check_groups(self, conn: Connection, ctx: RequestContext, project_id: str | None,
                      sg_ids: Sequence[str]) -> None:
        if not sg_ids:
            return
        rows = {r.id: r for r in conn.execute(select(m.securitygroups.c.id, m.securitygroups.c.project_id,
                                                     m.securitygroups.c.shared, m.securitygroups.c.stateful).where(
            m.securitygroups.c.id.in_(list(sg_ids))))}
        for sg_id in sg_ids:
            row = rows.get(sg_id)
            # A port's groups must belong to its project (or be shared with it).
            if row is None or not (row.project_id == project_id or row.shared):
                raise SecurityGroupNotFound(id=sg_id)
        if len({row.stateful for row in rows.values()}) > 1:  # Neutron: one kind of filtering per port
            raise SecurityGroupConflict(reason="Cannot apply both stateful and stateless security groups on the "
                                               "same port at the same time")

    def _binding_values(self, host: str | None, admin_up: bool) -> dict[str, Any]:
        if host:
            return {"binding_host_id": host, "binding_vif_type": VIF_TYPE_BOUND,
                    "binding_vif_details": dumps(VIF_DETAILS_BOUND), "status": "ACTIVE" if admin_up else "DOWN"}
        return {"binding_host_id": "", "binding_vif_type": "unbound", "binding_vif_details": "{}",
                "status": "DOWN"}

    def _write_groups(self, conn: Connection, port_id: str, sg_ids: Sequence[str]) -> None:
        b = m.securitygroupportbindings
        conn.execute(delete(b).where(b.c.port_id == port_id))
        if sg_ids:
            conn.execute(insert(b), [{"port_id": port_id, "security_group_id": s} for s in dict.fromkeys(sg_ids)])

    def _check_pairs(self, pairs: list[dict[str, Any]], mac: str) -> list[dict[str, Any]]:
        return [{"ip_address": p["ip_address"], "mac_address": (p.get("mac_address") or mac).lower()} for p in pairs]

    # ---- writes -------------------------------------------------------------------------------
    def check_references(self, conn: Connection, ctx: RequestContext, item: Mapping[str, Any]) -> None:
        # Kept on the item so policy and validation do not look the network up again.
        item["__network__"] = self._network(conn, ctx, item["network_id"])  # type: ignore[index]

    def prepare_create(self, conn: Connection, ctx: RequestContext, item: dict[str, Any]) -> None:
        net = item.get("__network__") or self._network(conn, ctx, item["network_id"])
        if item.get("port_security_enabled") is None:
            item["port_security_enabled"] = net.port_security_enabled
        explicit_groups = item.get("security_groups")
        if not item["port_security_enabled"]:
            if explicit_groups:
                raise PortSecurityAndIPRequiredForSecurityGroups()
            if item.get("allowed_address_pairs"):
                raise AddressPairAndPortSecurityRequired()
        self._check_groups(conn, ctx, item.get("project_id"), explicit_groups or [])
        if item.get("fixed_ips") and len(item["fixed_ips"]) > self.settings.network.max_fixed_ips_per_port:
            raise exc.InvalidInput(error_message="Exceeded maximum amount of fixed ips per port.")

    def create_one(self, conn: Connection, ctx: RequestContext, item: dict[str, Any]) -> str:
        if conn.execute(_NETWORK, {"id": item["network_id"]}).first() is None:
            raise NetworkNotFound(id=item["network_id"])
        values = self.standard_values(ctx, item)
        port_id = str(values["id"])
        mac = item.get("mac_address") or ipnet.generate_mac(self.settings.network.base_mac)
        owner = item.get("device_owner") or ""
        values.update({
            "network_id": item["network_id"],
            "mac_address": mac,
            "admin_state_up": item["admin_state_up"],
            "device_id": item.get("device_id") or "",
            "device_owner": owner,
            "port_security_enabled": bool(item["port_security_enabled"]),
            "binding_profile": dumps(item.get("binding:profile") or {}),
            "binding_vnic_type": item.get("binding:vnic_type") or "normal",
            "allowed_address_pairs": dumps(self._check_pairs(item.get("allowed_address_pairs") or [], mac)),
            "extra_dhcp_opts": dumps(item.get("extra_dhcp_opts") or []),
            "dns_name": item.get("dns_name") or "",
        })
        values.update(self._binding_values(item.get("binding:host_id"), item["admin_state_up"]))
        try:
            conn.execute(_INSERT_PORT, values)
        except IntegrityError as err:
            if item.get("id") and self.exists(conn, port_id):
                raise exc.Conflict(msg=f"Port {port_id} already exists") from err
            if item.get("mac_address"):
                raise MacAddressInUse(net_id=item["network_id"], mac=mac) from err
            raise RetryRequest("generated MAC collided", err) from err
        plan = ipam.plan_fixed_ips(conn, item["network_id"], item.get("fixed_ips"), mac, owner)
        ipam.allocate(conn, port_id, item["network_id"], plan)
        groups = item.get("security_groups")
        if groups is None:
            groups = []
            if item["port_security_enabled"] and not _is_network_owned(owner) and item.get("project_id"):
                groups = [self.core.security_groups.ensure_default(conn, item["project_id"])]
        if groups:
            conn.execute(_INSERT_BINDINGS, [{"port_id": port_id, "security_group_id": s}
                                            for s in dict.fromkeys(groups)])
        self.insert_tags(conn, port_id, item.get("tags") or [])
        return port_id

    def update_one(self, conn: Connection, ctx: RequestContext, original: dict[str, Any],
                   changes: dict[str, Any]) -> None:
        port_id = original["id"]
        values: dict[str, Any] = {}
        for name in ("name", "description", "admin_state_up", "device_id", "device_owner", "dns_name"):
            if name in changes:
                values[name] = changes[name]
        port_security = changes.get("port_security_enabled", original["port_security_enabled"])
        if "port_security_enabled" in changes:
            values["port_security_enabled"] = bool(port_security)
        groups = changes.get("security_groups", original["security_groups"]) or []
        if not port_security and groups:
            if "security_groups" in changes:
                raise PortSecurityAndIPRequiredForSecurityGroups()
            if "port_security_enabled" in changes:  # disabling it under the groups the port still has
                raise PortSecurityPortHasSecurityGroup()
        mac = original["mac_address"]
        if "mac_address" in changes and changes["mac_address"] and changes["mac_address"] != mac:
            if original["binding:vif_type"] not in ("unbound", "binding_failed"):
                raise PortBound(port_id=port_id, vif_type=original["binding:vif_type"], old_mac=mac,
                                new_mac=changes["mac_address"])
            mac = changes["mac_address"]
            values["mac_address"] = mac
        if "allowed_address_pairs" in changes:
            pairs = changes["allowed_address_pairs"] or []
            if pairs and not port_security:
                raise AddressPairAndPortSecurityRequired()
            values["allowed_address_pairs"] = dumps(self._check_pairs(pairs, mac))
        if "extra_dhcp_opts" in changes:
            values["extra_dhcp_opts"] = dumps(changes["extra_dhcp_opts"] or [])
        if "binding:profile" in changes:
            values["binding_profile"] = dumps(changes["binding:profile"] or {})
        if "binding:vnic_type" in changes:
            values["binding_vnic_type"] = changes["binding:vnic_type"]
        if "binding:host_id" in changes or "admin_state_up" in changes:
            host = changes.get("binding:host_id", original["binding:host_id"])
            values.update(self._binding_values(host, changes.get("admin_state_up", original["admin_state_up"])))
        if "security_groups" in changes:
            self._check_groups(conn, ctx, original["project_id"], groups)
            self._write_groups(conn, port_id, groups)
        elif "port_security_enabled" in changes and not port_security:
            self._write_groups(conn, port_id, [])
        if "fixed_ips" in changes:
            self._replace_fixed_ips(conn, original, changes["fixed_ips"] or [], mac)
        try:
            self.bump(conn, port_id, values)
        except IntegrityError as err:
            raise MacAddressInUse(net_id=original["network_id"], mac=mac) from err

    def _replace_fixed_ips(self, conn: Connection, original: dict[str, Any], wanted: list[dict[str, Any]],
                           mac: str) -> None:
        current = {(a["subnet_id"], a["ip_address"]) for a in original["fixed_ips"]}
        keep: list[dict[str, Any]] = []
        new: list[dict[str, Any]] = []
        for entry in wanted:
            ip = entry.get("ip_address")
            match = [c for c in current if c[1] == ip and (entry.get("subnet_id") in (None, c[0]))] if ip else []
            (keep if match else new).append(entry)
        kept = {(c[0], c[1]) for e in keep for c in current if c[1] == e.get("ip_address")}
        for subnet_id, ip in current - kept:
            conn.execute(delete(m.ipallocations).where(m.ipallocations.c.subnet_id == subnet_id,
                                                       m.ipallocations.c.ip_address == ip))
        if new:
            plan = ipam.plan_fixed_ips(conn, original["network_id"], new, mac, original["device_owner"])
            ipam.allocate(conn, original["id"], original["network_id"], plan)

    def delete_one(self, conn: Connection, ctx: RequestContext, original: dict[str, Any]) -> None:
        port_id = original["id"]
        if original["device_owner"] in ("network:router_interface", "network:router_gateway",
                                        "network:floatingip") and not ctx.is_service:
            raise ServicePortInUse(port_id=port_id, reason=f"has device owner {original['device_owner']}")
        conn.execute(m.floatingips.update().where(m.floatingips.c.fixed_port_id == port_id).values(
            fixed_port_id=None, fixed_ip_address=None, router_id=None, status="DOWN"))
        conn.execute(delete(m.tags).where(m.tags.c.resource_type == "ports", m.tags.c.resource_id == port_id))
        conn.execute(delete(self.table).where(self.table.c.id == port_id))
