"""Engine, transactions and retries for SQLite (WAL) and PostgreSQL.

Writers on SQLite begin with ``BEGIN IMMEDIATE`` so two writers never deadlock upgrading a read
lock; readers use plain deferred transactions and never block writers under WAL. Every write goes
through :meth:`Database.transaction`, which retries the whole unit of work on serialization
failures, deadlocks, busy databases and explicit :class:`RetryRequest`.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import Connection, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.pool import NullPool

LOG = logging.getLogger(__name__)
T = TypeVar("T")
_UNDO_KEY = "regionmesh.undo"

_PG_RETRY_CODES = {"40001", "40P01"}  # serialization_failure, deadlock_detected


class RetryRequest(Exception):
    """Raised inside a transaction to have the whole unit of work run again (e.g. an IP race)."""

    def __init__(self, reason: str, inner: BaseException | None = None) -> None:
        super().__init__(reason)
        self.inner = inner


def is_retriable(exc: BaseException) -> bool:
    """True for errors that a fresh attempt of the same transaction can succeed after."""
    if isinstance(exc, RetryRequest):
        return True
    if isinstance(exc, DBAPIError):
        orig = exc.orig
        code = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
        if code in _PG_RETRY_CODES:
            return True
        if isinstance(exc, OperationalError):
            text = str(orig).lower()
            return "database is locked" in text or "deadlock" in text or "could not serialize" in text
    return False


class Database:
    """One engine per database URL, with the transaction helpers every service uses."""

    def __init__(self, url: str, *, echo: bool = False, pool_size: int = 10, retry_limit: int = 10) -> None:
        self.url = url
        self.retry_limit = retry_limit
        self.is_sqlite = url.startswith("sqlite")
        # SQLite has one writer; queueing this process's writers here avoids SQLite's busy handler,
        # which sleeps in steps of up to 100 ms. Other processes still meet the busy timeout.
        self._writer = threading.RLock() if self.is_sqlite else None
        self.engine: Engine = self._make_engine(url, echo=echo, pool_size=pool_size)

    def _make_engine(self, url: str, *, echo: bool, pool_size: int) -> Engine:
        if not self.is_sqlite:
            return create_engine(url, echo=echo, pool_size=pool_size, max_overflow=pool_size * 2,
                                 pool_pre_ping=True)
        memory = url in ("sqlite://", "sqlite:///:memory:")
        kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False, "timeout": 30}}
        if memory:
            from sqlalchemy.pool import StaticPool
            kwargs["poolclass"] = StaticPool
        else:
            kwargs["pool_size"] = pool_size
            kwargs["max_overflow"] = pool_size
        engine = create_engine(url, echo=echo, **kwargs)

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            # Take over transaction control from pysqlite so BEGIN can be IMMEDIATE for writers.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            if not memory:
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
            conn.exec_driver_sql(f"BEGIN {mode}")

        return engine

    @contextmanager
    def begin(self, *, write: bool = True) -> Iterator[Connection]:
        """One transaction; commits on success, rolls back on any exception (then runs its undos)."""
        if self._writer is not None and write:
            with self._writer, self.engine.connect() as conn:
                conn = conn.execution_options(sqlite_begin="IMMEDIATE")
                with _undo_on_rollback(conn), conn.begin():
                    yield conn
            return
        with self.engine.connect() as conn, _undo_on_rollback(conn), conn.begin():
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only transaction (a consistent snapshot)."""
        with self.begin(write=False) as conn:
            yield conn

    def transaction(self, fn: Callable[[Connection], T], *, attempts: int | None = None) -> T:
        """Run ``fn(conn)`` in a write transaction, retrying it whole on retriable errors."""
        limit = attempts or self.retry_limit
        for attempt in range(1, limit + 1):
            try:
                with self.begin(write=True) as conn:
                    return fn(conn)
            except Exception as exc:
                if attempt >= limit or not is_retriable(exc):
                    if isinstance(exc, RetryRequest) and exc.inner is not None:
                        raise exc.inner from exc
                    raise
                delay = min(0.5, 0.005 * (2 ** attempt)) * random.random()
                LOG.debug("retrying transaction (attempt %d): %s", attempt, exc)
                time.sleep(delay)  # backoff between attempts, not synchronisation
        raise AssertionError("unreachable")

    def dispose(self) -> None:
        self.engine.dispose()


def on_rollback(conn: Connection, undo: Callable[[], object]) -> None:
    """Have ``undo`` run if this transaction does not commit: the compensation for a side effect
    outside the database (a copy created in a region) made while the transaction was open."""
    conn.info.setdefault(_UNDO_KEY, []).append(undo)


@contextmanager
def _undo_on_rollback(conn: Connection) -> Iterator[None]:
    conn.info[_UNDO_KEY] = []
    try:
        yield
    except BaseException:
        for undo in reversed(conn.info.get(_UNDO_KEY) or []):
            try:
                undo()
            except Exception:  # the original error matters more; the undo is logged for the operator
                LOG.exception("undoing a side effect of a rolled-back transaction failed")
        raise
    finally:
        conn.info.pop(_UNDO_KEY, None)


def null_pool_engine(url: str) -> Engine:
    """A throwaway engine (migrations, admin tasks) that keeps no connections open."""
    return create_engine(url, poolclass=NullPool)
