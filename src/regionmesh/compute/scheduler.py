"""Filter scheduler, reduced to what the lab needs: zone, enabled, up, enough vCPUs and RAM."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from regionmesh.compute import store as s
from regionmesh.compute.exceptions import NoValidHost
from regionmesh.compute.runtime import Runtime


def select_host(rt: Runtime, conn: Connection, instance: dict[str, Any], live_hosts: set[str],
                ignore_hosts: frozenset[str] = frozenset()) -> str:
    """The least-loaded host that passes every filter (RAM weigher); raises :class:`NoValidHost`.

    ``ignore_hosts`` is the request spec's ``ignore_hosts`` (a resize leaves its source out).
    """
    now = rt.clock.now()
    zone = instance["availability_zone"]
    candidates = []
    for service in s.list_services(conn):
        if service["disabled"] or service["host"] not in live_hosts or service["host"] in ignore_hosts:
            continue
        if zone and service["zone"] != zone:
            continue
        if not s.service_is_up(service, now, rt.config.service_down_time):
            continue
        vcpus, ram = s.host_usage(conn, service["host"])
        if vcpus + instance["vcpus"] > service["vcpus"] or ram + instance["memory_mb"] > service["memory_mb"]:
            continue
        candidates.append((service["memory_mb"] - ram, service["host"]))
    if not candidates:
        raise NoValidHost("No valid host was found. There are not enough hosts available.")
    return max(candidates, key=lambda c: (c[0], [-ord(ch) for ch in c[1]]))[1]
