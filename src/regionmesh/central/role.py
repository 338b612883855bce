"""Central's multi-region decisions on top of the Neutron domain (the anchor's central plugin).

* Availability-zone hints name pods by ``az_name`` or ``region_name``; anything else is a 400.
* A port binding reported by a region records routings (port, network, subnets, security
  groups → that region's pod, OQ-12) and writes the jobs it implies, **in the same transaction**
  as the binding (transactional outbox): ``seg_rule_setup``, ``router_setup`` for every router
  on the network, ``shadow_port_setup`` when the network spans regions.
* Rule changes, router interfaces and network/subnet updates write their jobs the same way.
* Resources being deleted are "not found" to a region's lazy lookup and "in deleting" (409) to
  everyone else; security groups are deleted bottom first (SG-16…SG-19).

Jobs are written through an injected :class:`JobOutbox`, so this layer never imports the job
engine that later calls back into it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import Connection, and_, or_, select

from regionmesh.central import deleting, pods, routings
from regionmesh.central.external import ExternalNetworks
from regionmesh.context import RequestContext
from regionmesh.db import models as m
from regionmesh.db.clock import db_time
from regionmesh.network import callbacks as cb
from regionmesh.network import exceptions as exc
from regionmesh.network.core import NetworkCore
from regionmesh.network.role import Role
from regionmesh.network.service import ResourceService
from regionmesh.region.driver import RegionConflict, RegionDirectory

LOG = logging.getLogger(__name__)

# Seconds a router delete waits for that router's job runs already under way.
ROUTER_JOB_WAIT = 10.0

# API collection -> routing resource type (the anchor's names)
ROUTING_TYPES = {"networks": "network", "subnets": "subnet", "ports": "port", "security_groups": "security_group",
                 "routers": "router", "floatingips": "floatingip"}


# device_id of the central ports that reserve each region's gateway address on a subnet
RESERVED_GATEWAY_DEVICE = "reserved_gateway_port"


def _reserved_or_network_owned() -> Any:
    return or_(m.ports.c.device_id == RESERVED_GATEWAY_DEVICE, m.ports.c.device_owner.like("network:dhcp%"))


class JobOutbox(Protocol):
    """Writes a job row inside the caller's open transaction."""

    def __call__(self, conn: Connection, job_type: str, resource: Mapping[str, str], project_id: str | None, *,
                 now: datetime) -> Any: ...


class UnknownAvailabilityZoneHint(exc.InvalidInput):
    message = "Invalid input for operation: availability zone hint %(hint)s names no pod (give a pod's az_name " \
              "or region_name; see GET /v1.0/pods)."


class RouterNetworkLocationMismatch(exc.BadRequest):
    message = "Router %(router_id)s is a local router of %(region)s (its availability_zone_hints name that region " \
              "only), but network %(network_id)s %(where)s. Use a non-local router, or a network hinted to " \
              "%(region)s."


def local_router_pod(conn: Connection, router: Mapping[str, Any]) -> pods.Pod | None:
    """The one region a router is local to (hints naming exactly one pod), else None (it spans)."""
    hints = router.get("availability_zone_hints") or []
    if len(hints) != 1:
        return None
    try:
        found = [p for p in pods.pods_for_hint(conn, hints[0]) if not p.is_top]
    except exc.NotFound:
        return None
    return found[0] if len(found) == 1 else None


def _now() -> datetime:
    return datetime.now(UTC)


class CentralRole(Role):
    """The central (top) role of one NetworkCore."""

    name = "central"

    def __init__(self, core: NetworkCore, outbox: JobOutbox, directory: RegionDirectory,
                 clock: Callable[[], datetime] = _now) -> None:
        self.core = core
        self.outbox = outbox
        self.directory = directory
        self.clock = clock

    # ---- placement ----------------------------------------------------------------------------
    def validate_az_hints(self, hints: Sequence[str]) -> None:
        if not hints:
            return
        with self.core.db.read() as conn:
            for hint in hints:
                try:
                    found = [p for p in pods.pods_for_hint(conn, hint) if not p.is_top]
                except exc.NotFound:
                    found = []
                if not found:
                    raise UnknownAvailabilityZoneHint(hint=hint)

    def az_names(self) -> list[str]:
        with self.core.db.read() as conn:
            names: set[str] = set()
            for pod in pods.list_pods(conn):
                if not pod.is_top:
                    names.update(n for n in (pod.az_name, pod.region_name) if n)
            return sorted(names)

    # ---- local routers (one region, no bridge): placement is checked when asked, not in a job ------
    def _network_outside(self, conn: Connection, network_id: str, pod: pods.Pod) -> str | None:
        """Why ``network_id`` cannot be on a router local to ``pod`` (None: it can)."""
        top = self.core.networks.get_many(conn, [network_id])
        hints = (top[0].get("availability_zone_hints") or []) if top else []
        hinted = {p.pod_id for h in hints for p in self._hint_pods(conn, h)}
        if hints and pod.pod_id not in hinted:
            return f"is hinted to {', '.join(hints)}"
        elsewhere = sorted(p.region_name for p in self._pods_of(conn, network_id, "network") if p.pod_id != pod.pod_id)
        return f"already has ports in {', '.join(elsewhere)}" if elsewhere else None

    @staticmethod
    def _hint_pods(conn: Connection, hint: str) -> list[pods.Pod]:
        try:
            return [p for p in pods.pods_for_hint(conn, hint) if not p.is_top]
        except exc.NotFound:
            return []

    def checked_add_interface(self, add: Callable[[RequestContext, str, Any], dict[str, Any]]
                              ) -> Callable[[RequestContext, str, Any], dict[str, Any]]:
        """``add_router_interface`` refusing (400, before anything changes) a network a local router's
        region cannot hold; malformed bodies and unknown ids are left to the wrapped call."""
        def wrapped(ctx: RequestContext, router_id: str, body: Any) -> dict[str, Any]:
            info = body if isinstance(body, Mapping) else {}
            with self.core.db.read() as conn:
                router = self.core.routers.get_many(conn, [router_id])
                pod = local_router_pod(conn, router[0]) if router else None
                if pod is not None:
                    network_id = None
                    if isinstance(info.get("subnet_id"), str):
                        network_id = conn.execute(select(m.subnets.c.network_id).where(
                            m.subnets.c.id == info["subnet_id"])).scalar()
                    elif isinstance(info.get("port_id"), str):
                        network_id = conn.execute(select(m.ports.c.network_id).where(
                            m.ports.c.id == info["port_id"])).scalar()
                    where = self._network_outside(conn, network_id, pod) if network_id else None
                    if where:
                        raise RouterNetworkLocationMismatch(router_id=router_id, region=pod.region_name,
                                                            network_id=network_id, where=where)
            return add(ctx, router_id, body)

        return wrapped

    def before_update(self, ctx: RequestContext, svc: ResourceService, original: dict[str, Any],
                      changes: dict[str, Any]) -> None:
        """A local router's gateway is set on its own bottom router: the external network must be in
        the router's region (no north-south router, no bridge)."""
        gw = changes.get("external_gateway_info") if svc.rdef.collection == "routers" else None
        if not isinstance(gw, Mapping) or not isinstance(gw.get("network_id"), str):
            return
        with self.core.db.read() as conn:
            pod = local_router_pod(conn, original)
            ext_pods = self._pods_of(conn, gw["network_id"], "network")
        if pod is not None and ext_pods and all(p.pod_id != pod.pod_id for p in ext_pods):
            raise RouterNetworkLocationMismatch(router_id=original["id"], region=pod.region_name,
                                                network_id=gw["network_id"],
                                                where=f"is an external network of {ext_pods[0].region_name}")

    # ---- reads and deletes --------------------------------------------------------------------
    def check_readable(self, ctx: RequestContext, svc: ResourceService, resource_id: str) -> None:
        with self.core.db.read() as conn:
            deleting.ensure_not_deleting(conn, resource_id, svc.rdef.member, for_region=ctx.origin_region is not None)

    def run_delete(self, ctx: RequestContext, svc: ResourceService, original: dict[str, Any],
                   delete: Callable[[], None]) -> None:
        """Bottom first, then top, under a deleting marker that is always removed (SG-16…SG-19).

        Checks that can refuse the delete run first, so a refused delete changes nothing. Ports are
        the exception: their bottom copies go through ``port_delete`` jobs written with the delete.
        """
        rtype = ROUTING_TYPES.get(svc.rdef.collection)
        if rtype is None or rtype in ("port", "floatingip"):
            delete()
            return
        with deleting.deleting(self.core.db, original["id"], svc.rdef.member):
            self._precheck(rtype, original)
            if rtype == "router":
                self._await_running_router_jobs(original["id"])
                self._delete_bottom_routers(original)
            self._delete_bottom_copies(original["id"], rtype)
            if rtype in ("network", "subnet"):
                self._forget_dependents(ctx, rtype, original)
            delete()
        if rtype == "router":
            self.core.db.transaction(lambda conn: self._rerun_router_jobs(conn, original))

    def _await_running_router_jobs(self, router_id: str, timeout: float = ROUTER_JOB_WAIT) -> None:
        """Bottom first means after the router's job runs already under way (new runs see the deleting
        marker and do nothing): otherwise one may still be making a copy — a gateway port on an external
        network, say — when the delete returns. A run longer than ``timeout`` is not waited for; the
        re-run the delete asks for removes what it leaves."""
        j = m.jobs
        mine = or_(and_(j.c.type == "router_setup", j.c.resource_id.like(f"%#{router_id}#%")),
                   and_(j.c.type == "configure_route", j.c.resource_id == router_id))
        deadline, pause = time.monotonic() + timeout, 0.01
        while True:
            with self.core.db.read() as conn:
                running = conn.execute(select(j.c.id).where(mine, j.c.status == "RUNNING",
                                                            j.c.lease_expires_at > db_time(self.clock()))
                                       .limit(1)).first()
            if running is None:
                return
            if time.monotonic() >= deadline:
                LOG.warning("router %s: job %s still running after %.0f s; deleting anyway", router_id,
                            running.id, timeout)
                return
            time.sleep(pause)  # waiting on another process's job, not synchronising a test
            pause = min(pause * 2, 0.2)

    def _rerun_router_jobs(self, conn: Connection, router: dict[str, Any]) -> None:
        """A ``router_setup`` run that was under way when the delete began may still create a copy after
        it: each such job runs once more, after that run, and removes what the router left."""
        j = m.jobs
        rows = conn.execute(select(j.c.resource_id).where(j.c.type == "router_setup",
                                                          j.c.resource_id.like(f"%#{router['id']}#%")))
        for (resource_id,) in rows:
            pod_id, router_id, network_id = resource_id.split("#")
            self._enqueue(conn, "router_setup", {"pod_id": pod_id, "router_id": router_id,
                                                 "network_id": network_id}, router.get("project_id"))

    def _precheck(self, rtype: str, original: dict[str, Any]) -> None:
        from regionmesh.network.networks import NetworkInUse
        from regionmesh.network.security_groups import SecurityGroupInUse

        with self.core.db.read() as conn:
            if rtype == "security_group":
                # SG-19: the current bindings decide, before anything is touched.
                bound = conn.execute(select(m.securitygroupportbindings.c.port_id).where(
                    m.securitygroupportbindings.c.security_group_id == original["id"]).limit(1)).first()
                if bound is not None:
                    raise SecurityGroupInUse(id=original["id"])
            elif rtype == "router":
                from regionmesh.network.l3_exceptions import RouterInUse

                attached = conn.execute(select(m.routerports.c.port_id).where(
                    m.routerports.c.router_id == original["id"],
                    m.routerports.c.port_type == "network:router_interface").limit(1)).first()
                if attached is not None:
                    raise RouterInUse(router_id=original["id"], reason="still has ports")
            elif rtype == "network":
                busy = conn.execute(select(m.ports.c.id).where(
                    m.ports.c.network_id == original["id"], ~_reserved_or_network_owned()).limit(1)).first()
                if busy is not None:
                    raise NetworkInUse(net_id=original["id"])

    def _forget_dependents(self, ctx: RequestContext, rtype: str, original: dict[str, Any]) -> None:
        """A network or subnet leaves no routing of its subnets and no reserved gateway port behind."""
        def work(conn: Connection) -> None:
            if rtype == "network":
                subnet_ids = [r[0] for r in conn.execute(select(m.subnets.c.id).where(
                    m.subnets.c.network_id == original["id"]))]
                reserved = m.ports.c.network_id == original["id"]
            else:
                subnet_ids = [original["id"]]
                reserved = m.ports.c.id.in_(select(m.ipallocations.c.port_id).where(
                    m.ipallocations.c.subnet_id == original["id"]))
            for subnet_id in subnet_ids:
                routings.delete_routings(conn, subnet_id, "subnet")
            conn.execute(m.ports.delete().where(reserved, m.ports.c.device_id == RESERVED_GATEWAY_DEVICE))

        self.core.db.transaction(work)

    def _delete_bottom_routers(self, router: dict[str, Any]) -> None:
        """Every bottom copy of a router (east-west and north-south) goes first, see
        :func:`remove_bottom_routers`."""
        remove_bottom_routers(self.core.db, self.directory, router["id"])

    @staticmethod
    def _release_stale_bindings(driver: Any, bottom_sg_id: str) -> None:
        """Central found the group unbound, so a region port still using it is stale (its update is a
        job that may not have run yet): central is authoritative, detach the group there first."""
        for port in driver.find("ports", security_groups=bottom_sg_id):
            groups = [g for g in port.get("security_groups") or [] if g != bottom_sg_id]
            driver.update("ports", port["id"], {"security_groups": groups})

    def _delete_bottom_copies(self, top_id: str, rtype: str) -> None:
        """Each region's copy, then its routing; the top goes last (SG-16 steps 5–6)."""
        with self.core.db.read() as conn:
            copies = routings.bottom_routings(conn, top_id, rtype)
        collection = next(c for c, t in ROUTING_TYPES.items() if t == rtype)
        for pod, bottom_id in copies:
            driver = self.directory.driver(pod.region_name)
            if rtype == "security_group":
                self._release_stale_bindings(driver, bottom_id)
            driver.delete(collection, bottom_id)

            def forget(conn: Connection, pod_id: str = pod.pod_id) -> None:
                routings.delete_routings(conn, top_id, rtype, pod_id)

            self.core.db.transaction(forget)

    # ---- callbacks: routings and jobs in the same transaction -----------------------------------
    def subscribe(self) -> None:
        reg = self.core.registry
        reg.subscribe(self._port_updated, cb.PORT, cb.PRECOMMIT_UPDATE)
        reg.subscribe(self._port_deleted, cb.PORT, cb.PRECOMMIT_DELETE)
        reg.subscribe(self._rule_changed, cb.SECURITY_GROUP_RULE, cb.PRECOMMIT_CREATE)
        reg.subscribe(self._rule_changed, cb.SECURITY_GROUP_RULE, cb.PRECOMMIT_DELETE)
        reg.subscribe(self._interface_added, cb.ROUTER_INTERFACE, cb.PRECOMMIT_CREATE)
        reg.subscribe(self._interface_added, cb.ROUTER_INTERFACE, cb.PRECOMMIT_DELETE)
        reg.subscribe(self._router_updated, cb.ROUTER, cb.PRECOMMIT_UPDATE)
        reg.subscribe(self._router_created, cb.ROUTER, cb.PRECOMMIT_CREATE)
        reg.subscribe(self._floatingip_changed, cb.FLOATING_IP, cb.PRECOMMIT_CREATE)
        reg.subscribe(self._floatingip_changed, cb.FLOATING_IP, cb.PRECOMMIT_UPDATE)
        reg.subscribe(self._floatingip_changed, cb.FLOATING_IP, cb.PRECOMMIT_DELETE)
        reg.subscribe(self._network_updated, cb.NETWORK, cb.PRECOMMIT_UPDATE)
        reg.subscribe(self._subnet_updated, cb.SUBNET, cb.PRECOMMIT_UPDATE)

    def _enqueue(self, conn: Connection, job_type: str, resource: Mapping[str, str], project_id: str | None) -> None:
        self.outbox(conn, job_type, resource, project_id, now=self.clock())

    def _pods_of(self, conn: Connection, top_id: str, rtype: str) -> list[pods.Pod]:
        return [pod for pod, _ in routings.bottom_routings(conn, top_id, rtype)]

    def _routers_on_network(self, conn: Connection, network_id: str) -> list[str]:
        rows = conn.execute(select(m.routerports.c.router_id).join(m.ports, m.ports.c.id == m.routerports.c.port_id)
                            .where(m.ports.c.network_id == network_id,
                                   m.routerports.c.port_type == "network:router_interface").distinct())
        return [r[0] for r in rows]

    def _port_updated(self, resource: str, event: str, trigger: Any, payload: cb.EventPayload) -> None:
        original, changes, latest = payload.states
        conn = payload.connection
        region = (latest.get("binding:profile") or {}).get("region")
        if not region or not latest.get("binding:host_id"):
            return
        newly_bound = "binding:host_id" in changes or "binding:profile" in changes
        if not newly_bound and "security_groups" not in changes:
            return
        pod = pods.get_pod_by_region(conn, region)
        if pod is None:
            LOG.warning("port %s bound in region %s, which is not a registered pod", latest["id"], region)
            return
        project = latest.get("project_id")
        routings.add_routing(conn, latest["id"], latest["id"], pod.pod_id, project, "port")
        routings.add_routing(conn, latest["network_id"], latest["network_id"], pod.pod_id, project, "network")
        for fixed in latest.get("fixed_ips") or []:
            routings.add_routing(conn, fixed["subnet_id"], fixed["subnet_id"], pod.pod_id, project, "subnet")
        for sg_id in latest.get("security_groups") or []:
            routings.add_routing(conn, sg_id, sg_id, pod.pod_id, project, "security_group")
        if project and (latest.get("security_groups") or original.get("security_groups")):
            self._enqueue(conn, "seg_rule_setup", {"project_id": project}, project)
        if newly_bound:
            for router_id in self._routers_on_network(conn, latest["network_id"]):
                self._enqueue(conn, "router_setup", {"pod_id": pod.pod_id, "router_id": router_id,
                                                     "network_id": latest["network_id"]}, project)
            net_pods = self._pods_of(conn, latest["network_id"], "network")
            if len(net_pods) > 1:
                for other in net_pods:
                    self._enqueue(conn, "shadow_port_setup", {"pod_id": other.pod_id,
                                                              "network_id": latest["network_id"]}, project)

    def _port_deleted(self, resource: str, event: str, trigger: Any, payload: cb.EventPayload) -> None:
        """Bottom copies of a deleted port go through ``port_delete`` jobs, written with the delete; its
        shadow ports in the other regions of a spanning network go through ``shadow_port_setup``."""
        original = payload.states[0]
        for pod in self._pods_of(payload.connection, original["id"], "port"):
            self._enqueue(payload.connection, "port_delete", {"pod_id": pod.pod_id, "port_id": original["id"]},
                          original.get("project_id"))
        net_pods = self._pods_of(payload.connection, original["network_id"], "network")
        if len(net_pods) > 1 and str(original.get("device_owner") or "").startswith("compute:"):
            for pod in net_pods:
                self._enqueue(payload.connection, "shadow_port_setup",
                              {"pod_id": pod.pod_id, "network_id": original["network_id"]}, original.get("project_id"))

    def _rule_changed(self, resource: str, event: str, trigger: Any, payload: cb.EventPayload) -> None:
        conn = payload.connection
        rule = payload.states[0]
        project = conn.execute(select(m.securitygroups.c.project_id).where(
            m.securitygroups.c.id == rule["security_group_id"])).scalar()
        if project and self._pods_of(conn, rule["security_group_id"], "security_group"):
            self._enqueue(conn, "seg_rule_setup", {"project_id": project}, project)

    def _interface_added(self, resource: str, event: str, trigger: Any, payload: cb.EventPayload) -> None:
        conn = payload.connection
        router_id = payload.resource_id
        port = payload.metadata.get("port") or {}
        network_id = port.get("network_id")
        if not router_id or not network_id:
            return
        project = conn.execute(select(m.routers.c.project_id).where(m.routers.c.id == router_id)).scalar()
        router = self.core.routers.get_many(conn, [router_id])
        local = local_router_pod(conn, router[0]) if router else None
        # a local router's region gets the network at once (the anchor's "local network" attach)
        for pod in [local] if local is not None else self._pods_of(conn, network_id, "network"):
            self._enqueue(conn, "router_setup", {"pod_id": pod.pod_id, "router_id": router_id,
                                                 "network_id": network_id}, project)

    def _router_updated(self, resource: str, event: str, trigger: Any, payload: cb.EventPayload) -> None:
        """A gateway set, changed or cleared: ``router_setup`` for the external network's region (the
        north-south router), old and new; the job then writes ``configure_route`` (L3-04)."""
        original, _changes, latest = payload.states
        before = (original.get("external_gateway_info") or {}).get("network_id")
        after = (latest.get("external_gateway_info") or {}).get("network_id")
        if before == after and original.get("external_gateway_info") == latest.get("external_gateway_info"):
            return
        conn = payload.connection
        for ext_net in {n for n in (before, after) if n}:
            for pod in self._pods_of(conn, ext_net, "network"):
                self._enqueue(conn, "router_setup", {"pod_id": pod.pod_id, "router_id": latest["id"],
                                                     "network_id": ext_net}, latest.get("project_id"))

    def _router_created(self, resource: str, event: str, trigger: Any, payload: cb.EventPayload) -> None:
        """A router created with its gateway: the same as setting it afterwards."""
        latest = payload.states[0]
        ext_net = str((latest.get("external_gateway_info") or {}).get("network_id") or "")
        for pod in self._pods_of(payload.connection, ext_net, "network") if ext_net else []:
            self._enqueue(payload.connection, "router_setup", {"pod_id": pod.pod_id, "router_id": latest["id"],
                                                               "network_id": ext_net}, latest.get("project_id"))

    def _floatingip_changed(self, resource: str, event: str, trigger: Any, payload: cb.EventPayload) -> None:
        """Each association a FIP had or has: ``router_setup`` for (internal port's pod, router, its
        network), which creates or removes the bottom FIP. Ports not bound yet wait for their binding."""
        conn = payload.connection
        first, last = payload.states[0], payload.states[-1]
        if event == cb.PRECOMMIT_UPDATE and (first.get("port_id"), first.get("router_id")) == \
                (last.get("port_id"), last.get("router_id")):
            return  # e.g. a description change: nothing for the regions
        for state in (first, last):
            port_id, router_id = state.get("port_id"), state.get("router_id")
            if not port_id or not router_id:
                continue
            network_id = conn.execute(select(m.ports.c.network_id).where(m.ports.c.id == port_id)).scalar()
            for pod in self._pods_of(conn, port_id, "port"):
                if network_id:
                    self._enqueue(conn, "router_setup", {"pod_id": pod.pod_id, "router_id": router_id,
                                                         "network_id": network_id}, state.get("project_id"))

    def _network_updated(self, resource: str, event: str, trigger: Any, payload: cb.EventPayload) -> None:
        latest = payload.states[-1]
        for pod in self._pods_of(payload.connection, latest["id"], "network"):
            self._enqueue(payload.connection, "update_network", {"pod_id": pod.pod_id, "network_id": latest["id"]},
                          latest.get("project_id"))

    def _subnet_updated(self, resource: str, event: str, trigger: Any, payload: cb.EventPayload) -> None:
        latest = payload.states[-1]
        for pod in self._pods_of(payload.connection, latest["id"], "subnet"):
            self._enqueue(payload.connection, "subnet_update", {"pod_id": pod.pod_id, "subnet_id": latest["id"]},
                          latest.get("project_id"))


def install_central_role(core: NetworkCore, outbox: JobOutbox, directory: RegionDirectory,
                         clock: Callable[[], datetime] = _now) -> CentralRole:
    """Make ``core`` the central API: placement by pods, routings and jobs on changes."""
    role = CentralRole(core, outbox, directory, clock)
    core.role = role
    core.az_names = role.az_names
    core.validate_az_hints = role.validate_az_hints  # type: ignore[method-assign]
    role.subscribe()
    ExternalNetworks(role).install()
    actions = core.routers.member_actions
    actions["add_router_interface"] = role.checked_add_interface(actions["add_router_interface"])
    return role


def remove_bottom_routers(db: Any, directory: Any, router_id: str, pod_id: str | None = None,
                          attempts: int = 3, kinds: Sequence[str] = ("router", "ns_router")) -> None:
    """Remove a router's bottom copies (all pods, or ``pod_id``'s): routes, then interfaces, then its
    gateway, then the router; then its routing and its central bridge port.

    A ``router_setup`` job that was already running may attach something between the cleanup and the
    delete (the region answers 409): the cleanup is read again and redone, ``attempts`` times."""
    rr = m.resource_routings
    for rtype in kinds:
        with db.read() as conn:
            copies = [(p, b) for p, b in routings.bottom_routings(conn, router_id, rtype)
                      if pod_id is None or p.pod_id == pod_id]
        for pod, bottom_id in copies:
            driver = directory.driver(pod.region_name)
            for attempt in range(1, attempts + 1):
                try:
                    _strip_and_delete_router(driver, bottom_id)
                    break
                except RegionConflict:
                    if attempt == attempts:
                        raise
                    LOG.info("bottom router %s in %s changed while being deleted; cleaning it again",
                             bottom_id, pod.region_name)

            def forget(conn: Connection, pod_id: str = pod.pod_id, bottom: str = bottom_id,
                       kind: str = rtype) -> None:
                conn.execute(rr.delete().where(rr.c.top_id == router_id, rr.c.pod_id == pod_id,
                                               rr.c.resource_type == kind))
                # the central bridge port that gave this bottom router its bridge address
                conn.execute(m.ports.delete().where(m.ports.c.name.like(f"bridge_port_%_{bottom}")))

            db.transaction(forget)


def _strip_and_delete_router(driver: Any, bottom_id: str) -> None:
    copy = driver.get("routers", bottom_id)
    if copy is None:
        return
    if copy.get("routes"):
        driver.update("routers", bottom_id, {"routes": []})
    for port in driver.find("ports", device_id=bottom_id, device_owner="network:router_interface"):
        driver.action("routers", bottom_id, "remove_router_interface", {"port_id": port["id"]})
    if copy.get("external_gateway_info"):
        driver.update("routers", bottom_id, {"external_gateway_info": None})
    driver.delete("routers", bottom_id)
