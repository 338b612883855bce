"""A central API with two lab regions and a job worker, all over real HTTP (shared test harness).

VM boots are emulated exactly as Nova calls its region's Neutron: GET the network by id, POST the
port, PUT the binding. The worker runs with a manual clock: tests move time, never sleep.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from regionmesh.api.server import ThreadedServer, build_neutron
from regionmesh.central import pods, routings
from regionmesh.config import load_settings
from regionmesh.db import models as m
from regionmesh.db.clock import ManualClock
from regionmesh.jobs import store
from regionmesh.jobs.engine import JobContext, Worker
from regionmesh.jobs.handlers import HANDLERS

PROJECT = "e" * 32
USER = {"X-Project-Id": PROJECT, "X-Roles": "member,reader", "X-User-Id": "demo"}
NOVA = {"X-Project-Id": PROJECT, "X-Roles": "admin,member,reader,service", "X-User-Id": "nova"}


class MultiRegion:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.central_db_url = f"sqlite:///{tmp}/central.db"
        settings = load_settings(env={}, database__url=self.central_db_url, auth__strategy="noauth",
                                 role__role="central")
        self.central_app = build_neutron(settings)
        self.core = self.central_app.core
        self.central_server = ThreadedServer(self.central_app).start()
        self.regions: dict[str, ThreadedServer] = {}
        self.region_apps: dict[str, Any] = {}
        with self.core.db.begin() as conn:
            pods.create_pod(conn, region_name="CentralRegion")
        for name, az in (("RegionOne", "az1"), ("RegionTwo", "az2")):
            rs = load_settings(env={}, database__url=f"sqlite:///{tmp}/{name}.db", auth__strategy="noauth",
                               role__role="region", role__region_name=name, role__az_name=az,
                               role__central_url=self.central_server.url)
            app = build_neutron(rs)
            self.region_apps[name] = app
            self.regions[name] = ThreadedServer(app).start()
            self.core.role.directory.endpoints[name] = self.regions[name].url
            with self.core.db.begin() as conn:
                pods.create_pod(conn, region_name=name, az_name=az)
        self.clock = ManualClock()
        self.worker = Worker(self.core.db, HANDLERS, JobContext(self.core, self.core.role.directory, self.clock))
        self.central = httpx.Client(base_url=self.central_server.url + "/v2.0", headers=USER, timeout=30)
        self.admin = httpx.Client(base_url=self.central_server.url + "/v2.0", timeout=30)

    def region_db_path(self, name: str) -> str:
        return str(self.tmp / f"{name}.db")

    def region(self, name: str, headers: dict[str, str] = USER) -> httpx.Client:
        return httpx.Client(base_url=self.regions[name].url + "/v2.0", headers=headers, timeout=30)

    def boot(self, region: str, network_id: str, host: str, **port: Any) -> dict[str, Any]:
        nova = self.region(region, NOVA)
        nova.get(f"/networks/{network_id}").raise_for_status()
        created = nova.post("/ports", json={"port": {"network_id": network_id, **port}})
        assert created.status_code == 201, created.text
        pid = created.json()["port"]["id"]
        bound = nova.put(f"/ports/{pid}", json={"port": {"binding:host_id": host, "device_id": f"vm-{pid[:6]}",
                                                         "device_owner": f"compute:{region}"}})
        assert bound.status_code == 200, bound.text
        return bound.json()["port"]  # type: ignore[no-any-return]

    def routing_pods(self, top_id: str, rtype: str) -> set[str]:
        with self.core.db.read() as conn:
            return {p.region_name for p, _ in routings.bottom_routings(conn, top_id, rtype)}

    def jobs(self) -> list[store.JobRow]:
        with self.core.db.read() as conn:
            return [store._job(r) for r in conn.execute(select(m.jobs))]

    def close(self) -> None:
        for server in self.regions.values():
            server.stop()
        self.central_server.stop()


@pytest.fixture
def cloud(tmp_path: Path) -> Iterator[MultiRegion]:
    c = MultiRegion(tmp_path)
    try:
        yield c
    finally:
        c.close()


def network(c: MultiRegion, name: str, cidr: str) -> tuple[dict[str, Any], dict[str, Any]]:
    net = c.central.post("/networks", json={"network": {"name": name}}).json()["network"]
    sub = c.central.post("/subnets", json={"subnet": {"network_id": net["id"], "cidr": cidr, "ip_version": 4,
                                                      "name": f"{name}-subnet"}}).json()["subnet"]
    return net, sub
