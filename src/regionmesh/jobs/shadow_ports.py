"""``shadow_port_setup`` (pod#network): stand-ins for the VMs of a cross-region network in other regions.

A region only learns of its own ports, yet its L2 agents need every port of a network that spans
regions (the anchor's l2population trigger). So the pod holds a **shadow port** (owner
``compute:shadow``, same MAC and IPs, named ``shadow_<top port id>``, bound to the real port's host
with ``binding:profile`` ``force_up``) for each VM port of the network bound in *another* region.

Level-triggered: the port's binding (``binding:profile.region``) is where it lives; shadow ports for
ports that are gone, moved here, or changed address are deleted, missing ones created in bulk, each
recorded as a ``shadow_port`` routing claimed first (the ``ensure_bottom`` pattern, batched). A
shadow port a floating IP still uses (see :func:`l3_handlers.ensure_shadow_port`) is left to it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from regionmesh.central import pods, routings
from regionmesh.db import models as m
from regionmesh.db.clock import db_time
from regionmesh.jobs.engine import JobContext
from regionmesh.jobs.errors import TemporaryJobError
from regionmesh.jobs.l3_handlers import CLAIM_EXPIRY, SHADOW_OWNER, shadow_port_name
from regionmesh.jobs.store import JobRow

LOG = logging.getLogger(__name__)

BULK_SIZE = 100  # the anchor's max_shadow_port_bulk_size
SHADOW_PREFIX = "shadow_"


@dataclass(frozen=True)
class Plan:
    """What one pod's copy of a network should hold, read from central in one transaction."""

    pod: pods.Pod
    bottom_network: str | None
    spans: bool  # the network has copies in more than one pod
    wanted: dict[str, dict[str, Any]]  # top port id -> the shadow port body it needs here
    fip_ports: set[str]  # top ports a floating IP uses: their shadow ports belong to the FIP path
    shadow_routings: dict[str, str]  # bottom id -> top port id, this pod's shadow_port routings


def _address(port: Mapping[str, Any]) -> tuple[str, frozenset[tuple[str, str]]]:
    """(MAC, {(subnet, IP)}) — with the bottom subnet ids the same as the top ones in a lab region."""
    return port["mac_address"], frozenset((f["subnet_id"], f["ip_address"]) for f in port.get("fixed_ips") or [])


def _plan(jc: JobContext, conn: Connection, pod_id: str, network_id: str) -> Plan:
    pod = pods.get_pod(conn, pod_id)
    net_pods = {p.pod_id for p, _ in routings.bottom_routings(conn, network_id, "network")}
    bottom_network = routings.get_routing_by_key(conn, network_id, pod_id, "network")
    b_net = bottom_network.bottom_id if bottom_network else None
    p, f, r = m.ports, m.floatingips, m.resource_routings
    port_ids = [row[0] for row in conn.execute(select(p.c.id).where(
        p.c.network_id == network_id, p.c.device_owner.like("compute:%"), p.c.device_owner != SHADOW_OWNER))]
    regions = {q.region_name: q.pod_id for q in pods.list_pods(conn)}
    wanted: dict[str, dict[str, Any]] = {}
    if len(net_pods) > 1 and pod_id in net_pods and b_net:
        subnet_copy = {s: routings.get_routing_by_key(conn, s, pod_id, "subnet") for s in
                       {x[0] for x in conn.execute(select(m.subnets.c.id).where(m.subnets.c.network_id == network_id))}}
        for port in jc.core.ports.get_many(conn, port_ids):
            home = regions.get((port.get("binding:profile") or {}).get("region") or "")
            if not port.get("binding:host_id") or home is None or home == pod_id or home not in net_pods:
                continue  # unbound, bound here (the real port serves), or in a region the network is not in
            fixed = [{"subnet_id": copy.bottom_id, "ip_address": x["ip_address"]} for x in port["fixed_ips"]
                     if (copy := subnet_copy.get(x["subnet_id"])) and copy.bottom_id]
            if not fixed:
                continue
            wanted[port["id"]] = {
                "name": shadow_port_name(port["id"]), "network_id": b_net, "mac_address": port["mac_address"],
                "fixed_ips": fixed, "device_owner": SHADOW_OWNER, "device_id": port.get("device_id") or "",
                "project_id": port.get("project_id") or "", "port_security_enabled": False,
                "binding:host_id": port["binding:host_id"], "binding:profile": {"force_up": True}}
    fip_ports = {row[0] for row in conn.execute(select(f.c.fixed_port_id).where(f.c.fixed_port_id.in_(port_ids)))}
    fip_ports -= {pid for pid in fip_ports if pid not in wanted and _bound_in(jc, conn, pid) == pod.region_name}
    shadow_routings = {row.bottom_id: row.top_id for row in conn.execute(select(r.c.top_id, r.c.bottom_id).where(
        r.c.pod_id == pod_id, r.c.resource_type == "shadow_port", r.c.bottom_id.is_not(None)))}
    return Plan(pod, b_net, len(net_pods) > 1, wanted, fip_ports, shadow_routings)


def _bound_in(jc: JobContext, conn: Connection, port_id: str) -> str | None:
    found = jc.core.ports.get_many(conn, [port_id])
    return (found[0].get("binding:profile") or {}).get("region") if found else None


def _top_of(plan: Plan, bottom: Mapping[str, Any]) -> str:
    """The top port a bottom shadow port stands for: its routing, else its name."""
    known = plan.shadow_routings.get(bottom["id"])
    if known:
        return known
    name = str(bottom.get("name") or "")
    return name[len(SHADOW_PREFIX):] if name.startswith(SHADOW_PREFIX) else ""


def _claim(jc: JobContext, plan: Plan, top_ids: list[str]) -> tuple[list[str], list[str]]:
    """(claimed, busy): a routing placeholder per missing shadow port, in one transaction. A stale
    routing (its copy is gone) is dropped; a fresh placeholder of another worker makes the port busy."""
    now = jc.clock.now()
    pod_id = plan.pod.pod_id

    def work(conn: Connection) -> tuple[list[str], list[str]]:
        claimed, busy = [], []
        for top_id in top_ids:
            found = routings.get_routing_by_key(conn, top_id, pod_id, "shadow_port")
            if found is not None and found.bottom_id is not None:
                routings.delete_routings(conn, top_id, "shadow_port", pod_id)  # not in the region's list: gone
                found = None
            if found is None:
                routings.try_claim_routing(conn, top_id, pod_id, plan.wanted[top_id]["project_id"], "shadow_port",
                                           now=now)
                claimed.append(top_id)
            elif found.created_at and (db_time(now) - found.created_at).total_seconds() >= CLAIM_EXPIRY:
                claimed.append(top_id)  # an expired claim: take it over (the region's list showed no copy)
            else:
                busy.append(top_id)
        return claimed, busy

    result: tuple[list[str], list[str]] = jc.core.db.transaction(work)
    return result


def shadow_port_setup(jc: JobContext, job: JobRow) -> None:
    """Make the pod's shadow ports on the network exactly the remote VM ports central knows."""
    res = job.resource
    with jc.core.db.read() as conn:
        plan = _plan(jc, conn, res["pod_id"], res["network_id"])
    if plan.bottom_network is None:
        return  # the network is not in this pod: no L2 shadow ports to keep here
    driver = jc.directory.driver(plan.pod.region_name)
    existing = driver.find("ports", network_id=plan.bottom_network, device_owner=SHADOW_OWNER)
    kept: dict[str, str] = {}  # top id -> bottom id
    extras: list[tuple[str, str]] = []
    for bottom in existing:
        top_id = _top_of(plan, bottom)
        body = plan.wanted.get(top_id)
        if body is not None and top_id not in kept and _address(bottom) == _address(body):
            kept[top_id] = bottom["id"]
        elif top_id in plan.fip_ports and top_id not in kept:
            kept[top_id] = bottom["id"]  # a floating IP's stand-in: that path owns it
        else:
            extras.append((top_id, bottom["id"]))
    for top_id, bottom_id in extras:
        driver.delete("ports", bottom_id)
        jc.core.db.transaction(lambda conn, t=top_id, b=bottom_id: routings.delete_routings(
            conn, t, "shadow_port", plan.pod.pod_id) if plan.shadow_routings.get(b) == t else None)
    claimed, busy = _claim(jc, plan, sorted(set(plan.wanted) - set(kept)))
    created: dict[str, str] = {}
    for start in range(0, len(claimed), BULK_SIZE):
        bodies = [plan.wanted[t] for t in claimed[start:start + BULK_SIZE]]
        created.update({p["name"][len(SHADOW_PREFIX):]: p["id"] for p in driver.create_bulk("ports", bodies)})
    to_record = {**{t: b for t, b in kept.items() if t in plan.wanted}, **created}

    def record(conn: Connection) -> None:
        for top_id, bottom_id in to_record.items():
            routings.add_routing(conn, top_id, bottom_id, plan.pod.pod_id, plan.wanted[top_id]["project_id"],
                                 "shadow_port")

    if to_record:
        jc.core.db.transaction(record)
    if created or extras:
        LOG.info("shadow_port_setup %s in %s: %d created, %d deleted, %d kept", res["network_id"],
                 plan.pod.region_name, len(created), len(extras), len(kept))
    if busy:
        raise TemporaryJobError(f"shadow ports {busy} in {plan.pod.region_name} are being created by another "
                                "worker", delay=CLAIM_EXPIRY)
