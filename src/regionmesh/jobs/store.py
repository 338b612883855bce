"""The persisted job queue: enqueue (in the caller's transaction), claim with a lease, finish, redo.

One row per (type, resource) — the UNIQUE key gives coalescing and "at most one run per (type,
resource)" by construction:

* ``enqueue`` upserts: a new row is NEW; a NEW row just records the request; a RUNNING row gets its
  ``generation`` bumped so the running worker re-queues it when it finishes; a SUCCESS/FAIL row goes
  back to NEW with its attempts reset. It writes inside the caller's transaction (transactional
  outbox): the job commits with the change that needs it, or not at all.
* ``claim`` takes due jobs (NEW and due, or RUNNING with an expired lease — a crashed worker) with
  ``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL; on SQLite the ``BEGIN IMMEDIATE`` write
  transaction serialises claimers. A claim is identified by (lease_owner, attempts), so a worker whose
  lease was taken over cannot finish someone else's run.
* ``finish_*`` close a run: SUCCESS, or NEW again when a newer request arrived meanwhile
  (level-triggered: no change is lost); temporary failures back off (capped, jittered — the delay is
  data in ``next_attempt_at``, nobody sleeps); permanent ones FAIL with the error kept. Every finished
  run appends a ``job_logs`` row.

Times come from the caller (``now``, from a :class:`~regionmesh.db.clock.Clock`), never from here.
"""

from __future__ import annotations

import logging
import random
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import ColumnElement, Connection, and_, case, delete, func, null, or_, select, update
from sqlalchemy.engine import Row

from regionmesh.central.routings import dialect_insert
from regionmesh.config import AdminApiSettings
from regionmesh.db.clock import Clock, ManualClock, SystemClock, db_time, format_time
from regionmesh.db.engine import Database
from regionmesh.db.models import job_logs, jobs
from regionmesh.jobs.errors import (
    InvalidJobMarker,
    JobFromLog,
    JobIsRunning,
    JobNotFound,
    RunningJobNotDeletable,
    TemporaryJobError,
    describe,
)
from regionmesh.jobs.schemas import resource_dict, resource_id_for
from regionmesh.jobs.wakeup import notify_workers

__all__ = [
    "FAIL", "NEW", "RETRY", "RUNNING", "STATUSES", "SUCCESS", "Backoff", "Clock", "JobLogRow", "JobRow",
    "ManualClock", "SystemClock", "backoff_from_settings", "claim", "claim_batch", "delete_job", "due_jobs",
    "enqueue", "finish_failure", "finish_success", "get_job", "get_job_log", "list_job_logs", "list_jobs",
    "next_due_at", "redo", "renew_lease", "set_waiting",
]

LOG = logging.getLogger(__name__)

NEW: Final = "NEW"
RUNNING: Final = "RUNNING"
SUCCESS: Final = "SUCCESS"
FAIL: Final = "FAIL"
STATUSES: Final = (NEW, RUNNING, SUCCESS, FAIL)
# Job-log outcome of a run that failed temporarily (the job itself went back to NEW).
RETRY: Final = "RETRY"
WAITING_MAX: Final = 255
c = jobs.c


@dataclass(frozen=True, slots=True)
class JobRow:
    """A job as stored. ``generation`` at claim time is the generation the run works for."""

    id: str
    type: str
    resource_id: str
    project_id: str | None
    status: str
    created_at: datetime
    updated_at: datetime
    requested_at: datetime
    generation: int
    attempts: int
    last_error: str | None
    next_attempt_at: datetime | None
    lease_owner: str | None
    lease_expires_at: datetime | None
    waiting_on: str | None

    @property
    def resource(self) -> dict[str, str]:
        return resource_dict(self.type, self.resource_id)

    def to_dict(self) -> dict[str, Any]:
        """The Admin API's job view: the anchor's fields plus what makes progress visible."""
        return {"id": self.id, "project_id": self.project_id, "type": self.type, "status": self.status,
                "resource": self.resource, "timestamp": format_time(self.updated_at),
                "attempts": self.attempts, "last_error": self.last_error,
                "next_attempt_at": format_time(self.next_attempt_at) if self.status == NEW else None,
                "waiting_on": self.waiting_on}


@dataclass(frozen=True, slots=True)
class JobLogRow:
    """One finished run; ``status`` is its outcome: SUCCESS, FAIL (permanent) or RETRY (temporary)."""

    id: str
    job_id: str
    type: str
    resource_id: str
    project_id: str | None
    status: str
    attempts: int
    error: str | None
    started_at: datetime | None
    finished_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "job_id": self.job_id, "project_id": self.project_id, "type": self.type,
                "status": self.status, "resource": resource_dict(self.type, self.resource_id),
                "timestamp": format_time(self.finished_at), "attempts": self.attempts, "last_error": self.error,
                "started_at": format_time(self.started_at), "finished_at": format_time(self.finished_at)}


@dataclass(frozen=True, slots=True)
class Backoff:
    """Capped exponential backoff with jitter: attempt n waits ~base·2^(n-1) s, at most ``cap``.

    ``jitter`` is the fraction of the delay that is randomised (0.5: between half and all of it),
    so workers retrying a region that came back do not all hit it at once. ``max_attempts`` (None:
    unbounded) turns a temporary failure into FAIL after that many attempts.
    """

    base: float = 1.0
    cap: float = 300.0
    jitter: float = 0.5
    max_attempts: int | None = None

    def delay(self, attempts: int, rng: random.Random | None = None) -> float:
        exponent = min(max(attempts - 1, 0), 60)
        raw = min(self.cap, self.base * (2 ** exponent))
        low = raw * (1.0 - self.jitter)
        return low + (raw - low) * (rng or random).random()


_JOB_FIELDS: Final = tuple(f.name for f in fields(JobRow))
_LOG_FIELDS: Final = tuple(f.name for f in fields(JobLogRow))


def backoff_from_settings(settings: AdminApiSettings, *, max_attempts: int | None = None) -> Backoff:
    """The configured backoff (``[admin] job_backoff_base`` / ``job_backoff_cap``)."""
    return Backoff(base=settings.job_backoff_base, cap=settings.job_backoff_cap, max_attempts=max_attempts)


def _job(row: Row[Any]) -> JobRow:
    m = row._mapping
    return JobRow(**{f: m[f] for f in _JOB_FIELDS})


def _log_row(row: Row[Any]) -> JobLogRow:
    m = row._mapping
    return JobLogRow(**{f: m[f] for f in _LOG_FIELDS})


# ---- enqueue (inside the caller's transaction) --------------------------------------------------
def enqueue(conn: Connection, job_type: str, resource: Mapping[str, str] | str, project_id: str | None, *,
            now: datetime) -> JobRow:
    """Request (type, resource) to be reconciled; coalesces with the existing row. Race-free upsert."""
    resource_id = resource_id_for(job_type, resource)
    at = db_time(now)
    ins = dialect_insert(conn, jobs).values(
        id=str(uuid.uuid4()), type=job_type, resource_id=resource_id, project_id=project_id, status=NEW,
        created_at=at, updated_at=at, requested_at=at, generation=1, attempts=0, next_attempt_at=at)
    finished = c.status.in_((SUCCESS, FAIL))
    stmt = ins.on_conflict_do_update(
        index_elements=[c.type, c.resource_id],
        set_={
            "generation": c.generation + 1,
            "requested_at": at,
            "updated_at": at,
            "project_id": func.coalesce(ins.excluded.project_id, c.project_id),
            "status": case((c.status == RUNNING, RUNNING), else_=NEW),
            "attempts": case((finished, 0), else_=c.attempts),
            "next_attempt_at": case((finished, at), else_=c.next_attempt_at),
        },
    ).returning(*jobs.c)
    row = _job(conn.execute(stmt).one())
    notify_workers(conn)
    return row


# ---- claim / lease ------------------------------------------------------------------------------
def _due(at: datetime) -> ColumnElement[bool]:
    return or_(and_(c.status == NEW, c.next_attempt_at <= at),
               and_(c.status == RUNNING, c.lease_expires_at < at))


_DUE_TIME = case((c.status == NEW, c.next_attempt_at), else_=c.lease_expires_at)


def claim_batch(db: Database, worker_id: str, *, now: datetime, lease_seconds: float, limit: int = 10,
                types: Sequence[str] | None = None) -> list[JobRow]:
    """Take up to ``limit`` due jobs, oldest due first; each becomes RUNNING under this worker's lease."""
    at = db_time(now)
    until = at + timedelta(seconds=lease_seconds)
    owner = worker_id[:64]

    def work(conn: Connection) -> list[JobRow]:
        query = select(c.id).where(_due(at))
        if types is not None:
            query = query.where(c.type.in_(list(types)))
        query = query.order_by(_DUE_TIME, c.id).limit(limit).with_for_update(skip_locked=True)
        ids = list(conn.execute(query).scalars())
        if not ids:
            return []
        took_over = "lease of " + func.coalesce(c.lease_owner, "?") + " expired; taken over by " + owner
        stmt = (update(jobs).where(c.id.in_(ids), _due(at))
                .values(status=RUNNING, lease_owner=owner, lease_expires_at=until, attempts=c.attempts + 1,
                        updated_at=at, last_error=case((c.status == RUNNING, took_over), else_=c.last_error))
                .returning(*jobs.c))
        rows = [_job(r) for r in conn.execute(stmt)]
        order = {job_id: i for i, job_id in enumerate(ids)}
        return sorted(rows, key=lambda j: order[j.id])

    return db.transaction(work)


def claim(db: Database, worker_id: str, *, now: datetime, lease_seconds: float,
          types: Sequence[str] | None = None) -> JobRow | None:
    """Take one due job, or None."""
    got = claim_batch(db, worker_id, now=now, lease_seconds=lease_seconds, limit=1, types=types)
    return got[0] if got else None


def _held(job: JobRow) -> ColumnElement[bool]:
    """Still this claim: RUNNING under the same owner and attempt (a takeover bumps attempts)."""
    return and_(c.id == job.id, c.status == RUNNING, c.lease_owner == job.lease_owner, c.attempts == job.attempts)


def renew_lease(db: Database, job: JobRow, *, now: datetime, lease_seconds: float) -> bool:
    """Extend a long run's lease; False when it was lost (stop working on it)."""
    until = db_time(now) + timedelta(seconds=lease_seconds)
    return bool(db.transaction(lambda conn: conn.execute(
        update(jobs).where(_held(job)).values(lease_expires_at=until)).rowcount))


def set_waiting(db: Database, job: JobRow, waiting_on: str | None) -> bool:
    """Say what the run waits for ("port 1234 has no bottom copy yet"); visible in the Admin API."""
    text = waiting_on[:WAITING_MAX] if waiting_on else None
    return bool(db.transaction(lambda conn: conn.execute(
        update(jobs).where(c.id == job.id).values(waiting_on=text)).rowcount))


# ---- finish -------------------------------------------------------------------------------------
def _append_log(conn: Connection, job: JobRow, *, status: str, error: str | None, finished: datetime) -> None:
    conn.execute(job_logs.insert().values(
        id=str(uuid.uuid4()), job_id=job.id, type=job.type, resource_id=job.resource_id, project_id=job.project_id,
        status=status, attempts=job.attempts, error=error, started_at=job.updated_at, finished_at=finished))


def finish_success(db: Database, job: JobRow, claimed_generation: int | None = None, *,
                   now: datetime) -> JobRow | None:
    """Close a successful run: SUCCESS, or NEW again if a newer request came in while it ran.

    Returns the updated job, or None when the lease had been lost (another worker owns the job now).
    """
    gen = job.generation if claimed_generation is None else claimed_generation
    at = db_time(now)

    def work(conn: Connection) -> JobRow | None:
        moved = c.generation > gen
        stmt = (update(jobs).where(_held(job))
                .values(status=case((moved, NEW), else_=SUCCESS), next_attempt_at=case((moved, at), else_=null()),
                        attempts=case((moved, 0), else_=c.attempts), lease_owner=None, lease_expires_at=None,
                        updated_at=at, last_error=None, waiting_on=None)
                .returning(*jobs.c))
        row = conn.execute(stmt).first()
        if row is None:
            LOG.warning("job %s (%s %s): lease lost before success was recorded", job.id, job.type, job.resource_id)
            return None
        _append_log(conn, job, status=SUCCESS, error=None, finished=at)
        return _job(row)

    return db.transaction(work)


def finish_failure(db: Database, job: JobRow, error: BaseException | str, *, permanent: bool, now: datetime,
                   backoff: Backoff, claimed_generation: int | None = None, waiting_on: str | None = None,
                   rng: random.Random | None = None) -> JobRow | None:
    """Close a failed run. Temporary: NEW at now + backoff(attempts). Permanent: FAIL with the error.

    A permanent failure for an old generation still re-queues when a newer request is pending: the
    new desired state deserves its own attempt. Returns None when the lease had been lost.
    """
    gen = job.generation if claimed_generation is None else claimed_generation
    at = db_time(now)
    text = describe(error) if isinstance(error, BaseException) else error[:4000]
    give_up = permanent or (backoff.max_attempts is not None and job.attempts >= backoff.max_attempts)
    if isinstance(error, TemporaryJobError) and error.delay is not None:
        delay = error.delay
    else:
        delay = backoff.delay(job.attempts, rng)
    moved = c.generation > gen
    values: dict[str, Any] = {"lease_owner": None, "lease_expires_at": None, "updated_at": at, "last_error": text}
    if waiting_on is not None:
        values["waiting_on"] = waiting_on[:WAITING_MAX]
    if give_up:
        values.update(status=case((moved, NEW), else_=FAIL), next_attempt_at=case((moved, at), else_=null()),
                      attempts=case((moved, 0), else_=c.attempts))
    else:
        values.update(status=NEW, next_attempt_at=at + timedelta(seconds=delay))

    def work(conn: Connection) -> JobRow | None:
        row = conn.execute(update(jobs).where(_held(job)).values(**values).returning(*jobs.c)).first()
        if row is None:
            LOG.warning("job %s (%s %s): lease lost before failure was recorded: %s", job.id, job.type,
                        job.resource_id, text)
            return None
        _append_log(conn, job, status=FAIL if give_up else RETRY, error=text, finished=at)
        return _job(row)

    return db.transaction(work)


# ---- operator actions ---------------------------------------------------------------------------
def _locked_job(conn: Connection, job_id: str) -> JobRow:
    row = conn.execute(select(jobs).where(c.id == job_id).with_for_update()).first()
    if row is None:
        if get_job_log(conn, job_id) is not None:
            raise JobFromLog(job_id=job_id)
        raise JobNotFound(job_id=job_id)
    return _job(row)


def redo(db: Database, job_id: str, *, now: datetime) -> JobRow:
    """Run a job again now (the Admin API's PUT), whatever its last outcome — unless it is running.

    The anchor refused to redo a SUCCESS job; here it is allowed: handlers are level-triggered and
    idempotent, and "make this region match again" is exactly what an operator asks for.
    """
    at = db_time(now)

    def work(conn: Connection) -> JobRow:
        job = _locked_job(conn, job_id)
        if job.status == RUNNING:
            raise JobIsRunning(job_id=job_id)
        stmt = (update(jobs).where(c.id == job_id)
                .values(status=NEW, next_attempt_at=at, attempts=0, generation=c.generation + 1, requested_at=at,
                        updated_at=at, lease_owner=None, lease_expires_at=None)
                .returning(*jobs.c))
        row = _job(conn.execute(stmt).one())
        notify_workers(conn)
        return row

    return db.transaction(work)


def delete_job(db: Database, job_id: str) -> None:
    """Forget a job (its log rows stay as history); a running job cannot be deleted (400)."""
    def work(conn: Connection) -> None:
        job = _locked_job(conn, job_id)
        if job.status == RUNNING:
            raise RunningJobNotDeletable(job_id=job_id)
        conn.execute(delete(jobs).where(c.id == job_id))

    db.transaction(work)


# ---- reads --------------------------------------------------------------------------------------
def get_job(conn: Connection, job_id: str) -> JobRow:
    row = conn.execute(select(jobs).where(c.id == job_id)).first()
    if row is None:
        raise JobNotFound(job_id=job_id)
    return _job(row)


def find_job(conn: Connection, job_type: str, resource: Mapping[str, str] | str) -> JobRow | None:
    """The job row of (type, resource), if any."""
    resource_id = resource_id_for(job_type, resource)
    row = conn.execute(select(jobs).where(c.type == job_type, c.resource_id == resource_id)).first()
    return _job(row) if row is not None else None


def get_job_log(conn: Connection, log_id: str) -> JobLogRow | None:
    row = conn.execute(select(job_logs).where(job_logs.c.id == log_id)).first()
    return _log_row(row) if row is not None else None


def list_job_logs(conn: Connection, job_id: str, *, limit: int = 100) -> list[JobLogRow]:
    """The runs of one job, newest first."""
    rows = conn.execute(select(job_logs).where(job_logs.c.job_id == job_id)
                        .order_by(job_logs.c.finished_at.desc(), job_logs.c.id.desc()).limit(limit))
    return [_log_row(r) for r in rows]


def normalize_status(status: str) -> str:
    """Status filters are case-insensitive; an unknown value matches nothing (as in the anchor)."""
    upper = status.upper()
    return upper if upper in STATUSES else status


def list_jobs(conn: Connection, *, project_id: str | None = None, job_type: str | None = None,
              status: str | None = None, limit: int, marker: str | None = None) -> tuple[list[JobRow], bool]:
    """A page of jobs, most recently changed first (keyset on (updated_at, id)); returns (page, more)."""
    query = select(jobs)
    if project_id is not None:
        query = query.where(c.project_id == project_id)
    if job_type is not None:
        query = query.where(c.type == job_type)
    if status is not None:
        query = query.where(c.status == normalize_status(status))
    if marker is not None:
        mark = conn.execute(select(c.updated_at, c.id).where(c.id == marker)).first()
        if mark is None:
            raise InvalidJobMarker(marker=marker)
        query = query.where(or_(c.updated_at < mark.updated_at, and_(c.updated_at == mark.updated_at, c.id < mark.id)))
    rows = conn.execute(query.order_by(c.updated_at.desc(), c.id.desc()).limit(limit + 1)).all()
    return [_job(r) for r in rows[:limit]], len(rows) > limit


def due_jobs(conn: Connection, now: datetime, *, types: Sequence[str] | None = None,
             limit: int | None = None) -> list[JobRow]:
    """Every job due at ``now`` (the periodic sweep takes them all, not one per tick as the anchor did)."""
    query = select(jobs).where(_due(db_time(now)))
    if types is not None:
        query = query.where(c.type.in_(list(types)))
    query = query.order_by(_DUE_TIME, c.id)
    if limit is not None:
        query = query.limit(limit)
    return [_job(r) for r in conn.execute(query)]


def next_due_at(conn: Connection) -> datetime | None:
    """When the next job becomes due (for a worker's wake-up timer); None when nothing is pending."""
    new_at = conn.execute(select(func.min(c.next_attempt_at)).where(c.status == NEW)).scalar()
    lease_at = conn.execute(select(func.min(c.lease_expires_at)).where(c.status == RUNNING)).scalar()
    candidates = [t for t in (new_at, lease_at) if t is not None]
    return min(candidates) if candidates else None
