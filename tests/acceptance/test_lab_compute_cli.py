"""The lab's compute through the real `openstack` CLI: boot from a volume with `--block-device`, and the
shelve / unshelve / resize commands (CMP-30, CMP-12, CMP-16, VOL-03), with real tokens from the catalog."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from labtools import OPENSTACK, running_lab

from regionmesh.lab.launcher import Lab


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    yield from running_lab(tmp_path_factory.mktemp("lab"), register_pods=True)


def osc(lab: Lab, *args: str, region: str = "RegionOne", cloud: str = "regionmesh-demo", ok: bool = True) -> Any:
    """Run the CLI; JSON output for the verbs that print a resource."""
    assert OPENSTACK
    env = {**os.environ, "OS_CLIENT_CONFIG_FILE": str(lab.clouds_yaml)}
    wants_json = args[-1] != "--no-json" and any(a in args for a in ("create", "show", "list"))
    args = tuple(a for a in args if a != "--no-json")
    proc = subprocess.run([OPENSTACK, "--os-cloud", cloud, "--os-region-name", region, *args,
                           *(["-f", "json"] if wants_json else [])],
                          capture_output=True, text=True, timeout=120, env=env)
    if not ok:
        assert proc.returncode != 0, proc.stdout
        return proc.stderr
    assert proc.returncode == 0, f"{' '.join(args)}: {proc.stderr}"
    return json.loads(proc.stdout) if wants_json and proc.stdout.strip() else None


@pytest.fixture(scope="module")
def net(lab: Lab) -> dict[str, Any]:
    network = osc(lab, "network", "create", "cli-net", region="CentralRegion")
    osc(lab, "subnet", "create", "--network", "cli-net", "--subnet-range", "10.7.1.0/24", "cli-subnet",
        region="CentralRegion")
    return network  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def image(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> str:
    data = tmp_path_factory.mktemp("img") / "cirros.img"
    data.write_bytes(b"\0" * 4096)
    created = osc(lab, "image", "create", "--file", str(data), "--disk-format", "raw", "--container-format", "bare",
                  "--public", "cli-cirros", cloud="regionmesh-admin")
    return str(created["id"])


def test_vol03_boot_from_volume_with_block_device_and_delete_on_termination(lab: Lab, net: dict[str, Any]) -> None:
    volume = osc(lab, "volume", "create", "--size", "1", "root-vol")
    spec = f"source_type=volume,uuid={volume['id']},destination_type=volume,boot_index=0,delete_on_termination=true"
    server = osc(lab, "server", "create", "--flavor", "1", "--block-device", spec, "--nic", f"net-id={net['id']}",
                 "--wait", "bfv1")
    assert server["status"] == "ACTIVE", server
    assert server["image"] in ("", "N/A (booted from volume)", None)
    attached = osc(lab, "volume", "show", volume["id"])
    assert attached["status"] == "in-use"
    assert attached["attachments"][0]["server_id"] == server["id"]
    assert attached["attachments"][0]["device"] == "/dev/vda"
    listed = osc(lab, "server", "volume", "list", server["id"])
    assert [v["Volume ID"] for v in listed] == [volume["id"]]
    osc(lab, "server", "delete", "--wait", server["id"])
    assert volume["id"] not in {v["ID"] for v in osc(lab, "volume", "list")}  # delete_on_termination


def test_cmp30_shelve_unshelve_with_the_cli(lab: Lab, net: dict[str, Any], image: str) -> None:
    server = osc(lab, "server", "create", "--flavor", "1", "--image", image, "--nic", f"net-id={net['id']}",
                 "--wait", "shelve1")
    address = server["addresses"]["cli-net"][0]
    osc(lab, "server", "shelve", "--wait", server["id"])
    shelved = osc(lab, "server", "show", server["id"])
    assert shelved["status"] == "SHELVED_OFFLOADED"
    snapshots = [i for i in osc(lab, "image", "list") if i["Name"] == "shelve1-shelved"]
    assert len(snapshots) == 1
    osc(lab, "server", "unshelve", "--wait", server["id"])
    back = osc(lab, "server", "show", server["id"])
    assert back["status"] == "ACTIVE"
    assert back["addresses"]["cli-net"][0] == address
    assert not [i for i in osc(lab, "image", "list") if i["Name"] == "shelve1-shelved"]
    osc(lab, "server", "shelve", "--wait", server["id"])
    osc(lab, "server", "delete", "--wait", server["id"])  # CMP-12: the snapshot goes with it
    assert not [i for i in osc(lab, "image", "list") if i["Name"] == "shelve1-shelved"]


def test_cmp30_resize_confirm_and_delete_while_verify_resize_with_the_cli(lab: Lab, net: dict[str, Any],
                                                                         image: str) -> None:
    server = osc(lab, "server", "create", "--flavor", "1", "--image", image, "--nic", f"net-id={net['id']}",
                 "--wait", "resize1")
    osc(lab, "server", "resize", "--flavor", "2", "--wait", server["id"])
    resized = osc(lab, "server", "show", server["id"])
    assert resized["status"] == "VERIFY_RESIZE"
    osc(lab, "server", "resize", "confirm", server["id"])
    # The confirm is a cast, as in Nova: each CLI run takes long enough to be the poll interval.
    for _ in range(30):
        shown = osc(lab, "server", "show", server["id"])
        if shown["status"] != "VERIFY_RESIZE":
            break
    assert (shown["status"], shown["flavor"]["original_name"]) == ("ACTIVE", "m1.small")
    osc(lab, "server", "resize", "--flavor", "3", "--wait", server["id"])
    assert osc(lab, "server", "show", server["id"])["status"] == "VERIFY_RESIZE"
    osc(lab, "server", "delete", "--wait", server["id"])  # CMP-16: confirmed, then deleted
    assert server["id"] not in {s["ID"] for s in osc(lab, "server", "list")}
