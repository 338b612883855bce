"""Job handlers: each reads the desired state from central and makes a region match it.

Level-triggered and idempotent: create what is missing, fix what differs, delete extras — so a
second run changes nothing and a run after a crash converges. Handlers raise the region driver's
errors unchanged; the engine classifies them (region down → retry later; a 4xx that will not
change → FAIL with the reason).
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import select

from regionmesh.central import pods, routings
from regionmesh.db import models as m
from regionmesh.jobs.engine import Handler, JobContext
from regionmesh.jobs.l3_handlers import router_setup
from regionmesh.jobs.routes import configure_route
from regionmesh.jobs.shadow_ports import shadow_port_setup
from regionmesh.jobs.store import JobRow
from regionmesh.network import ipnet

LOG = logging.getLogger(__name__)

RuleKey = tuple[Any, ...]


def _rule_key(rule: Mapping[str, Any]) -> RuleKey:
    prefix = rule.get("remote_ip_prefix")
    if prefix:
        prefix = str(ipaddress.ip_network(prefix, strict=False))
    if prefix in ("0.0.0.0/0", "::/0"):
        prefix = None
    return (rule["direction"], rule.get("ethertype") or "IPv4", rule.get("protocol"), rule.get("port_range_min"),
            rule.get("port_range_max"), prefix, rule.get("remote_group_id"))


def _member_addresses(conn: Any, group_ids: Iterable[str]) -> dict[str, set[str]]:
    """Every fixed IP of every port bound to each group — across all regions (central knows them all)."""
    ids = list(set(group_ids))
    out: dict[str, set[str]] = {g: set() for g in ids}
    if not ids:
        return out
    b, a = m.securitygroupportbindings, m.ipallocations
    for sg_id, ip in conn.execute(select(b.c.security_group_id, a.c.ip_address)
                                  .join(a, a.c.port_id == b.c.port_id).where(b.c.security_group_id.in_(ids))):
        out[sg_id].add(ip)
    return out


def desired_bottom_rules(rules: Iterable[Mapping[str, Any]], members: Mapping[str, set[str]]) -> dict[RuleKey, dict]:
    """The rules a region's copy must hold: plain rules as they are; a remote-group rule becomes one
    rule per member address of that group in every region (OQ-02), since a region only knows its own
    members."""
    desired: dict[RuleKey, dict[str, Any]] = {}
    for rule in rules:
        base = {k: rule.get(k) for k in ("direction", "ethertype", "protocol", "port_range_min", "port_range_max",
                                         "remote_ip_prefix")}
        remote = rule.get("remote_group_id")
        if not remote:
            desired[_rule_key(base)] = base
            continue
        version = 6 if base["ethertype"] == "IPv6" else 4
        for ip in sorted(members.get(remote, ())):
            addr = ipaddress.ip_address(ip)
            if addr.version != version:
                continue
            expanded = {**base, "remote_ip_prefix": f"{ip}/{addr.max_prefixlen}"}
            desired[_rule_key(expanded)] = expanded
    return desired


def sync_port_groups(jc: JobContext, project: str) -> None:
    """Every region's copy of the project's bound ports carries central's groups (SG-14 b/d, REG-05);
    a group the region lacks is materialised first (a lab region does so on a GET by id)."""
    rr, b = m.resource_routings, m.securitygroupportbindings
    with jc.core.db.read() as conn:
        copies = conn.execute(select(rr.c.top_id, rr.c.pod_id, rr.c.bottom_id).where(
            rr.c.resource_type == "port", rr.c.project_id == project, rr.c.bottom_id.is_not(None))).all()
        wanted: dict[str, list[str]] = {}
        for port_id, sg_id in conn.execute(select(b.c.port_id, b.c.security_group_id).where(
                b.c.port_id.in_([c.top_id for c in copies]))):
            wanted.setdefault(port_id, []).append(sg_id)
        regions = {p.pod_id: p.region_name for p in pods.list_pods(conn)}
    by_pod: dict[str, list[tuple[str, str]]] = {}
    for port_id, pod_id, bottom_id in copies:
        by_pod.setdefault(pod_id, []).append((port_id, bottom_id))
    for pod_id, pairs in by_pod.items():
        driver = jc.directory.driver(regions[pod_id])
        # one list call per region, however many ports the project has there
        ids = [b for _, b in pairs]
        current = {p["id"]: sorted(p.get("security_groups") or [])
                   for start in range(0, len(ids), 100)  # bounded URLs
                   for p in driver.find("ports", id=ids[start:start + 100], fields=["id", "security_groups"])}
        for port_id, bottom_id in pairs:
            desired = sorted(wanted.get(port_id, []))
            if bottom_id not in current or current[bottom_id] == desired:
                continue
            for sg_id in desired:
                driver.get("security_groups", sg_id)
            driver.update("ports", bottom_id, {"security_groups": desired})


def seg_rule_setup(jc: JobContext, job: JobRow) -> None:
    """Make every region's copy of the project's security groups admit exactly what central admits,
    and every copy of its bound ports carry central's groups."""
    project = job.resource["project_id"]
    sync_port_groups(jc, project)
    with jc.core.db.read() as conn:
        groups = [r[0] for r in conn.execute(select(m.securitygroups.c.id).where(
            m.securitygroups.c.project_id == project))]
        plan = []
        remote_ids: set[str] = set()
        for sg_id in groups:
            copies = routings.bottom_routings(conn, sg_id, "security_group")
            if not copies:
                continue
            rules = [dict(r._mapping) for r in conn.execute(select(m.securitygrouprules).where(
                m.securitygrouprules.c.security_group_id == sg_id))]
            remote_ids.update(r["remote_group_id"] for r in rules if r["remote_group_id"])
            plan.append((sg_id, copies, rules))
        members = _member_addresses(conn, remote_ids)
    for sg_id, copies, rules in plan:
        desired = desired_bottom_rules(rules, members)
        for pod, bottom_id in copies:
            driver = jc.directory.driver(pod.region_name)
            if driver.get("security_groups", bottom_id) is None:
                continue  # the copy is gone; its routing is cleaned up by the delete path
            existing = driver.find("security_group_rules", security_group_id=bottom_id)
            have = {_rule_key(r): r["id"] for r in existing}
            for key, rule_id in have.items():
                if key not in desired:
                    driver.delete("security_group_rules", rule_id)
            missing = [{**rule, "security_group_id": bottom_id} for key, rule in desired.items() if key not in have]
            if missing:
                driver.create_bulk("security_group_rules", missing)
            LOG.info("seg_rule_setup %s: %s in %s: %d rules (%d added, %d removed)", project, sg_id,
                     pod.region_name, len(desired), len(missing), len(set(have) - set(desired)))


def update_network(jc: JobContext, job: JobRow) -> None:
    """Copy central's description, admin state and sharing onto the region's copy."""
    res = job.resource
    with jc.core.db.read() as conn:
        top = jc.core.networks.get_many(conn, [res["network_id"]])
        bottom = _bottom_id(conn, res["network_id"], res["pod_id"], "network")
        pod = pods.get_pod(conn, res["pod_id"])
    if not top or bottom is None:
        return
    body = {k: top[0][k] for k in ("name", "description", "admin_state_up", "shared")}
    jc.directory.driver(pod.region_name).update("networks", bottom, body)


def subnet_update(jc: JobContext, job: JobRow) -> None:
    """Copy central's subnet settings onto the region's copy (its own gateway stays out of the pools)."""
    res = job.resource
    with jc.core.db.read() as conn:
        top = jc.core.subnets.get_many(conn, [res["subnet_id"]])
        bottom = _bottom_id(conn, res["subnet_id"], res["pod_id"], "subnet")
        pod = pods.get_pod(conn, res["pod_id"])
    if not top or bottom is None:
        return
    driver = jc.directory.driver(pod.region_name)
    current = driver.get("subnets", bottom)
    if current is None:
        return
    body = {k: top[0][k] for k in ("name", "description", "enable_dhcp", "host_routes", "dns_nameservers")}
    body["allocation_pools"] = ipnet.pools_without(top[0]["allocation_pools"], current.get("gateway_ip"))
    driver.update("subnets", bottom, body)


def port_delete(jc: JobContext, job: JobRow) -> None:
    """Delete the region's copy of a port central no longer has, then its routing."""
    res = job.resource
    with jc.core.db.read() as conn:
        bottom = _bottom_id(conn, res["port_id"], res["pod_id"], "port")
        pod = pods.get_pod(conn, res["pod_id"])
    jc.directory.driver(pod.region_name).delete("ports", bottom or res["port_id"])
    jc.core.db.transaction(lambda conn: routings.delete_routings(conn, res["port_id"], "port", res["pod_id"]))


def _bottom_id(conn: Any, top_id: str, pod_id: str, rtype: str) -> str | None:
    found = routings.get_routing_by_key(conn, top_id, pod_id, rtype)
    return found.bottom_id if found else None


HANDLERS: dict[str, Handler] = {
    "seg_rule_setup": seg_rule_setup,
    "update_network": update_network,
    "subnet_update": subnet_update,
    "port_delete": port_delete,
    "shadow_port_setup": shadow_port_setup,
    "router_setup": router_setup,
    "configure_route": configure_route,
}
