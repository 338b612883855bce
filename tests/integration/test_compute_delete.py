"""Delete paths of seed 004 (CMP-10…CMP-24, SC-04, REG-21, REG-26, REG-27, REG-28, REG-29, REG-30, REG-31,
REG-32) over real HTTP. Each REG test names its ID and asserts the Given/When/Then of requirements §4.4."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from test_compute_harness import ComputeCloud, running

from regionmesh.compute.runtime import ComputeConfig
from regionmesh.db import models as m


@pytest.fixture
def cloud(tmp_path: Path) -> Iterator[ComputeCloud]:
    yield from running(tmp_path)


def _active(c: ComputeCloud) -> tuple[dict, str, str]:
    net, _ = c.network()
    server = c.boot(net["id"])
    assert server["status"] == "ACTIVE", server
    [port] = c.ports(c.central_admin, server["id"])
    return server, server["OS-EXT-SRV-ATTR:host"], port["id"]


def _port_gone(c: ComputeCloud, port_id: str) -> bool:
    return c.central_admin.get(f"/ports/{port_id}").status_code == 404 and \
        c.region.get(f"/ports/{port_id}").status_code == 404


def _pending(c: ComputeCloud, uuid: str) -> list[tuple[str, int]]:
    """Open quota reservations of the instance: (reservation id, instances delta)."""
    t = m.compute_quota_reservations
    with c.db.read() as conn:
        return [(r.id, r.delta) for r in conn.execute(select(t.c.id, t.c.delta).where(
            t.c.instance_uuid == uuid, t.c.resource == "instances"))]


def _terminates(c: ComputeCloud, host: str) -> int:
    return [method for method, _ in c.compute.hosts[host].casts].count("terminate_instance")


def test_delete_with_host_up_terminates_on_the_host(cloud: ComputeCloud) -> None:
    server, host, port_id = _active(cloud)
    assert cloud.usage() == {"instances": 1, "cores": 1, "ram": 512}
    assert cloud.nova.delete(f"/servers/{server['id']}").status_code == 204
    cloud.settle()
    assert cloud.gone(server["id"])
    assert _port_gone(cloud, port_id)
    assert [m for m, _ in cloud.compute.hosts[host].casts].count("terminate_instance") == 1
    assert cloud.compute.hosts[host].driver.list_guests() == []
    assert cloud.usage() == {"instances": 0, "cores": 0, "ram": 0}
    assert cloud.compute.rt.notifier.of(server["id"])[-2:] == ["compute.instance.delete.start",
                                                                "compute.instance.delete.end"]


def test_reg30_delete_with_host_down_is_local_and_host_cleans_guest_on_return(cloud: ComputeCloud) -> None:
    """SC-04a / CMP-20 / REG-30: host down → local delete; the returning host destroys the lingering guest
    and resurrects no row."""
    server, host, port_id = _active(cloud)
    cloud.app.stop_host(host)
    cloud.clock.advance(61)  # REG-31: older than service_down_time → down
    state = {s["host"]: s["state"] for s in cloud.nova_admin.get("/os-services").json()["services"]}
    assert state[host] == "down"
    assert cloud.nova.delete(f"/servers/{server['id']}").status_code == 204
    assert cloud.gone(server["id"])  # at once, no host involved
    assert _port_gone(cloud, port_id)
    assert "terminate_instance" not in [m for m, _ in cloud.compute.hosts[host].casts]
    assert cloud.usage()["instances"] == 0
    driver = cloud.compute.hosts[host].driver
    assert driver.list_guests() == [server["id"]]  # the guest still "runs" on the dead machine (CMP-23)
    cloud.app.start_host(host)  # REG-30: the returning host removes it, and resurrects nothing
    assert driver.list_guests() == []
    assert cloud.gone(server["id"])


def test_reg21_stuck_in_deleting_second_delete_ignored_then_periodic_finishes(
        cloud: ComputeCloud, caplog: pytest.LogCaptureFixture) -> None:
    """REG-21 (SC-04b): compute looks up but does not consume RPC. DELETE persists task_state deleting,
    queues one terminate and keeps the row; a repeated DELETE is ignored with Nova's log line, its quota
    reservation rolled back, no second cast. The periodic task finishes it once the host is seen down."""
    server, host, port_id = _active(cloud)
    cloud.app.stop_host(host)  # heartbeat still fresh: the API thinks it is up
    assert cloud.nova.delete(f"/servers/{server['id']}").status_code == 204
    stuck = cloud.server(server["id"])  # the row still exists
    assert stuck["OS-EXT-STS:task_state"] == "deleting"
    assert _terminates(cloud, host) == 1
    first = _pending(cloud, server["id"])
    assert len(first) == 1  # the queued terminate carries the first delete's release
    with caplog.at_level(logging.INFO, logger="regionmesh.compute.service"):
        assert cloud.nova.delete(f"/servers/{server['id']}").status_code == 204
    assert "Instance is already in deleting state, ignoring this request" in caplog.text
    assert _pending(cloud, server["id"]) == first  # the second reservation was rolled back
    assert cloud.usage() == {"instances": 1, "cores": 1, "ram": 512}
    assert _terminates(cloud, host) == 1
    assert cloud.compute.tick() == []  # still looks up: nothing to finish yet
    cloud.clock.advance(61)
    assert cloud.compute.tick() == [server["id"]]  # the fix: host seen down → finish locally
    assert cloud.gone(server["id"])
    assert _port_gone(cloud, port_id)
    assert cloud.usage() == {"instances": 0, "cores": 0, "ram": 0}  # released exactly once
    cloud.app.start_host(host)  # the queued terminate now runs against a deleted instance: harmless
    cloud.settle()
    assert cloud.compute.hosts[host].driver.list_guests() == []
    assert cloud.usage() == {"instances": 0, "cores": 0, "ram": 0}


def test_stuck_delete_with_live_heartbeat_finishes_after_delete_timeout(cloud: ComputeCloud) -> None:
    server, host, _ = _active(cloud)
    worker = cloud.compute.hosts[host]
    worker.stop()
    assert cloud.nova.delete(f"/servers/{server['id']}").status_code == 204
    for _ in range(3):  # heartbeats keep coming (a wedged consumer, not a dead machine)
        cloud.clock.advance(50)
        worker.report_state()
        assert cloud.compute.api.periodic() == []
    cloud.clock.advance(200)  # > delete_timeout (300 s) since the delete was saved
    worker.report_state()
    assert cloud.compute.api.periodic() == [server["id"]]
    assert cloud.gone(server["id"])


def test_reg21_second_delete_after_host_goes_down_runs_local_delete(cloud: ComputeCloud) -> None:
    """REG-21: once the heartbeat is older than service_down_time, a repeated DELETE runs the local
    delete although task_state is already deleting: destroyed, quota committed, nothing left open."""
    server, host, port_id = _active(cloud)
    cloud.app.stop_host(host)
    cloud.nova.delete(f"/servers/{server['id']}")
    cloud.clock.advance(61)
    assert cloud.nova.delete(f"/servers/{server['id']}").status_code == 204
    assert cloud.gone(server["id"])
    assert _port_gone(cloud, port_id)
    assert cloud.usage() == {"instances": 0, "cores": 0, "ram": 0}
    assert _pending(cloud, server["id"]) == []
    assert _terminates(cloud, host) == 1


def test_reg21_resumed_host_processes_the_queued_terminate(cloud: ComputeCloud) -> None:
    """REG-21 / CMP-24: if compute resumes instead, the queued terminate deletes the instance."""
    server, host, port_id = _active(cloud)
    cloud.app.stop_host(host)
    cloud.nova.delete(f"/servers/{server['id']}")
    assert not cloud.gone(server["id"])
    cloud.app.start_host(host)  # CMP-24: it comes back before being seen down
    cloud.settle()
    assert cloud.gone(server["id"])
    assert _port_gone(cloud, port_id)
    assert cloud.usage()["instances"] == 0


def _states(c: ComputeCloud) -> dict[str, str]:
    return {s["host"]: s["state"] for s in c.nova_admin.get("/os-services").json()["services"]}


def test_reg31_heartbeat_boundary(cloud: ComputeCloud) -> None:
    """REG-31: last update 59 s ago → up (RPC path); 61 s ago → down (local path)."""
    server, host, _ = _active(cloud)
    cloud.app.stop_host(host)
    cloud.clock.advance(59)
    assert _states(cloud)[host] == "up"
    assert cloud.nova.delete(f"/servers/{server['id']}").status_code == 204
    assert cloud.server(server["id"])["OS-EXT-STS:task_state"] == "deleting"  # 59 s: up → cast
    assert _terminates(cloud, host) == 1
    cloud.clock.advance(2)  # 61 s: down
    assert _states(cloud)[host] == "down"
    assert cloud.nova.delete(f"/servers/{server['id']}").status_code == 204
    assert cloud.gone(server["id"])  # local path, no second cast
    assert _terminates(cloud, host) == 1


def test_reg31_heartbeats_every_10s_keep_the_service_up(cloud: ComputeCloud) -> None:
    """REG-31: reports every report_interval (10 s) keep a host up however long it runs."""
    _, host, _ = _active(cloud)
    worker = cloud.compute.hosts[host]
    for _ in range(30):  # 300 s of heartbeats
        cloud.clock.advance(10)
        worker.report_state()
        assert _states(cloud)[host] == "up"
    cloud.clock.advance(61)
    assert _states(cloud)[host] == "down"  # they stop: down after service_down_time


@pytest.fixture
def quick(tmp_path: Path) -> Iterator[ComputeCloud]:
    yield from running(tmp_path, ComputeConfig(service_down_time=20))


def test_reg31_service_down_time_is_configurable(quick: ComputeCloud) -> None:
    """REG-31: with service_down_time = 20 s, a host silent for 21 s is down and DELETE is local."""
    server, host, port_id = _active(quick)
    quick.app.stop_host(host)
    quick.clock.advance(20)
    assert _states(quick)[host] == "up"
    quick.clock.advance(1)
    assert _states(quick)[host] == "down"
    assert quick.nova.delete(f"/servers/{server['id']}").status_code == 204
    assert quick.gone(server["id"]) and _port_gone(quick, port_id)
    assert _terminates(quick, host) == 0


def test_forced_down_service_takes_local_path(cloud: ComputeCloud) -> None:
    server, host, port_id = _active(cloud)
    sid = next(s["id"] for s in cloud.nova_admin.get("/os-services").json()["services"] if s["host"] == host)
    resp = cloud.nova_admin.put(f"/os-services/{sid}", json={"forced_down": True},
                                headers={"OpenStack-API-Version": "compute 2.53"})
    assert resp.json()["service"]["state"] == "down"
    cloud.nova.delete(f"/servers/{server['id']}")
    assert cloud.gone(server["id"]) and _port_gone(cloud, port_id)


def test_reg26_never_scheduled_instance_is_destroyed_at_once(cloud: ComputeCloud) -> None:
    """REG-26 (SC-04d): no host → destroyed at once, delete.start/delete.end emitted, quota committed."""
    for host in ("host1", "host2"):
        cloud.app.stop_host(host)
    cloud.clock.advance(61)
    server = cloud.boot(None)
    assert server["OS-EXT-SRV-ATTR:host"] is None
    assert cloud.usage()["instances"] == 1
    assert cloud.nova.delete(f"/servers/{server['id']}").status_code == 204
    assert cloud.gone(server["id"])
    assert cloud.usage()["instances"] == 0
    assert cloud.compute.rt.notifier.of(server["id"]) == ["compute.instance.delete.start",
                                                          "compute.instance.delete.end"]
    assert _pending(cloud, server["id"]) == []  # committed, nothing left open
    assert cloud.usage() == {"instances": 0, "cores": 0, "ram": 0}


def test_reg26_host_assigned_concurrently_takes_the_normal_path(cloud: ComputeCloud,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """REG-26: a host assigned while the never-scheduled delete runs (Nova's ObjectActionError on
    destroy) → the row is not destroyed blindly; the delete refreshes and casts terminate to that host."""
    for host in ("host1", "host2"):
        cloud.app.stop_host(host)
    cloud.clock.advance(61)
    server = cloud.boot(None)
    assert server["OS-EXT-SRV-ATTR:host"] is None
    cloud.app.start_host("host1")
    notifier = cloud.compute.rt.notifier
    original = notifier.info

    def racing(event: str, payload: dict[str, Any]) -> None:
        original(event, payload)
        if event == "compute.instance.delete.start" and payload["host"] is None:  # the scheduler wins the race
            cloud.db.transaction(lambda c: c.execute(update(m.compute_instances).where(
                m.compute_instances.c.uuid == server["id"]).values(host="host1")))

    monkeypatch.setattr(notifier, "info", racing)
    assert cloud.nova.delete(f"/servers/{server['id']}").status_code == 204
    assert _terminates(cloud, "host1") == 1  # refreshed: host1 is up → RPC path
    cloud.settle()
    assert cloud.gone(server["id"])
    assert notifier.of(server["id"])[-1] == "compute.instance.delete.end"
    assert cloud.usage() == {"instances": 0, "cores": 0, "ram": 0}
    assert _pending(cloud, server["id"]) == []


def test_reg27_disable_terminate_is_a_quiet_no_op(cloud: ComputeCloud) -> None:
    """REG-27: disable_terminate → delete is a no-op: task_state unchanged, no quota reservation, no error."""
    server, host, port_id = _active(cloud)
    cloud.compute.api.set_disable_terminate(server["id"], True)
    assert cloud.nova.delete(f"/servers/{server['id']}").status_code == 204
    after = cloud.server(server["id"])
    assert (after["status"], after["OS-EXT-STS:task_state"]) == ("ACTIVE", None)
    assert cloud.central_admin.get(f"/ports/{port_id}").status_code == 200
    assert cloud.usage() == {"instances": 1, "cores": 1, "ram": 512}
    assert _pending(cloud, server["id"]) == []  # never reserved
    assert _terminates(cloud, host) == 0


def test_reg28_instance_gone_mid_delete_rolls_back_quota_and_surfaces_no_error(
        cloud: ComputeCloud, monkeypatch: pytest.MonkeyPatch) -> None:
    """REG-28: another path destroys the instance after this delete reserved its quota (InstanceNotFound
    mid-delete): the reservation is rolled back, the quota released once, and the API answers 204."""
    server, host, port_id = _active(cloud)
    api = cloud.compute.api
    original = api._delete_path
    seen: list[list[tuple[str, int]]] = []

    def raced(instance: dict[str, Any], *args: Any, **kwargs: Any) -> None:
        seen.append(_pending(cloud, server["id"]))  # this delete's reservation is open
        api.local_delete(instance, None)  # the concurrent delete finishes first
        original(instance, *args, **kwargs)

    monkeypatch.setattr(api, "_delete_path", raced)
    resp = cloud.nova.delete(f"/servers/{server['id']}")
    assert resp.status_code == 204, resp.text
    assert len(seen[0]) == 1
    assert _pending(cloud, server["id"]) == []
    assert cloud.gone(server["id"]) and _port_gone(cloud, port_id)
    assert cloud.usage() == {"instances": 0, "cores": 0, "ram": 0}
    assert _terminates(cloud, host) == 0


def test_reg29_host_without_service_record_takes_the_local_path(cloud: ComputeCloud) -> None:
    """REG-29: instance.host has no service record (ComputeHostNotFound) → the local delete runs."""
    server, _, port_id = _active(cloud)
    cloud.db.transaction(lambda c: c.execute(update(m.compute_instances).where(
        m.compute_instances.c.uuid == server["id"]).values(host="decommissioned-host")))
    assert cloud.nova.delete(f"/servers/{server['id']}").status_code == 204
    assert cloud.gone(server["id"])  # at once: nobody was asked
    assert _port_gone(cloud, port_id)
    assert cloud.usage() == {"instances": 0, "cores": 0, "ram": 0}
    assert _pending(cloud, server["id"]) == []
    assert all(_terminates(cloud, h) == 0 for h in ("host1", "host2"))


def test_concurrent_deletes_only_one_path_acts(cloud: ComputeCloud) -> None:
    server, host, port_id = _active(cloud)
    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(lambda _: cloud.nova.delete(f"/servers/{server['id']}").status_code, range(8)))
    assert set(codes) <= {204, 404}
    cloud.settle()
    assert [m for m, _ in cloud.compute.hosts[host].casts].count("terminate_instance") == 1
    assert cloud.gone(server["id"]) and _port_gone(cloud, port_id)
    assert cloud.usage() == {"instances": 0, "cores": 0, "ram": 0}


def test_concurrent_local_deletes_release_quota_once(cloud: ComputeCloud) -> None:
    server, host, port_id = _active(cloud)
    cloud.app.stop_host(host)
    cloud.clock.advance(61)
    with ThreadPoolExecutor(6) as pool:
        codes = list(pool.map(lambda _: cloud.nova.delete(f"/servers/{server['id']}").status_code, range(6)))
    assert set(codes) <= {204, 404}
    assert cloud.gone(server["id"]) and _port_gone(cloud, port_id)
    assert cloud.usage() == {"instances": 0, "cores": 0, "ram": 0}


def test_reg32_detach_interface_from_deleting_instance_is_409(cloud: ComputeCloud) -> None:
    """REG-32 / CMP-32: detaching an interface while task_state is deleting → 409, the port untouched."""
    server, host, port_id = _active(cloud)
    cloud.app.stop_host(host)
    cloud.nova.delete(f"/servers/{server['id']}")
    resp = cloud.nova.delete(f"/servers/{server['id']}/os-interface/{port_id}")
    assert resp.status_code == 409
    assert resp.json()["conflictingRequest"]["message"] == \
        f"Cannot 'detach_interface' instance {server['id']} while it is in task_state deleting"
    assert cloud.central_admin.get(f"/ports/{port_id}").json()["port"]["device_id"] == server["id"]
    attached = cloud.nova.get(f"/servers/{server['id']}/os-interface").json()["interfaceAttachments"]
    assert [a["port_id"] for a in attached] == [port_id]
