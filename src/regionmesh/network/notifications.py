"""Neutron-style notifications: ``<resource>.<op>.start`` / ``.end`` (NAPI-01, NAPI-08, CB-10).

The API emits ``<resource>.create.start`` with the request body before the plugin runs and
``<resource>.create.end`` with the result after the commit. A :class:`Notifier` fans each one out to
pluggable sinks (memory for the lab and tests, the log, later a message bus). Notifications are
best effort: a failing sink is logged and never fails the operation that emitted them.

Unlike oslo.messaging, a notification never carries the caller's token: only the request id, user
and project are copied from the context, and :class:`LogSink` masks secret-looking payload keys.
"""

from __future__ import annotations

import copy
import json
import logging
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from regionmesh.context import RequestContext

LOG = logging.getLogger(__name__)

START = "start"
END = "end"

INFO = "INFO"
WARN = "WARN"
ERROR = "ERROR"

# Payload keys whose values never reach a log line.
SECRET_KEYS = frozenset({
    "auth_token", "token", "password", "admin_password", "adminpass", "secret", "private_key",
    "passphrase", "credential", "credentials", "x-auth-token",
})
_MASK = "***"


def event_type(resource: str, op: str, phase: str) -> str:
    """``security_group`` + ``create`` + ``start`` → ``security_group.create.start``."""
    return f"{resource}.{op}.{phase}"


def event_type_matches(value: str, prefix: str) -> bool:
    """Dotted-segment prefix match: ``security_group`` matches ``security_group.create.end`` but
    not ``security_group_rule.create.end``."""
    if not prefix:
        return True
    return value == prefix or value.startswith(prefix.rstrip(".") + ".")


def _snapshot(payload: Any) -> Any:
    """A deep copy, so a caller that later edits its dict (e.g. strips fields for the response)
    does not rewrite what was notified."""
    try:
        return copy.deepcopy(payload)
    except Exception:
        return payload


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Notification:
    """One emitted notification; ``timestamp`` is ISO 8601 in UTC."""

    event_type: str
    payload: Any
    publisher_id: str
    timestamp: str
    message_id: str
    request_id: str | None = None
    project_id: str | None = None
    user_id: str | None = None
    priority: str = INFO

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class NotificationSink(Protocol):
    """Where notifications go. ``emit`` may raise; the notifier contains the damage."""

    def emit(self, notification: Notification) -> None: ...


def redact(value: Any) -> Any:
    """A copy of ``value`` with the values of secret-looking keys masked, at any depth."""
    if isinstance(value, Mapping):
        return {k: (_MASK if str(k).lower() in SECRET_KEYS else redact(v)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    return value


class MemorySink:
    """Keeps the last ``capacity`` notifications, queryable by event type (lab, tests).

    Waiters can block on :meth:`wait_for` until a matching notification arrives, so tests wait on
    observable state instead of sleeping.
    """

    def __init__(self, capacity: int = 10_000) -> None:
        if capacity <= 0:
            raise ValueError("capacity must be positive")
        self._items: deque[Notification] = deque(maxlen=capacity)
        self._cond = threading.Condition()

    def emit(self, notification: Notification) -> None:
        with self._cond:
            self._items.append(notification)
            self._cond.notify_all()

    def query(self, prefix: str = "", *, project_id: str | None = None,
              request_id: str | None = None, limit: int | None = None) -> list[Notification]:
        """Matching notifications, oldest first; ``limit`` keeps the newest ``limit`` of them."""
        with self._cond:
            items = list(self._items)
        found = [n for n in items
                 if event_type_matches(n.event_type, prefix)
                 and (project_id is None or n.project_id == project_id)
                 and (request_id is None or n.request_id == request_id)]
        if limit is not None:
            found = found[-limit:] if limit > 0 else []
        return found

    def event_types(self, prefix: str = "") -> list[str]:
        """Just the event types, oldest first (handy in assertions)."""
        return [n.event_type for n in self.query(prefix)]

    def wait_for(self, prefix: str, *, count: int = 1, timeout: float | None = None) -> list[Notification]:
        """Block until at least ``count`` notifications match ``prefix``; returns them.

        :raises TimeoutError: if they did not arrive within ``timeout`` seconds.
        """
        with self._cond:
            ok = self._cond.wait_for(
                lambda: sum(1 for n in self._items if event_type_matches(n.event_type, prefix)) >= count,
                timeout=timeout)
        if not ok:
            raise TimeoutError(f"fewer than {count} notification(s) matching {prefix!r}")
        return self.query(prefix)

    def clear(self) -> None:
        with self._cond:
            self._items.clear()

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)


class LogSink:
    """Writes each notification as one log line, with secrets masked."""

    def __init__(self, logger: logging.Logger | None = None, level: int = logging.INFO) -> None:
        self._log = logger or logging.getLogger("regionmesh.notifications")
        self._level = level

    def emit(self, notification: Notification) -> None:
        if not self._log.isEnabledFor(self._level):
            return
        payload = json.dumps(redact(notification.payload), default=str, sort_keys=True)
        self._log.log(self._level, "Notification %s [%s] publisher=%s request_id=%s project_id=%s payload=%s",
                      notification.event_type, notification.message_id, notification.publisher_id,
                      notification.request_id, notification.project_id, payload)


class Notifier:
    """Builds notifications and hands them to every sink; never raises because of a sink."""

    def __init__(self, publisher_id: str = "network", sinks: Iterable[NotificationSink] = (),
                 clock: Callable[[], datetime] = _utcnow) -> None:
        self.publisher_id = publisher_id
        self._clock = clock
        self._lock = threading.Lock()
        self._sinks: list[NotificationSink] = list(sinks)

    def add_sink(self, sink: NotificationSink) -> None:
        with self._lock:
            self._sinks.append(sink)

    def remove_sink(self, sink: NotificationSink) -> None:
        with self._lock:
            self._sinks = [s for s in self._sinks if s is not sink]

    @property
    def sinks(self) -> list[NotificationSink]:
        with self._lock:
            return list(self._sinks)

    def info(self, context: RequestContext | None, event_type: str, payload: Any) -> Notification:
        return self.notify(context, event_type, payload, priority=INFO)

    def warn(self, context: RequestContext | None, event_type: str, payload: Any) -> Notification:
        return self.notify(context, event_type, payload, priority=WARN)

    def error(self, context: RequestContext | None, event_type: str, payload: Any) -> Notification:
        return self.notify(context, event_type, payload, priority=ERROR)

    def notify(self, context: RequestContext | None, event_type: str, payload: Any,
               priority: str = INFO) -> Notification:
        """Emit one notification to every sink and return it.

        The token in ``context`` is deliberately not copied: notifications are stored and logged.
        """
        timestamp = self._clock()
        if timestamp.tzinfo is None:
            timestamp = timestamp.replace(tzinfo=UTC)
        note = Notification(
            event_type=event_type,
            payload=_snapshot(payload),
            publisher_id=self.publisher_id,
            timestamp=timestamp.astimezone(UTC).isoformat(),
            message_id=str(uuid.uuid4()),
            request_id=context.request_id if context else None,
            project_id=context.project_id if context else None,
            user_id=context.user_id if context else None,
            priority=priority,
        )
        for sink in self.sinks:
            try:
                sink.emit(note)
            except Exception:
                LOG.exception("Notification sink %s failed for %s (message %s)",
                              type(sink).__name__, event_type, note.message_id)
        return note

    def start(self, context: RequestContext | None, resource: str, op: str, body: Any) -> Notification:
        """``<resource>.<op>.start`` with the request body (NAPI-01)."""
        return self.info(context, event_type(resource, op, START), body)

    def end(self, context: RequestContext | None, resource: str, op: str, result: Any) -> Notification:
        """``<resource>.<op>.end`` with the result (NAPI-08)."""
        return self.info(context, event_type(resource, op, END), result)
