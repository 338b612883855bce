"""The job queue's rules on SQLite, with a hand-moved clock: nothing here sleeps."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from regionmesh.central import exceptions as cexc
from regionmesh.db.clock import ManualClock, db_time
from regionmesh.db.engine import Database
from regionmesh.db.migrate import upgrade
from regionmesh.db.models import job_logs, jobs
from regionmesh.jobs import store
from regionmesh.jobs.errors import (
    InvalidJobMarker,
    InvalidJobRequest,
    JobFromLog,
    JobIsRunning,
    JobNotFound,
    PermanentJobError,
    RunningJobNotDeletable,
    TemporaryJobError,
    UnknownJobType,
    classify,
)
from regionmesh.jobs.store import FAIL, NEW, RETRY, RUNNING, SUCCESS, Backoff
from regionmesh.network import exceptions as nexc

LEASE = 60.0
ROUTER = {"pod_id": "pod-1", "router_id": "r-1", "network_id": "n-1"}


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    url = f"sqlite:///{tmp_path}/jobs.db"
    upgrade(url)
    database = Database(url)
    yield database
    database.dispose()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


def enqueue(db: Database, clock: ManualClock, job_type: str = "router_setup",
            resource: dict[str, str] | str | None = None, project: str | None = "p1") -> store.JobRow:
    return db.transaction(lambda conn: store.enqueue(conn, job_type, resource or ROUTER, project, now=clock.now()))


def claim(db: Database, clock: ManualClock, worker: str = "w1") -> store.JobRow | None:
    return store.claim(db, worker, now=clock.now(), lease_seconds=LEASE)


def count(db: Database, table: object = jobs) -> int:
    with db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


# ---- enqueue / coalescing -----------------------------------------------------------------------
def test_enqueue_creates_a_new_job_due_now(db: Database, clock: ManualClock) -> None:
    job = enqueue(db, clock)
    assert (job.status, job.generation, job.attempts) == (NEW, 1, 0)
    assert job.resource_id == "pod-1#r-1#n-1"
    assert job.resource == ROUTER
    assert job.next_attempt_at == db_time(clock.now())
    view = job.to_dict()
    assert view["resource"] == ROUTER and view["status"] == "NEW" and view["attempts"] == 0
    assert set(view) >= {"id", "project_id", "type", "status", "resource", "timestamp", "last_error",
                         "next_attempt_at", "waiting_on"}


def test_repeated_requests_coalesce_into_one_row(db: Database, clock: ManualClock) -> None:
    first = enqueue(db, clock)
    clock.advance(5)
    second = enqueue(db, clock)
    other = enqueue(db, clock, resource={**ROUTER, "network_id": "n-2"})
    assert second.id == first.id
    assert second.generation == 2 and second.status == NEW
    assert second.requested_at == db_time(clock.now())
    assert other.id != first.id
    assert count(db) == 2


def test_enqueue_accepts_a_joined_resource_id(db: Database, clock: ManualClock) -> None:
    assert enqueue(db, clock, resource="pod-1#r-1#n-1").id == enqueue(db, clock).id


@pytest.mark.parametrize(("job_type", "resource", "error"), [
    ("no_such_type", ROUTER, UnknownJobType),
    ("router_setup", {"pod_id": "p", "router_id": "r"}, InvalidJobRequest),
    ("router_setup", {**ROUTER, "extra": "x"}, InvalidJobRequest),
    ("router_setup", {**ROUTER, "router_id": "a#b"}, InvalidJobRequest),
    ("router_setup", {**ROUTER, "router_id": " "}, InvalidJobRequest),
    ("router_setup", "pod#router", InvalidJobRequest),
])
def test_enqueue_validates_type_and_resource(db: Database, clock: ManualClock, job_type: str,
                                              resource: dict[str, str] | str, error: type[Exception]) -> None:
    with pytest.raises(error):
        enqueue(db, clock, job_type, resource)
    assert count(db) == 0


def test_enqueue_is_part_of_the_callers_transaction(db: Database, clock: ManualClock) -> None:
    class Boom(Exception):
        pass

    def work(conn: object) -> None:
        store.enqueue(conn, "port_delete", {"pod_id": "p", "port_id": "x"}, "p1", now=clock.now())  # type: ignore[arg-type]
        raise Boom

    with pytest.raises(Boom):
        db.transaction(work)  # type: ignore[arg-type]
    assert count(db) == 0  # rolled back with the change that needed it


def test_request_for_a_finished_job_makes_it_new_again(db: Database, clock: ManualClock) -> None:
    enqueue(db, clock)
    job = claim(db, clock)
    assert job is not None
    store.finish_failure(db, job, PermanentJobError("bad"), permanent=True, now=clock.now(), backoff=Backoff())
    clock.advance(10)
    again = enqueue(db, clock)
    assert (again.status, again.attempts, again.next_attempt_at) == (NEW, 0, db_time(clock.now()))
    assert again.id == job.id  # stable for the life of the row


# ---- claim / generation / lease -----------------------------------------------------------------
def test_claim_takes_a_due_job_once(db: Database, clock: ManualClock) -> None:
    enqueue(db, clock)
    job = claim(db, clock)
    assert job is not None
    assert (job.status, job.attempts, job.lease_owner) == (RUNNING, 1, "w1")
    assert job.lease_expires_at == db_time(clock.now()) + timedelta(seconds=LEASE)
    assert claim(db, clock, "w2") is None  # at most one run per (type, resource)


def test_request_during_a_run_requeues_instead_of_success(db: Database, clock: ManualClock) -> None:
    enqueue(db, clock)
    job = claim(db, clock)
    assert job is not None
    during = enqueue(db, clock)
    assert during.status == RUNNING and during.generation == 2
    done = store.finish_success(db, job, job.generation, now=clock.now())
    assert done is not None and done.status == NEW and done.attempts == 0
    rerun = claim(db, clock)
    assert rerun is not None and rerun.generation == 2
    final = store.finish_success(db, rerun, rerun.generation, now=clock.now())
    assert final is not None and final.status == SUCCESS
    assert claim(db, clock) is None


def test_expired_lease_is_taken_over(db: Database, clock: ManualClock) -> None:
    enqueue(db, clock)
    crashed = claim(db, clock, "w1")
    assert crashed is not None
    clock.advance(LEASE - 1)
    assert claim(db, clock, "w2") is None  # still leased
    clock.advance(2)
    taken = claim(db, clock, "w2")
    assert taken is not None and taken.lease_owner == "w2" and taken.attempts == 2
    assert taken.last_error is not None and "w1" in taken.last_error
    # The first worker wakes up: it no longer holds the job, so nothing it reports counts.
    assert store.finish_success(db, crashed, now=clock.now()) is None
    assert not store.renew_lease(db, crashed, now=clock.now(), lease_seconds=LEASE)
    done = store.finish_success(db, taken, now=clock.now())
    assert done is not None and done.status == SUCCESS


def test_same_worker_cannot_finish_a_run_it_lost(db: Database, clock: ManualClock) -> None:
    enqueue(db, clock)
    old = claim(db, clock, "w1")
    clock.advance(LEASE + 1)
    new = claim(db, clock, "w1")
    assert old is not None and new is not None
    assert store.finish_success(db, old, now=clock.now()) is None  # the claim is (owner, attempt)
    assert store.finish_success(db, new, now=clock.now()) is not None


def test_renewed_lease_is_not_taken_over(db: Database, clock: ManualClock) -> None:
    enqueue(db, clock)
    job = claim(db, clock)
    assert job is not None
    clock.advance(LEASE - 1)
    assert store.renew_lease(db, job, now=clock.now(), lease_seconds=LEASE)
    clock.advance(LEASE - 1)
    assert claim(db, clock, "w2") is None


def test_claim_batch_and_type_filter(db: Database, clock: ManualClock) -> None:
    for i in range(3):
        enqueue(db, clock, "port_delete", {"pod_id": "p", "port_id": f"port-{i}"})
    enqueue(db, clock, "seg_rule_setup", {"project_id": "p1"})
    got = store.claim_batch(db, "w1", now=clock.now(), lease_seconds=LEASE, limit=10, types=["port_delete"])
    assert sorted(j.resource["port_id"] for j in got) == ["port-0", "port-1", "port-2"]
    rest = store.claim_batch(db, "w2", now=clock.now(), lease_seconds=LEASE, limit=10)
    assert [j.type for j in rest] == ["seg_rule_setup"]


def test_set_waiting_is_visible_and_cleared_by_success(db: Database, clock: ManualClock) -> None:
    enqueue(db, clock)
    job = claim(db, clock)
    assert job is not None
    store.set_waiting(db, job, "port 1234 has no bottom copy yet")
    with db.read() as conn:
        assert store.get_job(conn, job.id).to_dict()["waiting_on"] == "port 1234 has no bottom copy yet"
    done = store.finish_success(db, job, now=clock.now())
    assert done is not None and done.waiting_on is None


# ---- failures and backoff -----------------------------------------------------------------------
def test_temporary_failure_backs_off_as_data(db: Database, clock: ManualClock) -> None:
    enqueue(db, clock)
    job = claim(db, clock)
    assert job is not None
    backoff = Backoff(base=10.0, cap=300.0)
    failed = store.finish_failure(db, job, httpx.ConnectError("region down"), permanent=False, now=clock.now(),
                                  backoff=backoff, waiting_on="RegionOne unreachable")
    assert failed is not None and failed.status == NEW
    assert failed.last_error == "ConnectError: region down" and failed.waiting_on == "RegionOne unreachable"
    assert failed.next_attempt_at is not None
    wait = (failed.next_attempt_at - db_time(clock.now())).total_seconds()
    assert 5.0 <= wait <= 10.0
    clock.advance(wait - 0.5)
    assert claim(db, clock) is None
    clock.advance(1)
    again = claim(db, clock)
    assert again is not None and again.attempts == 2


def test_backoff_is_capped_and_grows() -> None:
    backoff = Backoff(base=1.0, cap=30.0, jitter=0.5)
    rng = random.Random(7)
    delays = [backoff.delay(n, rng) for n in range(1, 200)]
    assert all(0 < d <= 30.0 for d in delays)
    assert delays[0] <= 1.0 and min(delays[10:]) >= 15.0
    assert Backoff(base=2.0, cap=100.0, jitter=0.0).delay(3) == 8.0


def test_backoff_stays_capped_through_many_failures(db: Database, clock: ManualClock) -> None:
    enqueue(db, clock)
    backoff = Backoff(base=1.0, cap=20.0)
    waits = []
    for _ in range(12):
        job = claim(db, clock)
        assert job is not None
        failed = store.finish_failure(db, job, "still down", permanent=False, now=clock.now(), backoff=backoff)
        assert failed is not None and failed.next_attempt_at is not None
        wait = (failed.next_attempt_at - db_time(clock.now())).total_seconds()
        waits.append(wait)
        clock.advance(wait)
    assert max(waits) <= 20.0 and waits[-1] >= 10.0


def test_temporary_error_may_choose_its_delay(db: Database, clock: ManualClock) -> None:
    enqueue(db, clock)
    job = claim(db, clock)
    assert job is not None
    failed = store.finish_failure(db, job, TemporaryJobError("wait for port", delay=42.0), permanent=False,
                                  now=clock.now(), backoff=Backoff())
    assert failed is not None and failed.next_attempt_at == db_time(clock.now()) + timedelta(seconds=42)


def test_permanent_failure_stops(db: Database, clock: ManualClock) -> None:
    enqueue(db, clock)
    job = claim(db, clock)
    assert job is not None
    failed = store.finish_failure(db, job, PermanentJobError("network gone"), permanent=True, now=clock.now(),
                                  backoff=Backoff())
    assert failed is not None and failed.status == FAIL and failed.last_error == "PermanentJobError: network gone"
    clock.advance(10 * 24 * 3600)
    assert claim(db, clock) is None
    with db.read() as conn:
        assert store.due_jobs(conn, clock.now()) == []
        assert store.next_due_at(conn) is None


def test_max_attempts_turns_temporary_into_fail(db: Database, clock: ManualClock) -> None:
    enqueue(db, clock)
    backoff = Backoff(base=1.0, cap=1.0, max_attempts=2)
    statuses = []
    for _ in range(2):
        job = claim(db, clock)
        assert job is not None
        failed = store.finish_failure(db, job, "boom", permanent=False, now=clock.now(), backoff=backoff)
        assert failed is not None
        statuses.append(failed.status)
        clock.advance(5)
    assert statuses == [NEW, FAIL]


def test_permanent_failure_of_an_old_generation_still_runs_the_new_request(db: Database, clock: ManualClock) -> None:
    enqueue(db, clock)
    job = claim(db, clock)
    assert job is not None
    enqueue(db, clock)
    failed = store.finish_failure(db, job, "bad input", permanent=True, now=clock.now(), backoff=Backoff())
    assert failed is not None and failed.status == NEW


def test_every_run_is_logged(db: Database, clock: ManualClock) -> None:
    enqueue(db, clock)
    outcomes = []
    for permanent, error in ((False, "temp"), (True, "perm")):
        job = claim(db, clock)
        assert job is not None
        store.finish_failure(db, job, error, permanent=permanent, now=clock.now(), backoff=Backoff(cap=1.0))
        clock.advance(2)
        outcomes.append(job.id)
    store.redo(db, outcomes[0], now=clock.now())
    job = claim(db, clock)
    assert job is not None
    store.finish_success(db, job, now=clock.now())
    with db.read() as conn:
        runs = store.list_job_logs(conn, job.id)
        assert [r.status for r in runs] == [SUCCESS, FAIL, RETRY]
        assert runs[1].error == "perm" and runs[0].error is None
        assert store.get_job_log(conn, runs[0].id) == runs[0]
        assert runs[0].to_dict()["resource"] == ROUTER


# ---- operator actions ---------------------------------------------------------------------------
def test_redo_rules(db: Database, clock: ManualClock) -> None:
    enqueue(db, clock)
    job = claim(db, clock)
    assert job is not None
    with pytest.raises(JobIsRunning, match=f"Can't redo job {job.id} which is running"):
        store.redo(db, job.id, now=clock.now())
    store.finish_failure(db, job, "x", permanent=True, now=clock.now(), backoff=Backoff())
    clock.advance(3)
    redone = store.redo(db, job.id, now=clock.now())
    assert (redone.status, redone.attempts, redone.next_attempt_at) == (NEW, 0, db_time(clock.now()))
    job = claim(db, clock)
    assert job is not None
    store.finish_success(db, job, now=clock.now())
    # Deviation from the anchor: a SUCCESS job may be redone (handlers are level-triggered).
    assert store.redo(db, job.id, now=clock.now()).status == NEW
    with pytest.raises(JobNotFound, match="Job nope not found"):
        store.redo(db, "nope", now=clock.now())
    with db.read() as conn:
        log_id = store.list_job_logs(conn, job.id)[0].id
    with pytest.raises(JobFromLog, match=f"Job {log_id} is from job log"):
        store.redo(db, log_id, now=clock.now())


def test_delete_job_rules(db: Database, clock: ManualClock) -> None:
    enqueue(db, clock)
    job = claim(db, clock)
    assert job is not None
    with pytest.raises(RunningJobNotDeletable, match=f"Failed to delete the running job {job.id}"):
        store.delete_job(db, job.id)
    store.finish_success(db, job, now=clock.now())
    store.delete_job(db, job.id)
    assert count(db) == 0 and count(db, job_logs) == 1  # history stays
    with pytest.raises(JobNotFound):
        store.delete_job(db, job.id)


# ---- sweep and listing --------------------------------------------------------------------------
def test_sweep_returns_every_due_job(db: Database, clock: ManualClock) -> None:
    for i in range(5):
        enqueue(db, clock, "port_delete", {"pod_id": "p", "port_id": f"port-{i}"})
    backed_off = store.claim_batch(db, "w1", now=clock.now(), lease_seconds=LEASE, limit=2)
    for job in backed_off:
        store.finish_failure(db, job, "down", permanent=False, now=clock.now(), backoff=Backoff(base=100, jitter=0))
    clock.advance(1)
    enqueue(db, clock, "seg_rule_setup", {"project_id": "p1"})
    crashed = claim(db, clock, "w9")  # oldest due first: one of the three remaining ports
    assert crashed is not None and crashed.type == "port_delete"
    with db.read() as conn:
        due = store.due_jobs(conn, clock.now())
        assert len(due) == 3  # all of them at once, not one per tick
        assert store.next_due_at(conn) == db_time(clock.now()) - timedelta(seconds=1)
    clock.advance(LEASE + 1)  # the crashed worker's lease expires too
    with db.read() as conn:
        assert len(store.due_jobs(conn, clock.now())) == 4
    clock.advance(100)
    with db.read() as conn:
        assert len(store.due_jobs(conn, clock.now())) == 6
        assert len(store.due_jobs(conn, clock.now(), types=["seg_rule_setup"])) == 1


def test_list_jobs_filters_and_keyset_pages(db: Database, clock: ManualClock) -> None:
    ids = []
    for i in range(5):
        ids.append(enqueue(db, clock, "port_delete", {"pod_id": "p", "port_id": f"port-{i}"},
                           project="p1" if i % 2 == 0 else "p2").id)
        clock.advance(1)
    job = claim(db, clock)
    assert job is not None
    with db.read() as conn:
        page, more = store.list_jobs(conn, limit=2)
        assert more and [j.id for j in page] == [job.id, ids[4]]  # most recently changed first
        page2, more2 = store.list_jobs(conn, limit=2, marker=page[-1].id)
        assert more2
        page3, more3 = store.list_jobs(conn, limit=2, marker=page2[-1].id)
        assert not more3 and len(page3) == 1
        assert {j.id for j in page + page2 + page3} == set(ids)
        assert {j.project_id for j in store.list_jobs(conn, project_id="p2", limit=10)[0]} == {"p2"}
        assert [j.id for j in store.list_jobs(conn, status="running", limit=10)[0]] == [job.id]
        assert store.list_jobs(conn, status="bogus", limit=10)[0] == []
        assert len(store.list_jobs(conn, job_type="port_delete", status="New", limit=10)[0]) == 4
        with pytest.raises(InvalidJobMarker, match="Invalid marker: nope"):
            store.list_jobs(conn, limit=2, marker="nope")


# ---- error classification -----------------------------------------------------------------------
def _status_error(code: int) -> httpx.HTTPStatusError:
    request = httpx.Request("GET", "http://region/v2.0/ports")
    return httpx.HTTPStatusError("x", request=request, response=httpx.Response(code, request=request))


@pytest.mark.parametrize(("error", "permanent"), [
    (httpx.ConnectError("refused"), False),
    (httpx.ReadTimeout("slow"), False),
    (_status_error(503), False),
    (_status_error(500), False),
    (_status_error(409), False),
    (_status_error(429), False),
    (_status_error(400), True),
    (_status_error(404), True),
    (_status_error(403), True),
    (cexc.ResourceIsInDeleting(), False),
    (nexc.ServiceUnavailable(), False),
    (nexc.BadRequest(resource="port", msg="bad"), True),
    (nexc.NotFound(resource="port", id="x"), True),
    (TemporaryJobError("later"), False),
    (PermanentJobError("never"), True),
    (ConnectionResetError(), False),
    (RuntimeError("handler bug"), False),
])
def test_classify(error: BaseException, permanent: bool) -> None:
    assert classify(error) is permanent
