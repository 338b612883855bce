"""Faults: a worker process killed mid-job, a job that outlives its lease (issue: multi-region, Done when).

A real `regionmesh worker` process claims the job; the region's database is held locked so the
job is stuck mid-run; the process is killed. Another worker takes the job over once the lease has
expired (its clock says so) and converges the region: nothing lost, nothing duplicated.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from multiregion import MultiRegion, cloud, network
from sqlalchemy import select

from regionmesh.db import models as m
from regionmesh.jobs import store

__all__ = ["cloud"]


def _wait(predicate: object, what: str, timeout: float = 30.0) -> None:
    """Poll observable state (bounded)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _job(cloud: MultiRegion) -> store.JobRow:
    with cloud.core.db.read() as conn:
        return store._job(conn.execute(select(m.jobs).where(m.jobs.c.type == "seg_rule_setup")).one())


def test_killed_worker_process_job_is_taken_over_after_lease_expiry(cloud: MultiRegion, tmp_path: Path) -> None:
    net, _ = network(cloud, "net1", "10.0.1.0/24")
    vm = cloud.boot("RegionOne", net["id"], "host1")
    sg = vm["security_groups"][0]
    assert _job(cloud).status == "NEW"
    region_db = sqlite3.connect(cloud.region_db_path("RegionOne"), timeout=30, isolation_level=None)
    region_db.execute("BEGIN IMMEDIATE")  # the region's writes now wait: the job will be stuck mid-run
    exe = Path(sys.executable).with_name("regionmesh")
    proc = subprocess.Popen([str(exe), "worker", "--database", cloud.central_db_url, "--worker-id", "doomed",
                             "--lease", "2", "--region-endpoint", f"RegionOne={cloud.regions['RegionOne'].url}",
                             "--region-endpoint", f"RegionTwo={cloud.regions['RegionTwo'].url}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ})
    try:
        _wait(lambda: _job(cloud).status == "RUNNING" and _job(cloud).lease_owner == "doomed",
              "the worker process to claim the job")
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
        region_db.execute("ROLLBACK")
        region_db.close()
    stuck = _job(cloud)
    assert stuck.status == "RUNNING" and stuck.attempts == 1
    # Not yet expired by our clock? The manual clock starts in 2030, far past the 2 s lease.
    outcomes = cloud.worker.run_until_idle()
    assert [j.status for j in outcomes][-1] == "SUCCESS"
    done = _job(cloud)
    assert done.status == "SUCCESS" and done.attempts >= 2
    copy = cloud.region("RegionOne").get(f"/security-groups/{sg}").json()["security_group"]
    keys = [(r["direction"], r["ethertype"], r["protocol"], r["remote_ip_prefix"], r["remote_group_id"])
            for r in copy["security_group_rules"]]
    assert len(keys) == len(set(keys)), "a duplicate rule was created"
    ip = vm["fixed_ips"][0]["ip_address"]
    assert {k[3] for k in keys if k[0] == "ingress"} == {f"{ip}/32"}
