"""Compute quotas (instances/cores/ram, never leaking on failure paths) and the Glance v2 subset."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from test_compute_harness import ComputeCloud, running

from regionmesh.compute.runtime import ComputeConfig


@pytest.fixture
def cloud(tmp_path: Path) -> Iterator[ComputeCloud]:
    yield from running(tmp_path)


@pytest.fixture
def small(tmp_path: Path) -> Iterator[ComputeCloud]:
    yield from running(tmp_path, ComputeConfig(quota_limits={"instances": 2, "cores": 3, "ram": 4096}))


def test_instance_quota_is_enforced_with_nova_403(small: ComputeCloud) -> None:
    net, _ = small.network()
    first, second = small.boot(net["id"], "a"), small.boot(net["id"], "b")
    resp = small.nova.post("/servers", json={"server": {"name": "c", "flavorRef": "1", "networks": "none"}})
    assert resp.status_code == 403
    assert resp.json()["forbidden"]["message"] == \
        "Quota exceeded for instances: Requested 1, but already used 2 of 2 instances"
    assert small.nova.delete(f"/servers/{first['id']}").status_code == 204
    small.settle()
    assert small.boot(net["id"], "c")["status"] == "ACTIVE"
    assert small.usage() == {"instances": 2, "cores": 2, "ram": 1024}
    assert second["status"] == "ACTIVE"


def test_cores_and_ram_quota(small: ComputeCloud) -> None:
    medium = small.boot(None, "medium", flavor="3")  # 2 cores, 4096 MB: exactly the ram limit
    assert medium["status"] == "ACTIVE"
    resp = small.nova.post("/servers", json={"server": {"name": "t", "flavorRef": "1", "networks": "none"}})
    assert resp.status_code == 403
    assert resp.json()["forbidden"]["message"] == \
        "Quota exceeded for ram: Requested 512, but already used 4096 of 4096 ram"
    small.nova.delete(f"/servers/{medium['id']}")
    small.settle()
    small.nova_admin.post("/flavors", json={"flavor": {"name": "wide", "id": "w", "vcpus": 4, "ram": 64,
                                                       "disk": 1}})
    resp = small.nova.post("/servers", json={"server": {"name": "w", "flavorRef": "w", "networks": "none"}})
    assert resp.json()["forbidden"]["message"] == "Quota exceeded for cores: Requested 4, but already used 0 of 3 cores"
    assert small.usage() == {"instances": 0, "cores": 0, "ram": 0}


def test_failed_boot_counts_until_deleted_then_frees_everything(small: ComputeCloud) -> None:
    net, _ = small.network()
    server = small.boot(net["id"], security_groups=[{"name": "no-such-group"}])
    assert server["status"] == "ERROR"
    assert "no-such-group" in server["fault"]["message"]
    assert small.ports(small.central_admin, server["id"]) == []
    assert small.usage()["instances"] == 1  # Nova counts an ERROR instance until it is deleted
    assert small.nova.delete(f"/servers/{server['id']}").status_code == 204
    small.settle()
    assert small.gone(server["id"])
    assert small.usage() == {"instances": 0, "cores": 0, "ram": 0}


def test_spawn_failure_frees_created_port(small: ComputeCloud) -> None:
    net, _ = small.network()
    for worker in small.compute.hosts.values():
        worker.driver.fail_spawn = "hypervisor exploded"  # type: ignore[attr-defined]
    server = small.boot(net["id"])
    assert server["status"] == "ERROR"
    assert server["fault"]["message"] == "RuntimeError: hypervisor exploded"
    assert small.ports(small.central_admin, server["id"]) == []


def test_rejected_requests_reserve_nothing(small: ComputeCloud) -> None:
    for body in ({"name": "x", "flavorRef": "nope", "networks": "none"},
                 {"name": "x", "flavorRef": "1", "imageRef": "00000000-0000-0000-0000-00000000000a",
                  "networks": "none"},
                 {"name": "x", "flavorRef": "1", "networks": "none", "availability_zone": "elsewhere"}):
        resp = small.nova.post("/servers", json={"server": body})
        assert resp.status_code in (400, 404), resp.text
    assert small.usage() == {"instances": 0, "cores": 0, "ram": 0}


def test_image_create_upload_boot_and_protection(cloud: ComputeCloud, tmp_path: Path) -> None:
    conn = cloud.sdk()
    data = tmp_path / "cirros.img"
    data.write_bytes(b"\x00" * 4096)
    image = conn.image.create_image(name="cirros", filename=str(data), disk_format="qcow2",
                                    container_format="bare", wait=True)
    shown = cloud.glance.get(f"/images/{image.id}").json()
    assert (shown["status"], shown["size"]) == ("active", 4096)
    queued = cloud.glance.post("/images", json={"name": "empty", "disk_format": "raw"}).json()
    assert queued["status"] == "queued"  # IMG-02
    net, _ = cloud.network()
    server = cloud.boot(net["id"], imageRef=image.id)
    assert server["status"] == "ACTIVE" and server["image"]["id"] == image.id
    resp = cloud.nova.post("/servers", json={"server": {"name": "q", "flavorRef": "1", "imageRef": queued["id"],
                                                        "networks": "none"}})
    assert resp.status_code == 400
    big = cloud.glance.post("/images", json={"name": "big", "min_disk": 5, "protected": True}).json()
    cloud.glance.put(f"/images/{big['id']}/file", content=b"x",
                     headers={"Content-Type": "application/octet-stream"})
    resp = cloud.nova.post("/servers", json={"server": {"name": "m", "flavorRef": "1", "imageRef": big["id"],
                                                        "networks": "none"}})
    assert resp.status_code == 400 and "too small" in resp.json()["badRequest"]["message"]
    admin = cloud.glance.delete(f"/images/{big['id']}", headers={"X-Roles": "admin"})
    assert admin.status_code == 403  # IMG-04: protected, even for admin
    assert cloud.glance.delete(f"/images/{queued['id']}").status_code == 204
    assert {i["name"] for i in cloud.glance.get("/images").json()["images"]} == {"cirros", "big"}


def test_reg37_image_rules(cloud: ComputeCloud) -> None:
    """REG-37: changing disk_format of an active image is rejected; a protected image cannot be deleted,
    neither by its owner nor by admin."""
    image = cloud.glance.post("/images", json={"name": "img", "disk_format": "raw", "container_format": "bare",
                                               "protected": True}).json()
    assert cloud.glance.put(f"/images/{image['id']}/file", content=b"x",
                            headers={"Content-Type": "application/octet-stream"}).status_code == 204
    resp = cloud.glance.patch(f"/images/{image['id']}", content=b'[{"op": "replace", "path": "/disk_format", '
                              b'"value": "qcow2"}]',
                              headers={"Content-Type": "application/openstack-images-v2.1-json-patch"})
    assert resp.status_code == 400, resp.text
    assert cloud.glance.get(f"/images/{image['id']}").json()["disk_format"] == "raw"
    for headers in ({}, {"X-Roles": "admin"}):  # the owner, then admin
        assert cloud.glance.delete(f"/images/{image['id']}", headers=headers).status_code == 403
    assert cloud.glance.get(f"/images/{image['id']}").status_code == 200

