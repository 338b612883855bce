"""Time as the services see it: an injectable clock, and the one way times are stored.

Leases, backoff and timestamps all take ``now`` from a :class:`Clock`, so tests move time by hand
(:class:`ManualClock`) instead of sleeping. Stored times are naive UTC everywhere (the anchor mixed
local ``datetime.now()`` with database timestamps); :func:`db_time` converts on the way in.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Anything with ``now()`` returning an aware UTC datetime."""

    def now(self) -> datetime: ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that moves only when told to (tests); thread-safe."""

    def __init__(self, start: datetime | None = None) -> None:
        start = start or datetime(2030, 1, 1, tzinfo=UTC)
        self._now = start if start.tzinfo else start.replace(tzinfo=UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> datetime:
        with self._lock:
            self._now += timedelta(seconds=seconds)
            return self._now

    def set(self, when: datetime) -> None:
        with self._lock:
            self._now = when if when.tzinfo else when.replace(tzinfo=UTC)


def db_time(when: datetime) -> datetime:
    """The stored form of ``when``: naive UTC (aware values are converted, naive ones taken as UTC)."""
    if when.tzinfo is not None:
        when = when.astimezone(UTC).replace(tzinfo=None)
    return when


def utcnow() -> datetime:
    """Current time in stored form; for callers that were handed no clock."""
    return db_time(datetime.now(UTC))


def format_time(when: datetime | None) -> str | None:
    """API rendering of a stored time (Neutron's style: ``2030-01-01T00:00:00Z``)."""
    return when.strftime("%Y-%m-%dT%H:%M:%SZ") if when is not None else None
