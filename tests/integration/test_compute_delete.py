"""Delete paths of seed 004 (CMP-10…CMP-24, SC-04, REG-21/26/27/28/29/30/31) over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from test_compute_harness import ComputeCloud, running


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


def test_delete_with_host_down_is_local_and_host_cleans_guest_on_return(cloud: ComputeCloud) -> None:
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


def test_host_killed_after_cast_periodic_task_finishes_delete(cloud: ComputeCloud) -> None:
    server, host, port_id = _active(cloud)
    cloud.app.stop_host(host)  # heartbeat still fresh: the API thinks it is up (SC-04b / REG-21)
    assert cloud.nova.delete(f"/servers/{server['id']}").status_code == 204
    stuck = cloud.server(server["id"])
    assert stuck["OS-EXT-STS:task_state"] == "deleting"
    # A second delete while it still looks up is ignored, its quota rolled back, no second cast.
    assert cloud.nova.delete(f"/servers/{server['id']}").status_code == 204
    assert [m for m, _ in cloud.compute.hosts[host].casts].count("terminate_instance") == 1
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


def test_second_delete_after_host_goes_down_runs_local_delete(cloud: ComputeCloud) -> None:
    server, host, port_id = _active(cloud)
    cloud.app.stop_host(host)
    cloud.nova.delete(f"/servers/{server['id']}")
    cloud.clock.advance(61)
    assert cloud.nova.delete(f"/servers/{server['id']}").status_code == 204  # REG-21 escape
    assert cloud.gone(server["id"])
    assert _port_gone(cloud, port_id)
    assert cloud.usage()["instances"] == 0


def test_resumed_host_processes_the_queued_terminate(cloud: ComputeCloud) -> None:
    server, host, port_id = _active(cloud)
    cloud.app.stop_host(host)
    cloud.nova.delete(f"/servers/{server['id']}")
    assert not cloud.gone(server["id"])
    cloud.app.start_host(host)  # CMP-24: it comes back before being seen down
    cloud.settle()
    assert cloud.gone(server["id"])
    assert _port_gone(cloud, port_id)
    assert cloud.usage()["instances"] == 0


def test_heartbeat_boundary(cloud: ComputeCloud) -> None:
    server, host, _ = _active(cloud)
    cloud.app.stop_host(host)
    cloud.clock.advance(59)
    assert cloud.nova.delete(f"/servers/{server['id']}").status_code == 204
    assert cloud.server(server["id"])["OS-EXT-STS:task_state"] == "deleting"  # 59 s: up → cast
    cloud.clock.advance(2)  # 61 s: down
    assert {s["host"]: s["state"] for s in cloud.nova_admin.get("/os-services").json()["services"]}[host] == "down"


def test_forced_down_service_takes_local_path(cloud: ComputeCloud) -> None:
    server, host, port_id = _active(cloud)
    sid = next(s["id"] for s in cloud.nova_admin.get("/os-services").json()["services"] if s["host"] == host)
    resp = cloud.nova_admin.put(f"/os-services/{sid}", json={"forced_down": True},
                                headers={"OpenStack-API-Version": "compute 2.53"})
    assert resp.json()["service"]["state"] == "down"
    cloud.nova.delete(f"/servers/{server['id']}")
    assert cloud.gone(server["id"]) and _port_gone(cloud, port_id)


def test_never_scheduled_instance_is_destroyed_at_once(cloud: ComputeCloud) -> None:
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


def test_disable_terminate_is_a_quiet_no_op(cloud: ComputeCloud) -> None:
    server, _, port_id = _active(cloud)
    cloud.compute.api.set_disable_terminate(server["id"], True)
    assert cloud.nova.delete(f"/servers/{server['id']}").status_code == 204
    after = cloud.server(server["id"])
    assert (after["status"], after["OS-EXT-STS:task_state"]) == ("ACTIVE", None)
    assert cloud.central_admin.get(f"/ports/{port_id}").status_code == 200
    assert cloud.usage()["instances"] == 1


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


def test_detach_interface_from_deleting_instance_is_409(cloud: ComputeCloud) -> None:
    server, host, port_id = _active(cloud)
    cloud.app.stop_host(host)
    cloud.nova.delete(f"/servers/{server['id']}")
    resp = cloud.nova.delete(f"/servers/{server['id']}/os-interface/{port_id}")
    assert resp.status_code == 409
    assert resp.json()["conflictingRequest"]["message"] == \
        f"Cannot 'detach_interface' instance {server['id']} while it is in task_state deleting"
