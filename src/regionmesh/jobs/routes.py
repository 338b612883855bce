"""``configure_route`` (router): the routes that join a cross-region router's bottom copies.

East-west routers get a /32 route for each VM of the router's networks in another region, via that
region's bottom router bridge address, and the default route via the router's north-south router when
its gateway is set; the north-south router gets a /32 per VM via the VM's east-west router. A router
not on the bridge yet is left for later: the ``router_setup`` joining it writes this job again.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import Connection, select

from regionmesh.central import deleting, pods, routings
from regionmesh.db import models as m
from regionmesh.jobs.engine import JobContext
from regionmesh.jobs.l3_handlers import SHADOW_OWNER, _bottom, _interfaces, bridge_port_name, bridge_subnet_name
from regionmesh.jobs.store import JobRow
from regionmesh.network.routers import INTERFACE_OWNERS

LOG = logging.getLogger(__name__)


def _vm_ports(conn: Connection, router_id: str) -> list[tuple[str, str, str]]:
    """(pod id, IPv4 address, network id) of every bound VM port on the router's networks."""
    rp, p, a, r = m.routerports, m.ports, m.ipallocations, m.resource_routings
    nets = select(p.c.network_id).join(rp, rp.c.port_id == p.c.id).where(
        rp.c.router_id == router_id, rp.c.port_type.in_(INTERFACE_OWNERS))
    rows = conn.execute(select(r.c.pod_id, a.c.ip_address, p.c.network_id).join(a, a.c.port_id == p.c.id)
                        .join(r, (r.c.top_id == p.c.id) & (r.c.resource_type == "port"))
                        .where(p.c.network_id.in_(nets), p.c.device_owner.like("compute:%"),
                               p.c.device_owner != SHADOW_OWNER, r.c.bottom_id.is_not(None))).all()
    return [(row.pod_id, row.ip_address, row.network_id) for row in rows if ":" not in row.ip_address]


def _put_routes(driver: Any, bottom_router: str, routes: list[dict[str, str]]) -> None:
    current = (driver.get("routers", bottom_router) or {}).get("routes") or []
    if {(x["destination"], x["nexthop"]) for x in current} != {(x["destination"], x["nexthop"]) for x in routes}:
        driver.update("routers", bottom_router, {"routes": routes})


def _bridge_port_ip(conn: Connection, project: str, bottom_router: str) -> str | None:
    """The address of central's bridge port for a bottom router, if it has one."""
    ip = conn.execute(select(m.ipallocations.c.ip_address).join(
        m.ports, m.ports.c.id == m.ipallocations.c.port_id).where(
        m.ports.c.name == bridge_port_name(project, bottom_router))).scalar()
    return str(ip) if ip else None


def configure_route(jc: JobContext, job: JobRow) -> None:
    """E-W routers: remote VMs' /32 via their region's router bridge address, and the default route via
    the north-south router when the gateway is set; the NS router: each VM /32 via its E-W router."""
    router_id = job.resource["router_id"]
    with jc.core.db.read() as conn:
        top = jc.core.routers.get_many(conn, [router_id])
        if not top or deleting.is_deleting(conn, router_id, "router"):
            return
        project = top[0].get("project_id") or ""
        bridge = conn.execute(select(m.subnets.c.id, m.subnets.c.gateway_ip).where(
            m.subnets.c.name == bridge_subnet_name(project))).first()
        east_west = routings.bottom_routings(conn, router_id, "router")
        north_south = routings.bottom_routings(conn, router_id, "ns_router")
        bridge_ip: dict[str, str] = {}
        for pod, b_router in east_west:
            ip = _bridge_port_ip(conn, project, b_router)
            if ip:
                bridge_ip[pod.pod_id] = ip
        # where the default route leads: the north-south router's bridge address (the bridge gateway
        # for one attached before north-south routers had addresses of their own)
        ns_ip = next((ip for _, b_ns in north_south if (ip := _bridge_port_ip(conn, project, b_ns))), None)
        bridge_copy = {pod.pod_id: _bottom(conn, bridge.id, pod.pod_id, "subnet")
                       for pod, _ in [*east_west, *north_south]} if bridge is not None else {}
        vms = _vm_ports(conn, router_id)
        mapped = {pod.pod_id: {n for _, _, n in vms if _bottom(conn, n, pod.pod_id, "network")}
                  for pod, _ in east_west}
    if bridge is None:
        return  # a local router: no bridge, no routes between regions
    has_gw = bool(top[0].get("external_gateway_info")) and bool(north_south)
    wanted: list[tuple[pods.Pod, str, list[dict[str, str]]]] = []
    for pod, b_router in east_west:
        routes = [{"destination": f"{ip}/32", "nexthop": bridge_ip[vm_pod]} for vm_pod, ip, net in sorted(vms)
                  if vm_pod != pod.pod_id and vm_pod in bridge_ip and net not in mapped[pod.pod_id]]
        if has_gw and (ns_ip or bridge.gateway_ip):
            routes.append({"destination": "0.0.0.0/0", "nexthop": ns_ip or bridge.gateway_ip})
        wanted.append((pod, b_router, routes))
    for pod, b_ns in north_south:
        wanted.append((pod, b_ns, [{"destination": f"{ip}/32", "nexthop": bridge_ip[vm_pod]}
                                   for vm_pod, ip, _ in sorted(vms) if has_gw and vm_pod in bridge_ip]))
    for pod, b_router, routes in wanted:
        driver = jc.directory.driver(pod.region_name)
        if routes and not _on_bridge(driver, b_router, bridge_copy.get(pod.pod_id)):
            # its router_setup is still joining it to the bridge, and writes this job again when done
            LOG.info("router %s in %s is not on the bridge yet: its routes come later", b_router, pod.region_name)
            continue
        _put_routes(driver, b_router, routes)


def _on_bridge(driver: Any, bottom_router: str, bridge_subnet: str | None) -> bool:
    """Whether a bottom router reaches the bridge subnet (its gateway, or an interface): only then can the
    region accept routes through it."""
    current = driver.get("routers", bottom_router) or {}
    gateway = {f["subnet_id"] for f in (current.get("external_gateway_info") or {}).get("external_fixed_ips") or []}
    return bridge_subnet is not None and (bridge_subnet in gateway
                                          or bridge_subnet in _interfaces(driver, bottom_router))
