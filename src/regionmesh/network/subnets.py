"""Subnets: CIDR, gateway and allocation-pool rules, IPv4 and IPv6 (static, SLAAC, DHCPv6)."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, delete, insert, or_, select, update
from sqlalchemy.sql.elements import ColumnElement

from regionmesh.context import RequestContext
from regionmesh.db import models as m
from regionmesh.network import exceptions as exc
from regionmesh.network import ipnet, resources, subnetpools
from regionmesh.network.attributes import ATTR_NOT_SPECIFIED
from regionmesh.network.networks import NetworkNotFound, check_mtu_for_subnet
from regionmesh.network.service import ResourceService, dumps, loads, to_bool, utcnow

# Ports whose addresses do not keep a subnet in use (they are removed with it).
AUTO_DELETE_OWNERS = ("network:dhcp",)
# IPv6 modes whose addresses the ports derive themselves: Neutron drops them from non-router ports
# when such a subnet is deleted, rather than refusing the delete.
AUTO_ADDRESS_MODES = ("slaac", "dhcpv6-stateless")


class SubnetNotFound(exc.NotFound):
    message = "Subnet %(id)s could not be found."


class SubnetInUse(exc.InUse):
    message = "Unable to complete operation on subnet %(subnet_id)s: One or more ports have an IP allocation " \
              "from this subnet."


class GatewayIpInUse(exc.InUse):
    message = "Current gateway ip %(ip_address)s already in use by port %(port_id)s. Unable to update."


class NetworkSubnetPoolAffinityError(exc.BadRequest):
    message = "Subnets hosted on the same network must be allocated from the same subnet pool."


def _bad(msg: str) -> exc.InvalidInput:
    return exc.InvalidInput(error_message=msg)


class SubnetService(ResourceService):
    rdef = resources.SUBNET
    table = m.subnets
    not_found = SubnetNotFound
    bool_filters = frozenset({"enable_dhcp"})
    int_filters = frozenset({"ip_version"})

    def filter_hooks(self) -> dict[str, Any]:
        def shared(vals: list[str]) -> ColumnElement[bool]:
            try:
                wanted = {to_bool(x) for x in vals}
            except ValueError as err:
                raise exc.BadRequest(resource="filter", msg=f"Invalid value for filter shared: {err}") from None
            return m.subnets.c.network_id.in_(select(m.networks.c.id).where(m.networks.c.shared.in_(wanted)))

        return {"dns_nameservers": lambda vals: or_(*[m.subnets.c.dns_nameservers.contains(f'"{x}"')
                                                      for x in vals]),
                "shared": shared}

    def visible_clause(self, ctx: RequestContext) -> ColumnElement[bool] | None:
        if ctx.is_admin:
            return None
        shared_nets = select(m.networks.c.id).where(or_(m.networks.c.shared.is_(True),
                                                        m.networks.c.router_external.is_(True)))
        return or_(self.table.c.project_id == ctx.project_id, self.table.c.network_id.in_(shared_nets))

    def load(self, conn: Connection, rows: Sequence[Any]) -> list[dict[str, Any]]:
        tags = self.load_tags(conn, [r.id for r in rows])
        out = []
        for r in rows:
            item = self.standard_view(r)
            item.update({
                "network_id": r.network_id,
                "ip_version": r.ip_version,
                "cidr": r.cidr,
                "gateway_ip": r.gateway_ip,
                "enable_dhcp": r.enable_dhcp,
                "ipv6_ra_mode": r.ipv6_ra_mode,
                "ipv6_address_mode": r.ipv6_address_mode,
                "subnetpool_id": r.subnetpool_id,
                "segment_id": r.segment_id,
                "allocation_pools": loads(r.allocation_pools, []),
                "dns_nameservers": loads(r.dns_nameservers, []),
                "host_routes": loads(r.host_routes, []),
                "service_types": loads(r.service_types, []),
                "tags": tags[r.id],
            })
            out.append(item)
        return out

    def policy_target(self, conn: Connection, ctx: RequestContext, item: Mapping[str, Any]) -> dict[str, Any]:
        target = super().policy_target(conn, ctx, item)
        net = conn.execute(select(m.networks.c.project_id, m.networks.c.shared, m.networks.c.router_external)
                           .where(m.networks.c.id == item.get("network_id"))).first()
        if net is not None:
            target["network:project_id"] = net.project_id
            target["network:tenant_id"] = net.project_id
            target["network:shared"] = net.shared
            target["network:router:external"] = net.router_external
        return target

    # ---- validation ---------------------------------------------------------------------------
    def _check_gateway(self, cidr: str, gateway: str | None) -> None:
        if gateway is None:
            return
        net = ipaddress.ip_network(cidr)
        gw = ipaddress.ip_address(gateway)
        if gw.version != net.version:
            raise _bad("Gateway IP version inconsistent with allocation pool version")
        if gw in net and net.version == 4 and net.prefixlen < 31 and gw in (net.network_address,
                                                                          net.broadcast_address):
            raise _bad("Gateway is not valid on subnet")

    def _check_routes_dns(self, ip_version: int, item: Mapping[str, Any]) -> None:
        for ns in item.get("dns_nameservers") or []:
            if ipaddress.ip_address(ns).version != ip_version:
                raise _bad(f"Invalid input for dns_nameservers. Reason: {ns} is not an IPv{ip_version} address.")
        for route in item.get("host_routes") or []:
            dest = ipaddress.ip_network(route["destination"], strict=False)
            hop = ipaddress.ip_address(route["nexthop"])
            if dest.version != ip_version or hop.version != ip_version:
                raise _bad(f"Host route {route['destination']} via {route['nexthop']} does not match subnet "
                           f"ip_version {ip_version}")

    def _check_ipv6_modes(self, item: Mapping[str, Any], net: ipaddress.IPv4Network | ipaddress.IPv6Network) -> None:
        ra, addr = item.get("ipv6_ra_mode"), item.get("ipv6_address_mode")
        if (ra or addr) and net.version == 4:
            raise _bad("ipv6_ra_mode and ipv6_address_mode are invalid for an IPv4 subnet")
        if ra and addr and ra != addr:
            raise _bad(f"ipv6_ra_mode set to '{ra}' with ipv6_address_mode set to '{addr}' is not valid. If both "
                       "attributes are set, they must be the same value")
        if (addr == "slaac" or addr == "dhcpv6-stateless") and net.prefixlen != 64:
            raise _bad(f"Invalid CIDR {net} for IPv6 address mode. OpenStack uses the EUI-64 address format, "
                       "which requires the prefix to be /64")

    def check_references(self, conn: Connection, ctx: RequestContext, item: Mapping[str, Any]) -> None:
        net = conn.execute(select(m.networks.c.project_id, m.networks.c.shared, m.networks.c.router_external)
                           .where(m.networks.c.id == item["network_id"])).first()
        if net is None or not (ctx.is_admin or net.project_id == ctx.project_id or net.shared
                               or net.router_external):
            raise NetworkNotFound(id=item["network_id"])

    def _prepare_pool(self, conn: Connection, ctx: RequestContext, item: dict[str, Any]) -> bool:
        """Whether the subnet's CIDR comes from a pool (then allocated in create_one, pool locked)."""
        pool_id = item.get("subnetpool_id")
        if item.get("use_default_subnetpool"):
            if pool_id:
                raise exc.BadRequest(resource="subnets", msg="subnetpool_id and use_default_subnetpool cannot "
                                                             "both be specified")
            pool_id = conn.execute(select(m.subnetpools.c.id).where(
                m.subnetpools.c.is_default.is_(True), m.subnetpools.c.ip_version == item["ip_version"])).scalar()
            if pool_id is None:
                raise exc.BadRequest(resource="subnets",
                                     msg=f"No default subnetpool found for IPv{item['ip_version']}")
            item["subnetpool_id"] = pool_id
        if not pool_id:
            return False
        pool = conn.execute(select(m.subnetpools).where(m.subnetpools.c.id == pool_id)).first()
        if pool is None or not (ctx.is_admin or pool.shared or pool.project_id == ctx.project_id):
            raise subnetpools.SubnetPoolNotFound(subnetpool_id=pool_id)
        if pool.ip_version != item["ip_version"]:
            raise exc.BadRequest(resource="subnets", msg=f"Cannot allocate IPv{item['ip_version']} subnet from "
                                                         f"IPv{pool.ip_version} subnet pool")
        if item.get("cidr") is not None and item.get("prefixlen") is not None:
            raise exc.BadRequest(resource="subnets", msg="cidr and prefixlen must not be supplied together")
        if item.get("cidr") is not None:
            item["cidr"] = ipnet.normalise_cidr(item["cidr"])
            subnetpools.check_prefixlen(pool, ipaddress.ip_network(item["cidr"]).prefixlen)
        elif item.get("prefixlen") is not None:
            subnetpools.check_prefixlen(pool, item["prefixlen"])
        return True

    def prepare_create(self, conn: Connection, ctx: RequestContext, item: dict[str, Any]) -> None:
        if self._prepare_pool(conn, ctx, item):
            item["__pool__"] = True
            return
        if item.get("cidr") is None:
            raise exc.BadRequest(resource="subnet", msg="a subnetpool must be specified in the absence of a cidr")
        self._prepare_cidr(conn, item)

    def _prepare_cidr(self, conn: Connection, item: dict[str, Any]) -> None:
        """Everything that follows from the CIDR: gateway, pools, routes, modes, overlap, pool affinity."""
        cidr = ipnet.normalise_cidr(item["cidr"])
        network = ipaddress.ip_network(cidr)
        if network.version != item["ip_version"]:
            raise _bad(f"Cidr {cidr} does not match the ip_version {item['ip_version']}")
        item["cidr"] = cidr
        gateway = item.get("gateway_ip")
        if gateway is ATTR_NOT_SPECIFIED:
            gateway = ipnet.default_gateway(cidr)
        elif gateway is not None:
            gateway = str(ipaddress.ip_address(gateway))
        self._check_gateway(cidr, gateway)
        item["gateway_ip"] = gateway
        if item.get("allocation_pools") is None:
            item["allocation_pools"] = ipnet.default_allocation_pools(cidr, gateway)
        else:
            pools = [{"start": str(ipaddress.ip_address(p["start"])), "end": str(ipaddress.ip_address(p["end"]))}
                     for p in item["allocation_pools"]]
            ipnet.validate_allocation_pools(pools, cidr, gateway)
            item["allocation_pools"] = pools
        self._check_routes_dns(network.version, item)
        self._check_ipv6_modes(item, network)
        for other in conn.execute(select(m.subnets.c.id, m.subnets.c.cidr, m.subnets.c.ip_version,
                                         m.subnets.c.subnetpool_id).where(
                m.subnets.c.network_id == item["network_id"])):
            if ipnet.cidrs_overlap(other.cidr, cidr):
                raise _bad(f"Requested subnet with cidr: {cidr} for network: {item['network_id']} overlaps with "
                           "another subnet")
            if other.ip_version == network.version and other.subnetpool_id != item.get("subnetpool_id"):
                raise NetworkSubnetPoolAffinityError()

    def create_one(self, conn: Connection, ctx: RequestContext, item: dict[str, Any]) -> str:
        mtu = conn.execute(select(m.networks.c.mtu).where(m.networks.c.id == item["network_id"])).first()
        if mtu is None:
            raise NetworkNotFound(id=item["network_id"])
        check_mtu_for_subnet(item["network_id"], mtu[0], item["ip_version"])
        if item.get("__pool__"):  # the pool row stays locked until commit: no concurrent overlap
            # A retried transaction starts again from the request, not from the last attempt's CIDR.
            asked = item.setdefault("__asked__", {k: item.get(k) for k in ("cidr", "gateway_ip",
                                                                            "allocation_pools")})
            item.update(asked)
            item["cidr"] = subnetpools.allocate(conn, item["subnetpool_id"], item["ip_version"], item.get("cidr"),
                                                item.get("prefixlen"))
            self._prepare_cidr(conn, item)
        values = self.standard_values(ctx, item)
        values.update({
            "network_id": item["network_id"],
            "ip_version": item["ip_version"],
            "cidr": item["cidr"],
            "gateway_ip": item["gateway_ip"],
            "enable_dhcp": item["enable_dhcp"],
            "ipv6_ra_mode": item.get("ipv6_ra_mode"),
            "ipv6_address_mode": item.get("ipv6_address_mode"),
            "segment_id": item.get("segment_id"),
            "subnetpool_id": item.get("subnetpool_id") if item.get("__pool__") else None,
            "allocation_pools": dumps(item["allocation_pools"]),
            "dns_nameservers": dumps(item.get("dns_nameservers") or []),
            "host_routes": dumps(item.get("host_routes") or []),
            "service_types": dumps(item.get("service_types") or []),
        })
        # Overlap re-checked inside the transaction: two concurrent creates must not both pass.
        for other in conn.execute(select(m.subnets.c.cidr).where(m.subnets.c.network_id == item["network_id"])):
            if ipnet.cidrs_overlap(other.cidr, item["cidr"]):
                raise _bad(f"Requested subnet with cidr: {item['cidr']} for network: {item['network_id']} "
                           "overlaps with another subnet")
        conn.execute(insert(self.table).values(**values))
        self.insert_tags(conn, values["id"], item.get("tags") or [])
        conn.execute(m.networks.update().where(m.networks.c.id == item["network_id"]).values(
            revision_number=m.networks.c.revision_number + 1))
        return str(values["id"])

    def update_one(self, conn: Connection, ctx: RequestContext, original: dict[str, Any],
                   changes: dict[str, Any]) -> None:
        values: dict[str, Any] = {}
        for name in ("name", "description", "enable_dhcp"):
            if name in changes:
                values[name] = changes[name]
        cidr = original["cidr"]
        gateway = original["gateway_ip"]
        if "gateway_ip" in changes:
            gateway = None if changes["gateway_ip"] is None else str(ipaddress.ip_address(changes["gateway_ip"]))
            self._check_gateway(cidr, gateway)
            if gateway is not None and gateway != original["gateway_ip"]:
                holder = conn.execute(select(m.ipallocations.c.port_id).where(
                    m.ipallocations.c.subnet_id == original["id"],
                    m.ipallocations.c.ip_address == gateway)).first()
                if holder is not None:
                    raise GatewayIpInUse(ip_address=gateway, port_id=holder.port_id)
            values["gateway_ip"] = gateway
        pools = original["allocation_pools"]
        if "allocation_pools" in changes:
            pools = [{"start": str(ipaddress.ip_address(p["start"])), "end": str(ipaddress.ip_address(p["end"]))}
                     for p in changes["allocation_pools"] or []]
            values["allocation_pools"] = dumps(pools)
        if "allocation_pools" in changes or "gateway_ip" in changes:
            ipnet.validate_allocation_pools(pools, cidr, gateway)
        check = {"dns_nameservers": changes.get("dns_nameservers"), "host_routes": changes.get("host_routes")}
        self._check_routes_dns(original["ip_version"], check)
        for name in ("dns_nameservers", "host_routes", "service_types"):
            if name in changes:
                values[name] = dumps(changes[name] or [])
        self.bump(conn, original["id"], values)

    def delete_one(self, conn: Connection, ctx: RequestContext, original: dict[str, Any]) -> None:
        sid = original["id"]
        holders = select(m.ipallocations.c.port_id).where(m.ipallocations.c.subnet_id == sid)
        auto_address = (original.get("ipv6_address_mode") in AUTO_ADDRESS_MODES
                        or original.get("ipv6_ra_mode") in AUTO_ADDRESS_MODES)
        keep_in_use = ipnet.ROUTER_PORT_OWNERS if auto_address else None
        busy_q = select(m.ports.c.id).where(m.ports.c.id.in_(holders))
        busy_q = (busy_q.where(m.ports.c.device_owner.in_(keep_in_use)) if keep_in_use is not None
                  else busy_q.where(m.ports.c.device_owner.not_in(AUTO_DELETE_OWNERS)))
        if conn.execute(busy_q.limit(1)).first() is not None:
            raise SubnetInUse(subnet_id=sid)
        if auto_address:  # the ports lose their derived address: each counts one revision
            conn.execute(update(m.ports).where(m.ports.c.id.in_(holders)).values(
                revision_number=m.ports.c.revision_number + 1, updated_at=utcnow()))
        conn.execute(delete(m.ipallocations).where(m.ipallocations.c.subnet_id == sid))
        conn.execute(delete(m.tags).where(m.tags.c.resource_type == "subnets", m.tags.c.resource_id == sid))
        conn.execute(delete(self.table).where(self.table.c.id == sid))
        conn.execute(m.networks.update().where(m.networks.c.id == original["network_id"]).values(
            revision_number=m.networks.c.revision_number + 1))
