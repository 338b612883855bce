"""Networks and their segments (provider attributes; ML2's type drivers in miniature)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, and_, delete, func, insert, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import ColumnElement

from regionmesh.context import RequestContext
from regionmesh.db import models as m
from regionmesh.db.engine import RetryRequest
from regionmesh.network import exceptions as exc
from regionmesh.network import resources
from regionmesh.network.service import ResourceService, dumps, loads

# Ports owned by the network itself; they never keep a network "in use".
NETWORK_OWNED = ("network:dhcp",)
VXLAN_MAX = 2 ** 24 - 1


class NetworkNotFound(exc.NotFound):
    message = "Network %(id)s could not be found."


# The smallest MTU each IP version works with (RFC 791, RFC 8200).
MIN_MTU = {4: 68, 6: 1280}


class NetworkMTUTooSmallForSubnet(exc.Conflict):
    message = ("The MTU %(mtu)s of network %(network_id)s is too small for IPv%(ip_version)s subnets: the "
               "minimum is %(minimum)s.")


def check_mtu_for_subnet(network_id: str, mtu: int, ip_version: int) -> None:
    """Neutron refuses (409) an IPv4 subnet on a network below 68 bytes and an IPv6 one below 1280,
    whether the subnet comes first or the MTU changes later."""
    if mtu < MIN_MTU[ip_version]:
        raise NetworkMTUTooSmallForSubnet(mtu=mtu, network_id=network_id, ip_version=ip_version,
                                          minimum=MIN_MTU[ip_version])


class NetworkInUse(exc.InUse):
    message = "Unable to complete operation on network %(net_id)s. There are one or more ports still in use on " \
              "the network."


class VlanIdInUse(exc.InUse):
    message = "Unable to create the network. The VLAN %(vlan_id)s on physical network %(physical_network)s is " \
              "in use."


class TunnelIdInUse(exc.InUse):
    message = "Unable to create the network. The tunnel ID %(tunnel_id)s is in use."


class FlatNetworkInUse(exc.InUse):
    message = "Unable to create the flat network. Physical network %(physical_network)s is in use."


class NoNetworkAvailable(exc.ServiceUnavailable):
    message = "Unable to create the network. No tenant network is available for allocation."


class InvalidSharedSetting(exc.Conflict):
    message = "Unable to reconfigure sharing settings for network %(network)s. Multiple tenants are using it."


def _invalid(msg: str) -> exc.InvalidInput:
    return exc.InvalidInput(error_message=msg)


class NetworkService(ResourceService):
    rdef = resources.NETWORK
    table = m.networks
    not_found = NetworkNotFound
    extra_columns = {"router:external": "router_external", "provider:network_type": "network_type",
                     "provider:physical_network": "physical_network",
                     "provider:segmentation_id": "segmentation_id"}
    bool_filters = frozenset({"admin_state_up", "shared", "router:external", "port_security_enabled",
                              "is_default"})
    int_filters = frozenset({"mtu", "provider:segmentation_id"})

    def visible_clause(self, ctx: RequestContext) -> ColumnElement[bool] | None:
        if ctx.is_admin:
            return None
        t = self.table
        return or_(t.c.project_id == ctx.project_id, t.c.shared.is_(True), t.c.router_external.is_(True))

    def load(self, conn: Connection, rows: Sequence[Any]) -> list[dict[str, Any]]:
        ids = [r.id for r in rows]
        subnets: dict[str, list[str]] = {i: [] for i in ids}
        if ids:
            for net_id, sid in conn.execute(select(m.subnets.c.network_id, m.subnets.c.id).where(
                    m.subnets.c.network_id.in_(ids)).order_by(m.subnets.c.created_at, m.subnets.c.id)):
                subnets[net_id].append(sid)
        tags = self.load_tags(conn, ids)
        out = []
        for r in rows:
            item = self.standard_view(r)
            item.update({
                "admin_state_up": r.admin_state_up,
                "status": r.status,
                "shared": r.shared,
                "mtu": r.mtu,
                "router:external": r.router_external,
                "is_default": r.is_default,
                "port_security_enabled": r.port_security_enabled,
                "provider:network_type": r.network_type,
                "provider:physical_network": r.physical_network,
                "provider:segmentation_id": r.segmentation_id,
                "availability_zone_hints": loads(r.availability_zone_hints, []),
                "availability_zones": self.core.availability_zones_of(r),
                "subnets": subnets[r.id],
                "tags": tags[r.id],
                "ipv4_address_scope": None,
                "ipv6_address_scope": None,
                "l2_adjacency": True,
            })
            out.append(item)
        return out

    # ---- segments ---------------------------------------------------------------------------
    def _segment_request(self, item: Mapping[str, Any]) -> tuple[str, str | None, int | None]:
        settings = self.settings.network
        ntype = item.get("provider:network_type")
        physnet = item.get("provider:physical_network")
        seg_id = item.get("provider:segmentation_id")
        if ntype is None:
            if physnet is not None or seg_id is not None:
                raise _invalid("provider:network_type required")
            return settings.tenant_network_types[0] if settings.tenant_network_types else "local", None, None
        if ntype == "local":
            if physnet or seg_id is not None:
                raise _invalid("provider:physical_network and provider:segmentation_id prohibited for local "
                               "provider network")
        elif ntype == "flat":
            if seg_id is not None:
                raise _invalid("provider:segmentation_id prohibited for flat provider network")
            if not physnet:
                raise _invalid("provider:physical_network required for flat provider network")
            allowed = settings.flat_networks
            if "*" not in allowed and physnet not in allowed:
                raise _invalid(f"physical_network '{physnet}' unknown for flat provider network")
        elif ntype == "vlan":
            if not physnet:
                if len(settings.vlan_ranges) != 1:
                    raise _invalid("provider:physical_network required")
                physnet = next(iter(settings.vlan_ranges))
            if physnet not in settings.vlan_ranges:
                raise _invalid(f"physical_network '{physnet}' unknown for VLAN provider network")
            if seg_id is not None and not 1 <= seg_id <= 4094:
                raise _invalid(f"provider:segmentation_id out of range ({seg_id} through 4094)"
                               if seg_id > 4094 else "provider:segmentation_id out of range (1 through 4094)")
        elif ntype == "vxlan":
            if physnet:
                raise _invalid("provider:physical_network specified for vxlan network")
            if seg_id is not None and not 1 <= seg_id <= VXLAN_MAX:
                raise _invalid(f"provider:segmentation_id out of range (1 through {VXLAN_MAX})")
        else:
            raise _invalid(f"network_type value '{ntype}' not supported")
        return ntype, physnet, seg_id

    def _allocate_segment(self, conn: Connection, net_id: str, ntype: str, physnet: str | None,
                          seg_id: int | None) -> tuple[str | None, int | None]:
        t = m.segment_allocations
        key_phys = physnet or ""
        if ntype == "local":
            return None, None
        if ntype == "flat":
            seg_id = 0
        if seg_id is None:
            if ntype == "vlan":
                low, high = self.settings.network.vlan_ranges[key_phys]
            else:
                low, high = self.settings.network.vxlan_vni_ranges
            seg_id = self._first_free(conn, ntype, key_phys, low, high)
            if seg_id is None:
                raise NoNetworkAvailable()
        try:
            conn.execute(insert(t).values(network_type=ntype, physical_network=key_phys,
                                          segmentation_id=seg_id, network_id=net_id))
        except IntegrityError as err:
            if ntype == "flat":
                raise FlatNetworkInUse(physical_network=physnet) from err
            if ntype == "vlan":
                raise VlanIdInUse(vlan_id=seg_id, physical_network=physnet) from err
            raise TunnelIdInUse(tunnel_id=seg_id) from err
        return physnet, None if ntype == "flat" else seg_id

    def _first_free(self, conn: Connection, ntype: str, physnet: str, low: int, high: int) -> int | None:
        t = m.segment_allocations
        where = and_(t.c.network_type == ntype, t.c.physical_network == physnet,
                     t.c.segmentation_id >= low, t.c.segmentation_id <= high)
        count = conn.execute(select(func.count()).where(where)).scalar_one()
        if count == 0:
            return low
        top = conn.execute(select(func.max(t.c.segmentation_id)).where(where)).scalar_one()
        if count == top - low + 1:
            return top + 1 if top < high else None
        # A gap below the top: the smallest id whose successor is free.
        t2 = t.alias()
        gap = conn.execute(select(func.min(t.c.segmentation_id + 1)).where(
            where, ~select(t2.c.segmentation_id).where(
                t2.c.network_type == ntype, t2.c.physical_network == physnet,
                t2.c.segmentation_id == t.c.segmentation_id + 1).exists())).scalar_one()
        first_used = conn.execute(select(func.min(t.c.segmentation_id)).where(where)).scalar_one()
        if first_used > low:
            return low
        return gap if gap is not None and gap <= high else None

    def _max_mtu(self, ntype: str) -> int:
        net = self.settings.network
        return net.global_physnet_mtu - (net.vxlan_overhead if ntype == "vxlan" else 0)

    # ---- writes -----------------------------------------------------------------------------
    def prepare_create(self, conn: Connection, ctx: RequestContext, item: dict[str, Any]) -> None:
        ntype, physnet, seg_id = self._segment_request(item)
        item["__segment__"] = (ntype, physnet, seg_id)
        max_mtu = self._max_mtu(ntype)
        # No lower bound here, as in Neutron: a subnet on a network whose MTU is below its IP
        # version's minimum is what gets refused (NetworkMTUTooSmallForSubnet).
        if item.get("mtu") and item["mtu"] > max_mtu:
            raise _invalid(f"Requested MTU is too big, maximum is {max_mtu}")
        self.core.validate_az_hints(item.get("availability_zone_hints") or [])

    def create_one(self, conn: Connection, ctx: RequestContext, item: dict[str, Any]) -> str:
        values = self.standard_values(ctx, item)
        ntype, physnet, seg_id = item["__segment__"]
        values.update({
            "admin_state_up": item["admin_state_up"],
            "status": "ACTIVE",
            "shared": item["shared"],
            "mtu": item.get("mtu") or self._max_mtu(ntype),
            "router_external": item["router:external"],
            "port_security_enabled": item["port_security_enabled"],
            "network_type": ntype,
            "availability_zone_hints": dumps(item.get("availability_zone_hints") or []),
        })
        try:
            conn.execute(insert(self.table).values(**values))
        except IntegrityError as err:
            if item.get("id") and self.exists(conn, item["id"]):
                raise exc.Conflict(msg=f"Network {item['id']} already exists") from err
            raise RetryRequest("network insert", err) from err
        physnet, seg_id = self._allocate_segment(conn, values["id"], ntype, physnet, seg_id)
        if physnet is not None or seg_id is not None:
            conn.execute(self.table.update().where(self.table.c.id == values["id"]).values(
                physical_network=physnet, segmentation_id=seg_id))
        self.insert_tags(conn, values["id"], item.get("tags") or [])
        return str(values["id"])

    def update_one(self, conn: Connection, ctx: RequestContext, original: dict[str, Any],
                   changes: dict[str, Any]) -> None:
        values: dict[str, Any] = {}
        for name in ("name", "description", "admin_state_up", "shared", "port_security_enabled"):
            if name in changes:
                values[name] = changes[name]
        if "router:external" in changes:
            values["router_external"] = changes["router:external"]
        if "mtu" in changes:
            max_mtu = self._max_mtu(original["provider:network_type"] or "local")
            if changes["mtu"] > max_mtu:
                raise _invalid(f"Requested MTU is too big, maximum is {max_mtu}")
            values["mtu"] = changes["mtu"] or max_mtu
            versions = {r[0] for r in conn.execute(select(m.subnets.c.ip_version).distinct().where(
                m.subnets.c.network_id == original["id"]))}
            for version in sorted(versions):
                check_mtu_for_subnet(original["id"], values["mtu"], version)
        if original["shared"] and changes.get("shared") is False:
            others = conn.execute(select(m.ports.c.id).where(
                m.ports.c.network_id == original["id"], m.ports.c.project_id != original["project_id"],
                m.ports.c.device_owner.not_in(NETWORK_OWNED)).limit(1)).first()
            if others is not None:
                raise InvalidSharedSetting(network=original["name"] or original["id"])
        self.bump(conn, original["id"], values)

    def delete_one(self, conn: Connection, ctx: RequestContext, original: dict[str, Any]) -> None:
        net_id = original["id"]
        in_use = conn.execute(select(m.ports.c.id).where(
            m.ports.c.network_id == net_id, m.ports.c.device_owner.not_in(NETWORK_OWNED)).limit(1)).first()
        if in_use is not None:
            raise NetworkInUse(net_id=net_id)
        conn.execute(delete(m.ports).where(m.ports.c.network_id == net_id))
        subnet_ids = [r[0] for r in conn.execute(select(m.subnets.c.id).where(m.subnets.c.network_id == net_id))]
        if subnet_ids:
            conn.execute(delete(m.tags).where(m.tags.c.resource_type == "subnets",
                                              m.tags.c.resource_id.in_(subnet_ids)))
        conn.execute(delete(m.subnets).where(m.subnets.c.network_id == net_id))
        conn.execute(delete(m.tags).where(m.tags.c.resource_type == "networks", m.tags.c.resource_id == net_id))
        conn.execute(delete(self.table).where(self.table.c.id == net_id))

    def delete_first(self, conn: Connection, original: Mapping[str, Any]) -> list[tuple[str, str]]:
        """Neutron deletes an external network's unassociated floating IPs before the network (an
        associated one keeps its port, so the network stays in use)."""
        if not original.get("router:external"):
            return []
        fips = m.floatingips
        return [("floatingips", r[0]) for r in conn.execute(select(fips.c.id).where(
            fips.c.floating_network_id == original["id"], fips.c.fixed_port_id.is_(None)))]
