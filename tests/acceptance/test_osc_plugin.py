"""`openstack multiregion networking pod|routing|job …`: the OSC plugin, run as the real CLI against the lab.

The lab (identity with its catalog, central, the Admin API, job workers) runs in this process; every
step is a real `openstack` process using the lab's clouds.yaml, so the plugin is found through its
entry points, authenticates with OSC's keystoneauth session and finds the Admin API in the catalog
(service type multiregion-networking, region CentralRegion) or through the endpoint override.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from importlib.metadata import entry_points
from typing import Any, TypeVar

import pytest
from labtools import OPENSTACK, running_lab

from regionmesh.lab.launcher import Lab

with warnings.catch_warnings():  # osc_lib imports its own deprecated version module
    warnings.simplefilter("ignore", DeprecationWarning)
    from regionmesh.cli.osc.client import api_base, describe_failure, next_marker, server_message

ADMIN = "regionmesh-admin"
DEMO = "regionmesh-demo"
CENTRAL = "CentralRegion"
T = TypeVar("T")




@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    yield from running_lab(tmp_path_factory.mktemp("lab"))


def run(lab: Lab, *args: str, cloud: str = ADMIN, region: str | None = CENTRAL, env: dict[str, str] | None = None,
        global_opts: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    """One `openstack [global opts] multiregion networking <args>` process."""
    assert OPENSTACK, "the openstack CLI is part of the test extra"
    cmd = [OPENSTACK, "--os-cloud", cloud, *(["--os-region-name", region] if region else []), *global_opts,
           "multiregion", "networking", *args]
    full_env = {**os.environ, "OS_CLIENT_CONFIG_FILE": str(lab.clouds_yaml), **(env or {})}
    for name in ("OS_MULTIREGION_NETWORKING_URL", "OS_MULTIREGION_NETWORKING_ENDPOINT_OVERRIDE"):
        if env is None or name not in env:
            full_env.pop(name, None)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=full_env)


def ok(lab: Lab, *args: str, **kw: Any) -> Any:
    """Run, expect success; the JSON output when ``-f json`` is among the args, else the stdout."""
    proc = run(lab, *args, **kw)
    assert proc.returncode == 0, f"{' '.join(args)}: {proc.stderr}"
    return json.loads(proc.stdout) if "json" in args else proc.stdout


def fails(lab: Lab, *args: str, **kw: Any) -> str:
    """Run, expect a non-zero exit; the error output."""
    proc = run(lab, *args, **kw)
    assert proc.returncode != 0, f"{' '.join(args)} unexpectedly succeeded: {proc.stdout}"
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.stderr


def concurrently(*calls: Callable[[], T]) -> list[T]:
    """Independent CLI runs at once (each `openstack` process spends about a second starting up)."""
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(lambda call: call(), calls))


@pytest.fixture(scope="module")
def pods(lab: Lab) -> dict[str, str]:
    """CentralRegion and RegionOne registered through the CLI: region name → pod ID."""
    central = ok(lab, "pod", "create", "--region-name", CENTRAL, "-f", "json")
    one = ok(lab, "pod", "create", "--region-name", "RegionOne", "--availability-zone", "az1", "-f", "json")
    assert central["az_name"] == "" and one["az_name"] == "az1"
    return {CENTRAL: central["pod_id"], "RegionOne": one["pod_id"]}


@pytest.fixture(scope="module")
def demo_project(lab: Lab) -> str:
    assert OPENSTACK
    env = {**os.environ, "OS_CLIENT_CONFIG_FILE": str(lab.clouds_yaml)}
    proc = subprocess.run([OPENSTACK, "--os-cloud", DEMO, "--os-region-name", CENTRAL, "token", "issue", "-f", "json"],
                          capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    return str(json.loads(proc.stdout)["project_id"])


def test_plugin_registers_the_anchors_commands() -> None:
    plugins = {ep.name: ep.value for ep in entry_points(group="openstack.cli.extension")}
    assert plugins.get("multiregion_networking") == "regionmesh.cli.osc.plugin"
    commands = {ep.name for ep in entry_points(group="openstack.multiregion_networking.v1")}
    expected = {f"multiregion_networking_{res}_{verb}" for res, verbs in (
        ("pod", "create list show set delete"), ("routing", "create list show set update delete"),
        ("job", "create list show delete redo")) for verb in verbs.split()}
    assert expected <= commands, expected - commands
    assert OPENSTACK
    shown = subprocess.run([OPENSTACK, "help", "multiregion", "networking", "job", "create"], capture_output=True,
                           text=True, timeout=120)
    assert shown.returncode == 0, shown.stderr
    for option in ("--type", "--project-id", "--project_id", "--router-id", "--network-id", "--pod-id", "--port-id",
                   "--trunk-id", "--subnet-id", "--portchain-id"):
        assert option in shown.stdout, option


def test_pod_create_list_show_set_delete(lab: Lab, pods: dict[str, str]) -> None:
    listed = ok(lab, "pod", "list", "-f", "json")
    assert {(p["ID"], p["Region Name"], p["Availability Zone"]) for p in listed} >= {
        (pods[CENTRAL], CENTRAL, ""), (pods["RegionOne"], "RegionOne", "az1")}
    assert "Data Center" in ok(lab, "pod", "list", "--long", "-f", "json")[0]
    shown = ok(lab, "pod", "show", pods["RegionOne"], "-f", "json")
    assert shown["region_name"] == "RegionOne" and shown["pod_id"] == pods["RegionOne"]
    assert ok(lab, "pod", "show", "RegionOne", "-f", "json")["pod_id"] == pods["RegionOne"]  # by region name too

    ok(lab, "pod", "set", "--data-center", "dc1", "--pod-availability-zone", "paz1", pods["RegionOne"])
    shown = ok(lab, "pod", "show", pods["RegionOne"], "-f", "json")
    assert (shown["dc_name"], shown["pod_az_name"], shown["az_name"]) == ("dc1", "paz1", "az1")

    two = ok(lab, "pod", "create", "--region-name", "RegionTwo", "--availability-zone", "az2",
             "--pod-availability-zone", "paz2", "--data-center", "dc2", "-f", "json")
    assert (two["az_name"], two["pod_az_name"], two["dc_name"]) == ("az2", "paz2", "dc2")
    conflict = fails(lab, "pod", "create", "--region-name", "RegionTwo", "--availability-zone", "az2")
    assert "RegionTwo" in conflict or "exist" in conflict.lower(), conflict
    ok(lab, "pod", "delete", two["pod_id"])
    gone = fails(lab, "pod", "show", two["pod_id"])
    assert f"Pod '{two['pod_id']}' not found" in gone, gone
    assert "pod list" in gone  # says what to do


def test_routing_create_list_show_set_delete(lab: Lab, pods: dict[str, str], demo_project: str) -> None:
    made = concurrently(*(partial(ok, lab, "routing", "create", "--top-id", f"top-{i}", "--bottom-id", f"bottom-{i}",
                                  "--pod-id", pods["RegionOne"], "--project-id", demo_project, "--resource-type", kind,
                                  "-f", "json")
                          for i, kind in enumerate(("network", "subnet", "port"))))
    assert made[0]["resource_type"] == "network" and made[0]["pod_id"] == pods["RegionOne"]
    ids = [r["id"] for r in made]

    listed = ok(lab, "routing", "list", "--pod-id", pods["RegionOne"], "-f", "json")
    assert set(ids) <= {r["ID"] for r in listed}
    only = ok(lab, "routing", "list", "--resource-type", "subnet", "--top-id", "top-1", "--long", "-f", "json")
    assert [(r["ID"], r["Bottom ID"], r["Project ID"]) for r in only] == [(ids[1], "bottom-1", demo_project)]
    first = ok(lab, "routing", "list", "--project-id", demo_project, "--limit", "1", "-f", "json")
    assert len(first) == 1
    rest = ok(lab, "routing", "list", "--project-id", demo_project, "--marker", str(first[0]["ID"]), "-f", "json")
    assert {r["ID"] for r in first + rest} == set(ids)

    shown = ok(lab, "routing", "show", str(ids[0]), "-f", "json")
    assert (shown["top_id"], shown["bottom_id"], shown["project_id"]) == ("top-0", "bottom-0", demo_project)
    ok(lab, "routing", "set", "--resource-type", "router", str(ids[0]))
    ok(lab, "routing", "update", "--bottom-id", "bottom-0b", str(ids[0]))  # python-tricircleclient's spelling
    shown = ok(lab, "routing", "show", str(ids[0]), "-f", "json")
    assert (shown["resource_type"], shown["bottom_id"], shown["top_id"]) == ("router", "bottom-0b", "top-0")

    duplicate = fails(lab, "routing", "create", "--top-id", "top-1", "--bottom-id", "x", "--pod-id", pods["RegionOne"],
                      "--project-id", demo_project, "--resource-type", "subnet")
    assert "409" in duplicate and "already exists" in duplicate, duplicate
    ok(lab, "routing", "delete", *(str(i) for i in ids))
    gone = fails(lab, "routing", "show", str(ids[0]))
    assert f"Routing '{ids[0]}' not found" in gone, gone


def _settled(lab: Lab, job_id: str) -> dict[str, Any]:
    """The job once a worker is done with it (not NEW or RUNNING)."""
    deadline = time.monotonic() + 60
    while True:
        job: dict[str, Any] = ok(lab, "job", "show", job_id, "-f", "json")
        if job["status"] not in ("NEW", "RUNNING") or time.monotonic() > deadline:
            return job
        time.sleep(0.5)


def test_job_create_list_show_redo_delete(lab: Lab, pods: dict[str, str], demo_project: str) -> None:
    job = ok(lab, "job", "create", "--type", "seg_rule_setup", "--project-id", demo_project, "-f", "json")
    assert (job["type"], job["project_id"], job["status"]) == ("seg_rule_setup", demo_project, "NEW")
    done = _settled(lab, job["id"])
    assert done["status"] == "SUCCESS", done

    listed = ok(lab, "job", "list", "--project-id", demo_project, "--type", "seg_rule_setup", "--status", "Success",
                "-f", "json")
    assert job["id"] in {j["ID"] for j in listed}
    assert all(j["Status"] == "SUCCESS" and j["Type"] == "seg_rule_setup" for j in listed)
    assert ok(lab, "job", "list", "--status", "fail", "--project-id", demo_project, "-f", "json") == []
    long = ok(lab, "job", "list", "--limit", "1", "--long", "-f", "json")
    assert len(long) == 1 and "Resource" in long[0] and "Attempts" in long[0]

    redone = ok(lab, "job", "redo", job["id"], "-f", "json")
    assert redone["id"] == job["id"] and redone["status"] in ("NEW", "RUNNING", "SUCCESS")
    assert _settled(lab, job["id"])["status"] == "SUCCESS"
    ok(lab, "job", "delete", job["id"])
    gone = fails(lab, "job", "show", job["id"])
    assert f"Job '{job['id']}' not found" in gone, gone

    # Resource options: the anchor's underscore spellings work; a missing key is named before any call.
    missing = fails(lab, "job", "create", "--type", "router_setup", "--project_id", demo_project, "--pod_id",
                    pods["RegionOne"])
    assert "--router-id" in missing and "--network-id" in missing, missing
    unknown = fails(lab, "job", "create", "--type", "no_such_job", "--project-id", demo_project)
    assert "no_such_job" in unknown and "seg_rule_setup" in unknown, unknown
    not_owned = fails(lab, "job", "create", "--type", "update_network", "--project-id", demo_project, "--pod-id",
                      pods["RegionOne"], "--network-id", "not-a-network")
    assert "400" in not_owned and "doesn't belong" in not_owned, not_owned


def test_non_admin_gets_a_clear_403(lab: Lab, pods: dict[str, str], demo_project: str) -> None:
    commands = (("pod", "list"), ("routing", "list"), ("job", "list"), ("pod", "show", pods["RegionOne"]),
                ("job", "create", "--type", "seg_rule_setup", "--project-id", demo_project))
    errors = concurrently(*(partial(fails, lab, *args, cloud=DEMO) for args in commands))
    for err in errors:
        assert "403" in err and "Unauthorized" in err and "admin role" in err, err
    # job create reads the job types first; denied that, it still lets the server judge the job itself
    assert "Unauthorized to create a job" in errors[-1], errors[-1]


def test_unknown_ids_give_not_found(lab: Lab) -> None:
    refs = (("pod", "5d9d8f62-0000-4000-8000-000000000000"), ("routing", "987654"),
            ("job", "5d9d8f62-0000-4000-8000-000000000001"))
    errors = concurrently(*(partial(fails, lab, kind, "show", ref) for kind, ref in refs),
                          partial(fails, lab, "pod", "delete", "no-such-pod"))
    for (kind, ref), err in zip(refs, errors[:3], strict=True):
        assert f"{kind.capitalize()} '{ref}' not found" in err and f"{kind} list" in err, err
    assert "Pod 'no-such-pod' not found" in errors[-1], errors[-1]


def test_endpoint_from_catalog_region_or_override(lab: Lab, pods: dict[str, str]) -> None:
    admin = lab.opts.url(lab.opts.admin_port)
    default_region, wrong_region, override, anchor_option, down = concurrently(
        # No --os-region-name: the cloud's first region (CentralRegion), where the catalog lists the Admin API.
        partial(ok, lab, "pod", "list", "-f", "json", region=None),
        # RegionOne's catalog has no Admin API: a clear message naming the way out.
        partial(fails, lab, "pod", "list", region="RegionOne"),
        # The override wins over the catalog (root URL or …/v1.0 both work), as an option or from the environment.
        partial(ok, lab, "pod", "list", "-f", "json", region="RegionOne",
                global_opts=("--os-multiregion-networking-endpoint-override", admin)),
        partial(ok, lab, "pod", "list", "-f", "json", region="RegionOne",
                global_opts=("--os-multiregion-networking-url", admin + "/v1.0/")),
        partial(fails, lab, "pod", "list", env={"OS_MULTIREGION_NETWORKING_ENDPOINT_OVERRIDE": "http://127.0.0.1:9/"}),
    )
    assert pods[CENTRAL] in {p["ID"] for p in default_region}
    assert "no multiregion-networking endpoint" in wrong_region and "CentralRegion" in wrong_region, wrong_region
    assert "--os-multiregion-networking-endpoint-override" in wrong_region
    for listed in (override, anchor_option):
        assert pods["RegionOne"] in {p["ID"] for p in listed}
    assert "cannot reach the Admin API at http://127.0.0.1:9/v1.0" in down, down


def test_client_helpers() -> None:
    assert server_message('{"forbidden": {"message": "Unauthorized to list pods", "code": 403}}') == \
        "Unauthorized to list pods"
    assert server_message("plain text\n") == "plain text"
    assert api_base("http://h:19999/") == api_base("http://h:19999/v1.0") == "http://h:19999/v1.0"
    assert next_marker([{"rel": "next", "href": "http://h/v1.0/jobs?type=x&limit=2&marker=abc"}]) == "abc"
    assert next_marker([]) is None and next_marker(None) is None
    text = describe_failure(404, "Pod not found", action="show the pod", kind="pod", ref="p1")
    assert "Pod 'p1' not found (HTTP 404: Pod not found)" in text
    assert "openstack multiregion networking pod list" in text
    assert "admin role" in describe_failure(403, "Unauthorized to list pods", action="list pods")
