"""`regionmesh lab up --database postgresql+psycopg://…` runs central on PostgreSQL (lab, issue 5).

Real processes throughout: the lab is started with ``--detach`` on free ports against a fresh database
on the suite's PostgreSQL server, with its job workers as separate ``regionmesh worker`` processes
(``--worker-processes``; they claim with SKIP LOCKED). Pods are registered with the seed's bodies on
the Admin API, a network and subnet are created in CentralRegion, and a VM's port is created and bound
in RegionOne as Nova does. The test then reads PostgreSQL directly, waits for the jobs to converge
through the worker processes, checks `lab status` and `lab down`, and starts the lab again on the same
database to find the network there. A database that cannot work is one line of error, not a traceback.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, func, select

import pg
from regionmesh.api.server import port_in_use
from regionmesh.db import models as m
from regionmesh.lab.control import alive, listening, read_state
from regionmesh.lab.launcher import LabOptions
from regionmesh.lab.workers import is_worker_process

EXE = str(Path(sys.executable).with_name("regionmesh"))


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([EXE, *map(str, args)], capture_output=True, text=True, timeout=120)


def _wait_for(predicate: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    """Poll an observable condition (bounded): the worker processes run on their own."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _token(identity: str, state: Path, user: str) -> str:
    password = json.loads((state / "secrets.json").read_text())[user]
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": user, "domain": {"id": "default"}, "password": password}}},
        "scope": {"project": {"name": user, "domain": {"id": "default"}}}}}
    resp = httpx.post(f"{identity}/auth/tokens", json=body, timeout=30)
    assert resp.status_code == 201, resp.text
    return resp.headers["X-Subject-Token"]


def _client(url: str, token: str) -> httpx.Client:
    return httpx.Client(base_url=url, headers={"X-Auth-Token": token}, timeout=30)


def _nothing_left(offset: int) -> bool:
    return not any(port_in_use("127.0.0.1", p + offset) for p in LabOptions().base_ports())


def test_lab_on_postgresql_with_worker_processes(pg_database_factory: Callable[[str], str], tmp_path: Path) -> None:
    url = pg_database_factory("lab_pg")
    state = tmp_path / "lab"
    offset = LabOptions().pick_free_offset()
    up = run("lab", "up", "--detach", "--state-dir", state, "--port-offset", str(offset), "--database", url,
             "--worker-processes", "2")
    assert up.returncode == 0, up.stdout + up.stderr
    info = read_state(state)
    assert info is not None
    pid = int(info["pid"])
    workers = info["workers"]
    assert [w["id"] for w in workers] == ["lab-worker-process-1", "lab-worker-process-2"]
    assert all(is_worker_process(int(w["pid"])) for w in workers)
    log = (state / "lab.log").read_text()
    assert "2 job worker processes running" in log and "job workers running" not in log  # no worker threads
    assert not (state / "central.db").exists()  # central is not on SQLite
    # the database went to the background lab through its environment, not its command line
    assert url not in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    endpoints = info["endpoints"]
    admin_token = _token(endpoints["identity"], state, "admin")
    demo_token = _token(endpoints["identity"], state, "demo")
    admin = _client(endpoints["Admin API"].removesuffix("/v1.0"), admin_token)
    for body in ({"pod": {"region_name": "CentralRegion"}}, {"pod": {"region_name": "RegionOne", "az_name": "az1"}},
                 {"pod": {"region_name": "RegionTwo", "az_name": "az2"}}):
        resp = admin.post("/v1.0/pods", json=body)
        assert resp.status_code == 200, resp.text
    central = _client(endpoints["central Neutron API"], demo_token)
    made = central.post("/networks", json={"network": {"name": "net1", "availability_zone_hints": ["az1"]}})
    assert made.status_code == 201, made.text
    net_id = made.json()["network"]["id"]
    subnet = central.post("/subnets", json={"subnet": {"network_id": net_id, "cidr": "10.0.1.0/24",
                                                       "ip_version": 4}})
    assert subnet.status_code == 201, subnet.text
    # a VM boot in RegionOne, as Nova calls its local Neutron: the user's port, then the binding
    region_one = _client(endpoints["RegionOne Neutron API"], demo_token)
    assert region_one.get(f"/networks/{net_id}").status_code == 200  # lazily created, same UUID
    port = region_one.post("/ports", json={"port": {"network_id": net_id}})
    assert port.status_code == 201, port.text
    port_id = port.json()["port"]["id"]
    bound = _client(endpoints["RegionOne Neutron API"], admin_token).put(
        f"/ports/{port_id}", json={"port": {"binding:host_id": "regionone-host1", "device_owner": "compute:az1",
                                            "device_id": "vm1"}})
    assert bound.status_code == 200, bound.text

    def jobs() -> list[dict[str, Any]]:
        return list(admin.get("/v1.0/jobs").json()["jobs"])

    _wait_for(lambda: bool(jobs()) and all(j["status"] == "SUCCESS" for j in jobs()), "all jobs SUCCESS")
    # ... through the worker processes: each job ran in one of them
    worker_logs = "".join(Path(w["log"]).read_text() for w in workers)
    assert all(j["id"] in worker_logs for j in jobs()), worker_logs
    sg = port.json()["port"]["security_groups"][0]
    rules = region_one.get(f"/security-groups/{sg}").json()["security_group"]["security_group_rules"]
    ip = port.json()["port"]["fixed_ips"][0]["ip_address"]
    assert f"{ip}/32" in {r["remote_ip_prefix"] for r in rules}  # the job reached the region
    # the central data is in PostgreSQL
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            assert conn.execute(select(m.networks.c.name).where(m.networks.c.id == net_id)).scalar_one() == "net1"
            assert conn.execute(select(func.count()).select_from(m.pods)).scalar_one() == 3
            routed = set(conn.execute(select(m.resource_routings.c.top_id)).scalars())
            assert {net_id, port_id} <= routed
            statuses = set(conn.execute(select(m.jobs.c.status)).scalars())
            assert statuses == {"SUCCESS"}
    finally:
        engine.dispose()
    status = run("lab", "status", "--state-dir", state)
    assert status.returncode == 0, status.stdout + status.stderr
    assert "DOWN" not in status.stdout
    assert "central database postgresql+psycopg://" in status.stdout
    assert all(f"up    job worker {w['id']}" in status.stdout for w in workers), status.stdout
    down = run("lab", "down", "--state-dir", state)
    assert down.returncode == 0, down.stdout + down.stderr
    assert not alive(pid)
    assert not any(is_worker_process(int(w["pid"])) for w in workers)
    assert not any(listening(u) for u in endpoints.values()) and _nothing_left(offset)
    assert not (state / "worker.toml").exists()  # the workers' settings (passwords) do not outlive the lab
    assert run("lab", "status", "--state-dir", state).returncode == 3
    # a second `lab up` on the same database finds the network again
    again = run("lab", "up", "--detach", "--state-dir", state, "--port-offset", str(offset), "--database", url,
                "--worker-processes", "1")
    assert again.returncode == 0, again.stdout + again.stderr
    second = read_state(state)
    assert second is not None
    try:
        demo_token = _token(endpoints["identity"], state, "demo")
        shown = _client(endpoints["central Neutron API"], demo_token).get(f"/networks/{net_id}")
        assert shown.status_code == 200, shown.text
        assert shown.json()["network"]["name"] == "net1"
        # the lab process dies without stopping its worker: `lab down` still leaves no process behind
        orphan = int(second["workers"][0]["pid"])
        os.kill(int(second["pid"]), signal.SIGKILL)
        _wait_for(lambda: not alive(int(second["pid"])), "the lab process to die")
        assert is_worker_process(orphan)
        orphaned = run("lab", "status", "--state-dir", state)
        assert orphaned.returncode == 3 and f"still running (pids {orphan})" in orphaned.stdout
    finally:
        down = run("lab", "down", "--state-dir", state)
    assert down.returncode == 0, down.stdout + down.stderr
    assert not is_worker_process(orphan)
    assert not (state / "worker.toml").exists()
    assert _nothing_left(offset)


def test_unusable_database_is_one_clear_line(pg_server: pg.PgServer, tmp_path: Path) -> None:
    offset = str(LabOptions().pick_free_offset())
    state = tmp_path / "lab"
    refused = f"postgresql+psycopg://rm:s3cret-pw@127.0.0.1:{pg.free_port()}/nowhere"
    for detach in ([], ["--detach"]):
        out = run("lab", "up", *detach, "--state-dir", state, "--port-offset", offset, "--database", refused)
        assert out.returncode == 2, out.stdout + out.stderr
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1, out.stderr
        assert lines[0].startswith("error: central database postgresql+psycopg://rm:***@127.0.0.1:"), lines
        assert "/nowhere" in lines[0] and "start PostgreSQL on 127.0.0.1:" in lines[0]
        assert "s3cret-pw" not in out.stdout + out.stderr and "Traceback" not in out.stderr
    assert "s3cret-pw" not in (state / "lab.log").read_text()
    missing = run("lab", "up", "--state-dir", state, "--port-offset", offset,
                  "--database", pg_server.url_for("no_such_db"))
    assert missing.returncode == 2
    assert "database \"no_such_db\" does not exist" in missing.stderr and "createdb" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1 and "Traceback" not in missing.stderr
    # worker processes need PostgreSQL: on SQLite the lab says so before starting anything
    sqlite = run("lab", "up", "--state-dir", state, "--port-offset", offset, "--worker-processes", "2")
    assert sqlite.returncode == 2
    assert "--worker-processes needs central on PostgreSQL" in sqlite.stderr
    assert len(sqlite.stderr.strip().splitlines()) == 1
    assert read_state(state) is None and _nothing_left(int(offset))
