"""Soft delete (``reclaim_instance_interval`` > 0), restore, forceDelete and the reclaim periodic over
real HTTP (CMP-19, CMP-30, CMP-35), and REG-24: deleting a SOFT_DELETED instance never releases its
quota twice."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from test_compute_harness import PROJECT, ComputeCloud, running

from regionmesh.compute import store as s
from regionmesh.compute.runtime import ComputeConfig
from regionmesh.db import models as m

INTERVAL = 3600


@pytest.fixture
def cloud(tmp_path: Path) -> Iterator[ComputeCloud]:
    yield from running(tmp_path, ComputeConfig(reclaim_instance_interval=INTERVAL))


@pytest.fixture
def small(tmp_path: Path) -> Iterator[ComputeCloud]:
    yield from running(tmp_path, ComputeConfig(reclaim_instance_interval=INTERVAL,
                                               quota_limits={"instances": 2, "cores": 20, "ram": 51200}))


def _detail(c: ComputeCloud) -> dict[str, tuple[int, int]]:
    """``/os-quota-sets/{project}/detail`` as resource → (in_use, reserved)."""
    resp = c.nova.get(f"/os-quota-sets/{PROJECT}/detail")
    assert resp.status_code == 200, resp.text
    q = resp.json()["quota_set"]
    return {r: (q[r]["in_use"], q[r]["reserved"]) for r in ("instances", "cores", "ram")}


def _pending(c: ComputeCloud, uuid: str) -> list[Any]:
    """Quota reservations still open for the instance (each must end committed or rolled back)."""
    t = m.compute_quota_reservations
    with c.db.read() as conn:
        return list(conn.execute(select(t.c.id, t.c.delta).where(t.c.instance_uuid == uuid)))


def _two(c: ComputeCloud) -> tuple[dict[str, Any], dict[str, Any], str]:
    """Two ACTIVE m1.tiny servers: a second one keeps usage above 0, so a double release would show."""
    net, _ = c.network()
    a, b = c.boot(net["id"], "a"), c.boot(net["id"], "b")
    assert a["status"] == b["status"] == "ACTIVE"
    [port] = c.ports(c.central_admin, a["id"])
    return a, b, port["id"]


def _act(c: ComputeCloud, uuid: str, action: str) -> Any:
    return c.nova.post(f"/servers/{uuid}/action", json={action: None})


def _soft_delete(c: ComputeCloud, server: dict[str, Any]) -> str:
    assert c.nova.delete(f"/servers/{server['id']}").status_code == 204
    c.settle()
    host = server["OS-EXT-SRV-ATTR:host"]
    after = c.server(server["id"])
    assert (after["status"], after["OS-EXT-STS:vm_state"], after["OS-EXT-STS:task_state"]) == \
        ("SOFT_DELETED", "soft-delete", None)
    assert after["OS-EXT-STS:power_state"] == s.POWER_SHUTDOWN
    assert c.compute.hosts[host].driver.power_state(server["id"]) == s.POWER_SHUTDOWN  # powered off, kept
    return str(host)


def _terminates(c: ComputeCloud, host: str, uuid: str) -> list[tuple[Any, ...]]:
    return [args for method, args in c.compute.hosts[host].casts if method == "terminate_instance" and
            args[0] == uuid]


def test_soft_delete_powers_off_releases_quota_and_hides_the_server(cloud: ComputeCloud) -> None:
    a, _, port_id = _two(cloud)
    assert _detail(cloud) == {"instances": (2, 0), "cores": (2, 0), "ram": (1024, 0)}
    host = _soft_delete(cloud, a)
    assert _detail(cloud) == {"instances": (1, 0), "cores": (1, 0), "ram": (512, 0)}  # as Nova's soft delete
    assert _pending(cloud, a["id"]) == []
    [(uuid, reservation)] = [args for method, args in cloud.compute.hosts[host].casts
                             if method == "soft_delete_instance"]
    assert uuid == a["id"] and reservation is not None  # the host committed the API's release
    assert _terminates(cloud, host, a["id"]) == []
    assert cloud.compute.rt.notifier.of(a["id"])[-2:] == ["compute.instance.soft_delete.start",
                                                          "compute.instance.soft_delete.end"]
    assert cloud.central_admin.get(f"/ports/{port_id}").status_code == 200  # restorable: network kept
    listed = {i["id"] for i in cloud.nova.get("/servers").json()["servers"]}
    assert a["id"] not in listed
    deleted = cloud.nova_admin.get("/servers/detail", params={"deleted": "true"}).json()["servers"]
    assert {i["id"]: i["status"] for i in deleted}[a["id"]] == "SOFT_DELETED"


@pytest.mark.parametrize("how", ["forceDelete", "DELETE"])
def test_reg24_delete_of_soft_deleted_instance_rolls_back_its_reservation_and_still_casts_terminate(
        cloud: ComputeCloud, how: str) -> None:
    """REG-24: a SOFT_DELETED instance deleted with its compute up — the quota reservation is rolled back
    (usage is not decremented a second time) and the terminate cast is still sent; the instance goes."""
    a, b, port_id = _two(cloud)
    host = _soft_delete(cloud, a)
    before = _detail(cloud)
    assert before == {"instances": (1, 0), "cores": (1, 0), "ram": (512, 0)}
    resp = _act(cloud, a["id"], "forceDelete") if how == "forceDelete" else cloud.nova.delete(f"/servers/{a['id']}")
    assert resp.status_code == (202 if how == "forceDelete" else 204), resp.text
    cloud.settle()
    assert _terminates(cloud, host, a["id"]) == [(a["id"], None)]  # one cast, carrying no reservation
    assert _pending(cloud, a["id"]) == []  # the delete's reservation was rolled back, not left open
    assert _detail(cloud) == before  # not decremented twice
    assert cloud.gone(a["id"])
    assert a["id"] not in cloud.compute.hosts[host].driver.list_guests()
    assert cloud.central_admin.get(f"/ports/{port_id}").status_code == 404
    assert cloud.server(b["id"])["status"] == "ACTIVE"
    assert cloud.nova.delete(f"/servers/{b['id']}").status_code == 204  # b's soft delete still releases b
    cloud.settle()
    assert _detail(cloud) == {"instances": (0, 0), "cores": (0, 0), "ram": (0, 0)}


def test_reg24_local_delete_of_soft_deleted_instance_releases_nothing_again(cloud: ComputeCloud) -> None:
    """REG-24 on the local path: host down, so the API destroys the row; the quota is not released twice."""
    a, _, _ = _two(cloud)
    host = _soft_delete(cloud, a)
    cloud.app.stop_host(host)
    cloud.clock.advance(61)
    assert _act(cloud, a["id"], "forceDelete").status_code == 202
    assert cloud.gone(a["id"])
    assert _terminates(cloud, host, a["id"]) == []
    assert _pending(cloud, a["id"]) == []
    assert _detail(cloud) == {"instances": (1, 0), "cores": (1, 0), "ram": (512, 0)}


def test_restore_powers_on_and_takes_the_quota_back(cloud: ComputeCloud) -> None:
    a, _, port_id = _two(cloud)
    host = _soft_delete(cloud, a)
    assert _act(cloud, a["id"], "restore").status_code == 202
    cloud.settle()
    back = cloud.server(a["id"])
    assert (back["status"], back["OS-EXT-STS:task_state"], back["OS-EXT-STS:power_state"]) == \
        ("ACTIVE", None, s.POWER_RUNNING)
    assert cloud.compute.hosts[host].driver.power_state(a["id"]) == s.POWER_RUNNING
    assert _detail(cloud) == {"instances": (2, 0), "cores": (2, 0), "ram": (1024, 0)}
    assert cloud.central_admin.get(f"/ports/{port_id}").status_code == 200
    # Restored, its next delete releases the quota again (it is no longer "already released").
    assert _act(cloud, a["id"], "forceDelete").status_code == 202
    cloud.settle()
    assert cloud.gone(a["id"])
    assert _detail(cloud) == {"instances": (1, 0), "cores": (1, 0), "ram": (512, 0)}


def test_restore_in_the_wrong_state_is_409_and_over_quota_is_403(small: ComputeCloud) -> None:
    a, _, _ = _two(small)
    resp = _act(small, a["id"], "restore")
    assert resp.status_code == 409
    assert resp.json()["conflictingRequest"]["message"] == \
        f"Cannot 'restore' instance {a['id']} while it is in vm_state active"
    _soft_delete(small, a)
    small.boot(None, "c")  # takes the instance a's soft delete freed
    assert _detail(small)["instances"] == (2, 0)
    resp = _act(small, a["id"], "restore")
    assert resp.status_code == 403
    assert resp.json()["forbidden"]["message"] == \
        "Quota exceeded for instances: Requested 1, but already used 2 of 2 instances"
    after = small.server(a["id"])
    assert (after["status"], after["OS-EXT-STS:task_state"]) == ("SOFT_DELETED", None)
    assert _pending(small, a["id"]) == [] and _detail(small)["instances"] == (2, 0)


def test_reclaim_periodic_deletes_after_the_interval_only(cloud: ComputeCloud) -> None:
    a, b, port_id = _two(cloud)
    host = _soft_delete(cloud, a)
    cloud.clock.advance(INTERVAL - 1)
    assert cloud.compute.tick() == []
    assert cloud.server(a["id"])["status"] == "SOFT_DELETED"
    cloud.clock.advance(2)
    assert cloud.compute.tick() == [a["id"]]
    assert cloud.gone(a["id"])
    assert a["id"] not in cloud.compute.hosts[host].driver.list_guests()
    assert cloud.central_admin.get(f"/ports/{port_id}").status_code == 404
    assert _detail(cloud) == {"instances": (1, 0), "cores": (1, 0), "ram": (512, 0)}  # released once
    assert cloud.server(b["id"])["status"] == "ACTIVE"


def test_soft_delete_with_host_down_is_a_local_delete(cloud: ComputeCloud) -> None:
    """Nova's ``_delete`` with the host down runs ``_local_delete`` for a soft delete too: gone at once."""
    a, _, port_id = _two(cloud)
    host = a["OS-EXT-SRV-ATTR:host"]
    cloud.app.stop_host(host)
    cloud.clock.advance(61)
    assert cloud.nova.delete(f"/servers/{a['id']}").status_code == 204
    assert cloud.gone(a["id"])
    assert cloud.central_admin.get(f"/ports/{port_id}").status_code == 404
    assert _detail(cloud)["instances"] == (1, 0)


def test_never_scheduled_instance_is_deleted_not_soft_deleted(cloud: ComputeCloud) -> None:
    for host in ("host1", "host2"):
        cloud.app.stop_host(host)
    cloud.clock.advance(61)
    server = cloud.boot(None)
    assert cloud.nova.delete(f"/servers/{server['id']}").status_code == 204
    assert cloud.gone(server["id"])
    assert _detail(cloud)["instances"] == (0, 0)


def test_openstacksdk_delete_restore_and_force_delete(cloud: ComputeCloud) -> None:
    """What `openstack server delete`, `server restore` and `server delete --force` send (openstacksdk's
    delete_server, restore_server, delete_server(force=True)) works on the soft-delete lab."""
    a, _, _ = _two(cloud)
    conn = cloud.sdk()
    conn.compute.delete_server(a["id"])
    cloud.settle()
    assert conn.compute.get_server(a["id"]).status == "SOFT_DELETED"
    conn.compute.restore_server(a["id"])
    cloud.settle()
    assert conn.compute.get_server(a["id"]).status == "ACTIVE"
    conn.compute.delete_server(a["id"], force=True)
    cloud.settle()
    assert cloud.gone(a["id"])
    assert _detail(cloud)["instances"] == (1, 0)
