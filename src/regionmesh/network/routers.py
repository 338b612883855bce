"""Routers: external gateways, interfaces, static routes (Neutron's l3, l3_gwmode, extraroute[_atomic]).

The router's ports are ordinary ports created through :class:`PortService` inside the router's own
write transaction, so an interface or gateway either exists completely (port, addresses, routerports
row, router revision) or not at all. Interface changes publish ``router_interface`` callbacks the way
Neutron does; the multi-region layer subscribes to them to start its router jobs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from regionmesh.context import RequestContext
from regionmesh.db import models as m
from regionmesh.network import callbacks as cb
from regionmesh.network import exceptions as exc
from regionmesh.network import ipnet, resources
from regionmesh.network import validators as v
from regionmesh.network.attributes import prepare_put
from regionmesh.network.l3_exceptions import (
    InvalidRoutes,
    PortInUse,
    RouterExternalGatewayInUseByFloatingIp,
    RouterInterfaceAttachmentConflict,
    RouterInterfaceInUseByFloatingIP,
    RouterInterfaceInUseByRoute,
    RouterInterfaceNotFound,
    RouterInterfaceNotFoundForSubnet,
    RouterInUse,
    RouterNotFound,
    RoutesExhausted,
    SubnetMismatchForPort,
)
from regionmesh.network.networks import NetworkNotFound
from regionmesh.network.service import ResourceService, dumps, loads

if TYPE_CHECKING:
    from regionmesh.network.core import NetworkCore

ROUTER_INTF = "network:router_interface"
ROUTER_GW = "network:router_gateway"
FLOATINGIP_OWNER = "network:floatingip"
INTERFACE_OWNERS = (ROUTER_INTF, "network:router_interface_distributed",
                    "network:ha_router_replicated_interface")
# Private key of an update's ``changes``: an atomic add/remove of routes, resolved inside the transaction.
ROUTES_OP = "__routes_op__"


def _bad(msg: str) -> exc.BadRequest:
    return exc.BadRequest(resource="router", msg=msg)


# ---- service ports (shared with floating IPs) --------------------------------------------------
def create_service_port(core: NetworkCore, conn: Connection, ctx: RequestContext, *, network_id: str,
                        project_id: str, device_id: str, device_owner: str,
                        fixed_ips: list[dict[str, Any]] | None) -> dict[str, Any]:
    """A port owned by a network device, created in ``conn``'s transaction; returns its API dict."""
    net = conn.execute(select(m.networks.c.port_security_enabled)
                       .where(m.networks.c.id == network_id)).first()
    if net is None:
        raise NetworkNotFound(id=network_id)
    item: dict[str, Any] = {
        "project_id": project_id, "name": "", "description": "", "network_id": network_id,
        "admin_state_up": True, "device_id": device_id, "device_owner": device_owner, "fixed_ips": fixed_ips,
        "mac_address": None, "port_security_enabled": bool(net.port_security_enabled), "security_groups": [],
        "binding:host_id": "", "binding:profile": {}, "binding:vnic_type": "normal",
        "allowed_address_pairs": [], "extra_dhcp_opts": [], "dns_name": "", "tags": [],
    }
    port_id = core.ports.create_one(conn, ctx, item)
    return core.ports.get_raw(conn, None, port_id)


def delete_service_port(conn: Connection, port_id: str) -> None:
    """Remove a device port (addresses, routerports and bindings go with it by cascade)."""
    conn.execute(delete(m.tags).where(m.tags.c.resource_type == "ports", m.tags.c.resource_id == port_id))
    conn.execute(delete(m.ports).where(m.ports.c.id == port_id))


def canonical_routes(routes: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    """Routes with canonical CIDR/address text, exact duplicates dropped, order kept."""
    out: list[dict[str, str]] = []
    seen: set[tuple[str, str]] = set()
    for r in routes:
        key = (ipnet.normalise_cidr(r["destination"]), ipnet.canonical_ip(r["nexthop"]))
        if key not in seen:
            seen.add(key)
            out.append({"destination": key[0], "nexthop": key[1]})
    return out


def interface_info(router_id: str, port: Mapping[str, Any], subnet_ids: Sequence[str],
                   subnet_id: str) -> dict[str, Any]:
    """The body Neutron returns from add/remove_router_interface."""
    return {"id": router_id, "tenant_id": port["project_id"], "project_id": port["project_id"],
            "port_id": port["id"], "network_id": port["network_id"], "subnet_id": subnet_id,
            "subnet_ids": list(subnet_ids)}


class RouterService(ResourceService):
    rdef = resources.ROUTER
    table = m.routers
    not_found = RouterNotFound
    bool_filters = frozenset({"admin_state_up", "distributed", "ha"})

    def __init__(self, core: NetworkCore) -> None:
        super().__init__(core)
        self.member_actions: dict[str, Callable[[RequestContext, str, Any], dict[str, Any]]] = {
            "add_router_interface": self.add_router_interface,
            "remove_router_interface": self.remove_router_interface,
            "add_extraroutes": self.add_extraroutes,
            "remove_extraroutes": self.remove_extraroutes,
        }

    # ---- reads ----------------------------------------------------------------------------------
    def load(self, conn: Connection, rows: Sequence[Any]) -> list[dict[str, Any]]:
        ids = [r.id for r in rows]
        gw_ids = [r.gw_port_id for r in rows if r.gw_port_id]
        gw_net: dict[str, str] = {}
        gw_ips: dict[str, list[dict[str, str]]] = {p: [] for p in gw_ids}
        if gw_ids:
            for p in conn.execute(select(m.ports.c.id, m.ports.c.network_id).where(m.ports.c.id.in_(gw_ids))):
                gw_net[p.id] = p.network_id
            a = m.ipallocations
            for row in conn.execute(select(a.c.port_id, a.c.subnet_id, a.c.ip_address)
                                    .where(a.c.port_id.in_(gw_ids))):
                gw_ips[row.port_id].append({"subnet_id": row.subnet_id, "ip_address": row.ip_address})
        tags = self.load_tags(conn, ids)
        out = []
        for r in rows:
            gw = None
            if r.gw_port_id:
                gw = {"network_id": gw_net.get(r.gw_port_id), "enable_snat": r.enable_snat,
                      "external_fixed_ips": sorted(gw_ips[r.gw_port_id],
                                                   key=lambda x: (x["subnet_id"], x["ip_address"]))}
            item = self.standard_view(r)
            item.update({
                "admin_state_up": r.admin_state_up,
                "status": r.status,
                "external_gateway_info": gw,
                "gw_port_id": r.gw_port_id,  # not an API attribute; for subscribers
                "routes": loads(r.routes, []),
                "availability_zone_hints": loads(r.availability_zone_hints, []),
                "availability_zones": [],
                "distributed": r.distributed,
                "ha": r.ha,
                "flavor_id": r.flavor_id,
                "tags": tags[r.id],
            })
            out.append(item)
        return out

    def _router_ports(self, conn: Connection, router_id: str) -> list[tuple[str, str, str, str]]:
        """(port_id, port_type, subnet_id, ip_address) of every address on the router's ports."""
        rp, a = m.routerports, m.ipallocations
        rows = conn.execute(select(rp.c.port_id, rp.c.port_type, a.c.subnet_id, a.c.ip_address)
                            .join(a, a.c.port_id == rp.c.port_id).where(rp.c.router_id == router_id))
        return [(r.port_id, r.port_type, r.subnet_id, r.ip_address) for r in rows]

    def _cidrs(self, conn: Connection, subnet_ids: Sequence[str]) -> dict[str, str]:
        if not subnet_ids:
            return {}
        return {r.id: r.cidr for r in conn.execute(select(m.subnets.c.id, m.subnets.c.cidr).where(
            m.subnets.c.id.in_(list(set(subnet_ids)))))}

    # ---- gateway --------------------------------------------------------------------------------
    def _check_external(self, conn: Connection, ctx: RequestContext, network_id: str,
                        ext_ips: Sequence[Mapping[str, Any]]) -> None:
        net = conn.execute(select(m.networks).where(m.networks.c.id == network_id)).first()
        if net is None or not (ctx.is_admin or net.project_id == ctx.project_id or net.shared
                               or net.router_external):
            raise NetworkNotFound(id=network_id)
        if not net.router_external:
            raise _bad(f"Network {network_id} is not an external network")
        if ext_ips:
            gateways = {r.gateway_ip for r in conn.execute(select(m.subnets.c.gateway_ip).where(
                m.subnets.c.network_id == network_id)) if r.gateway_ip}
            for ext_ip in ext_ips:
                ip = ext_ip.get("ip_address")
                if ip and ipnet.canonical_ip(ip) in gateways:
                    raise _bad(f"External IP {ip} is the same as the gateway IP")

    def _check_dup_subnets(self, conn: Connection, router_id: str, new_subnets: Sequence[Mapping[str, Any]],
                           include_gateway: bool = False) -> None:
        """A subnet is attached once per router; interface subnets may not overlap (L3-08)."""
        new_ids = {s["id"] for s in new_subnets}
        router_subnets = []
        for _port_id, port_type, subnet_id, _ip in self._router_ports(conn, router_id):
            if subnet_id in new_ids:
                raise _bad(f"Router already has a port on subnet {subnet_id}")
            if include_gateway == (port_type == ROUTER_GW):
                router_subnets.append(subnet_id)
        for sub_id, cidr in sorted(self._cidrs(conn, router_subnets).items()):
            for s in new_subnets:
                if ipnet.cidrs_overlap(s["cidr"], cidr):
                    raise _bad(f"Cidr {s['cidr']} of subnet {s['id']} overlaps with cidr {cidr} of subnet "
                               f"{sub_id}")

    def _fips_through(self, conn: Connection, router_id: str) -> list[Any]:
        f = m.floatingips
        return list(conn.execute(select(f.c.id, f.c.fixed_ip_address).where(f.c.router_id == router_id)))

    def _remove_gateway(self, conn: Connection, router: Mapping[str, Any]) -> None:
        gw = router["external_gateway_info"] or {}
        if self._fips_through(conn, router["id"]):
            raise RouterExternalGatewayInUseByFloatingIp(router_id=router["id"], net_id=gw.get("network_id"))
        conn.execute(update(self.table).where(self.table.c.id == router["id"]).values(gw_port_id=None))
        delete_service_port(conn, router["gw_port_id"])

    def _apply_gateway(self, conn: Connection, ctx: RequestContext, router: Mapping[str, Any],
                       info: Mapping[str, Any] | None) -> dict[str, Any]:
        """Set, change or clear the gateway; returns the router columns to write."""
        current = router["external_gateway_info"]
        current_net = current["network_id"] if current else None
        new_net = info.get("network_id") if info else None
        ext_ips = list((info or {}).get("external_fixed_ips") or [])
        values: dict[str, Any] = {}
        if new_net:
            self._check_external(conn, ctx, new_net, ext_ips)
        if current and new_net == current_net:
            if ext_ips and self._ips_changed(current["external_fixed_ips"], ext_ips):
                port = self.core.ports.get_raw(conn, None, router["gw_port_id"])
                self.core.ports.update_one(conn, ctx, port, {"fixed_ips": ext_ips})
        else:
            if current:
                self._remove_gateway(conn, router)
                values["gw_port_id"] = None
            if new_net:
                subnets = [{"id": r.id, "cidr": r.cidr} for r in conn.execute(
                    select(m.subnets.c.id, m.subnets.c.cidr).where(m.subnets.c.network_id == new_net))]
                self._check_dup_subnets(conn, router["id"], subnets, include_gateway=True)
                port = create_service_port(self.core, conn, ctx, network_id=new_net, project_id="",
                                           device_id=router["id"], device_owner=ROUTER_GW,
                                           fixed_ips=ext_ips or None)
                conn.execute(insert(m.routerports).values(router_id=router["id"], port_id=port["id"],
                                                          port_type=ROUTER_GW))
                values["gw_port_id"] = port["id"]
                values["enable_snat"] = True
        if new_net and info and info.get("enable_snat") is not None:
            values["enable_snat"] = bool(v.convert_to_boolean(info["enable_snat"]))
        return values

    @staticmethod
    def _ips_changed(current: Sequence[Mapping[str, Any]], wanted: Sequence[Mapping[str, Any]]) -> bool:
        new_subnets = {w["subnet_id"] for w in wanted if w.get("subnet_id")}
        if new_subnets != {c["subnet_id"] for c in current}:
            return True
        new_ips = {ipnet.canonical_ip(w["ip_address"]) for w in wanted if w.get("ip_address")}
        return new_ips != {c["ip_address"] for c in current}

    # ---- routes ---------------------------------------------------------------------------------
    def _validate_routes(self, conn: Connection, router_id: str, routes: list[dict[str, str]]) -> None:
        """Every nexthop must sit in a subnet the router is attached to, and not be the router itself."""
        limit = self.settings.network.max_routes
        if len(routes) > limit:
            raise RoutesExhausted(router_id=router_id, quota=limit)
        attached = self._router_ports(conn, router_id)
        cidrs = list(self._cidrs(conn, [a[2] for a in attached]).values())
        own_ips = {a[3] for a in attached}
        for route in routes:
            hop = route["nexthop"]
            if not any(ipnet.ip_in_cidr(hop, c) for c in cidrs):
                raise InvalidRoutes(routes=routes, reason="the nexthop is not connected with router")
            if hop in own_ips:
                raise InvalidRoutes(routes=routes, reason="the nexthop is used by router")

    @staticmethod
    def _combine_routes(old: list[dict[str, str]], op: str,
                        given: list[dict[str, str]]) -> list[dict[str, str]]:
        """extraroute-atomic: add merges exact duplicates; remove ignores routes already absent."""
        if op == "add":
            return canonical_routes(old + given)
        gone = {(r["destination"], r["nexthop"]) for r in given}
        return [r for r in old if (r["destination"], r["nexthop"]) not in gone]

    # ---- writes ---------------------------------------------------------------------------------
    def prepare_create(self, conn: Connection, ctx: RequestContext, item: dict[str, Any]) -> None:
        self.core.validate_az_hints(item.get("availability_zone_hints") or [])
        gw = item.get("external_gateway_info")
        if gw and gw.get("network_id"):
            self._check_external(conn, ctx, gw["network_id"], gw.get("external_fixed_ips") or [])

    def create_one(self, conn: Connection, ctx: RequestContext, item: dict[str, Any]) -> str:
        values = self.standard_values(ctx, item)
        router_id = str(values["id"])
        values.update({
            "status": "ACTIVE",
            "admin_state_up": item["admin_state_up"],
            "gw_port_id": None,
            "enable_snat": True,
            "availability_zone_hints": dumps(item.get("availability_zone_hints") or []),
            "routes": "[]",
            "distributed": bool(item.get("distributed")),
            "ha": bool(item.get("ha")),
            "flavor_id": item.get("flavor_id"),
        })
        try:
            with conn.begin_nested():
                conn.execute(insert(self.table).values(**values))
        except IntegrityError as err:
            raise exc.Conflict(msg=f"Router {router_id} already exists") from err
        gw = item.get("external_gateway_info")
        if gw and gw.get("network_id"):
            fresh = {"id": router_id, "project_id": values["project_id"], "external_gateway_info": None,
                     "gw_port_id": None}
            gw_values = self._apply_gateway(conn, ctx, fresh, gw)
            conn.execute(update(self.table).where(self.table.c.id == router_id).values(**gw_values))
        self.insert_tags(conn, router_id, item.get("tags") or [])
        return router_id

    def update_one(self, conn: Connection, ctx: RequestContext, original: dict[str, Any],
                   changes: dict[str, Any]) -> None:
        simple = ("name", "description", "admin_state_up")
        values: dict[str, Any] = {k: changes[k] for k in simple if k in changes}
        if "external_gateway_info" in changes:
            values.update(self._apply_gateway(conn, ctx, original, changes["external_gateway_info"]))
        if ROUTES_OP in changes:
            op, given = changes[ROUTES_OP]
            routes = self._combine_routes(original["routes"], op, canonical_routes(given))
        elif "routes" in changes:
            routes = canonical_routes(changes["routes"] or [])
        else:
            routes = None
        if routes is not None:
            self._validate_routes(conn, original["id"], routes)
            changes["routes"] = routes  # subscribers see what was written
            values["routes"] = dumps(routes)
        self.bump(conn, original["id"], values)

    def delete_one(self, conn: Connection, ctx: RequestContext, original: dict[str, Any]) -> None:
        router_id = original["id"]
        rp = m.routerports
        busy = conn.execute(select(rp.c.port_id).where(rp.c.router_id == router_id,
                                                       rp.c.port_type.in_(INTERFACE_OWNERS)).limit(1)).first()
        if busy is not None:
            raise RouterInUse(router_id=router_id)
        if original["gw_port_id"]:
            self._remove_gateway(conn, original)
        conn.execute(delete(m.tags).where(m.tags.c.resource_type == "routers",
                                          m.tags.c.resource_id == router_id))
        conn.execute(delete(self.table).where(self.table.c.id == router_id))

    # ---- member actions: shared -----------------------------------------------------------------
    def _authorize(self, conn: Connection, ctx: RequestContext, router_id: str,
                   action: str) -> dict[str, Any]:
        """The router if ``ctx`` may run ``action`` on it; 404 when the caller may not even see it."""
        router = self.get_raw(conn, ctx, router_id)
        target = self.policy_target(conn, ctx, router)
        enforcer = self.core.enforcer
        if not enforcer.check(ctx, action, target):
            if not enforcer.check(ctx, "get_router", target):
                raise self.not_found(id=router_id)
            raise exc.PolicyNotAuthorized(action=action)
        return router

    @staticmethod
    def _interface_request(body: Any, removal: bool) -> tuple[str | None, str | None]:
        if not isinstance(body, Mapping):
            raise _bad("Either subnet_id or port_id must be specified")
        port_id, subnet_id = body.get("port_id"), body.get("subnet_id")
        if "port_id" not in body and "subnet_id" not in body:
            raise _bad("Either subnet_id or port_id must be specified")
        for key in ("port_id", "subnet_id"):
            if key in body:
                msg = v.VALIDATORS["type:uuid"](body[key], None)
                if msg:
                    raise _bad(msg)
        if not removal and port_id is not None and subnet_id is not None:
            raise _bad("Cannot specify both subnet-id and port-id")
        return port_id, subnet_id

    @staticmethod
    def _after_meta(router: Mapping[str, Any], port: Mapping[str, Any], subnets: list[dict[str, Any]],
                    body: Mapping[str, Any]) -> dict[str, Any]:
        """AFTER_* metadata as Neutron publishes it (``network_id``/``gateway_ips``: the gateway's),
        plus ids for convenience."""
        gw = router["external_gateway_info"]
        return {"port": port, "interface_info": dict(body), "cidrs": [s["cidr"] for s in subnets],
                "subnets": subnets, "subnet_ids": [s["id"] for s in subnets], "port_id": port["id"],
                "router_id": router["id"], "network_id": gw["network_id"] if gw else None,
                "gateway_ips": [x["ip_address"] for x in gw["external_fixed_ips"]] if gw else []}

    # ---- add_router_interface -------------------------------------------------------------------
    def add_router_interface(self, ctx: RequestContext, router_id: str, body: Any) -> dict[str, Any]:
        """Attach a subnet (new port at its gateway IP) or a free port; one transaction."""
        core = self.core
        port_id, subnet_id = self._interface_request(body, removal=False)
        with self.db.read() as conn:
            router = self._authorize(conn, ctx, router_id, "add_router_interface")
            if port_id is not None:
                port: dict[str, Any] | None = core.ports.get_raw(conn, ctx, port_id)
                network_id = port["network_id"] if port else None
            else:
                port = None
                network_id = core.subnets.get_raw(conn, ctx, str(subnet_id))["network_id"]
        cb.publish_or_raise(core.registry, cb.ROUTER_INTERFACE, cb.BEFORE_CREATE, self,
                            cb.EventPayload(ctx, resource_id=router_id, states=(router,), request_body=body,
                                            metadata={"port": port, "interface_info": dict(body),
                                                      "network_id": network_id}),
                            RouterInterfaceAttachmentConflict)

        def work(conn: Connection) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]], bool]:
            self.bump(conn, router_id)  # locks the router row: concurrent attachments serialise here
            current = self.get_raw(conn, None, router_id)
            if port_id is not None:
                attached, subnets, new = self._attach_port(conn, ctx, current, port_id)
            else:
                attached, subnets, new = self._attach_subnet(conn, ctx, current, str(subnet_id))
            latest = self.get_raw(conn, None, router_id)
            cb.publish_or_raise(core.registry, cb.ROUTER_INTERFACE, cb.PRECOMMIT_CREATE, self,
                                cb.EventPayload(ctx, resource_id=router_id, states=(current, latest),
                                                request_body=body, connection=conn,
                                                metadata={"port": attached, "subnets": subnets,
                                                          "interface_info": dict(body),
                                                          "new_interface": new}),
                                RouterInterfaceAttachmentConflict)
            return latest, attached, subnets, new

        latest, attached, subnets, new = self.db.transaction(work)
        meta = {**self._after_meta(latest, attached, subnets, body), "new_interface": new}
        core.registry.publish(cb.ROUTER_INTERFACE, cb.AFTER_CREATE, self,
                              cb.EventPayload(ctx, resource_id=router_id, states=(latest,), metadata=meta))
        info = interface_info(router_id, attached, [s["id"] for s in subnets], subnets[-1]["id"])
        core.notify(ctx, "router.interface.create", {"router_interface": info})
        return info

    def _attach_subnet(self, conn: Connection, ctx: RequestContext, router: Mapping[str, Any],
                       subnet_id: str) -> tuple[dict[str, Any], list[dict[str, Any]], bool]:
        core = self.core
        subnet = core.subnets.get_raw(conn, ctx, subnet_id)
        if not subnet["gateway_ip"]:
            raise _bad("Subnet for router interface must have a gateway IP")
        if subnet["ip_version"] == 6 and subnet["ipv6_ra_mode"] is None and subnet["ipv6_address_mode"]:
            raise _bad(f"IPv6 subnet {subnet_id} configured to receive RAs from an external router cannot be "
                       "added to Neutron Router.")
        self._check_dup_subnets(conn, router["id"], [subnet])
        fixed_ip = {"subnet_id": subnet_id, "ip_address": subnet["gateway_ip"]}
        if subnet["ip_version"] == 6:
            # IPv6 prefixes of one network share the router's existing IPv6 port on it.
            for port in self._interface_ports(conn, router["id"]):
                if port["network_id"] == subnet["network_id"] and any(
                        ipnet.ip_version(ip["ip_address"]) == 6 for ip in port["fixed_ips"]):
                    core.ports.update_one(conn, ctx, port, {"fixed_ips": [*port["fixed_ips"], fixed_ip]})
                    return core.ports.get_raw(conn, None, port["id"]), [subnet], False
        port = create_service_port(core, conn, ctx, network_id=subnet["network_id"],
                                   project_id=router["project_id"], device_id=router["id"],
                                   device_owner=ROUTER_INTF, fixed_ips=[fixed_ip])
        conn.execute(insert(m.routerports).values(router_id=router["id"], port_id=port["id"],
                                                  port_type=ROUTER_INTF))
        return port, [subnet], True

    def _attach_port(self, conn: Connection, ctx: RequestContext, router: Mapping[str, Any],
                     port_id: str) -> tuple[dict[str, Any], list[dict[str, Any]], bool]:
        core = self.core
        port = core.ports.get_raw(conn, ctx, port_id)
        if port["device_id"]:
            raise PortInUse(port_id=port_id, net_id=port["network_id"], device_id=port["device_id"])
        if not port["fixed_ips"]:
            raise _bad("Router port must have at least one fixed IP")
        if any(ipnet.ip_version(ip["ip_address"]) == 6 for ip in port["fixed_ips"]):
            for other in self._interface_ports(conn, router["id"]):
                if other["network_id"] == port["network_id"] and any(
                        ipnet.ip_version(ip["ip_address"]) == 6 for ip in other["fixed_ips"]):
                    raise _bad("Cannot have multiple router ports with the same network id if both contain "
                               f"IPv6 subnets. Existing port {other['id']} has IPv6 subnet(s) and network id "
                               f"{other['network_id']}")
        subnet_ids = list(dict.fromkeys(ip["subnet_id"] for ip in port["fixed_ips"]))
        subnets = core.subnets.get_many(conn, subnet_ids)
        self._check_dup_subnets(conn, router["id"], subnets)
        if len([s for s in subnets if s["ip_version"] == 4]) > 1:
            raise _bad("Cannot have multiple IPv4 subnets on router port")
        core.ports.update_one(conn, ctx, port, {"device_id": router["id"], "device_owner": ROUTER_INTF})
        conn.execute(insert(m.routerports).values(router_id=router["id"], port_id=port_id,
                                                  port_type=ROUTER_INTF))
        return core.ports.get_raw(conn, None, port_id), subnets, True

    def _interface_ports(self, conn: Connection, router_id: str) -> list[dict[str, Any]]:
        rp = m.routerports
        ids = [r[0] for r in conn.execute(select(rp.c.port_id).where(
            rp.c.router_id == router_id, rp.c.port_type.in_(INTERFACE_OWNERS)).order_by(rp.c.port_id))]
        return self.core.ports.get_many(conn, ids)

    # ---- remove_router_interface ----------------------------------------------------------------
    def remove_router_interface(self, ctx: RequestContext, router_id: str, body: Any) -> dict[str, Any]:
        """Detach by port or by subnet; refused while floating IPs or routes still need the subnet."""
        core = self.core
        port_id, subnet_id = self._interface_request(body, removal=True)
        with self.db.read() as conn:
            router = self._authorize(conn, ctx, router_id, "remove_router_interface")
            if port_id is not None:
                port = self._interface_port(conn, router_id, port_id)
                subnet_ids = [subnet_id] if subnet_id else [ip["subnet_id"] for ip in port["fixed_ips"]]
            else:
                subnet_ids = [core.subnets.get_raw(conn, ctx, str(subnet_id))["id"]]
        for sid in dict.fromkeys(subnet_ids):
            self._publish_before_delete(ctx, router, sid)

        def work(conn: Connection) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
            self.bump(conn, router_id)
            current = self.get_raw(conn, None, router_id)
            if port_id is not None:
                detached, subnets = self._detach_port(conn, current, port_id, subnet_id)
            else:
                detached, subnets = self._detach_subnet(conn, ctx, current, str(subnet_id))
            latest = self.get_raw(conn, None, router_id)
            cb.publish_or_raise(core.registry, cb.ROUTER_INTERFACE, cb.PRECOMMIT_DELETE, self,
                                cb.EventPayload(ctx, resource_id=router_id, states=(current, latest),
                                                request_body=body, connection=conn,
                                                metadata={"port": detached, "subnets": subnets,
                                                          "interface_info": dict(body)}),
                                RouterInUse)
            return latest, detached, subnets

        latest, detached, subnets = self.db.transaction(work)
        meta = self._after_meta(latest, detached, subnets, body)
        core.registry.publish(cb.ROUTER_INTERFACE, cb.AFTER_DELETE, self,
                              cb.EventPayload(ctx, resource_id=router_id, states=(latest,), metadata=meta))
        info = interface_info(router_id, detached, [s["id"] for s in subnets], subnets[0]["id"])
        core.notify(ctx, "router.interface.delete", {"router_interface": info})
        return info

    def _publish_before_delete(self, ctx: RequestContext, router: dict[str, Any], subnet_id: str) -> None:
        """A lone subscriber's own error is raised as is (Neutron keeps its type); several → RouterInUse."""
        payload = cb.EventPayload(ctx, resource_id=router["id"], states=(router,),
                                  metadata={"subnet_id": subnet_id})
        try:
            self.core.registry.publish(cb.ROUTER_INTERFACE, cb.BEFORE_DELETE, self, payload)
        except cb.CallbackFailure as failure:
            inner = failure.inner_exceptions
            if len(inner) == 1 and isinstance(inner[0], exc.NeutronException):
                raise inner[0] from failure
            raise RouterInUse(router_id=router["id"], reason=str(failure)) from failure

    def _interface_port(self, conn: Connection, router_id: str, port_id: str) -> dict[str, Any]:
        rp = m.routerports
        row = conn.execute(select(rp.c.port_id).where(rp.c.router_id == router_id, rp.c.port_id == port_id,
                                                      rp.c.port_type.in_(INTERFACE_OWNERS))).first()
        ports = self.core.ports.get_many(conn, [port_id]) if row is not None else []
        if not ports:
            raise RouterInterfaceNotFound(router_id=router_id, port_id=port_id)
        return ports[0]

    def _confirm_not_in_use(self, conn: Connection, router: Mapping[str, Any],
                            subnet: Mapping[str, Any]) -> None:
        for fip in self._fips_through(conn, router["id"]):
            if fip.fixed_ip_address and ipnet.ip_in_cidr(fip.fixed_ip_address, subnet["cidr"]):
                raise RouterInterfaceInUseByFloatingIP(router_id=router["id"], subnet_id=subnet["id"])
        for route in router["routes"]:
            if ipnet.ip_in_cidr(route["nexthop"], subnet["cidr"]):
                raise RouterInterfaceInUseByRoute(router_id=router["id"], subnet_id=subnet["id"])

    def _detach_port(self, conn: Connection, router: Mapping[str, Any], port_id: str,
                     subnet_id: str | None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        port = self._interface_port(conn, router["id"], port_id)
        port_subnets = list(dict.fromkeys(ip["subnet_id"] for ip in port["fixed_ips"]))
        if subnet_id and subnet_id not in port_subnets:
            raise SubnetMismatchForPort(port_id=port_id, subnet_id=subnet_id)
        subnets = self.core.subnets.get_many(conn, port_subnets)
        for s in subnets:
            self._confirm_not_in_use(conn, router, s)
        delete_service_port(conn, port_id)
        return port, subnets

    def _detach_subnet(self, conn: Connection, ctx: RequestContext, router: Mapping[str, Any],
                       subnet_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        subnet = self.core.subnets.get_raw(conn, ctx, subnet_id)
        self._confirm_not_in_use(conn, router, subnet)
        for port in self._interface_ports(conn, router["id"]):
            port_subnets = {ip["subnet_id"] for ip in port["fixed_ips"]}
            if subnet_id not in port_subnets:
                continue
            if len(port_subnets) > 1:  # an IPv6 multi-prefix port keeps its other prefixes
                keep = [ip for ip in port["fixed_ips"] if ip["subnet_id"] != subnet_id]
                self.core.ports.update_one(conn, ctx, port, {"fixed_ips": keep})
            else:
                delete_service_port(conn, port["id"])
            return port, [subnet]
        raise RouterInterfaceNotFoundForSubnet(router_id=router["id"], subnet_id=subnet_id)

    # ---- extraroute-atomic ----------------------------------------------------------------------
    def add_extraroutes(self, ctx: RequestContext, router_id: str, body: Any) -> dict[str, Any]:
        """Add routes to the current set atomically (``{"router": {"routes": [...]}}``)."""
        return self._extraroutes(ctx, router_id, body, "add")

    def remove_extraroutes(self, ctx: RequestContext, router_id: str, body: Any) -> dict[str, Any]:
        """Remove routes from the current set atomically; absent routes are ignored."""
        return self._extraroutes(ctx, router_id, body, "remove")

    def _extraroutes(self, ctx: RequestContext, router_id: str, body: Any, op: str) -> dict[str, Any]:
        if not isinstance(body, Mapping) or not isinstance(body.get("router"), Mapping):
            raise exc.BadRequest(resource="router", msg="Unable to find 'router' in request body")
        raw = body["router"]
        extra = sorted(set(raw) - {"routes"})
        if extra:
            raise exc.BadRequest(resource="router", msg=f"Unrecognized attribute(s) '{', '.join(extra)}'")
        if "routes" not in raw:
            raise exc.BadRequest(resource="router",
                                 msg="Failed to parse request. Required attribute 'routes' not specified")
        given = canonical_routes(prepare_put(self.rdef, {"routes": raw["routes"]})["routes"] or [])
        with self.db.read() as conn:
            router = self._authorize(conn, ctx, router_id, f"{op}_extraroutes")
        # The merge is redone inside the transaction from the row it locks; this is only the preview
        # BEFORE_UPDATE subscribers see.
        changes = {"routes": self._combine_routes(router["routes"], op, given), ROUTES_OP: (op, given)}
        latest = self.core.pipeline.update_item(ctx, self, router_id, changes, body=body)
        return {"router": self.core.pipeline.view(ctx, self, latest)}
