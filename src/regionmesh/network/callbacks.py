"""The callback registry: the in-process extension point of the Neutron domain (CB-01…CB-05).

Service operations publish ``(resource, event)`` pairs around every change; anything that must react
(the central role recording routings and writing outbox jobs, the resource push, quotas…) subscribes
here instead of being called directly, so the domain never imports its consumers.

Event phases and what a failing subscriber does to the operation:

* ``before_*``: runs before any DB work; a failure publishes ``abort_*`` and raises
  :class:`CallbackFailure`, so nothing is written (REG-15).
* ``precommit_*``: runs inside the DB transaction; ``payload.connection`` is the open transaction so a
  subscriber's writes commit or roll back with the change. A failure raises and the transaction
  rolls back (REG-16).
* ``after_*`` and ``before_response``: the change is committed; a failure is logged with its stack
  trace and the result stands (REG-17, decision OQ-04).

A DB error raised by a subscriber in an abortable phase is re-raised as
:class:`regionmesh.db.engine.RetryRequest`, so the caller's transaction retry runs the whole
operation again (CB-05).

Callbacks are called as ``callback(resource, event, trigger, payload=payload)``.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import MethodType
from typing import Any, Protocol

from regionmesh.context import RequestContext
from regionmesh.db.engine import RetryRequest, is_retriable
from regionmesh.network.exceptions import NeutronException

LOG = logging.getLogger(__name__)

# --- events ---------------------------------------------------------------------------------------

BEFORE_CREATE = "before_create"
BEFORE_READ = "before_read"
BEFORE_UPDATE = "before_update"
BEFORE_DELETE = "before_delete"

PRECOMMIT_CREATE = "precommit_create"
PRECOMMIT_UPDATE = "precommit_update"
PRECOMMIT_DELETE = "precommit_delete"

AFTER_CREATE = "after_create"
AFTER_READ = "after_read"
AFTER_UPDATE = "after_update"
AFTER_DELETE = "after_delete"

ABORT_CREATE = "abort_create"
ABORT_READ = "abort_read"
ABORT_UPDATE = "abort_update"
ABORT_DELETE = "abort_delete"

# API-level event, published after the change is committed and before the HTTP response (NAPI-08).
BEFORE_RESPONSE = "before_response"

BEFORE = "before_"
PRECOMMIT = "precommit_"
AFTER = "after_"
ABORT = "abort_"

# --- resources ------------------------------------------------------------------------------------

NETWORK = "network"
SUBNET = "subnet"
SUBNETPOOL = "subnetpool"
PORT = "port"
SECURITY_GROUP = "security_group"
SECURITY_GROUP_RULE = "security_group_rule"
ROUTER = "router"
ROUTER_INTERFACE = "router_interface"
ROUTER_GATEWAY = "router_gateway"
FLOATING_IP = "floatingip"
ADDRESS_SCOPE = "address_scope"
SEGMENT = "segment"
TRUNK = "trunk"
QUOTA = "quota"

# Smallest runs first; the large default leaves room on both sides (the value neutron-lib uses).
DEFAULT_PRIORITY = 55_550_000


def is_cancellable_event(event: str) -> bool:
    """True when a failing subscriber must stop the operation.

    ``before_response`` starts with ``before_`` but fires after the commit, so by decision OQ-04
    it is treated like an ``after_*`` event: logged, never raised.
    """
    if event == BEFORE_RESPONSE:
        return False
    return event.startswith(BEFORE) or event.startswith(PRECOMMIT)


# --- payloads -------------------------------------------------------------------------------------


@dataclass
class EventPayload:
    """What a subscriber receives. States are passed by reference: subscribers must not mutate them.

    ``states`` holds the resource's states oldest first: original, desired (the requested
    change), latest, as far as the publisher knows them, e.g. ``(item,)`` before a create,
    ``(original, changes, latest)`` after an update, ``(current,)`` for a delete.
    ``desired_state``, when set, is the object about to be written (Neutron's ``DBEventPayload``).
    ``connection`` is the open DB transaction in ``precommit_*`` events (``None`` elsewhere), so
    subscribers write in the same transaction.
    """

    context: RequestContext
    resource_id: str | None = None
    states: tuple[Any, ...] = ()
    request_body: Any = None
    metadata: dict[str, Any] = field(default_factory=dict)
    connection: Any = None
    desired_state: Any = None

    @property
    def has_states(self) -> bool:
        return len(self.states) > 0

    @property
    def latest_state(self) -> Any:
        """The newest view of the resource: the desired state if one is set, else the last state."""
        if self.desired_state is not None:
            return self.desired_state
        return self.states[-1] if self.states else None


@dataclass
class APIEventPayload(EventPayload):
    """Payload of API-level events such as ``before_response`` (NAPI-08)."""

    method_name: str = ""
    action: str = ""
    collection_name: str | None = None


# --- errors ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NotificationError:
    """One subscriber's failure, kept so that the caller can see every reason, not just the first."""

    callback_id: str
    error: BaseException

    def __str__(self) -> str:
        return f'Callback {self.callback_id} failed with "{self.error}"'


class CallbackFailure(Exception):
    """Raised when subscribers of a cancellable event failed; carries every failure."""

    def __init__(self, errors: Sequence[NotificationError]) -> None:
        self.errors: list[NotificationError] = list(errors)
        super().__init__(str(self))

    def __str__(self) -> str:
        return ", ".join(str(e) for e in self.errors)

    @property
    def inner_exceptions(self) -> list[BaseException]:
        """The exceptions the subscribers raised, in call order."""
        return [e.error for e in self.errors]


# --- registry -------------------------------------------------------------------------------------


class Callback(Protocol):
    """A subscriber. Its return value is ignored; raising is how it objects."""

    def __call__(self, resource: str, event: str, trigger: Any, /, *, payload: EventPayload) -> Any: ...


def callback_id(callback: Callback) -> str:
    """A stable id for a callable: its qualified name plus object identity.

    Bound methods are created anew on each attribute access, so their identity is taken from the
    instance and the function, which stay the same while the registry holds the method.
    """
    name = getattr(callback, "__qualname__", None) or type(callback).__qualname__
    module = getattr(callback, "__module__", None) or type(callback).__module__
    if isinstance(callback, MethodType):
        ident = f"{id(callback.__self__):x}.{id(callback.__func__):x}"
    else:
        ident = f"{id(callback):x}"
    return f"{module}.{name}-{ident}"


@dataclass(frozen=True)
class _Subscription:
    priority: int
    seq: int
    callback_id: str
    callback: Callback


class CallbackRegistry:
    """Subscribers per (resource, event), called in ascending priority order.

    Thread-safe: (un)subscription takes a lock, publishing snapshots the subscriber list under the
    lock and calls the callbacks without it, so a callback may (un)subscribe, even itself, while
    being notified (REG-18).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seq = itertools.count()
        self._subs: dict[tuple[str, str], list[_Subscription]] = {}
        self._index: dict[str, set[tuple[str, str]]] = {}

    def subscribe(self, callback: Callback, resource: str, event: str,
                  priority: int = DEFAULT_PRIORITY) -> str:
        """Subscribe ``callback``; subscribing it again to the same pair only updates its priority.

        Equal priorities run in subscription order. Returns the callback id.
        """
        if not resource or not event:
            raise ValueError(f"invalid subscription ({resource!r}, {event!r})")
        cid = callback_id(callback)
        key = (resource, event)
        with self._lock:
            subs = [s for s in self._subs.get(key, []) if s.callback_id != cid]
            subs.append(_Subscription(priority, next(self._seq), cid, callback))
            subs.sort(key=lambda s: (s.priority, s.seq))
            self._subs[key] = subs
            self._index.setdefault(cid, set()).add(key)
        LOG.debug("Subscribe: %s %s %s (priority %d)", cid, resource, event, priority)
        return cid

    def unsubscribe(self, callback: Callback, resource: str, event: str) -> None:
        """Remove one subscription; unknown subscriptions are ignored."""
        cid = callback_id(callback)
        with self._lock:
            self._remove(cid, (resource, event))
        LOG.debug("Unsubscribe: %s %s %s", cid, resource, event)

    def unsubscribe_by_resource(self, callback: Callback, resource: str) -> None:
        """Remove every subscription of ``callback`` for ``resource``."""
        cid = callback_id(callback)
        with self._lock:
            for key in [k for k in self._index.get(cid, set()) if k[0] == resource]:
                self._remove(cid, key)

    def unsubscribe_all(self, callback: Callback) -> None:
        """Remove every subscription of ``callback``."""
        cid = callback_id(callback)
        with self._lock:
            for key in list(self._index.get(cid, set())):
                self._remove(cid, key)

    def _remove(self, cid: str, key: tuple[str, str]) -> None:
        subs = self._subs.get(key)
        if subs is not None:
            remaining = [s for s in subs if s.callback_id != cid]
            if remaining:
                self._subs[key] = remaining
            else:
                del self._subs[key]
        keys = self._index.get(cid)
        if keys is not None:
            keys.discard(key)
            if not keys:
                del self._index[cid]

    def subscribers(self, resource: str, event: str) -> list[str]:
        """The callback ids subscribed to (resource, event), in call order (for tests and debugging)."""
        with self._lock:
            return [s.callback_id for s in self._subs.get((resource, event), [])]

    def has_subscribers(self, resource: str, event: str) -> bool:
        """Lets publishers skip building an expensive payload nobody will read."""
        with self._lock:
            return bool(self._subs.get((resource, event)))

    def clear(self) -> None:
        """Drop every subscription (tests)."""
        with self._lock:
            self._subs.clear()
            self._index.clear()

    def publish(self, resource: str, event: str, trigger: Any, payload: EventPayload) -> None:
        """Call every subscriber of (resource, event); see the module docstring for failures.

        :raises CallbackFailure: a ``before_*`` or ``precommit_*`` subscriber failed (after
            ``abort_*`` was published for a ``before_*`` event).
        :raises RetryRequest: such a failure was a retriable DB error (CB-05).
        """
        errors = self._notify_loop(resource, event, trigger, payload)
        if not errors or not is_cancellable_event(event):
            return
        if event.startswith(BEFORE):
            abort_event = ABORT + event[len(BEFORE):]
            self._notify_loop(resource, abort_event, trigger, payload)
        failure = CallbackFailure(errors)
        for inner in failure.inner_exceptions:
            if isinstance(inner, RetryRequest):
                raise inner from failure
            if is_retriable(inner):
                raise RetryRequest(f"callback for {resource} {event} hit a retriable DB error",
                                   inner=inner) from failure
        raise failure

    def _notify_loop(self, resource: str, event: str, trigger: Any,
                     payload: EventPayload) -> list[NotificationError]:
        with self._lock:
            snapshot = list(self._subs.get((resource, event), ()))
        if not snapshot:
            return []
        LOG.debug("Notify callbacks %s for %s, %s", [s.callback_id for s in snapshot], resource, event)
        cancellable = is_cancellable_event(event)
        errors: list[NotificationError] = []
        for sub in snapshot:
            try:
                sub.callback(resource, event, trigger, payload=payload)
            except Exception as exc:
                if cancellable:
                    # The caller gets the error in CallbackFailure; no need for a trace here.
                    LOG.debug("Callback %s raised %s", sub.callback_id, exc)
                else:
                    LOG.exception("Error during notification for %s %s, %s",
                                  sub.callback_id, resource, event)
                errors.append(NotificationError(sub.callback_id, exc))
        return errors


def publish_or_raise(registry: CallbackRegistry, resource: str, event: str, trigger: Any,
                     payload: EventPayload, exc_cls: type[NeutronException]) -> None:
    """Publish, turning a :class:`CallbackFailure` into the API error ``exc_cls`` (CB-04).

    The raised error keeps ``exc_cls``'s HTTP meaning even when a subscriber raised e.g. NotFound;
    the subscribers' exceptions stay reachable through ``.inner_exceptions``, ``.errors`` and
    ``__cause__``. The message is offered as both ``reason`` and ``msg`` so that either template
    style (``SecurityGroupConflict``'s or ``Conflict``'s) is filled. A :class:`RetryRequest` passes
    through untouched so the transaction retry still sees it.
    """
    try:
        registry.publish(resource, event, trigger, payload)
    except CallbackFailure as failure:
        reason = f"cannot perform {event} on {resource} due to {failure}"
        err = exc_cls(reason=reason, msg=reason, resource=resource, id=payload.resource_id)
        err.inner_exceptions = failure.inner_exceptions  # type: ignore[attr-defined]
        err.errors = failure.errors  # type: ignore[attr-defined]
        raise err from failure


def inner_exceptions(exc: BaseException) -> list[BaseException]:
    """The subscribers' exceptions behind ``exc``: a :class:`CallbackFailure` or an error raised by
    :func:`publish_or_raise`; empty for anything else. A typed way to reach them."""
    failure = exc if isinstance(exc, CallbackFailure) else exc.__cause__
    return failure.inner_exceptions if isinstance(failure, CallbackFailure) else []


# The process-wide default; services take a registry argument so tests and labs can inject their own.
registry = CallbackRegistry()
