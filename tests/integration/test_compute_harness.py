"""Harness for the compute tests: central + RegionOne Neutron + RegionOne compute and image APIs, all over HTTP.

Compute talks to the region's Neutron exactly as Nova does; the region does lazy creation and
forwards ports and bindings to central. Time is a ``ManualClock``: heartbeats and the periodic
task run when a test calls ``tick()``; waiting is on the hosts' queues (``settle()``), never sleeps.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openstack
import pytest
from keystoneauth1 import session as ks_session
from keystoneauth1.noauth import NoAuth

from regionmesh.api.compute_v21 import ComputeApp, create_compute_app
from regionmesh.api.image_v2 import create_image_app
from regionmesh.api.server import ThreadedServer, build_neutron
from regionmesh.compute.runtime import ComputeConfig
from regionmesh.config import load_settings
from regionmesh.db.clock import ManualClock
from regionmesh.db.engine import Database
from regionmesh.db.migrate import upgrade

PROJECT = "c" * 32
USER = {"X-Project-Id": PROJECT, "X-Roles": "member,reader", "X-User-Id": "demo"}
ADMIN = {"X-Project-Id": PROJECT, "X-Roles": "admin,member,reader", "X-User-Id": "admin"}
HOSTS = ["host1", "host2"]


class ComputeCloud:
    def __init__(self, tmp: Path, config: ComputeConfig | None = None) -> None:
        central_settings = load_settings(env={}, database__url=f"sqlite:///{tmp}/central.db",
                                         auth__strategy="noauth", network__default_availability_zones=["az1"])
        self.central_app = build_neutron(central_settings)
        self.central_server = ThreadedServer(self.central_app).start()
        region_settings = load_settings(env={}, database__url=f"sqlite:///{tmp}/region1.db",
                                        auth__strategy="noauth", role__role="region", role__region_name="RegionOne",
                                        role__az_name="az1", role__central_url=self.central_server.url)
        self.region_app = build_neutron(region_settings)
        self.region_server = ThreadedServer(self.region_app).start()
        url = f"sqlite:///{tmp}/compute1.db"
        upgrade(url)
        self.db = Database(url)
        self.clock = ManualClock()
        self.app: ComputeApp = create_compute_app(region_settings, self.db, self.region_server.url, "RegionOne",
                                                  "az1", HOSTS, self.clock, config=config, periodic=False)
        self.compute = self.app.compute
        self.compute_server = ThreadedServer(self.app).start()
        self.image_server = ThreadedServer(create_image_app(self.db, region_settings.auth, self.clock)).start()
        self.nova = httpx.Client(base_url=self.compute_server.url + "/v2.1", headers=USER, timeout=30)
        self.nova_admin = httpx.Client(base_url=self.compute_server.url + "/v2.1", headers=ADMIN, timeout=30)
        self.glance = httpx.Client(base_url=self.image_server.url + "/v2", headers=USER, timeout=30)
        self.central = httpx.Client(base_url=self.central_server.url + "/v2.0", headers=USER, timeout=30)
        self.central_admin = httpx.Client(base_url=self.central_server.url + "/v2.0", timeout=30)
        self.region = httpx.Client(base_url=self.region_server.url + "/v2.0", timeout=30)

    def settle(self) -> None:
        """Wait until every live host has handled what was cast to it (condition wait, bounded).

        A host can cast to another (a resize hops source → destination), so one pass is not enough:
        repeat until a whole pass finds every live host idle.
        """
        for _ in range(20):
            live = [w for w in self.compute.hosts.values() if w.running]
            for worker in live:
                assert worker.wait_idle(30), f"{worker.host} did not finish its queue"
            if all(w.idle for w in live):
                return
        raise AssertionError("hosts kept casting to each other")

    def network(self, name: str = "net1", cidr: str = "10.0.1.0/24") -> tuple[dict[str, Any], dict[str, Any]]:
        net = self.central.post("/networks", json={"network": {"name": name}}).json()["network"]
        sub = self.central.post("/subnets", json={"subnet": {"network_id": net["id"], "cidr": cidr, "ip_version": 4,
                                                             "name": f"{name}-subnet"}}).json()["subnet"]
        return net, sub

    def boot(self, net_id: str | None, name: str = "vm1", flavor: str = "1", **extra: Any) -> dict[str, Any]:
        body: dict[str, Any] = {"name": name, "flavorRef": flavor, "networks": [{"uuid": net_id}] if net_id
                                else "none", **extra}
        resp = self.nova.post("/servers", json={"server": body})
        assert resp.status_code == 202, resp.text
        self.settle()
        return self.server(resp.json()["server"]["id"])

    def server(self, uuid: str, admin: bool = True) -> dict[str, Any]:
        resp = (self.nova_admin if admin else self.nova).get(f"/servers/{uuid}")
        assert resp.status_code == 200, resp.text
        return resp.json()["server"]  # type: ignore[no-any-return]

    def gone(self, uuid: str) -> bool:
        return self.nova.get(f"/servers/{uuid}").status_code == 404

    def ports(self, where: httpx.Client, device_id: str) -> list[dict[str, Any]]:
        return where.get("/ports", params={"device_id": device_id}).json()["ports"]  # type: ignore[no-any-return]

    def usage(self) -> dict[str, int]:
        absolute = self.nova.get("/limits").json()["limits"]["absolute"]
        return {"instances": absolute["totalInstancesUsed"], "cores": absolute["totalCoresUsed"],
                "ram": absolute["totalRAMUsed"]}

    def sdk(self) -> openstack.connection.Connection:
        sess = ks_session.Session(auth=NoAuth(), additional_headers=USER)
        return openstack.connection.Connection(
            session=sess, region_name="RegionOne", compute_endpoint_override=self.compute_server.url + "/v2.1",
            image_endpoint_override=self.image_server.url + "/v2",
            network_endpoint_override=self.region_server.url + "/")

    def close(self) -> None:
        for server in (self.compute_server, self.image_server):
            server.stop()
        self.app.close()
        self.region_server.stop()
        self.central_server.stop()
        self.db.dispose()


def running(tmp: Path, config: ComputeConfig | None = None) -> Iterator[ComputeCloud]:
    """Body of each test module's ``cloud`` fixture (a generator, so teardown always runs)."""
    c = ComputeCloud(tmp, config)
    try:
        yield c
    finally:
        c.close()


@pytest.fixture
def cloud(tmp_path: Path) -> Iterator[ComputeCloud]:
    yield from running(tmp_path)


def test_version_discovery_and_default_flavor(cloud: ComputeCloud) -> None:
    root = httpx.get(cloud.compute_server.url + "/").json()["versions"][0]
    assert (root["id"], root["min_version"], root["version"]) == ("v2.1", "2.1", "2.79")
    resp = cloud.nova.get("/flavors/1", headers={"OpenStack-API-Version": "compute 2.60"})
    assert resp.headers["OpenStack-API-Version"] == "compute 2.60"
    assert resp.json()["flavor"]["name"] == "m1.tiny"
    assert cloud.nova.get("/flavors/nope").json() == {"itemNotFound": {"message": "Flavor nope could not be found.",
                                                                       "code": 404}}
    services = cloud.nova_admin.get("/os-services").json()["services"]
    assert {(s["host"], s["binary"], s["state"], s["zone"]) for s in services} == \
        {("host1", "nova-compute", "up", "az1"), ("host2", "nova-compute", "up", "az1")}
