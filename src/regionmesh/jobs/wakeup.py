"""Waking job workers in other processes when work arrives (PostgreSQL ``LISTEN``/``NOTIFY``).

Threads in one process are woken directly (:meth:`WorkerPool.wake`); worker *processes* on
PostgreSQL learn of new work from a notification that the job's own transaction sends: PostgreSQL
delivers it only when that transaction commits (a rolled-back request wakes nobody) and folds
repeats within one transaction into one. The notification carries nothing: it only ends a worker's
idle wait early, the claim query still decides what runs, so a lost notification costs at most one
idle interval and never a job. SQLite has no such channel; there the idle poll remains.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from sqlalchemy import Connection, text
from sqlalchemy.engine import make_url

LOG = logging.getLogger(__name__)

CHANNEL = "regionmesh_jobs"


def notify_workers(conn: Connection) -> None:
    """Within a write transaction: wake listening workers once it commits (no-op off PostgreSQL)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text(f"NOTIFY {CHANNEL}"))


def libpq_dsn(url: str) -> str:
    """A SQLAlchemy ``postgresql+psycopg://`` URL as a plain libpq connection string."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class JobListener:
    """A daemon thread holding one ``LISTEN`` connection; calls ``on_notify`` for each notification.

    If the connection breaks it reconnects after ``retry_seconds`` (workers keep polling meanwhile).
    """

    def __init__(self, url: str, on_notify: Callable[[], None], *, retry_seconds: float = 5.0) -> None:
        self.dsn = libpq_dsn(url)
        self.on_notify = on_notify
        self.retry_seconds = retry_seconds
        self.stopping = threading.Event()
        self.listening = threading.Event()
        self.thread = threading.Thread(target=self._run, name="job-listener", daemon=True)

    def start(self) -> JobListener:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(5)

    def _run(self) -> None:
        import psycopg

        while not self.stopping.is_set():
            try:
                with psycopg.connect(self.dsn, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.listening.set()
                    while not self.stopping.is_set():
                        for _ in conn.notifies(timeout=1.0):
                            self.on_notify()
            except psycopg.Error as err:
                self.listening.clear()
                LOG.warning("job listener: %s; workers poll until it reconnects", err)
                self.stopping.wait(self.retry_seconds)
