"""Floating IPs: an external address, its hidden port, and its one-to-one NAT association.

A floating IP owns a port on the external network (no project, ``device_id`` = the FIP) created in the
same transaction as the FIP row. Associating it with an internal port needs a router that joins the
port's subnet to the external network (Neutron's ``get_router_for_floatingip``). Central has no L3
agent, so the status stays ``DOWN`` unless :meth:`FloatingIPService.association_status` says otherwise
(L3-05): that method is the hook the multi-region layer and lab regions override.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from regionmesh.context import RequestContext
from regionmesh.db import models as m
from regionmesh.network import exceptions as exc
from regionmesh.network import ipam, ipnet, resources
from regionmesh.network.routers import (
    FLOATINGIP_OWNER,
    INTERFACE_OWNERS,
    create_service_port,
    delete_service_port,
)
from regionmesh.network.service import ResourceService

# A placeholder MAC for planning: only the chosen subnet is kept, the real port gets its own MAC.
_PLAN_MAC = "fa:16:3e:00:00:00"


class FloatingIPNotFound(exc.NotFound):
    message = "Floating IP %(id)s could not be found"


class ExternalGatewayForFloatingIPNotFound(exc.NotFound):
    message = "External network %(external_network_id)s is not reachable from subnet %(subnet_id)s.  " \
              "Therefore, cannot associate Port %(port_id)s with a Floating IP."


class FloatingIPPortAlreadyAssociated(exc.InUse):
    message = "Cannot associate floating IP %(floating_ip_address)s (%(fip_id)s) with port %(port_id)s " \
              "using fixed IP %(fixed_ip)s, as that fixed IP already has a floating IP on external network " \
              "%(net_id)s."


class ExternalIpAddressExhausted(exc.BadRequest):
    message = "Unable to find any IP address on external network %(net_id)s."


class QosPolicyNotFound(exc.NotFound):
    message = "QoS policy %(policy_id)s could not be found."


def _bad(msg: str) -> exc.BadRequest:
    return exc.BadRequest(resource="floatingip", msg=msg)


class FloatingIPService(ResourceService):
    rdef = resources.FLOATINGIP
    table = m.floatingips
    not_found = FloatingIPNotFound
    extra_columns = {"port_id": "fixed_port_id"}

    # ---- status hook ----------------------------------------------------------------------------
    def association_status(self, fip: Mapping[str, Any]) -> str:
        """Status of a FIP that has just been associated: ``DOWN`` where no data plane confirms it."""
        return "DOWN"

    def unattached_router(self, conn: Connection, port: Mapping[str, Any], ext_net: str) -> str | None:
        """A router for a port no router joins to ``ext_net``: none in Neutron; a multi-region
        region uses :meth:`router_with_gateway_on` (Tricircle's local L3 plugin)."""
        return None

    def router_with_gateway_on(self, conn: Connection, port: Mapping[str, Any], ext_net: str) -> str | None:
        """The first router (by id) whose gateway is on ``ext_net``."""
        r, gw = m.routers, m.ports
        return conn.execute(select(r.c.id).join(gw, gw.c.id == r.c.gw_port_id)
                            .where(gw.c.network_id == ext_net).order_by(r.c.id).limit(1)).scalar()

    # ---- reads ----------------------------------------------------------------------------------
    def load(self, conn: Connection, rows: Sequence[Any]) -> list[dict[str, Any]]:
        ids = [r.id for r in rows]
        port_ids = [r.fixed_port_id for r in rows if r.fixed_port_id]
        details: dict[str, dict[str, Any]] = {}
        if port_ids:
            p = m.ports
            cols = (p.c.id, p.c.name, p.c.network_id, p.c.mac_address, p.c.admin_state_up, p.c.status,
                    p.c.device_id, p.c.device_owner)
            for r in conn.execute(select(*cols).where(p.c.id.in_(port_ids))):
                details[r.id] = {"name": r.name, "network_id": r.network_id, "mac_address": r.mac_address,
                                 "admin_state_up": r.admin_state_up, "status": r.status,
                                 "device_id": r.device_id, "device_owner": r.device_owner}
        tags = self.load_tags(conn, ids)
        out = []
        for r in rows:
            item = self.standard_view(r)
            item.update({
                "floating_ip_address": r.floating_ip_address,
                "floating_network_id": r.floating_network_id,
                "floating_port_id": r.floating_port_id,  # not an API attribute; for subscribers
                "router_id": r.router_id,
                "port_id": r.fixed_port_id,
                "fixed_ip_address": r.fixed_ip_address,
                "status": r.status,
                "dns_name": r.dns_name,
                "dns_domain": r.dns_domain,
                "qos_policy_id": None,
                "port_details": details.get(r.fixed_port_id) if r.fixed_port_id else None,
                "tags": tags[r.id],
            })
            out.append(item)
        return out

    # ---- association ----------------------------------------------------------------------------
    def _internal_address(self, ctx: RequestContext, fip: Mapping[str, Any], port: Mapping[str, Any],
                          fixed_ip: str | None) -> tuple[str, str]:
        """(subnet_id, ip) of the port address the FIP will translate to (IPv4 only)."""
        if port["project_id"] != fip["project_id"] and not ctx.is_admin:
            raise _bad(f"Cannot process floating IP association with Port {port['id']}, since that port is "
                       "owned by a different tenant")
        if fixed_ip:
            if ipnet.ip_version(fixed_ip) != 4:
                raise _bad(f"Cannot process floating IP association with {fixed_ip}, since that is not an "
                           "IPv4 address")
            wanted = ipnet.canonical_ip(fixed_ip)
            for ip in port["fixed_ips"]:
                if ip["ip_address"] == wanted:
                    return ip["subnet_id"], wanted
            raise _bad(f"Port {port['id']} does not have fixed ip {fixed_ip}")
        v4 = [ip for ip in port["fixed_ips"] if ipnet.ip_version(ip["ip_address"]) == 4]
        if not v4:
            raise _bad(f"Cannot add floating IP to port {port['id']} that has no fixed IPv4 addresses")
        if len(v4) > 1:
            raise _bad(f"Port {port['id']} has multiple fixed IPv4 addresses.  Must provide a specific IPv4 "
                       "address when assigning a floating IP")
        return v4[0]["subnet_id"], v4[0]["ip_address"]

    def _router_for(self, conn: Connection, port: Mapping[str, Any], subnet_id: str, ext_net: str) -> str:
        """A router with an interface on the subnet and its gateway on ``ext_net``; the one whose
        interface holds the subnet's gateway IP wins (Neutron's choice)."""
        rp, a, r = m.routerports, m.ipallocations, m.routers
        intf, gw = m.ports.alias("intf"), m.ports.alias("gw")
        rows = conn.execute(
            select(rp.c.router_id, a.c.ip_address)
            .join(intf, intf.c.id == rp.c.port_id)
            .join(a, a.c.port_id == intf.c.id)
            .join(r, r.c.id == rp.c.router_id)
            .join(gw, gw.c.id == r.c.gw_port_id)
            .where(intf.c.network_id == port["network_id"], rp.c.port_type.in_(INTERFACE_OWNERS),
                   a.c.subnet_id == subnet_id, gw.c.network_id == ext_net)
            .order_by(rp.c.router_id)).all()
        gateway_ip = conn.execute(select(m.subnets.c.gateway_ip).where(m.subnets.c.id == subnet_id)).scalar()
        for router_id, ip in rows:
            if ip == gateway_ip:
                return str(router_id)
        if rows:
            return str(rows[0][0])
        fallback = self.unattached_router(conn, port, ext_net)
        if fallback is not None:
            return fallback
        raise ExternalGatewayForFloatingIPNotFound(subnet_id=subnet_id, external_network_id=ext_net,
                                                   port_id=port["id"])

    def _associate(self, conn: Connection, ctx: RequestContext, fip: Mapping[str, Any], port_id: str,
                   fixed_ip: str | None) -> dict[str, Any]:
        """Columns binding ``fip`` to the port's address, after Neutron's checks."""
        port = self.core.ports.get_raw(conn, ctx, port_id)
        subnet_id, ip = self._internal_address(ctx, fip, port, fixed_ip)
        router_id = self._router_for(conn, port, subnet_id, fip["floating_network_id"])
        f = self.table
        other = conn.execute(select(f.c.id).where(
            f.c.fixed_port_id == port_id, f.c.floating_network_id == fip["floating_network_id"],
            f.c.fixed_ip_address == ip, f.c.id != fip["id"])).first()
        if other is not None:
            raise self._already(fip, port_id, ip)
        return {"fixed_port_id": port_id, "fixed_ip_address": ip, "router_id": router_id}

    @staticmethod
    def _already(fip: Mapping[str, Any], port_id: str, ip: str | None) -> FloatingIPPortAlreadyAssociated:
        return FloatingIPPortAlreadyAssociated(port_id=port_id, fip_id=fip["id"],
                                               floating_ip_address=fip["floating_ip_address"], fixed_ip=ip,
                                               net_id=fip["floating_network_id"])

    # ---- writes ---------------------------------------------------------------------------------
    def prepare_create(self, conn: Connection, ctx: RequestContext, item: dict[str, Any]) -> None:
        net_id = item["floating_network_id"]
        net = conn.execute(select(m.networks.c.router_external).where(m.networks.c.id == net_id)).first()
        if net is None or not net.router_external:
            raise _bad(f"Network {net_id} is not a valid external network")
        has_v4 = conn.execute(select(m.subnets.c.id).where(m.subnets.c.network_id == net_id,
                                                           m.subnets.c.ip_version == 4).limit(1)).first()
        if has_v4 is None:
            raise _bad(f"Network {net_id} does not contain any IPv4 subnet")
        if item.get("fixed_ip_address") and not item.get("port_id"):
            raise _bad("fixed_ip_address cannot be specified without a port_id")
        if item.get("qos_policy_id"):
            raise QosPolicyNotFound(policy_id=item["qos_policy_id"])

    def _external_request(self, conn: Connection, item: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The floating port's fixed_ips request: as asked, else the first IPv4 subnet with room."""
        fixed: dict[str, Any] = {}
        if item.get("subnet_id"):
            fixed["subnet_id"] = item["subnet_id"]
        if item.get("floating_ip_address"):
            fixed["ip_address"] = item["floating_ip_address"]
        if fixed:
            return [fixed]
        net_id = item["floating_network_id"]
        plan = ipam.plan_fixed_ips(conn, net_id, None, _PLAN_MAC, FLOATINGIP_OWNER)
        v4 = [subnet_id for subnet_id, ip, _explicit in plan if ipnet.ip_version(ip) == 4]
        if not v4:
            raise ExternalIpAddressExhausted(net_id=net_id)
        return [{"subnet_id": v4[0]}]

    def create_one(self, conn: Connection, ctx: RequestContext, item: dict[str, Any]) -> str:
        values = self.standard_values(ctx, item)
        fip_id = str(values["id"])
        net_id = item["floating_network_id"]
        port = create_service_port(self.core, conn, ctx, network_id=net_id, project_id="", device_id=fip_id,
                                   device_owner=FLOATINGIP_OWNER,
                                   fixed_ips=self._external_request(conn, item))
        conn.execute(update(m.ports).where(m.ports.c.id == port["id"]).values(status="N/A"))
        v4 = [ip["ip_address"] for ip in port["fixed_ips"] if ipnet.ip_version(ip["ip_address"]) == 4]
        if not v4:
            raise ExternalIpAddressExhausted(net_id=net_id)
        values.update({
            "floating_ip_address": v4[0],
            "floating_network_id": net_id,
            "floating_port_id": port["id"],
            "fixed_port_id": None,
            "fixed_ip_address": None,
            "router_id": None,
            "status": "DOWN",
            "dns_name": item.get("dns_name") or "",
            "dns_domain": item.get("dns_domain") or "",
        })
        if item.get("port_id"):
            fip = {"id": fip_id, "project_id": values["project_id"], "floating_network_id": net_id,
                   "floating_ip_address": v4[0]}
            assoc = self._associate(conn, ctx, fip, item["port_id"], item.get("fixed_ip_address"))
            values.update(assoc)
            values["status"] = self.association_status(self._api_view(values))
        try:
            with conn.begin_nested():
                conn.execute(insert(self.table).values(**values))
        except IntegrityError as err:
            if item.get("id") and self.exists(conn, fip_id):
                raise exc.Conflict(msg=f"Floating IP {fip_id} already exists") from err
            raise self._already(values, values["fixed_port_id"], values["fixed_ip_address"]) from err
        self.insert_tags(conn, fip_id, item.get("tags") or [])
        return fip_id

    @staticmethod
    def _api_view(values: Mapping[str, Any]) -> dict[str, Any]:
        """Row values in API names, for :meth:`association_status`."""
        out = dict(values)
        out["port_id"] = values.get("fixed_port_id")
        out["tenant_id"] = values.get("project_id")
        return out

    def implied_changes(self, changes: dict[str, Any]) -> dict[str, Any]:
        """Neutron keeps the oldest meaning of ``PUT {"floatingip": {}}``: clear the association."""
        return changes or {"port_id": None}

    def update_one(self, conn: Connection, ctx: RequestContext, original: dict[str, Any],
                   changes: dict[str, Any]) -> None:
        values: dict[str, Any] = {}
        if "description" in changes:
            values["description"] = changes["description"]
        if changes.get("qos_policy_id"):
            raise QosPolicyNotFound(policy_id=changes["qos_policy_id"])
        assoc: dict[str, Any] | None = None
        if "port_id" in changes:
            if changes["port_id"]:
                assoc = self._associate(conn, ctx, original, changes["port_id"],
                                        changes.get("fixed_ip_address"))
            elif changes.get("fixed_ip_address"):
                raise _bad("fixed_ip_address cannot be specified without a port_id")
            else:
                assoc = {"fixed_port_id": None, "fixed_ip_address": None, "router_id": None}
        elif "fixed_ip_address" in changes:
            if not original["port_id"]:
                raise _bad("fixed_ip_address cannot be specified without a port_id")
            assoc = self._associate(conn, ctx, original, original["port_id"], changes["fixed_ip_address"])
        if assoc is not None:
            unchanged = (assoc["fixed_port_id"] == original["port_id"]
                         and assoc["fixed_ip_address"] == original["fixed_ip_address"]
                         and assoc["router_id"] == original["router_id"])
            values.update(assoc)
            if not unchanged:
                merged = {**original, **values, "port_id": assoc["fixed_port_id"]}
                values["status"] = self.association_status(merged) if assoc["fixed_port_id"] else "DOWN"
        try:
            with conn.begin_nested():
                self.bump(conn, original["id"], values)
        except IntegrityError as err:
            raise self._already(original, str(values.get("fixed_port_id")),
                                values.get("fixed_ip_address")) from err

    def delete_one(self, conn: Connection, ctx: RequestContext, original: dict[str, Any]) -> None:
        fip_id = original["id"]
        conn.execute(delete(m.tags).where(m.tags.c.resource_type == "floatingips",
                                          m.tags.c.resource_id == fip_id))
        conn.execute(delete(self.table).where(self.table.c.id == fip_id))
        delete_service_port(conn, original["floating_port_id"])
