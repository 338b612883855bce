"""The job engine: workers that claim due jobs, run their handlers and record the outcome.

A worker claims one due job at a time under a lease (a crashed worker's jobs are taken over when
the lease expires), runs the handler for its type, and closes the run: SUCCESS (or NEW again when
a newer request arrived meanwhile), NEW after a capped backoff for temporary errors, FAIL with the
reason for permanent ones. Handlers are level-triggered and idempotent, so running one again after
a crash converges to the same state. Only types with a handler are claimed; others stay visible
as NEW in the Admin API.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from regionmesh.db.clock import Clock, SystemClock
from regionmesh.db.engine import Database
from regionmesh.jobs import store
from regionmesh.jobs.errors import classify, describe

LOG = logging.getLogger(__name__)


@dataclass
class JobContext:
    """What handlers may use: central's domain, the region directory, the clock."""

    core: Any
    directory: Any
    clock: Clock = field(default_factory=SystemClock)


Handler = Callable[[JobContext, store.JobRow], None]


class Worker:
    """One job worker; several may run at once (threads on SQLite, processes on PostgreSQL)."""

    def __init__(self, db: Database, handlers: Mapping[str, Handler], jctx: JobContext, *,
                 worker_id: str | None = None, lease_seconds: float = 60.0,
                 backoff: store.Backoff | None = None) -> None:
        self.db = db
        self.handlers = dict(handlers)
        self.jctx = jctx
        self.worker_id = worker_id or f"worker-{uuid.uuid4().hex[:8]}"
        self.lease_seconds = lease_seconds
        self.backoff = backoff or store.Backoff()
        self.wakeup = threading.Event()

    @property
    def clock(self) -> Clock:
        return self.jctx.clock

    def run_once(self) -> store.JobRow | None:
        """Claim and run one due job; returns the job as recorded afterwards, or None when idle."""
        job = store.claim(self.db, self.worker_id, now=self.clock.now(), lease_seconds=self.lease_seconds,
                          types=list(self.handlers))
        if job is None:
            return None
        handler = self.handlers[job.type]
        LOG.info("job %s %s %s: attempt %d", job.id, job.type, job.resource_id, job.attempts)
        try:
            handler(self.jctx, job)
        except Exception as err:  # every failure is recorded on the job, never lost
            permanent = classify(err)
            LOG.log(logging.ERROR if permanent else logging.WARNING, "job %s %s %s failed (%s): %s", job.id,
                    job.type, job.resource_id, "permanent" if permanent else "will retry", describe(err))
            return store.finish_failure(self.db, job, err, permanent=permanent, now=self.clock.now(),
                                        backoff=self.backoff, claimed_generation=job.generation)
        return store.finish_success(self.db, job, job.generation, now=self.clock.now())

    def run_until_idle(self, max_runs: int = 1000) -> list[store.JobRow]:
        """Run due jobs until none is due now (tests and one-shot sweeps); returns the outcomes."""
        done: list[store.JobRow] = []
        for _ in range(max_runs):
            outcome = self.run_once()
            if outcome is None:
                return done
            done.append(outcome)
        return done

    def run_forever(self, stop: threading.Event, *, idle_wait: float = 1.0) -> None:
        """Work until ``stop`` is set: run everything due, then wait for the next due time or a wakeup."""
        while not stop.is_set():
            self.wakeup.clear()  # before looking: a wakeup during the run below is kept, not lost
            try:
                ran = self.run_until_idle()
            except Exception:  # the database itself failed: wait and try again
                LOG.exception("worker %s: claiming jobs failed", self.worker_id)
                ran = []
            if ran:
                continue
            with self.db.read() as conn:
                due = store.next_due_at(conn)
            wait = idle_wait
            if due is not None:
                now = self.clock.now().replace(tzinfo=None)
                wait = max(0.0, min(idle_wait, (due - now).total_seconds()))
            self.wakeup.wait(wait)


class WorkerPool:
    """N worker threads over one database (the lab's default)."""

    def __init__(self, make_worker: Callable[[int], Worker], size: int = 2) -> None:
        self.workers = [make_worker(i) for i in range(size)]
        self.stop_event = threading.Event()
        self.threads = [threading.Thread(target=w.run_forever, args=(self.stop_event,), name=w.worker_id,
                                         daemon=True) for w in self.workers]

    def start(self) -> WorkerPool:
        for thread in self.threads:
            thread.start()
        return self

    def wake(self) -> None:
        for worker in self.workers:
            worker.wakeup.set()

    def stop(self) -> None:
        self.stop_event.set()
        self.wake()
        for thread in self.threads:
            thread.join(10)
