"""Shelve / unshelve and resize / confirm / revert over real HTTP, and their delete paths
(CMP-12, CMP-16, CMP-17, CMP-20, CMP-30, SC-04c, REG-25, IMG-03)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update
from test_compute_harness import PROJECT, ComputeCloud, running

from regionmesh.compute import store as s
from regionmesh.compute.runtime import ComputeConfig
from regionmesh.db import models as m


@pytest.fixture
def cloud(tmp_path: Path) -> Iterator[ComputeCloud]:
    yield from running(tmp_path)


@pytest.fixture
def kept(tmp_path: Path) -> Iterator[ComputeCloud]:
    """shelved_offload_time = -1: a shelved instance stays on its host until shelveOffload."""
    yield from running(tmp_path, ComputeConfig(shelved_offload_time=-1))


@pytest.fixture
def small(tmp_path: Path) -> Iterator[ComputeCloud]:
    yield from running(tmp_path, ComputeConfig(quota_limits={"instances": 3, "cores": 3, "ram": 4096}))


@pytest.fixture
def same_host(tmp_path: Path) -> Iterator[ComputeCloud]:
    yield from running(tmp_path, ComputeConfig(allow_resize_to_same_host=True))


def _active(c: ComputeCloud, flavor: str = "1") -> tuple[dict[str, Any], str, str]:
    net, _ = c.network()
    server = c.boot(net["id"], flavor=flavor)
    assert server["status"] == "ACTIVE", server
    [port] = c.ports(c.central_admin, server["id"])
    return server, server["OS-EXT-SRV-ATTR:host"], port["id"]


def _act(c: ComputeCloud, uuid: str, body: dict[str, Any], version: str | None = None) -> Any:
    headers = {"OpenStack-API-Version": f"compute {version}"} if version else {}
    return c.nova.post(f"/servers/{uuid}/action", json=body, headers=headers)


def _images(c: ComputeCloud) -> dict[str, dict[str, Any]]:
    return {i["id"]: i for i in c.glance.get("/images").json()["images"]}


def _row(c: ComputeCloud, uuid: str) -> dict[str, Any]:
    with c.db.read() as conn:
        return s.get_instance(conn, uuid, deleted=True)


def _other(host: str) -> str:
    return "host2" if host == "host1" else "host1"


def _binding(c: ComputeCloud, port_id: str) -> tuple[str, str]:
    central = c.central_admin.get(f"/ports/{port_id}").json()["port"]
    region = c.region.get(f"/ports/{port_id}").json()["port"]
    return central["binding:host_id"], region["binding:host_id"]


def _port_gone(c: ComputeCloud, port_id: str) -> bool:
    return c.central_admin.get(f"/ports/{port_id}").status_code == 404 and \
        c.region.get(f"/ports/{port_id}").status_code == 404


def _used(c: ComputeCloud) -> dict[str, tuple[int, int]]:
    return {h["hypervisor_hostname"]: (h["vcpus_used"], h["memory_mb_used"])
            for h in c.nova_admin.get("/os-hypervisors").json()["hypervisors"]}


def _shelve_offloaded(c: ComputeCloud, booted: tuple[dict[str, Any], str, str] | None = None,
                      ) -> tuple[dict[str, Any], str, str, str]:
    server, host, port_id = booted or _active(c)
    assert _act(c, server["id"], {"shelve": None}).status_code == 202
    c.settle()
    shelved = c.server(server["id"])
    assert shelved["status"] == "SHELVED_OFFLOADED", shelved
    image_id = s.system_metadata(_row(c, server["id"]))["shelved_image_id"]
    return shelved, host, port_id, image_id


# ---- shelve / unshelve ---------------------------------------------------------------------------
def test_cmp30_shelve_offloads_at_once_then_unshelve_binds_the_new_host_keeping_the_ip(cloud: ComputeCloud) -> None:
    server, host, port_id = booted = _active(cloud)
    address = server["addresses"]["net1"][0]["addr"]
    shelved, _, _, image_id = _shelve_offloaded(cloud, booted)
    assert (shelved["OS-EXT-STS:vm_state"], shelved["OS-EXT-STS:task_state"]) == ("shelved_offloaded", None)
    assert shelved["OS-EXT-SRV-ATTR:host"] is None and shelved["OS-EXT-STS:power_state"] == 0
    meta = s.system_metadata(_row(cloud, server["id"]))
    assert meta["shelved_host"] == host
    snapshot = _images(cloud)[image_id]  # the host uploaded the guest's disk into "<name>-shelved"
    assert (snapshot["name"], snapshot["status"], snapshot["owner"]) == ("vm1-shelved", "active", PROJECT)
    assert cloud.compute.hosts[host].driver.list_guests() == []  # offloaded: the guest is gone
    assert _binding(cloud, port_id) == ("", "")  # the port is kept (and its IP) but bound to no host
    assert cloud.central_admin.get(f"/ports/{port_id}").json()["port"]["device_id"] == server["id"]
    assert cloud.usage() == {"instances": 1, "cores": 1, "ram": 512}  # still counted, as Nova does
    assert _used(cloud)[host] == (0, 0)  # but the host's capacity is free
    # The old host dies: unshelve must schedule the other one.
    cloud.app.stop_host(host)
    cloud.clock.advance(61)
    cloud.compute.tick()
    assert _act(cloud, server["id"], {"unshelve": None}).status_code == 202
    cloud.settle()
    back = cloud.server(server["id"])
    new_host = _other(host)
    assert (back["status"], back["OS-EXT-SRV-ATTR:host"], back["OS-EXT-STS:task_state"]) == ("ACTIVE", new_host, None)
    assert back["addresses"]["net1"][0]["addr"] == address
    assert cloud.ports(cloud.central_admin, server["id"])[0]["id"] == port_id
    assert _binding(cloud, port_id) == (new_host, new_host)
    guest = cloud.compute.hosts[new_host].driver.guests[server["id"]]  # type: ignore[attr-defined]
    assert guest.image_id == image_id  # spawned from the snapshot …
    assert image_id not in _images(cloud)  # … which is then deleted
    assert s.system_metadata(_row(cloud, server["id"])) == {}
    assert cloud.usage() == {"instances": 1, "cores": 1, "ram": 512}


def test_cmp30_shelve_keeps_guest_when_offload_is_deferred_then_offload_and_unshelve(kept: ComputeCloud) -> None:
    server, host, port_id = _active(kept)
    assert _act(kept, server["id"], {"shelve": None}).status_code == 202
    kept.settle()
    shelved = kept.server(server["id"])
    assert (shelved["status"], shelved["OS-EXT-SRV-ATTR:host"]) == ("SHELVED", host)
    driver = kept.compute.hosts[host].driver
    assert driver.power_state(server["id"]) == s.POWER_SHUTDOWN
    assert _binding(kept, port_id) == (host, host)
    # unshelve of a SHELVED instance: same host, powered on, snapshot deleted
    image_id = s.system_metadata(_row(kept, server["id"]))["shelved_image_id"]
    assert _act(kept, server["id"], {"unshelve": None}).status_code == 202
    kept.settle()
    assert (kept.server(server["id"])["status"], driver.power_state(server["id"])) == ("ACTIVE", s.POWER_RUNNING)
    assert image_id not in _images(kept)
    # shelve again, then shelveOffload explicitly
    _act(kept, server["id"], {"shelve": None})
    kept.settle()
    assert _act(kept, server["id"], {"shelveOffload": None}).status_code == 202
    kept.settle()
    assert kept.server(server["id"])["status"] == "SHELVED_OFFLOADED"
    assert driver.list_guests() == [] and _binding(kept, port_id) == ("", "")


def test_cmp12_delete_of_shelved_instance_deletes_snapshot_then_terminates_on_its_host(kept: ComputeCloud) -> None:
    server, host, port_id = _active(kept)
    _act(kept, server["id"], {"shelve": None})
    kept.settle()
    image_id = s.system_metadata(_row(kept, server["id"]))["shelved_image_id"]
    assert kept.nova.delete(f"/servers/{server['id']}").status_code == 204
    assert image_id not in _images(kept)  # first, before the host acts
    kept.settle()
    assert kept.gone(server["id"]) and _port_gone(kept, port_id)
    assert [m for m, _ in kept.compute.hosts[host].casts].count("terminate_instance") == 1
    assert kept.usage() == {"instances": 0, "cores": 0, "ram": 0}


def test_sc04c_delete_of_shelved_offloaded_is_local_and_deletes_the_snapshot(cloud: ComputeCloud,
                                                                              caplog: pytest.LogCaptureFixture) -> None:
    server, _, port_id, image_id = _shelve_offloaded(cloud)
    with caplog.at_level(logging.INFO, logger="regionmesh.compute"):
        assert cloud.nova.delete(f"/servers/{server['id']}").status_code == 204
    assert cloud.gone(server["id"])  # at once: the local path, no host asked (CMP-17, CMP-20)
    for worker in cloud.compute.hosts.values():
        assert "terminate_instance" not in [m for m, _ in worker.casts]
    assert "instance is in SHELVED_OFFLOADED state, cleanup the instance's info from database." in caplog.text
    assert image_id not in _images(cloud)  # IMG-03
    assert cloud.glance.get(f"/images/{image_id}").status_code == 404
    assert _port_gone(cloud, port_id)  # deallocated in the region and in central
    assert cloud.usage() == {"instances": 0, "cores": 0, "ram": 0}
    assert _row(cloud, server["id"])["host"] is None  # shelved_host was never written back
    assert cloud.compute.rt.notifier.of(server["id"])[-2:] == ["compute.instance.delete.start",
                                                                "compute.instance.delete.end"]


@pytest.mark.parametrize("how", ["deleted", "protected"])
def test_reg25_delete_tolerates_a_snapshot_already_gone_or_not_authorised(cloud: ComputeCloud, how: str,
                                                                          caplog: pytest.LogCaptureFixture) -> None:
    server, _, port_id, image_id = _shelve_offloaded(cloud)
    if how == "deleted":
        assert cloud.glance.delete(f"/images/{image_id}").status_code == 204
    else:  # ImageNotAuthorized: nobody may delete a protected image
        cloud.db.transaction(lambda c: c.execute(update(m.compute_images).where(m.compute_images.c.id == image_id)
                                                 .values(protected=True)))
    with caplog.at_level(logging.WARNING):
        assert cloud.nova.delete(f"/servers/{server['id']}").status_code == 204
    assert "Failed to delete snapshot from shelved instance (" in caplog.text
    assert cloud.gone(server["id"]) and _port_gone(cloud, port_id)
    assert cloud.usage() == {"instances": 0, "cores": 0, "ram": 0}


def test_cmp30_wrong_state_shelve_actions_are_409_and_change_nothing(cloud: ComputeCloud) -> None:
    server, host, _ = _active(cloud)
    uuid = server["id"]
    before_images = set(_images(cloud))
    for action in ("unshelve", "shelveOffload", "confirmResize", "revertResize"):
        resp = _act(cloud, uuid, {action: None})
        assert resp.status_code == 409, (action, resp.text)
        assert resp.json()["conflictingRequest"]["message"] == \
            f"Cannot '{action}' instance {uuid} while it is in vm_state active"
    after = cloud.server(uuid)
    assert (after["status"], after["OS-EXT-STS:task_state"], after["OS-EXT-SRV-ATTR:host"]) == ("ACTIVE", None, host)
    assert set(_images(cloud)) == before_images
    # a shelve whose host has not acted yet: a second shelve meets task_state shelving
    worker = cloud.compute.hosts[host]
    worker.stop()
    assert _act(cloud, uuid, {"shelve": None}).status_code == 202
    resp = _act(cloud, uuid, {"shelve": None})
    assert resp.status_code == 409
    assert resp.json()["conflictingRequest"]["message"] == \
        f"Cannot 'shelve' instance {uuid} while it is in task_state shelving"
    assert len(_images(cloud)) == len(before_images) + 1  # only the first shelve made an image
    assert [m for m, _ in worker.casts].count("shelve_instance") == 1
    worker.start()
    cloud.settle()
    for action in ("shelve", "resize"):
        body: dict[str, Any] = {"resize": {"flavorRef": "2"}} if action == "resize" else {"shelve": None}
        resp = _act(cloud, uuid, body)
        assert resp.status_code == 409
        assert resp.json()["conflictingRequest"]["message"] == \
            f"Cannot '{action}' instance {uuid} while it is in vm_state shelved_offloaded"
    # availability_zone: only from 2.77, only for offloaded instances, only a zone that exists
    assert _act(cloud, uuid, {"unshelve": {"availability_zone": "az1"}}).status_code == 400
    resp = _act(cloud, uuid, {"unshelve": {"availability_zone": "elsewhere"}}, "2.77")
    assert resp.status_code == 400
    assert cloud.server(uuid)["status"] == "SHELVED_OFFLOADED"
    assert _act(cloud, uuid, {"unshelve": {"availability_zone": "az1"}}, "2.77").status_code == 202
    cloud.settle()
    assert cloud.server(uuid)["status"] == "ACTIVE"
    assert cloud.usage() == {"instances": 1, "cores": 1, "ram": 512}


# ---- resize ----------------------------------------------------------------------------------------
def _resized(c: ComputeCloud, flavor: str) -> tuple[dict[str, Any], str, str]:
    server, host, port_id = _active(c)
    assert _act(c, server["id"], {"resize": {"flavorRef": flavor}}).status_code == 202
    c.settle()
    resized = c.server(server["id"])
    assert resized["status"] == "VERIFY_RESIZE", resized
    assert resized["OS-EXT-STS:vm_state"] == "resized"
    return resized, host, port_id


def test_cmp30_resize_then_confirm_frees_the_old_flavor_on_the_source(cloud: ComputeCloud) -> None:
    server, source, port_id = _resized(cloud, "2")
    dest = server["OS-EXT-SRV-ATTR:host"]
    assert dest == _other(source)  # allow_resize_to_same_host is False, as in Nova
    assert server["flavor"]["id"] == "2"
    assert cloud.usage() == {"instances": 1, "cores": 1, "ram": 2048}
    assert _used(cloud) == {source: (1, 512), dest: (1, 2048)}  # both held until confirm
    assert _binding(cloud, port_id) == (dest, dest)
    assert cloud.compute.hosts[source].driver.power_state(server["id"]) == s.POWER_SHUTDOWN  # kept for revert
    resp = _act(cloud, server["id"], {"confirmResize": None})
    assert resp.status_code == 204, resp.text
    cloud.settle()
    after = cloud.server(server["id"])
    assert (after["status"], after["flavor"]["id"], after["OS-EXT-SRV-ATTR:host"]) == ("ACTIVE", "2", dest)
    assert cloud.compute.hosts[source].driver.list_guests() == []
    assert _used(cloud) == {source: (0, 0), dest: (1, 2048)}
    assert cloud.usage() == {"instances": 1, "cores": 1, "ram": 2048}
    detail = cloud.nova.get(f"/servers/{server['id']}", headers={"OpenStack-API-Version": "compute 2.47"})
    assert detail.json()["server"]["flavor"]["original_name"] == "m1.small"


def test_cmp30_resize_then_revert_brings_the_old_flavor_and_host_back(cloud: ComputeCloud) -> None:
    server, source, port_id = _resized(cloud, "3")
    dest = server["OS-EXT-SRV-ATTR:host"]
    assert cloud.usage() == {"instances": 1, "cores": 2, "ram": 4096}
    cloud.compute.tick()  # the periodic cleanup leaves the source's guest alone while the resize is open
    cloud.app.stop_host(source)
    cloud.app.start_host(source)  # and so does a restart
    assert cloud.compute.hosts[source].driver.power_state(server["id"]) == s.POWER_SHUTDOWN
    assert _act(cloud, server["id"], {"revertResize": None}).status_code == 202
    cloud.settle()
    after = cloud.server(server["id"])
    assert (after["status"], after["flavor"]["id"], after["OS-EXT-SRV-ATTR:host"]) == ("ACTIVE", "1", source)
    assert cloud.usage() == {"instances": 1, "cores": 1, "ram": 512}
    assert _used(cloud) == {source: (1, 512), dest: (0, 0)}
    assert _binding(cloud, port_id) == (source, source)
    assert cloud.compute.hosts[dest].driver.list_guests() == []
    assert cloud.compute.hosts[source].driver.power_state(server["id"]) == s.POWER_RUNNING
    # resized no more: confirm and revert are refused now
    assert _act(cloud, server["id"], {"confirmResize": None}).status_code == 409


def test_cmp30_resize_of_a_stopped_instance_stays_stopped(cloud: ComputeCloud) -> None:
    server, _, _ = _active(cloud)
    _act(cloud, server["id"], {"os-stop": None})
    cloud.settle()
    _act(cloud, server["id"], {"resize": {"flavorRef": "2"}})
    cloud.settle()
    assert cloud.server(server["id"])["status"] == "VERIFY_RESIZE"
    _act(cloud, server["id"], {"confirmResize": None})
    cloud.settle()
    assert cloud.server(server["id"])["status"] == "SHUTOFF"


def test_resize_to_the_same_host_when_allowed(same_host: ComputeCloud) -> None:
    c = same_host
    c.app.stop_host("host2")
    c.clock.advance(61)
    c.compute.tick()
    server, source, _ = _resized(c, "2")
    assert server["OS-EXT-SRV-ATTR:host"] == source == "host1"
    assert _used(c)["host1"] == (2, 2560)  # old and new claims on one host until confirmed or reverted
    _act(c, server["id"], {"revertResize": None})
    c.settle()
    after = c.server(server["id"])
    assert (after["status"], after["flavor"]["id"]) == ("ACTIVE", "1")
    assert c.compute.hosts[source].driver.power_state(server["id"]) == s.POWER_RUNNING
    assert _used(c)["host1"] == (1, 512)


def test_cmp16_delete_while_verify_resize_confirms_first_then_deletes(cloud: ComputeCloud) -> None:
    server, source, port_id = _resized(cloud, "2")
    dest = server["OS-EXT-SRV-ATTR:host"]
    assert cloud.nova.delete(f"/servers/{server['id']}").status_code == 204
    cloud.settle()
    assert cloud.gone(server["id"]) and _port_gone(cloud, port_id)
    assert [m for m, _ in cloud.compute.hosts[source].casts][-1] == "rpc_call"  # the synchronous confirm
    assert [m for m, _ in cloud.compute.hosts[dest].casts].count("terminate_instance") == 1
    with cloud.db.read() as conn:
        statuses = [r.status for r in conn.execute(m.compute_migrations.select())]
    assert statuses == ["confirmed"]
    for worker in cloud.compute.hosts.values():
        assert worker.driver.list_guests() == []
    assert cloud.usage() == {"instances": 0, "cores": 0, "ram": 0}
    assert _used(cloud) == {source: (0, 0), dest: (0, 0)}


def test_cmp16_delete_while_verify_resize_with_source_down_confirms_in_the_database(cloud: ComputeCloud) -> None:
    server, source, port_id = _resized(cloud, "2")
    cloud.app.stop_host(source)
    cloud.clock.advance(61)
    cloud.compute.tick()
    assert cloud.nova.delete(f"/servers/{server['id']}").status_code == 204
    cloud.settle()
    assert cloud.gone(server["id"]) and _port_gone(cloud, port_id)
    assert cloud.usage() == {"instances": 0, "cores": 0, "ram": 0}
    with cloud.db.read() as conn:
        assert [r.status for r in conn.execute(m.compute_migrations.select())] == ["confirmed"]
    driver = cloud.compute.hosts[source].driver
    assert driver.list_guests() == [server["id"]]  # the old guest waits on the dead source …
    cloud.app.start_host(source)
    assert driver.list_guests() == []  # … and goes when it returns (CMP-23)


def test_resize_quota_and_bad_requests_change_nothing(small: ComputeCloud) -> None:
    server, host, _ = _active(small)
    uuid = server["id"]
    small.nova_admin.post("/flavors", json={"flavor": {"name": "wide", "id": "w", "vcpus": 4, "ram": 64, "disk": 1}})
    resp = _act(small, uuid, {"resize": {"flavorRef": "w"}})
    assert resp.status_code == 403
    assert resp.json()["forbidden"]["message"] == \
        "Quota exceeded for cores: Requested 3, but already used 1 of 3 cores"
    resp = _act(small, uuid, {"resize": {"flavorRef": "1"}})
    assert resp.status_code == 400 and resp.json()["badRequest"]["message"] == \
        "When resizing, instances must change flavor!"
    assert _act(small, uuid, {"resize": {"flavorRef": "nope"}}).status_code == 400
    assert _act(small, uuid, {"resize": {}}).status_code == 400
    after = small.server(uuid)
    assert (after["status"], after["OS-EXT-STS:task_state"], after["flavor"]["id"]) == ("ACTIVE", None, "1")
    assert small.usage() == {"instances": 1, "cores": 1, "ram": 512}
    with small.db.read() as conn:
        assert conn.execute(m.compute_migrations.select()).all() == []
    # no other host: the resize fails after the 202, leaving the instance as it was and the quota untouched
    small.app.stop_host(_other(host))
    small.clock.advance(61)
    small.compute.tick()
    assert _act(small, uuid, {"resize": {"flavorRef": "2"}}).status_code == 202
    small.settle()
    after = small.server(uuid)
    assert (after["status"], after["flavor"]["id"]) == ("ACTIVE", "1")
    assert "No valid host" in after["fault"]["message"]
    assert small.usage() == {"instances": 1, "cores": 1, "ram": 512}
    # what the failed resize reserved is bookable again (no pending reservation left behind)
    small.nova_admin.post("/flavors", json={"flavor": {"name": "rest", "id": "r", "vcpus": 2, "ram": 3584,
                                                       "disk": 1}})
    assert small.boot(None, "b", flavor="r")["status"] == "ACTIVE"


def test_cmp22_delete_during_an_unfinished_resize_leaves_no_pending_quota(small: ComputeCloud) -> None:
    server, source, port_id = _active(small)
    worker = small.compute.hosts[source]
    worker.stop()  # heartbeat still fresh: the resize cast waits in the source's queue
    assert _act(small, server["id"], {"resize": {"flavorRef": "2"}}).status_code == 202
    assert small.server(server["id"])["status"] == "RESIZE"
    assert small.nova.delete(f"/servers/{server['id']}").status_code == 204
    worker.start()  # resize_instance finds the instance deleting and gives up; terminate runs
    small.settle()
    assert small.gone(server["id"]) and _port_gone(small, port_id)
    assert small.usage() == {"instances": 0, "cores": 0, "ram": 0}
    with small.db.read() as conn:
        assert [r.status for r in conn.execute(m.compute_migrations.select())] == ["error"]
        assert conn.execute(m.compute_quota_reservations.select()).all() == []
    assert all(w.driver.list_guests() == [] for w in small.compute.hosts.values())


def test_unshelve_with_no_valid_host_stays_offloaded_with_a_fault(cloud: ComputeCloud) -> None:
    server, _, port_id, image_id = _shelve_offloaded(cloud)
    for host in ("host1", "host2"):
        cloud.app.stop_host(host)
    cloud.clock.advance(61)
    assert _act(cloud, server["id"], {"unshelve": None}).status_code == 202
    after = cloud.server(server["id"])
    assert (after["status"], after["OS-EXT-STS:task_state"]) == ("SHELVED_OFFLOADED", None)
    assert "No valid host" in after["fault"]["message"]
    assert image_id in _images(cloud) and _binding(cloud, port_id) == ("", "")
