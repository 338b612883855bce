"""`regionmesh lab up --detach`, `lab status`, `lab down`, and a second `lab up` reusing the state."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from regionmesh.api.server import port_in_use
from regionmesh.lab.control import alive, listening, read_state
from regionmesh.lab.launcher import LabOptions

EXE = str(Path(sys.executable).with_name("regionmesh"))




def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([EXE, *args], capture_output=True, text=True, timeout=120)


def test_detach_status_down_and_reuse(tmp_path: Path) -> None:
    state = tmp_path / "lab"
    offset = str(LabOptions().pick_free_offset())
    up = run("lab", "up", "--detach", "--state-dir", str(state), "--port-offset", offset)
    assert up.returncode == 0, up.stdout + up.stderr
    info = read_state(state)
    assert info is not None and alive(int(info["pid"]))
    endpoints = info["endpoints"]
    assert all(listening(url) for url in endpoints.values())
    status = run("lab", "status", "--state-dir", str(state))
    assert status.returncode == 0 and "memory (RSS)" in status.stdout and "DOWN" not in status.stdout
    # make something to find again after a restart
    clouds = state / "clouds.yaml"
    env = {**os.environ, "OS_CLIENT_CONFIG_FILE": str(clouds)}
    osc = str(Path(sys.executable).with_name("openstack"))
    made = subprocess.run([osc, "--os-cloud", "regionmesh-demo", "network", "create", "keepme", "-f", "json"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert made.returncode == 0, made.stderr
    net_id = json.loads(made.stdout)["id"]
    # the operator's commands: doctor says what is missing and how to fix it
    doctor = run("doctor", "--state-dir", str(state))
    assert doctor.returncode == 1 and "no pods registered" in doctor.stdout and "pod create" in doctor.stdout
    jobs = run("jobs", "list", "-f", "json", "--state-dir", str(state))
    assert jobs.returncode == 0 and json.loads(jobs.stdout) == []
    assert "(none)" in run("pods", "--state-dir", str(state)).stdout
    bad = run("jobs", "show", "--state-dir", str(state))
    assert bad.returncode == 2 and "needs a job id" in bad.stderr
    # failures on demand: a region and central stop and come back; the rest keeps serving
    region_one = endpoints["RegionOne Neutron API"]
    assert run("lab", "region", "stop", "RegionOne", "--state-dir", str(state)).returncode == 0
    assert not listening(region_one)
    assert "DOWN" in run("lab", "status", "--state-dir", str(state)).stdout
    assert listening(endpoints["RegionTwo Neutron API"]) and listening(endpoints["central Neutron API"])
    assert run("lab", "region", "start", "RegionOne", "--state-dir", str(state)).returncode == 0
    assert listening(region_one)
    assert run("lab", "central", "stop", "--state-dir", str(state)).returncode == 0
    assert not listening(endpoints["central Neutron API"])
    assert run("lab", "central", "start", "--state-dir", str(state)).returncode == 0
    assert listening(endpoints["central Neutron API"])
    assert run("lab", "host", "stop", "RegionOne", "regionone-host1", "--state-dir", str(state)).returncode == 0
    assert run("lab", "host", "start", "RegionOne", "regionone-host1", "--state-dir", str(state)).returncode == 0
    nohost = run("lab", "host", "stop", "RegionOne", "nohost", "--state-dir", str(state))
    assert nohost.returncode == 2 and "regionone-host2" in nohost.stderr
    unknown = run("lab", "region", "stop", "RegionNine", "--state-dir", str(state))
    assert unknown.returncode == 2 and "RegionOne" in unknown.stderr
    down = run("lab", "down", "--state-dir", str(state))
    assert down.returncode == 0, down.stdout + down.stderr
    assert not alive(int(info["pid"]))
    assert not any(listening(url) for url in endpoints.values())
    assert run("lab", "status", "--state-dir", str(state)).returncode == 3
    # a second `lab up` reuses the state: same passwords, same network
    again = run("lab", "up", "--detach", "--state-dir", str(state), "--port-offset", offset)
    assert again.returncode == 0, again.stdout + again.stderr
    try:
        shown = subprocess.run([osc, "--os-cloud", "regionmesh-demo", "network", "show", net_id, "-f", "json"],
                               capture_output=True, text=True, env=env, timeout=120)
        assert shown.returncode == 0, shown.stderr
        assert json.loads(shown.stdout)["name"] == "keepme"
    finally:
        assert run("lab", "down", "--state-dir", str(state)).returncode == 0
    second = read_state(state)
    assert second is None
    assert not any(port_in_use("127.0.0.1", int(u.rsplit(":", 1)[1].split("/")[0]))
                   for u in endpoints.values())
