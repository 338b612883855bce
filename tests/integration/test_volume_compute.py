"""Compute with volumes: boot from volume, attach/detach, and seed 004's delete paths (REG-22, REG-23, SC-04a)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_volume_lifecycle import VolumeCloud

from regionmesh.compute.block_device import bdms


@pytest.fixture
def cloud(tmp_path: Path) -> Iterator[VolumeCloud]:
    c = VolumeCloud(tmp_path)
    try:
        yield c
    finally:
        c.close()


def _bfv(c: VolumeCloud, delete_on_termination: bool, source: str = "image") -> tuple[dict[str, Any], str]:
    net, _ = c.network()
    if source == "image":
        bdm = {"boot_index": 0, "uuid": c.image(), "source_type": "image", "destination_type": "volume",
               "volume_size": 1, "delete_on_termination": delete_on_termination}
    else:
        bdm = {"boot_index": 0, "uuid": c.volume(1)["id"], "source_type": "volume", "destination_type": "volume",
               "delete_on_termination": delete_on_termination}
    server = c.boot(net["id"], block_device_mapping_v2=[bdm])
    assert server["status"] == "ACTIVE", server
    [attached] = server["os-extended-volumes:volumes_attached"]
    vid = attached["id"]
    volume = c.show(vid)
    assert volume["status"] == "in-use" and volume["attachments"][0]["server_id"] == server["id"]
    assert volume["attachments"][0]["device"] == "/dev/vda"
    [lock] = c.compute.rt.volumes.locks(vid)  # VOL-02: the root disk is locked by its host
    assert lock["holder_host"] == server["OS-EXT-SRV-ATTR:host"]
    return server, vid


@pytest.mark.parametrize("dot", [True, False])
def test_reg22_negative_delete_with_host_up_needs_no_break_lock(cloud: VolumeCloud, dot: bool,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    """REG-22 negative: the guest closed its disk (no lockers left), so the image is removed without
    breaking any lock."""
    server, vid = _bfv(cloud, dot)
    with caplog.at_level(logging.DEBUG, logger="regionmesh.compute.volumes"):
        assert cloud.nova.delete(f"/servers/{server['id']}").status_code == 204
        cloud.settle()
    assert "Unlock the rbd volume" not in caplog.text
    assert cloud.gone(server["id"])
    if dot:
        assert cloud.ended(vid) == "deleted"
    else:
        assert cloud.show(vid)["status"] == "available" and cloud.show(vid)["attachments"] == []
    locks = cloud.compute.rt.volumes.locks(vid, active=False)
    assert locks[0]["released_at"] is not None and locks[0]["broken_at"] is None  # the guest closed it


@pytest.mark.parametrize("dot", [True, False])
def test_reg22_local_delete_breaks_dead_hosts_lock(cloud: VolumeCloud, dot: bool,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    """REG-22 (SC-04a): booted from a volume whose RBD image the now-dead host still locks; the local
    delete breaks the first locker's lock (debug "Unlock the rbd volume <name> firstly."), removes the
    image, and the volume ends deleted — none left behind. Without delete_on_termination it is kept."""
    server, vid = _bfv(cloud, dot, source="volume")
    host = server["OS-EXT-SRV-ATTR:host"]
    cloud.app.stop_host(host)
    cloud.clock.advance(61)
    with caplog.at_level(logging.DEBUG, logger="regionmesh.compute.volumes"):
        assert cloud.nova.delete(f"/servers/{server['id']}").status_code == 204
    assert cloud.gone(server["id"])
    [lock] = cloud.compute.rt.volumes.locks(vid, active=False)
    if dot:  # REG-22: no volume left behind; the lock was broken first
        assert cloud.ended(vid) == "deleted"
        assert lock["broken_at"] is not None and lock["holder_host"] == host
        assert f"Unlock the rbd volume volume-{vid} firstly." in caplog.text
    else:  # kept, detached, still locked by the dead guest until its host returns
        assert cloud.show(vid)["status"] == "available"
        assert lock["broken_at"] is None and lock["released_at"] is None
    cloud.app.start_host(host)  # the returning host destroys the guest and releases what it held
    assert cloud.compute.rt.volumes.locks(vid) == []
    assert cloud.cinder.get("/limits").json()["limits"]["absolute"]["totalVolumesUsed"] == (0 if dot else 1)


def test_reg22_negative_delete_without_lockers_does_not_break(cloud: VolumeCloud,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    """REG-22 negative: an image with no lockers is removed without break_lock."""
    v = cloud.volume()
    with caplog.at_level(logging.DEBUG, logger="regionmesh.compute.volumes"):
        assert cloud.cinder.delete(f"/volumes/{v['id']}").status_code == 202
    assert "Unlock the rbd volume" not in caplog.text
    assert cloud.ended(v["id"]) == "deleted"


def test_live_holder_lock_makes_delete_fail_as_error_deleting(cloud: VolumeCloud) -> None:
    _, vid = _bfv(cloud, False)
    # An admin forces the volume free while the guest still runs: the image is still locked by a live holder.
    act = f"/volumes/{vid}/action"
    assert cloud.cinder_admin.post(act, json={"os-force_detach": {}}).status_code == 202
    assert cloud.cinder.delete(f"/volumes/{vid}").status_code == 202
    assert cloud.show(vid)["status"] == "error_deleting"


@pytest.mark.parametrize("failing", ["terminate_connection", "delete"])
def test_reg23_volume_cleanup_failure_does_not_abort_local_delete(cloud: VolumeCloud, monkeypatch: pytest.MonkeyPatch,
                                                                  caplog: pytest.LogCaptureFixture,
                                                                  failing: str) -> None:
    """REG-23: terminate_connection (or delete) raises during the local delete → warning "Ignoring volume
    cleanup failure due to ...", and still the BDM is destroyed, the instance destroyed, the quota committed."""
    server, vid = _bfv(cloud, True)

    def boom(*_: Any, **__: Any) -> None:
        raise RuntimeError("cinder unreachable")

    monkeypatch.setattr(cloud.compute.rt.volumes, failing, boom)
    cloud.app.stop_host(server["OS-EXT-SRV-ATTR:host"])
    cloud.clock.advance(61)
    with caplog.at_level(logging.WARNING):
        assert cloud.nova.delete(f"/servers/{server['id']}").status_code == 204
    assert "Ignoring volume cleanup failure due to cinder unreachable" in caplog.text
    assert cloud.gone(server["id"])
    assert cloud.usage() == {"instances": 0, "cores": 0, "ram": 0}
    with cloud.db.read() as conn:
        assert bdms(conn, server["id"]) == []
    # What Nova leaves: still in-use when the connection could not be ended (an admin force-detach repairs
    # it, VOL-11); detached but kept when only the delete failed.
    assert cloud.show(vid)["status"] == ("in-use" if failing == "terminate_connection" else "available")


def test_attach_and_detach_through_compute(cloud: VolumeCloud) -> None:
    net, _ = cloud.network()
    server = cloud.boot(net["id"])
    v = cloud.volume()
    resp = cloud.nova.post(f"/servers/{server['id']}/os-volume_attachments", json={"volumeAttachment": {
        "volumeId": v["id"]}})
    assert resp.status_code == 200, resp.text
    assert resp.json()["volumeAttachment"]["device"] == "/dev/vdb"
    cloud.settle()
    assert cloud.show(v["id"])["status"] == "in-use"
    listed = cloud.nova.get(f"/servers/{server['id']}/os-volume_attachments").json()["volumeAttachments"]
    assert [a["volumeId"] for a in listed] == [v["id"]]
    # Attaching an in-use volume is refused with Nova's 400.
    again = cloud.nova.post(f"/servers/{server['id']}/os-volume_attachments",
                            json={"volumeAttachment": {"volumeId": v["id"]}})
    assert again.status_code == 400
    assert cloud.nova.delete(f"/servers/{server['id']}/os-volume_attachments/{v['id']}").status_code == 202
    cloud.settle()
    assert cloud.show(v["id"])["status"] == "available"
    assert cloud.nova.get(f"/servers/{server['id']}/os-volume_attachments").json()["volumeAttachments"] == []


def test_root_volume_cannot_be_detached_and_reserved_volume_freed_if_never_scheduled(cloud: VolumeCloud) -> None:
    server, vid = _bfv(cloud, False)
    resp = cloud.nova.delete(f"/servers/{server['id']}/os-volume_attachments/{vid}")
    assert resp.status_code == 400 and resp.json()["badRequest"]["message"] == "Can't detach root device volume"
    for host in ("host1", "host2"):
        cloud.app.stop_host(host)
    cloud.clock.advance(61)
    spare = cloud.volume(1)
    unscheduled = cloud.boot(None, name="nohost", block_device_mapping_v2=[{
        "boot_index": 0, "uuid": spare["id"], "source_type": "volume", "destination_type": "volume"}])
    assert cloud.show(spare["id"])["status"] == "reserved"
    assert cloud.nova.delete(f"/servers/{unscheduled['id']}").status_code == 204
    assert cloud.show(spare["id"])["status"] == "available"  # nothing stuck reserved


def test_cmp30_volume_backed_shelve_offloads_without_a_snapshot_and_unshelves(cloud: VolumeCloud) -> None:
    server, vid = _bfv(cloud, True, source="volume")
    images_before = cloud.glance.get("/images").json()["images"]
    assert cloud.nova.post(f"/servers/{server['id']}/action", json={"shelve": None}).status_code == 202
    cloud.settle()
    assert cloud.server(server["id"])["status"] == "SHELVED_OFFLOADED"
    assert cloud.glance.get("/images").json()["images"] == images_before  # nothing to snapshot
    assert cloud.show(vid)["status"] == "in-use"  # still the instance's root disk …
    assert cloud.compute.rt.volumes.locks(vid) == []  # … but no guest holds it
    assert cloud.nova.post(f"/servers/{server['id']}/action", json={"unshelve": None}).status_code == 202
    cloud.settle()
    back = cloud.server(server["id"])
    assert back["status"] == "ACTIVE"
    [lock] = cloud.compute.rt.volumes.locks(vid)
    assert lock["holder_host"] == back["OS-EXT-SRV-ATTR:host"]
    cloud.nova.post(f"/servers/{server['id']}/action", json={"shelve": None})
    cloud.settle()
    assert cloud.nova.delete(f"/servers/{server['id']}").status_code == 204  # local path (offloaded)
    assert cloud.gone(server["id"])
    assert cloud.ended(vid) == "deleted"  # delete_on_termination (VOL-03)


def test_reg34_delete_on_termination_volume_with_snapshots_is_deleted_with_the_server(cloud: VolumeCloud) -> None:
    """REG-34: Nova deletes a delete_on_termination volume with cascade=true, so it goes even with snapshots."""
    server, vid = _bfv(cloud, True, source="volume")
    resp = cloud.cinder.post("/snapshots", json={"snapshot": {"volume_id": vid, "force": True}})
    assert resp.status_code == 202, resp.text
    snap = resp.json()["snapshot"]["id"]
    assert cloud.nova.delete(f"/servers/{server['id']}").status_code == 204
    cloud.settle()
    assert cloud.gone(server["id"])
    assert cloud.ended(vid) == "deleted"
    assert cloud.cinder.get(f"/snapshots/{snap}").status_code == 404

