"""External networks live in exactly one region, created there synchronously (CP-04, L3-07, OQ-03).

A ``router:external`` network created in central names its region with ``availability_zone_hints``
(a pod's ``az_name`` or ``region_name``); without a hint ``default_region_for_external_network``
applies, else the create is refused with a 400 naming that option. The bottom network (and later
its subnets) is created in that region *inside* central's create transaction: if the region fails,
the error is returned as is (503 region down, 4xx region refused) and central keeps nothing; if
central's transaction fails after the region created its copy, the copy is deleted again
(:func:`~regionmesh.db.engine.on_rollback`), so no orphan is left in the region.

The region chooses the bottom ids (a real OpenStack region will); the routing table records them.
Floating IPs, router gateways and north-south routers find the region through those routings.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, select

from regionmesh.central import pods, routings
from regionmesh.context import RequestContext
from regionmesh.db import models as m
from regionmesh.db.engine import on_rollback
from regionmesh.network import exceptions as exc

if TYPE_CHECKING:
    from regionmesh.central.role import CentralRole

LOG = logging.getLogger(__name__)

# Provider types that name a physical network: their attributes must match in the region.
_PHYSICAL_TYPES = ("flat", "vlan")


class ExternalNetworkPodNotSpecified(exc.BadRequest):
    message = "Pod for external network not specified: give availability_zone_hints naming exactly one " \
              "region (a pod's az_name or region_name), or set [role] default_region_for_external_network."


class ExternalNetworkSeveralPods(exc.BadRequest):
    message = "An external network resides in exactly one region, but availability_zone_hints %(hints)s " \
              "name %(count)s regions."


def external_pod(conn: Connection, hints: list[str], default_region: str) -> pods.Pod:
    """The one pod an external network lives in (its hints, else the configured default)."""
    names = hints or ([default_region] if default_region else [])
    if not names:
        raise ExternalNetworkPodNotSpecified()
    found: dict[str, pods.Pod] = {}
    for name in names:
        try:
            matches = [p for p in pods.pods_for_hint(conn, name) if not p.is_top]
        except exc.NotFound:
            matches = []
        if not matches:
            from regionmesh.central.role import UnknownAvailabilityZoneHint

            raise UnknownAvailabilityZoneHint(hint=name)
        found.update((p.pod_id, p) for p in matches)
    if len(found) != 1:
        raise ExternalNetworkSeveralPods(hints=names, count=len(found))
    return next(iter(found.values()))


def external_network_pod(conn: Connection, network_id: str) -> tuple[pods.Pod, str] | None:
    """(pod, bottom network id) of an external network, from its routing; None if not external here."""
    copies = routings.bottom_routings(conn, network_id, "network")
    return copies[0] if copies else None


def bottom_network_body(top: dict[str, Any]) -> dict[str, Any]:
    """What the region's copy of an external network is created with (as the region's admin)."""
    body: dict[str, Any] = {"name": top.get("name") or top["id"], "admin_state_up": top.get("admin_state_up", True),
                            "router:external": True, "shared": bool(top.get("shared"))}
    if top.get("provider:network_type") in _PHYSICAL_TYPES:
        body["provider:network_type"] = top["provider:network_type"]
        body["provider:physical_network"] = top.get("provider:physical_network")
        if top.get("provider:segmentation_id") is not None:
            body["provider:segmentation_id"] = top["provider:segmentation_id"]
    if top.get("project_id"):
        body["project_id"] = top["project_id"]
    return body


def bottom_subnet_body(top: dict[str, Any], bottom_network_id: str) -> dict[str, Any]:
    """The region's copy of an external subnet: same addressing; named by the top id (the anchor's way)."""
    body: dict[str, Any] = {"name": top["id"], "network_id": bottom_network_id, "ip_version": top["ip_version"],
                            "cidr": top["cidr"], "gateway_ip": top.get("gateway_ip"),
                            "allocation_pools": top.get("allocation_pools") or [],
                            "enable_dhcp": bool(top.get("enable_dhcp")),
                            "dns_nameservers": top.get("dns_nameservers") or [],
                            "host_routes": top.get("host_routes") or []}
    if top.get("project_id"):
        body["project_id"] = top["project_id"]
    return body


class ExternalNetworks:
    """Wraps central's network and subnet ``create_one`` so external ones are created in their region
    inside the same transaction; errors from the region propagate unchanged (503 / 4xx)."""

    def __init__(self, role: CentralRole) -> None:
        self.role = role
        self.core = role.core

    @property
    def default_region(self) -> str:
        return str(getattr(self.core.settings.role, "default_region_for_external_network", "") or "")

    def install(self) -> None:
        nets, subs = self.core.networks, self.core.subnets
        nets.create_one = self._wrap(nets.create_one, self._network_created)  # type: ignore[method-assign,assignment]
        subs.create_one = self._wrap(subs.create_one, self._subnet_created)  # type: ignore[method-assign,assignment]

    @staticmethod
    def _wrap(create_one: Callable[[Connection, RequestContext, dict[str, Any]], str],
              after: Callable[[Connection, dict[str, Any], str], None],
              ) -> Callable[[Connection, RequestContext, dict[str, Any]], str]:
        def wrapped(conn: Connection, ctx: RequestContext, item: dict[str, Any]) -> str:
            rid = create_one(conn, ctx, item)
            after(conn, item, rid)
            return rid

        return wrapped

    def _network_created(self, conn: Connection, item: dict[str, Any], network_id: str) -> None:
        if not item.get("router:external"):
            return
        pod = external_pod(conn, list(item.get("availability_zone_hints") or []), self.default_region)
        top = self.core.networks.get_many(conn, [network_id])[0]
        driver = self.role.directory.driver(pod.region_name)
        bottom = driver.create("networks", bottom_network_body(top))
        on_rollback(conn, lambda: driver.delete("networks", bottom["id"]))
        LOG.info("external network %s created in %s as %s", network_id, pod.region_name, bottom["id"])
        routings.add_routing(conn, network_id, bottom["id"], pod.pod_id, top.get("project_id"), "network")

    def _subnet_created(self, conn: Connection, item: dict[str, Any], subnet_id: str) -> None:
        external = conn.execute(select(m.networks.c.router_external).where(
            m.networks.c.id == item["network_id"])).scalar()
        if not external:
            return
        where = external_network_pod(conn, item["network_id"])
        if where is None:
            return  # an external network made external after creation: no region copy (update is refused)
        pod, bottom_net = where
        top = self.core.subnets.get_many(conn, [subnet_id])[0]
        driver = self.role.directory.driver(pod.region_name)
        bottom = driver.create("subnets", bottom_subnet_body(top, bottom_net))
        on_rollback(conn, lambda: driver.delete("subnets", bottom["id"]))
        routings.add_routing(conn, subnet_id, bottom["id"], pod.pod_id, top.get("project_id"), "subnet")
