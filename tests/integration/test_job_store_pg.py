"""The job queue's claim semantics on PostgreSQL, with real concurrent claimers (threads).

Threads start together on a barrier and the clock is a ManualClock shared by all: the only
waiting is on the threads themselves, never on time.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import delete, select, text

from regionmesh.db.clock import ManualClock, SystemClock
from regionmesh.db.engine import Database
from regionmesh.db.migrate import upgrade
from regionmesh.db.models import job_logs, jobs
from regionmesh.jobs import store
from regionmesh.jobs.store import NEW, RUNNING, SUCCESS

LEASE = 60.0
THREADS = 8


@pytest.fixture(scope="module")
def db(pg_url: str) -> Iterator[Database]:
    upgrade(pg_url)
    database = Database(pg_url, pool_size=THREADS + 2)
    yield database
    database.dispose()


@pytest.fixture(autouse=True)
def empty(db: Database) -> None:
    def work(conn: object) -> None:
        conn.execute(delete(job_logs))  # type: ignore[attr-defined]
        conn.execute(delete(jobs))  # type: ignore[attr-defined]

    db.transaction(work)  # type: ignore[arg-type]


def run_threads(count: int, target: Callable[[int], None]) -> None:
    barrier = threading.Barrier(count)
    errors: list[BaseException] = []

    def body(i: int) -> None:
        try:
            barrier.wait(30)
            target(i)
        except BaseException as error:  # reported below, in the test's thread
            errors.append(error)

    threads = [threading.Thread(target=body, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads), "a claimer hung"
    assert not errors, errors


def test_concurrent_claimers_take_every_job_exactly_once(db: Database) -> None:
    clock = ManualClock()
    total = 120

    def fill(conn: object) -> None:
        for i in range(total):
            store.enqueue(conn, "port_delete", {"pod_id": "p", "port_id": f"port-{i}"}, "p1",  # type: ignore[arg-type]
                          now=clock.now())

    db.transaction(fill)  # type: ignore[arg-type]
    claimed: list[str] = []
    lock = threading.Lock()

    def worker(i: int) -> None:
        while True:
            batch = store.claim_batch(db, f"w{i}", now=clock.now(), lease_seconds=LEASE, limit=3)
            if not batch:
                return
            for job in batch:
                assert job.status == RUNNING and job.lease_owner == f"w{i}"
                assert store.finish_success(db, job, now=clock.now()) is not None
            with lock:
                claimed.extend(j.id for j in batch)

    run_threads(THREADS, worker)
    counts = Counter(claimed)
    assert len(counts) == total and set(counts.values()) == {1}
    with db.read() as conn:
        assert set(conn.execute(select(jobs.c.status)).scalars()) == {SUCCESS}
        assert conn.execute(text("select count(*) from job_logs")).scalar_one() == total


def test_claim_skips_rows_locked_by_another_transaction(db: Database) -> None:
    clock = ManualClock()
    for i in range(2):
        db.transaction(lambda conn, i=i: store.enqueue(conn, "port_delete", {"pod_id": "p", "port_id": f"x{i}"},
                                                       "p1", now=clock.now()))
    with db.begin() as holder:
        locked = holder.execute(select(jobs.c.id).where(jobs.c.resource_id == "p#x0").with_for_update()).scalar_one()
        got: list[store.JobRow | None] = []
        thread = threading.Thread(target=lambda: got.append(
            store.claim(db, "w1", now=clock.now(), lease_seconds=LEASE)))
        thread.start()
        thread.join(30)
        assert not thread.is_alive(), "claim waited for a locked row instead of skipping it"
    assert got[0] is not None and got[0].id != locked and got[0].resource_id == "p#x1"


def test_concurrent_requests_coalesce_into_one_row(db: Database) -> None:
    clock = ManualClock()
    requests = 5

    def requester(i: int) -> None:
        for _ in range(requests):
            db.transaction(lambda conn: store.enqueue(conn, "seg_rule_setup", {"project_id": "p1"}, "p1",
                                                      now=clock.now()))

    run_threads(THREADS, requester)
    with db.read() as conn:
        rows = conn.execute(select(jobs)).all()
    assert len(rows) == 1
    assert rows[0].generation == THREADS * requests and rows[0].status == NEW


def test_requests_during_a_run_are_not_lost(db: Database) -> None:
    clock = ManualClock()
    db.transaction(lambda conn: store.enqueue(conn, "seg_rule_setup", {"project_id": "p1"}, "p1", now=clock.now()))
    job = store.claim(db, "w1", now=clock.now(), lease_seconds=LEASE)
    assert job is not None
    run_threads(THREADS, lambda i: db.transaction(lambda conn: store.enqueue(
        conn, "seg_rule_setup", {"project_id": "p1"}, "p1", now=clock.now())))
    done = store.finish_success(db, job, job.generation, now=clock.now())
    assert done is not None and done.status == NEW and done.generation == 1 + THREADS


def test_only_one_claimer_takes_over_an_expired_lease(db: Database) -> None:
    clock = ManualClock()
    db.transaction(lambda conn: store.enqueue(conn, "configure_route", {"router_id": "r1"}, "p1", now=clock.now()))
    crashed = store.claim(db, "dead", now=clock.now(), lease_seconds=LEASE)
    assert crashed is not None
    clock.advance(LEASE + 1)
    winners: list[str] = []
    lock = threading.Lock()

    def claimer(i: int) -> None:
        job = store.claim(db, f"w{i}", now=clock.now(), lease_seconds=LEASE)
        if job is not None:
            with lock:
                winners.append(job.lease_owner or "")

    run_threads(THREADS, claimer)
    assert len(winners) == 1
    assert store.finish_success(db, crashed, now=clock.now()) is None


def test_committed_request_wakes_an_idle_worker_through_notify(db: Database, pg_url: str) -> None:
    """JOB: a worker process on PostgreSQL idles with a long poll; the request's transaction wakes it
    (LISTEN/NOTIFY), so the job runs without waiting for the poll."""
    from regionmesh.jobs.engine import JobContext, Worker
    from regionmesh.jobs.wakeup import JobListener

    done: dict[str, threading.Event] = {"a": threading.Event(), "b": threading.Event()}
    worker = Worker(db, {"update_network": lambda _jc, job: done[job.resource["network_id"]].set()},
                    JobContext(None, None))
    listener = JobListener(pg_url, worker.wakeup.set).start()
    stop = threading.Event()
    thread = threading.Thread(target=worker.run_forever, args=(stop,), kwargs={"idle_wait": 3600.0})
    try:
        assert listener.listening.wait(30)
        thread.start()
        for key in ("a", "b"):  # "b" arrives while the worker idles after "a"
            db.transaction(lambda conn, k=key: store.enqueue(  # type: ignore[misc]
                conn, "update_network", {"pod_id": "p", "network_id": k}, None, now=SystemClock().now()))
            assert done[key].wait(30), f"job {key} did not run: the worker was not woken"
    finally:
        stop.set()
        worker.wakeup.set()
        thread.join(10)
        listener.stop()
    with db.read() as conn:
        assert {r.status for r in conn.execute(select(jobs.c.status))} == {SUCCESS}
