"""L3 job handlers: bottom routers, the bridge network, north-south routers, routes, floating IPs.

Level-triggered like every handler: each reads central (top) and makes the pod (bottom) match.

* ``router_setup`` (pod#router#network): a bottom router in the pod (named by the top router id),
  joined to the project's **bridge network** (its gateway, SNAT off, at the address of a central
  bridge port) when the router spans regions, with an interface on each of the network's subnets the
  top router has. When the network is the router's external network it manages the **north-south
  router** in that network's region instead. It also keeps **bottom floating IPs** in the external
  network's region matching central (a **shadow port** stands in for a VM of another region).
* ``configure_route`` (router; in :mod:`regionmesh.jobs.routes`): host routes between regions over
  the bridge, default route to the north-south router.

Every bottom copy is created once even with concurrent workers: a placeholder routing is claimed
first (:func:`routings.try_claim_routing`); a claim older than ``CLAIM_EXPIRY`` seconds is taken
over, adopting a copy found by name. Routing types: ``router`` (E-W router), ``ns_router``,
``network``/``subnet`` (bridge copies, keyed by the central bridge ids), ``shadow_network``,
``shadow_subnet``, ``shadow_port``, ``floatingip``.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from sqlalchemy import Connection, select, text, update

from regionmesh.central import deleting, external, pods, routings
from regionmesh.central.role import local_router_pod, remove_bottom_routers
from regionmesh.context import RequestContext
from regionmesh.db import models as m
from regionmesh.db.clock import db_time
from regionmesh.jobs import store
from regionmesh.jobs.engine import JobContext
from regionmesh.jobs.errors import PermanentJobError, TemporaryJobError
from regionmesh.jobs.store import JobRow
from regionmesh.network import ipnet
from regionmesh.network.attributes import prepare_post
from regionmesh.network.routers import INTERFACE_OWNERS, ROUTER_GW, ROUTER_INTF, create_service_port

LOG = logging.getLogger(__name__)

SHADOW_OWNER = "compute:shadow"
CLAIM_EXPIRY = 30.0
BRIDGE_PREFIX = 24
ADMIN = RequestContext(user_id="regionmesh-jobs", project_id=None, roles=frozenset({"admin", "member", "reader"}))


def bridge_net_name(project: str) -> str:
    return f"bridge_net_{project}"


def bridge_subnet_name(project: str) -> str:
    return f"bridge_subnet_{project}"


def bridge_port_name(project: str, bottom_router_id: str) -> str:
    return f"bridge_port_{project}_{bottom_router_id}"


def shadow_port_name(port_id: str) -> str:
    """One name for a port's stand-in in a pod, whether a floating IP or L2 needs it (the anchor's)."""
    return f"shadow_{port_id}"


# ---- bridge network (central) -------------------------------------------------------------------
def allocate_bridge_cidr(pool: str, taken: Iterable[str]) -> str:
    """The first /24 of ``pool`` no project's bridge subnet uses."""
    used = {ipaddress.ip_network(c, strict=False) for c in taken}
    for candidate in ipaddress.ip_network(pool).subnets(new_prefix=BRIDGE_PREFIX):
        if not any(candidate.overlaps(u) for u in used):
            return str(candidate)
    raise PermanentJobError(f"bridge_cidr {pool} has no free /{BRIDGE_PREFIX} left for another project")


def _serialize(conn: Connection, key: str) -> None:
    """Make find-or-create on ``key`` atomic: SQLite writers are already serial (BEGIN IMMEDIATE);
    PostgreSQL takes a transaction-scoped advisory lock."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": key})


def ensure_bridge_network(jc: JobContext, project: str) -> tuple[str, str]:
    """(network id, subnet id) of the project's central bridge network, allocating its /24 race-free."""
    core = jc.core

    def work(conn: Connection) -> tuple[str, str]:
        _serialize(conn, "regionmesh-bridge-cidr")
        subnet = conn.execute(select(m.subnets.c.id, m.subnets.c.network_id).where(
            m.subnets.c.name == bridge_subnet_name(project))).first()
        if subnet is not None:
            return str(subnet.network_id), str(subnet.id)
        net_id = conn.execute(select(m.networks.c.id).where(m.networks.c.name == bridge_net_name(project))).scalar()
        if net_id is None:
            item = prepare_post(core.networks.rdef, {"name": bridge_net_name(project)})
            item["project_id"] = item["tenant_id"] = ""
            core.networks.prepare_create(conn, ADMIN, item)
            net_id = core.networks.create_one(conn, ADMIN, item)
        taken = [r.cidr for r in conn.execute(select(m.subnets.c.cidr).where(
            m.subnets.c.name.like("bridge\\_subnet\\_%", escape="\\")))]
        cidr = allocate_bridge_cidr(core.settings.role.bridge_cidr, taken)
        item = prepare_post(core.subnets.rdef, {"name": bridge_subnet_name(project), "network_id": net_id,
                                                "ip_version": 4, "cidr": cidr, "enable_dhcp": False})
        item["project_id"] = item["tenant_id"] = ""
        core.subnets.prepare_create(conn, ADMIN, item)
        return str(net_id), str(core.subnets.create_one(conn, ADMIN, item))

    result: tuple[str, str] = core.db.transaction(work)
    return result


def ensure_bridge_port(jc: JobContext, project: str, bridge: tuple[str, str], bottom_router_id: str) -> str:
    """The address of central's bridge port for one bottom router (created once, race-free)."""
    name = bridge_port_name(project, bottom_router_id)
    net_id, subnet_id = bridge

    def work(conn: Connection) -> str:
        _serialize(conn, name)
        port_id = conn.execute(select(m.ports.c.id).where(m.ports.c.name == name,
                                                          m.ports.c.network_id == net_id)).scalar()
        if port_id is None:
            port = create_service_port(jc.core, conn, ADMIN, network_id=net_id, project_id="",
                                       device_id=bottom_router_id, device_owner=ROUTER_GW,
                                       fixed_ips=[{"subnet_id": subnet_id}])
            port_id = port["id"]
            conn.execute(update(m.ports).where(m.ports.c.id == port_id).values(name=name))
        return str(conn.execute(select(m.ipallocations.c.ip_address).where(
            m.ipallocations.c.port_id == port_id)).scalar())

    result: str = jc.core.db.transaction(work)
    return result


# ---- the claim pattern --------------------------------------------------------------------------
def ensure_bottom(jc: JobContext, pod: pods.Pod, top_id: str, rtype: str, project: str | None, collection: str,
                  lookup: Mapping[str, Any], create: Callable[[], dict[str, Any]]) -> str:
    """The bottom id of ``top_id``'s copy in ``pod``; created at most once across workers.

    The routing row is the claim; the copy is found by ``lookup`` (its name) before creating, so a
    worker that crashed between create and routing is adopted rather than duplicated."""
    driver = jc.directory.driver(pod.region_name)
    db = jc.core.db
    with db.read() as conn:
        found = routings.get_routing_by_key(conn, top_id, pod.pod_id, rtype)
    if found is not None and found.bottom_id is not None:
        if driver.get(collection, found.bottom_id) is not None:
            return found.bottom_id
        LOG.warning("%s %s: bottom copy %s in %s is gone; creating it again", rtype, top_id, found.bottom_id,
                    pod.region_name)
        db.transaction(lambda conn: routings.delete_routings(conn, top_id, rtype, pod.pod_id))
        found = None
    now = jc.clock.now()
    claimed = found is None and db.transaction(
        lambda conn: routings.try_claim_routing(conn, top_id, pod.pod_id, project, rtype, now=now))
    if not claimed:
        with db.read() as conn:
            found = routings.get_routing_by_key(conn, top_id, pod.pod_id, rtype)
        if found is not None and found.bottom_id is not None:
            return found.bottom_id
        age = (db_time(now) - found.created_at).total_seconds() if found and found.created_at else 0.0
        if found is None or age < CLAIM_EXPIRY:
            # the usual backoff (a second or two): the other worker is normally done by then
            raise TemporaryJobError(f"{rtype} {top_id} in {pod.region_name} is being created by another worker")
        LOG.warning("%s %s in %s: taking over a claim %.0f s old", rtype, top_id, pod.region_name, age)
    existing = driver.find(collection, **lookup)
    bottom = existing[0] if existing else create()
    db.transaction(lambda conn: routings.add_routing(conn, top_id, bottom["id"], pod.pod_id, project, rtype))
    return str(bottom["id"])


def _creator(driver: Any, collection: str, body: dict[str, Any]) -> Callable[[], dict[str, Any]]:
    return lambda: dict(driver.create(collection, body))


def _bottom(conn: Connection, top_id: str, pod_id: str, rtype: str) -> str | None:
    found = routings.get_routing_by_key(conn, top_id, pod_id, rtype)
    return found.bottom_id if found else None


def _enqueue(jc: JobContext, job_type: str, resource: Mapping[str, str], project: str | None) -> None:
    jc.core.db.transaction(lambda conn: store.enqueue(conn, job_type, resource, project, now=jc.clock.now()))


# ---- bottom pieces ------------------------------------------------------------------------------
def ensure_bottom_bridge(jc: JobContext, pod: pods.Pod, bridge: tuple[str, str], project: str) -> tuple[str, str]:
    """(bottom network, bottom subnet) of the bridge in ``pod``: an external network, DHCP off."""
    net_id, subnet_id = bridge
    driver = jc.directory.driver(pod.region_name)
    with jc.core.db.read() as conn:
        top_subnet = jc.core.subnets.get_many(conn, [subnet_id])[0]
    b_net = ensure_bottom(jc, pod, net_id, "network", project, "networks", {"name": net_id},
                          lambda: driver.create("networks", {"name": net_id, "router:external": True,
                                                             "admin_state_up": True}))
    b_sub = ensure_bottom(jc, pod, subnet_id, "subnet", project, "subnets", {"name": subnet_id},
                          lambda: driver.create("subnets", {
                              "name": subnet_id, "network_id": b_net, "ip_version": 4, "cidr": top_subnet["cidr"],
                              "gateway_ip": top_subnet["gateway_ip"], "enable_dhcp": False,
                              "allocation_pools": top_subnet["allocation_pools"]}))
    return b_net, b_sub


def _set_gateway(driver: Any, bottom_router: str, want: dict[str, Any]) -> None:
    """Set the bottom router's gateway unless it already is exactly ``want``."""
    current = (driver.get("routers", bottom_router) or {}).get("external_gateway_info") or {}
    have_ips = {(f["subnet_id"], f["ip_address"]) for f in current.get("external_fixed_ips") or []}
    want_ips = {(f["subnet_id"], f["ip_address"]) for f in want.get("external_fixed_ips") or []}
    if current.get("network_id") == want["network_id"] and have_ips == want_ips \
            and current.get("enable_snat") == want["enable_snat"]:
        return
    if current.get("network_id") and current["network_id"] != want["network_id"]:
        driver.update("routers", bottom_router, {"external_gateway_info": None})
    driver.update("routers", bottom_router, {"external_gateway_info": want})


def _interfaces(driver: Any, bottom_router: str) -> dict[str, str]:
    """bottom subnet id → interface port id of a bottom router."""
    out: dict[str, str] = {}
    for port in driver.find("ports", device_id=bottom_router, device_owner=ROUTER_INTF):
        for fixed in port["fixed_ips"]:
            out[fixed["subnet_id"]] = port["id"]
    return out


def _top_interface_ips(conn: Connection, router_id: str, network_id: str) -> dict[str, str]:
    """top subnet id → the top router's interface address on it (for ``network_id``)."""
    rp, a, p = m.routerports, m.ipallocations, m.ports
    return {r.subnet_id: r.ip_address for r in conn.execute(
        select(a.c.subnet_id, a.c.ip_address).join(p, p.c.id == a.c.port_id).join(rp, rp.c.port_id == p.c.id)
        .where(rp.c.router_id == router_id, p.c.network_id == network_id, rp.c.port_type.in_(INTERFACE_OWNERS)))}


def _align_local_gateway(driver: Any, bottom_subnet: str, top_pools: list[dict[str, str]], ip: str) -> None:
    """A local router is the subnet's only router, so the region's copy takes its interface address
    as gateway (the anchor's way; a port-added interface may use any address): then the address VMs
    of the region route through is the one users see on the router in central."""
    current = driver.get("subnets", bottom_subnet)
    if current is None or current.get("gateway_ip") == ip:
        return
    pools = ipnet.pools_without(ipnet.pools_without(top_pools, ip), current.get("gateway_ip"))
    driver.update("subnets", bottom_subnet, {"gateway_ip": ip, "allocation_pools": pools})


def sync_interfaces(jc: JobContext, pod: pods.Pod, router_id: str, network_id: str, bottom_router: str,
                    local: bool = False) -> None:
    """The bottom router has an interface on the pod's copy of exactly the subnets the top router has on
    this network. By subnet: the copy's gateway is this region's reserved address — or, for a local
    router, the top interface's own address (see :func:`_align_local_gateway`)."""
    with jc.core.db.read() as conn:
        top_ips = _top_interface_ips(conn, router_id, network_id)
        wanted_top = set(top_ips)
        top_pools = {s: jc.core.subnets.get_many(conn, [s])[0]["allocation_pools"] for s in wanted_top} \
            if local else {}
        b_net = _bottom(conn, network_id, pod.pod_id, "network")
        subnet_ids = [r[0] for r in conn.execute(select(m.subnets.c.id).where(m.subnets.c.network_id == network_id))]
        bottom_of = {s: _bottom(conn, s, pod.pod_id, "subnet") for s in subnet_ids}
    if b_net is None:
        return  # the network is not in this pod (yet): a binding there writes this job again
    driver = jc.directory.driver(pod.region_name)
    have = _interfaces(driver, bottom_router)
    mine = {b for b in bottom_of.values() if b}
    wanted = {b for s in wanted_top if (b := bottom_of.get(s))}
    for b_sub, port_id in have.items():
        if b_sub in mine and b_sub not in wanted:
            driver.action("routers", bottom_router, "remove_router_interface", {"port_id": port_id})
    for top_sub, ip in sorted(top_ips.items()):
        copy = bottom_of.get(top_sub)
        if not copy or copy in have:
            continue
        if local:
            _align_local_gateway(driver, copy, top_pools[top_sub], ip)
        driver.action("routers", bottom_router, "add_router_interface", {"subnet_id": copy})


# ---- local routers -------------------------------------------------------------------------------
def ensure_local_network(jc: JobContext, pod: pods.Pod, network_id: str, project: str) -> None:
    """A network attached to a local router is placed in the router's region at once (the anchor's local
    network): its copy and its subnets' copies, recorded as ordinary ``network``/``subnet`` routings."""
    with jc.core.db.read() as conn:
        if _bottom(conn, network_id, pod.pod_id, "network"):
            return
        subnet_ids = [r[0] for r in conn.execute(select(m.subnets.c.id).where(m.subnets.c.network_id == network_id))]
    driver = jc.directory.driver(pod.region_name)
    copy = driver.get("networks", network_id)  # lab: the region copies it from central with the same id
    if copy is None:
        raise PermanentJobError(f"network {network_id} cannot be placed in {pod.region_name}")
    subnets = {s: (driver.get("subnets", s) or {}).get("id") for s in subnet_ids}

    def record(conn: Connection) -> None:
        routings.add_routing(conn, network_id, copy["id"], pod.pod_id, project, "network")
        for top_id, bottom_id in subnets.items():
            if bottom_id:
                routings.add_routing(conn, top_id, bottom_id, pod.pod_id, project, "subnet")

    jc.core.db.transaction(record)


def sync_local_gateway(jc: JobContext, pod: pods.Pod, router: Mapping[str, Any], ext_net_id: str) -> None:
    """A local router's gateway is its own bottom router's, on the bottom external network of its region
    (no north-south router); cleared when central's gateway is elsewhere or gone."""
    gw = router.get("external_gateway_info") or {}
    project = router.get("project_id") or ""
    driver = jc.directory.driver(pod.region_name)
    with jc.core.db.read() as conn:
        b_router = _bottom(conn, router["id"], pod.pod_id, "router")
        where = external.external_network_pod(conn, ext_net_id) if gw.get("network_id") == ext_net_id else None
        ext_ips = _bottom_gateway_ips(conn, gw, pod.pod_id)
    if where is None or where[0].pod_id != pod.pod_id:
        current = driver.get("routers", b_router) if b_router else None
        if current and (current.get("external_gateway_info") or {}).get("network_id"):
            driver.update("routers", str(b_router), {"external_gateway_info": None})
        return
    b_router = ensure_bottom(jc, pod, router["id"], "router", project, "routers", {"name": router["id"]},
                             lambda: driver.create("routers", {"name": router["id"], "project_id": project,
                                                               "distributed": bool(router.get("distributed"))}))
    _set_gateway(driver, b_router, {"network_id": where[1], "enable_snat": bool(gw.get("enable_snat", True)),
                                    "external_fixed_ips": ext_ips})


# ---- north-south ----------------------------------------------------------------------------------
def _bottom_gateway_ips(conn: Connection, gw: Mapping[str, Any], pod_id: str) -> list[dict[str, str]]:
    """Central's gateway addresses with the pod's bottom subnet ids (the same addresses, kept)."""
    ips = [{"subnet_id": _bottom(conn, f["subnet_id"], pod_id, "subnet"), "ip_address": f["ip_address"]}
           for f in gw.get("external_fixed_ips") or []]
    return [{"subnet_id": str(f["subnet_id"]), "ip_address": f["ip_address"]} for f in ips if f["subnet_id"]]


def ensure_ns_router(jc: JobContext, router: Mapping[str, Any]) -> tuple[pods.Pod, str] | None:
    """The north-south router in the external network's region: gateway on the bottom external
    network at central's gateway address, an interface on the bridge at an address of its own (a
    central bridge port, as the east-west routers have), so several routers of one project — each
    with its north-south router on the project's bridge — never claim the same address."""
    gw = router.get("external_gateway_info") or {}
    project = router.get("project_id") or ""
    with jc.core.db.read() as conn:
        where = external.external_network_pod(conn, gw.get("network_id") or "")
        ext_ips = _bottom_gateway_ips(conn, gw, where[0].pod_id) if where else []
    if where is None:
        return None
    pod, b_ext = where
    driver = jc.directory.driver(pod.region_name)
    name = f"ns_router_{router['id']}"
    b_ns = ensure_bottom(jc, pod, router["id"], "ns_router", project, "routers", {"name": name},
                         lambda: driver.create("routers", {"name": name, "project_id": project}))
    _set_gateway(driver, b_ns, {"network_id": b_ext, "enable_snat": bool(gw.get("enable_snat", True)),
                                "external_fixed_ips": ext_ips})
    bridge = ensure_bridge_network(jc, project)
    b_bridge_net, b_bridge_sub = ensure_bottom_bridge(jc, pod, bridge, project)
    if b_bridge_sub not in _interfaces(driver, b_ns):
        ip = ensure_bridge_port(jc, project, bridge, b_ns)
        name = bridge_port_name(project, b_ns)
        # a port left by a run that stopped before attaching it is reused, not made twice
        port = next((p for p in driver.find("ports", name=name, network_id=b_bridge_net) if not p.get("device_id")),
                    None) or driver.create("ports", {"name": name, "network_id": b_bridge_net, "project_id": project,
                                                     "fixed_ips": [{"subnet_id": b_bridge_sub, "ip_address": ip}]})
        driver.action("routers", b_ns, "add_router_interface", {"port_id": port["id"]})
    return pod, b_ns


def remove_ns_router(jc: JobContext, pod: pods.Pod, router_id: str) -> None:
    """Gateway cleared: the north-south router (routes, bridge interface, gateway), its routing and its
    central bridge address go."""
    remove_bottom_routers(jc.core.db, jc.directory, router_id, pod.pod_id, kinds=("ns_router",))


# ---- floating IPs ---------------------------------------------------------------------------------
def _copy_in(jc: JobContext, pod: pods.Pod, top_id: str, rtype: str, collection: str, project: str) -> str:
    """The pod's copy of a network or subnet: its routing, else a shadow copy (lab: a lazy GET by id)."""
    with jc.core.db.read() as conn:
        known = _bottom(conn, top_id, pod.pod_id, rtype) or _bottom(conn, top_id, pod.pod_id, f"shadow_{rtype}")
    if known:
        return known
    copy = jc.directory.driver(pod.region_name).get(collection, top_id)
    if copy is None:
        raise PermanentJobError(f"{rtype} {top_id} cannot be copied into {pod.region_name} (its "
                                "availability_zone_hints exclude that region?)")
    jc.core.db.transaction(lambda conn: routings.add_routing(conn, top_id, copy["id"], pod.pod_id, project,
                                                             f"shadow_{rtype}"))
    return str(copy["id"])


def ensure_shadow_port(jc: JobContext, pod: pods.Pod, port: Mapping[str, Any]) -> str:
    """A stand-in in ``pod`` for a port of another region: same IP and MAC, owner ``compute:shadow``."""
    project = port.get("project_id") or ""
    fixed = port["fixed_ips"][0]
    b_net = _copy_in(jc, pod, port["network_id"], "network", "networks", project)
    b_sub = _copy_in(jc, pod, fixed["subnet_id"], "subnet", "subnets", project)
    name = shadow_port_name(port["id"])
    driver = jc.directory.driver(pod.region_name)
    return ensure_bottom(jc, pod, port["id"], "shadow_port", project, "ports", {"name": name},
                         lambda: driver.create("ports", {
                             "name": name, "network_id": b_net, "mac_address": port["mac_address"],
                             "fixed_ips": [{"subnet_id": b_sub, "ip_address": fixed["ip_address"]}],
                             "device_owner": SHADOW_OWNER, "device_id": port.get("device_id") or "",
                             "project_id": project, "port_security_enabled": False}))


def remove_stale_floatingips(jc: JobContext) -> None:
    """Bottom FIPs whose top FIP is gone or no longer associated go, with shadow ports only they needed."""
    f, r = m.floatingips, m.resource_routings
    with jc.core.db.read() as conn:
        stale = conn.execute(select(r.c.top_id, r.c.bottom_id, r.c.pod_id).outerjoin(f, f.c.id == r.c.top_id)
                             .where(r.c.resource_type == "floatingip", r.c.bottom_id.is_not(None),
                                    f.c.fixed_port_id.is_(None))).all()
    for top_id, bottom_id, pod_id in stale:
        with jc.core.db.read() as conn:
            pod = pods.get_pod(conn, pod_id)
        jc.directory.driver(pod.region_name).delete("floatingips", bottom_id)
        jc.core.db.transaction(lambda conn, t=top_id, p=pod_id: routings.delete_routings(conn, t, "floatingip", p))
        LOG.info("floating IP %s: bottom copy %s removed from %s", top_id, bottom_id, pod.region_name)
    remove_unneeded_shadow_ports(jc)


def remove_unneeded_shadow_ports(jc: JobContext) -> None:
    """A shadow port made for a floating IP goes when no FIP uses its port and the port's network
    does not span into that pod (L2 shadow ports are another job's)."""
    f, r, p = m.floatingips, m.resource_routings, m.ports
    with jc.core.db.read() as conn:
        rows = conn.execute(select(r.c.top_id, r.c.bottom_id, r.c.pod_id, p.c.network_id)
                            .outerjoin(p, p.c.id == r.c.top_id)
                            .where(r.c.resource_type == "shadow_port", r.c.bottom_id.is_not(None))).all()
        unneeded = []
        for top_id, bottom_id, pod_id, network_id in rows:
            used = conn.execute(select(f.c.id).where(f.c.fixed_port_id == top_id).limit(1)).first()
            spans = network_id and _bottom(conn, network_id, pod_id, "network")
            if used is None and not spans:
                unneeded.append((top_id, bottom_id, pods.get_pod(conn, pod_id)))
    for top_id, bottom_id, pod in unneeded:
        jc.directory.driver(pod.region_name).delete("ports", bottom_id)
        jc.core.db.transaction(lambda conn, t=top_id, q=pod.pod_id: routings.delete_routings(conn, t, "shadow_port",
                                                                                             q))


def sync_floatingips(jc: JobContext, router: Mapping[str, Any], network_id: str, local: bool = False) -> None:
    """Every top FIP through ``router`` to a port on ``network_id`` exists in the external network's
    region with the same address, on the port's copy there (or its shadow port); then it is ACTIVE."""
    f, p = m.floatingips, m.ports
    with jc.core.db.read() as conn:
        rows = conn.execute(select(f.c.id, f.c.floating_ip_address, f.c.floating_network_id, f.c.fixed_port_id,
                                   f.c.project_id, f.c.status).join(p, p.c.id == f.c.fixed_port_id)
                            .where(f.c.router_id == router["id"], p.c.network_id == network_id)).all()
        plans = []
        for row in rows:
            where = external.external_network_pod(conn, row.floating_network_id)
            port_copy = routings.bottom_routings(conn, row.fixed_port_id, "port")
            if where is None or not port_copy:
                continue  # the VM has not booted yet: its binding writes this job again
            port = jc.core.ports.get_many(conn, [row.fixed_port_id])[0]
            plans.append((row, where, port_copy[0], port))
    if plans and not local and ensure_ns_router(jc, router) is None:
        raise TemporaryJobError(f"router {router['id']}: the external network has no region copy yet")
    for row, (ext_pod, b_ext), (port_pod, b_port), port in plans:
        if port_pod.pod_id != ext_pod.pod_id:
            b_port = ensure_shadow_port(jc, ext_pod, port)
        driver = jc.directory.driver(ext_pod.region_name)
        body = {"floating_network_id": b_ext, "floating_ip_address": row.floating_ip_address, "port_id": b_port,
                "project_id": row.project_id}
        b_fip = ensure_bottom(jc, ext_pod, row.id, "floatingip", row.project_id, "floatingips",
                              {"floating_ip_address": row.floating_ip_address, "floating_network_id": b_ext},
                              _creator(driver, "floatingips", body))
        current = driver.get("floatingips", b_fip) or {}
        if current.get("port_id") != b_port:
            driver.update("floatingips", b_fip, {"port_id": b_port})
        if row.status != "ACTIVE":
            jc.core.db.transaction(lambda conn, fid=row.id, pid=row.fixed_port_id: jc.core.floatingips.bump(
                conn, fid, {"status": "ACTIVE"}) if conn.execute(select(f.c.fixed_port_id).where(
                    f.c.id == fid)).scalar() == pid else None)


# ---- handlers -------------------------------------------------------------------------------------
def router_setup(jc: JobContext, job: JobRow) -> None:
    """Make the pod's side of (router, network) match central; see the module docstring."""
    res = job.resource
    with jc.core.db.read() as conn:
        if deleting.is_deleting(conn, res["router_id"], "router"):
            return  # central is removing every copy; the delete asks for this job again when it is done
        pod = pods.get_pod(conn, res["pod_id"])
        top_router = jc.core.routers.get_many(conn, [res["router_id"]])
        top_net = jc.core.networks.get_many(conn, [res["network_id"]])
        home = local_router_pod(conn, top_router[0]) if top_router else None
        local = home is not None
        b_router = _bottom(conn, res["router_id"], pod.pod_id, "router")
    remove_stale_floatingips(jc)
    if not top_router:  # deleted: whatever a run racing the delete left in this pod goes too
        remove_bottom_routers(jc.core.db, jc.directory, res["router_id"], pod.pod_id)
        return
    if not top_net:
        if b_router and jc.directory.driver(pod.region_name).get("routers", b_router) is not None:
            sync_interfaces(jc, pod, res["router_id"], res["network_id"], b_router)
        return
    router, network = top_router[0], top_net[0]
    project = router.get("project_id") or ""
    if network.get("router:external") and local:
        sync_local_gateway(jc, pod, router, network["id"])
        return
    if network.get("router:external"):
        if (router.get("external_gateway_info") or {}).get("network_id") == network["id"]:
            ensure_ns_router(jc, router)
        else:
            remove_ns_router(jc, pod, router["id"])
        _enqueue(jc, "configure_route", {"router_id": router["id"]}, project)
        return
    if home is not None and home.pod_id != pod.pod_id:
        LOG.warning("router %s is local to %s: network %s in %s is not routed by it", router["id"],
                    home.region_name, network["id"], pod.region_name)
        return
    if local:
        ensure_local_network(jc, pod, network["id"], project)
    driver = jc.directory.driver(pod.region_name)
    b_router = ensure_bottom(jc, pod, router["id"], "router", project, "routers", {"name": router["id"]},
                             lambda: driver.create("routers", {"name": router["id"], "project_id": project,
                                                               "distributed": bool(router.get("distributed"))}))
    if not local:
        bridge = ensure_bridge_network(jc, project)
        b_bridge_net, b_bridge_sub = ensure_bottom_bridge(jc, pod, bridge, project)
        ip = ensure_bridge_port(jc, project, bridge, b_router)
        _set_gateway(driver, b_router, {"network_id": b_bridge_net, "enable_snat": False,
                                        "external_fixed_ips": [{"subnet_id": b_bridge_sub, "ip_address": ip}]})
    sync_interfaces(jc, pod, router["id"], network["id"], b_router, local)
    if router.get("external_gateway_info"):
        sync_floatingips(jc, router, network["id"], local)
    if not local:
        _enqueue(jc, "configure_route", {"router_id": router["id"]}, project)
