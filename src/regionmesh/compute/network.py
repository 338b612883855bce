"""Nova's network API over the region's Neutron: allocate on build, deallocate on delete.

Allocation makes exactly Nova's calls per NIC — GET the network (lazy creation in a lab region),
POST the port (device_id, ``compute:<az>`` owner, security groups resolved to ids), PUT the
binding — and records each port in the info cache as soon as it exists, so a failure or a
concurrent delete can always find and free it.
"""

from __future__ import annotations

import logging
from typing import Any

from regionmesh.compute import store as s
from regionmesh.compute.exceptions import Conflict
from regionmesh.compute.runtime import Runtime
from regionmesh.context import RequestContext

LOG = logging.getLogger(__name__)


def _nics(rt: Runtime, ctx: RequestContext, networks: Any) -> list[dict[str, str]]:
    if networks == "none" or networks is None:
        return []
    if networks == "auto":  # get-me-a-network, simplified: the one network the project can use
        resp = rt.neutron.list_networks(ctx, **{"router:external": "False"})
        if len(resp) > 1:
            raise Conflict("Multiple possible networks found, use a Network ID to be more specific.")
        return [{"uuid": resp[0]["id"]}] if resp else []
    return list(networks)


def allocate_for_instance(rt: Runtime, ctx: RequestContext, instance: dict[str, Any], request: dict[str, Any],
                          host: str) -> list[dict[str, Any]]:
    """Create (or adopt) and bind every requested port; returns the cache rows."""
    uuid, az = instance["uuid"], instance["availability_zone"] or rt.config.availability_zone
    groups = [g for g in request.get("security_groups") or ["default"]]
    for nic in _nics(rt, ctx, request.get("networks")):
        if nic.get("port"):
            port = rt.neutron.get_port(ctx, nic["port"])
            if port is None:
                raise Conflict(f"Port {nic['port']} could not be found.")
            if port.get("device_id") and port["device_id"] != uuid:
                raise Conflict(f"Port {nic['port']} is still in use.")
            network = rt.neutron.get_network(ctx, port["network_id"])
            preexisting = True
        else:
            network = rt.neutron.get_network(ctx, nic["uuid"])
            # Only "default" requested: let Neutron apply the project's default group itself.
            sg_ids = None if groups == ["default"] else rt.neutron.security_group_ids(ctx, groups)
            port = rt.neutron.create_port(ctx, network["id"], uuid, az, sg_ids)
            preexisting = False
        _cache(rt, uuid, port, network.get("name"), preexisting)
        bound = rt.neutron.bind_port(ctx, port["id"], host, uuid, az)
        _cache(rt, uuid, bound, network.get("name"), preexisting)
    with rt.db.read() as conn:
        return s.instance_ports(conn, uuid)


def _cache(rt: Runtime, uuid: str, port: dict[str, Any], network_name: str | None, preexisting: bool) -> None:
    def work(conn: Any) -> None:
        s.remove_port(conn, port["id"])
        s.add_port(conn, uuid, port, network_name, preexisting)

    rt.db.transaction(work)


def deallocate_for_instance(rt: Runtime, ctx: RequestContext, uuid: str) -> None:
    """Delete the ports Nova made, unbind the ones the user passed in; forget them in the cache."""
    with rt.db.read() as conn:
        ports = s.instance_ports(conn, uuid)
    for port in ports:
        deallocate_port(rt, ctx, port)


def deallocate_port(rt: Runtime, ctx: RequestContext, port: dict[str, Any]) -> None:
    if port["preexisting"]:
        rt.neutron.unbind_port(ctx, port["port_id"])
    else:
        rt.neutron.delete_port(ctx, port["port_id"])
    rt.db.transaction(lambda c: s.remove_port(c, port["port_id"]))
