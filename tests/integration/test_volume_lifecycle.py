"""Volumes (VOL-*, seed 004 REG-22/23, SC-04a): Cinder v3 over HTTP and openstacksdk, boot from volume, delete paths."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openstack
import pytest
from keystoneauth1 import session as ks_session
from keystoneauth1.noauth import NoAuth
from test_compute_harness import ADMIN, PROJECT, USER, ComputeCloud

from regionmesh.api.server import ThreadedServer
from regionmesh.api.volume_v3 import create_volume_app
from regionmesh.compute.volumes import VolumeConfig
from regionmesh.config import AuthSettings


class VolumeCloud(ComputeCloud):
    """The compute harness plus the region's Cinder v3, sharing compute's database and volume service."""

    def __init__(self, tmp: Path) -> None:
        super().__init__(tmp)
        vapi = self.compute.rt.volumes
        vapi.config = VolumeConfig(quota_limits={"volumes": 3, "snapshots": 2, "gigabytes": 10})
        self.vapp = create_volume_app(self.db, AuthSettings(strategy="noauth"), "RegionOne", self.clock,
                                      volumes=vapi)
        self.volume_server = ThreadedServer(self.vapp).start()
        base = f"{self.volume_server.url}/v3/{PROJECT}"
        self.cinder = httpx.Client(base_url=base, headers=USER, timeout=30)
        self.cinder_admin = httpx.Client(base_url=base, headers=ADMIN, timeout=30)

    def volume(self, size: int = 1, **extra: Any) -> dict[str, Any]:
        resp = self.cinder.post("/volumes", json={"volume": {"size": size, **extra}})
        assert resp.status_code == 202, resp.text
        return resp.json()["volume"]  # type: ignore[no-any-return]

    def show(self, vid: str) -> dict[str, Any]:
        return self.cinder.get(f"/volumes/{vid}").json()["volume"]  # type: ignore[no-any-return]

    def ended(self, vid: str) -> str | None:
        row = self.compute.rt.volumes.row(vid)
        return None if row is None else str(row["status"])

    def image(self) -> str:
        image = self.glance.post("/images", json={"name": "cirros", "disk_format": "raw",
                                                  "container_format": "bare"}).json()
        assert self.glance.put(f"/images/{image['id']}/file", content=b"x" * 1024,
                               headers={"Content-Type": "application/octet-stream"}).status_code == 204
        return str(image["id"])

    def close(self) -> None:
        self.volume_server.stop()
        super().close()


@pytest.fixture
def cloud(tmp_path: Path) -> Iterator[VolumeCloud]:
    c = VolumeCloud(tmp_path)
    try:
        yield c
    finally:
        c.close()


def _sdk(c: VolumeCloud) -> openstack.connection.Connection:
    sess = ks_session.Session(auth=NoAuth(), additional_headers=USER)
    return openstack.connection.Connection(
        session=sess, region_name="RegionOne", block_storage_api_version="3",
        block_storage_endpoint_override=f"{c.volume_server.url}/v3/{PROJECT}")


# ---- the Cinder API -------------------------------------------------------------------------------
def test_version_discovery(cloud: VolumeCloud) -> None:
    doc = httpx.get(cloud.volume_server.url + "/").json()["versions"][0]
    assert (doc["id"], doc["min_version"], doc["status"]) == ("v3.0", "3.0", "CURRENT")
    assert httpx.get(cloud.volume_server.url + "/v3/").status_code == 200


def test_sdk_volume_and_snapshot_crud(cloud: VolumeCloud) -> None:
    conn = _sdk(cloud)
    volume = conn.block_storage.create_volume(size=1, name="v1")
    volume = conn.block_storage.wait_for_status(volume, status="available", wait=10, interval=0.05)
    assert (volume.size, volume.name, volume.status) == (1, "v1", "available")
    assert [v.id for v in conn.block_storage.volumes()] == [volume.id]
    assert conn.block_storage.get_volume(volume.id).is_bootable is False
    snap = conn.block_storage.create_snapshot(volume_id=volume.id, name="s1")
    assert conn.block_storage.get_snapshot(snap.id).status == "available"
    assert [s.id for s in conn.block_storage.snapshots()] == [snap.id]
    conn.block_storage.delete_snapshot(snap)
    conn.block_storage.delete_volume(volume)
    assert list(conn.block_storage.volumes()) == []
    assert cloud.ended(volume.id) == "deleted"


def test_http_list_show_detail_and_not_found(cloud: VolumeCloud) -> None:
    v = cloud.volume(2, name="data")
    assert v["status"] == "available" and v["bootable"] == "false"
    assert cloud.cinder.get("/volumes").json()["volumes"][0]["id"] == v["id"]
    assert cloud.cinder.get("/volumes/detail").json()["volumes"][0]["size"] == 2
    resp = cloud.cinder.get("/volumes/nope")
    assert resp.status_code == 404
    assert resp.json() == {"itemNotFound": {"message": "Volume nope could not be found.", "code": 404}}
    resp = cloud.cinder.post("/volumes", json={"volume": {"size": 0}})
    assert resp.status_code == 400 and "badRequest" in resp.json()
    # Another project neither sees nor deletes it.
    other = {"X-Project-Id": "d" * 32, "X-Roles": "member", "X-User-Id": "eve"}
    assert httpx.get(f"{cloud.volume_server.url}/v3/{'d' * 32}/volumes/{v['id']}", headers=other).status_code == 404


def test_create_from_image_and_from_snapshot(cloud: VolumeCloud) -> None:
    """REG-34: a volume with snapshots cannot be deleted without cascade; a snapshot a volume was created
    from cannot be deleted."""
    image = cloud.image()
    v = cloud.volume(1, imageRef=image)
    assert v["bootable"] == "true" and v["volume_image_metadata"]["image_id"] == image
    snap = cloud.cinder.post("/snapshots", json={"snapshot": {"volume_id": v["id"]}}).json()["snapshot"]
    child = cloud.volume(1, snapshot_id=snap["id"])
    assert child["snapshot_id"] == snap["id"] and child["bootable"] == "true"
    # VOL-09: a snapshot a volume was created from cannot be deleted.
    resp = cloud.cinder.delete(f"/snapshots/{snap['id']}")
    assert resp.status_code == 400 and "dependent volumes" in resp.json()["badRequest"]["message"]
    # VOL-05: a volume with snapshots cannot be deleted without cascade.
    resp = cloud.cinder.delete(f"/volumes/{v['id']}")
    assert resp.status_code == 400 and "dependent snapshots" in resp.json()["badRequest"]["message"]
    assert cloud.cinder.delete(f"/volumes/{child['id']}").status_code == 202
    assert cloud.cinder.delete(f"/volumes/{v['id']}", params={"cascade": "true"}).status_code == 202
    assert cloud.cinder.get(f"/snapshots/{snap['id']}").status_code == 404


def test_state_preconditions_and_admin_actions(cloud: VolumeCloud) -> None:
    """REG-35: detaching a volume that is not in-use/attached is rejected; after a (forced) detach it is
    available."""
    v = cloud.volume()
    act = f"/volumes/{v['id']}/action"
    # Detach needs in-use + attached (VOL-08).
    resp = cloud.cinder.post(act, json={"os-detach": {}})
    assert resp.status_code == 400 and "must be 'in-use'" in resp.json()["badRequest"]["message"]
    assert cloud.cinder.post(act, json={"os-reserve": {}}).status_code == 202
    assert cloud.show(v["id"])["status"] == "reserved"
    assert cloud.cinder.post(act, json={"os-attach": {"instance_uuid": "i" * 36, "mountpoint": "/dev/vdb"}}) \
        .status_code == 202
    shown = cloud.show(v["id"])
    assert shown["status"] == "in-use" and shown["attachments"][0]["device"] == "/dev/vdb"
    # An in-use volume cannot be deleted, nor snapshotted without force.
    resp = cloud.cinder.delete(f"/volumes/{v['id']}")
    assert resp.status_code == 400 and "must not be migrating, attached" in resp.json()["badRequest"]["message"]
    assert cloud.cinder.post("/snapshots", json={"snapshot": {"volume_id": v["id"]}}).status_code == 400
    # Admin actions are admin-only.
    resp = cloud.cinder.post(act, json={"os-reset_status": {"status": "error"}})
    assert resp.status_code == 403 and "forbidden" in resp.json()
    attachment = shown["attachments"][0]["attachment_id"]
    assert cloud.cinder_admin.post(act, json={"os-force_detach": {
        "attachment_id": attachment, "connector": {"initiator": "iqn.2012-07.org.fake:01"}}}).status_code == 202
    assert (cloud.show(v["id"])["status"], cloud.show(v["id"])["attachments"]) == ("available", [])
    assert cloud.cinder_admin.post(act, json={"os-reset_status": {"status": "error"}}).status_code == 202
    assert cloud.show(v["id"])["status"] == "error"
    assert cloud.cinder.delete(f"/volumes/{v['id']}").status_code == 202  # error is deletable


def test_quota_never_leaks(cloud: VolumeCloud) -> None:
    a, b = cloud.volume(4), cloud.volume(4)
    resp = cloud.cinder.post("/volumes", json={"volume": {"size": 4}})
    assert resp.status_code == 413 and "gigabytes quota" in resp.json()["overLimit"]["message"]
    cloud.volume(2)
    resp = cloud.cinder.post("/volumes", json={"volume": {"size": 1}})
    assert resp.status_code == 413 and "Maximum number of volumes allowed (3)" in resp.json()["overLimit"]["message"]
    for vid in (a["id"], b["id"]):
        cloud.cinder.delete(f"/volumes/{vid}")
    absolute = cloud.cinder.get("/limits").json()["limits"]["absolute"]
    assert (absolute["totalVolumesUsed"], absolute["totalGigabytesUsed"]) == (1, 2)


def test_reg36_snapshot_of_an_error_deleting_volume_is_rejected(cloud: VolumeCloud) -> None:
    """REG-36: a snapshot of an ``error_deleting`` volume → rejected (400), nothing created."""
    v = cloud.volume()
    act = f"/volumes/{v['id']}/action"
    assert cloud.cinder_admin.post(act, json={"os-reset_status": {"status": "error_deleting"}}).status_code == 202
    resp = cloud.cinder.post("/snapshots", json={"snapshot": {"volume_id": v["id"]}})
    assert resp.status_code == 400, resp.text
    assert "must be available" in resp.json()["badRequest"]["message"]
    assert cloud.cinder.get("/snapshots").json()["snapshots"] == []



def test_reg36_only_an_available_or_error_snapshot_can_be_deleted(cloud: VolumeCloud) -> None:
    """REG-36: deleting a snapshot that is not ``available``/``error`` → rejected (400), it stays; after an
    admin ``os-reset_status`` (members get 403) to ``error`` it can be deleted."""
    v = cloud.volume()
    snap = cloud.cinder.post("/snapshots", json={"snapshot": {"volume_id": v["id"]}}).json()["snapshot"]
    act = f"/snapshots/{snap['id']}/action"
    assert cloud.cinder.post(act, json={"os-reset_status": {"status": "creating"}}).status_code == 403
    for status in ("creating", "deleting", "error_deleting"):
        assert cloud.cinder_admin.post(act, json={"os-reset_status": {"status": status}}).status_code == 202
        resp = cloud.cinder.delete(f"/snapshots/{snap['id']}")
        assert resp.status_code == 400, resp.text
        assert "must be available or error" in resp.json()["badRequest"]["message"]
        assert cloud.cinder.get(f"/snapshots/{snap['id']}").json()["snapshot"]["status"] == status
    assert cloud.cinder_admin.post(act, json={"os-reset_status": {"status": "bogus"}}).status_code == 400
    assert cloud.cinder_admin.post(act, json={"os-reset_status": {"status": "error"}}).status_code == 202
    assert cloud.cinder.delete(f"/snapshots/{snap['id']}").status_code == 202
    assert cloud.cinder.get(f"/snapshots/{snap['id']}").status_code == 404
