"""Push of changed resources to agents, the way Neutron's OVO RPC does it (CB-06…CB-08, REG-19).

A :class:`ResourcePushHandler` listens to ``after_create``/``after_update``/``after_delete`` and
only remembers *which* resources changed. A worker later re-reads each one and pushes what it finds
now, never the event payload, so a burst of events for one id coalesces into one push of the latest
revision, and a concurrent delete looks like a delete:

* found → event ``updated`` (a create is always sent as an update, so listeners must accept
  out-of-order messages);
* gone → event ``deleted`` with a stub ``{"id": id}``.

Pushes are fan-out casts of method ``push`` on topic ``neutron-vo-<Type>-<version>`` (e.g.
``neutron-vo-SecurityGroup-1.1``), one per resource type and consumer version. Casts are
fire-and-forget (OQ-10): nothing that must not be lost travels only this way.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from dataclasses import dataclass, field
from typing import Any, ParamSpec, Protocol, TypeVar

from regionmesh.context import RequestContext
from regionmesh.network import callbacks as cb

LOG = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

UPDATED = "updated"
DELETED = "deleted"

PUSH_METHOD = "push"
# Version of the push RPC API itself (not of the pushed objects).
RPC_VERSION = "1.1"

_PUSH_EVENTS = (cb.AFTER_CREATE, cb.AFTER_UPDATE, cb.AFTER_DELETE)


def topic_for(type_name: str, version: str) -> str:
    """``SecurityGroup`` + ``1.1`` → ``neutron-vo-SecurityGroup-1.1``."""
    return f"neutron-vo-{type_name}-{version}"


@dataclass(frozen=True)
class PushedResource:
    """A resource that is pushed: its callback name, its wire type name and the versions consumers
    registered (one cast per version)."""

    resource: str
    type_name: str
    versions: tuple[str, ...] = ("1.0",)


# What ML2 pushes. SecurityGroup 1.1 is the topic the seed shows (002); the other versions are the
# ones RegionMesh's own consumers register.
DEFAULT_PUSHED_RESOURCES: tuple[PushedResource, ...] = (
    PushedResource(cb.PORT, "Port", ("1.0",)),
    PushedResource(cb.SUBNET, "Subnet", ("1.0",)),
    PushedResource(cb.NETWORK, "Network", ("1.0",)),
    PushedResource(cb.SECURITY_GROUP, "SecurityGroup", ("1.1",)),
    PushedResource(cb.SECURITY_GROUP_RULE, "SecurityGroupRule", ("1.0",)),
)


class UnknownResourceType(ValueError):
    """A push for a type nobody declared: a programming error, not a runtime condition."""


# --- transport ------------------------------------------------------------------------------------


class Transport(Protocol):
    """The RPC client side: a cast is asynchronous and nobody waits for a reply (CB-09)."""

    def cast(self, topic: str, method: str, kwargs: dict[str, Any], fanout: bool = False) -> None: ...


Consumer = Callable[[str, dict[str, Any]], None]
"""A server side of a topic: called with (method, kwargs)."""


@dataclass(frozen=True)
class Cast:
    """One recorded cast. The exchange and routing key are what AMQP would use."""

    topic: str
    method: str
    kwargs: dict[str, Any]
    fanout: bool
    exchange: str
    routing_key: str | None = None


class InProcessFanoutTransport:
    """Records every cast and delivers it to in-process consumers (tests and the lab).

    Fan-out casts reach every consumer of the topic; plain casts reach the first one. Each consumer
    gets its own copy of the arguments, and a failing consumer is logged, never raised to the caster.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._casts: list[Cast] = []
        self._consumers: dict[str, list[Consumer]] = {}

    def register_consumer(self, topic: str, consumer: Consumer) -> None:
        with self._lock:
            self._consumers.setdefault(topic, []).append(consumer)

    def unregister_consumer(self, topic: str, consumer: Consumer) -> None:
        with self._lock:
            self._consumers[topic] = [c for c in self._consumers.get(topic, []) if c is not consumer]

    def cast(self, topic: str, method: str, kwargs: dict[str, Any], fanout: bool = False) -> None:
        record = Cast(topic=topic, method=method, kwargs=copy.deepcopy(kwargs), fanout=fanout,
                      exchange=f"{topic}_fanout" if fanout else topic, routing_key=None if fanout else topic)
        with self._lock:
            self._casts.append(record)
            consumers = list(self._consumers.get(topic, ()))
        LOG.debug("CAST %s topic %r exchange %s method %s", "FANOUT" if fanout else "DIRECT",
                  topic, record.exchange, method)
        for consumer in consumers if fanout else consumers[:1]:
            try:
                consumer(method, copy.deepcopy(kwargs))
            except Exception:
                LOG.exception("Consumer of %s failed on %s", topic, method)

    def casts(self, topic: str | None = None) -> list[Cast]:
        """Recorded casts, oldest first, optionally for one topic."""
        with self._lock:
            return [c for c in self._casts if topic is None or c.topic == topic]

    def clear(self) -> None:
        with self._lock:
            self._casts.clear()


# --- push API -------------------------------------------------------------------------------------

Serializer = Callable[[str, str, Mapping[str, Any]], dict[str, Any]]
"""(type name, target version, object) → the primitive sent for that version."""


def _default_serializer(type_name: str, version: str, obj: Mapping[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(dict(obj))


def _describe(obj: Mapping[str, Any]) -> str:
    return f"ID={obj.get('id')},revision_number={obj.get('revision_number')}"


class ResourcesPushApi:
    """Sends a batch of resources to agents, one fan-out cast per type and version (CB-08)."""

    def __init__(self, transport: Transport, resources: Iterable[PushedResource] = DEFAULT_PUSHED_RESOURCES,
                 serializer: Serializer = _default_serializer) -> None:
        self._transport = transport
        self._versions = {r.type_name: r.versions for r in resources}
        self._serializer = serializer

    def push(self, resources: Sequence[tuple[str, Mapping[str, Any]]], event_type: str) -> int:
        """Push ``(type name, object)`` pairs with ``event_type``; returns the number of casts made.

        A failing cast is logged and the other types still go out (fire-and-forget).

        :raises UnknownResourceType: a type that was not declared.
        """
        by_type: dict[str, list[Mapping[str, Any]]] = {}
        for type_name, obj in resources:
            if type_name not in self._versions:
                raise UnknownResourceType(f"no push versions declared for resource type {type_name!r}")
            by_type.setdefault(type_name, []).append(obj)
        if not by_type:
            return 0
        LOG.debug("Pushing event %s for resources: %s", event_type,
                  {t: [_describe(o) for o in objs] for t, objs in by_type.items()})
        casts = 0
        for type_name, objs in by_type.items():
            for version in self._versions[type_name]:
                kwargs = {"resource_list": [self._serializer(type_name, version, o) for o in objs],
                          "event_type": event_type}
                try:
                    self._transport.cast(topic_for(type_name, version), PUSH_METHOD, kwargs, fanout=True)
                    casts += 1
                except Exception:
                    LOG.exception("Push of %s %s to version %s failed", event_type, type_name, version)
        return casts


# --- executors ------------------------------------------------------------------------------------


class InlineExecutor(Executor):
    """Runs each task in the submitting thread: deterministic dispatch for tests and the lab."""

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        future: Future[T] = Future()
        future.set_running_or_notify_cancel()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:
            future.set_exception(exc)
        return future


# --- change handler -------------------------------------------------------------------------------

LoadLatest = Callable[[str, str], Mapping[str, Any] | None]
"""(callback resource name, id) → the object as it is now in the database, or None if gone."""


def _never_in_transaction() -> bool:
    return False


@dataclass
class _Stats:
    """Counters that make the handler's behaviour observable in tests and the lab (read-only for
    callers; event counters change under the pending lock, dispatch counters under the dispatch
    lock)."""

    events: int = 0
    ignored_in_transaction: int = 0
    dispatches: int = 0
    pushed: int = 0
    load_errors: int = 0
    by_event: dict[str, int] = field(default_factory=dict)


class ResourcePushHandler:
    """Coalesces AFTER events per resource id and pushes the latest state from a worker (CB-06, CB-07).

    :param load_latest: re-reads one resource in its own read transaction (the payload is ignored).
    :param transport: where the casts go.
    :param in_transaction: True while the calling thread is inside a DB transaction; an AFTER event
        fired then is a bug in the publisher ("session semantic violated") and is ignored.
    :param executor: runs :meth:`dispatch`; defaults to one worker thread, so the caller never blocks.
    :param registry: when given, the handler subscribes to it right away.
    :param resources: the resource types to push.
    :param defer: never submit work; pending changes wait for :meth:`dispatch`/:meth:`flush`
        (lets tests prove coalescing).
    """

    def __init__(self, load_latest: LoadLatest, transport: Transport,
                 in_transaction: Callable[[], bool] = _never_in_transaction,
                 executor: Executor | None = None, *,
                 registry: cb.CallbackRegistry | None = None,
                 resources: Iterable[PushedResource] = DEFAULT_PUSHED_RESOURCES,
                 defer: bool = False, serializer: Serializer = _default_serializer) -> None:
        self._resources = {r.resource: r for r in resources}
        self._load_latest = load_latest
        self._in_transaction = in_transaction
        self._push_api = ResourcesPushApi(transport, self._resources.values(), serializer)
        self._defer = defer
        self._owns_executor = executor is None and not defer
        self._executor: Executor | None = executor
        if self._owns_executor:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="resource-push")
        self._pending_lock = threading.Lock()
        self._pending: dict[tuple[str, str], RequestContext] = {}
        # One dispatcher at a time (Neutron's "event-dispatch" lock). Re-entrant because an inline
        # executor may dispatch again from inside a consumer.
        self._dispatch_lock = threading.RLock()
        self._futures_lock = threading.Lock()
        self._futures: set[Future[int]] = set()
        self._registries: list[cb.CallbackRegistry] = []
        self._warned_semantics = False
        self.stats = _Stats()
        if registry is not None:
            self.subscribe(registry)

    # -- subscription ------------------------------------------------------------------------------

    def subscribe(self, registry: cb.CallbackRegistry) -> None:
        """Listen to AFTER_CREATE/UPDATE/DELETE of every configured resource on ``registry``."""
        for resource in self._resources:
            for event in _PUSH_EVENTS:
                registry.subscribe(self.handle_event, resource, event)
        self._registries.append(registry)

    def close(self, wait: bool = True) -> None:
        """Unsubscribe everywhere and stop the worker this handler created."""
        for registry in self._registries:
            registry.unsubscribe_all(self.handle_event)
        self._registries.clear()
        if self._owns_executor and self._executor is not None:
            self._executor.shutdown(wait=wait)

    # -- events ------------------------------------------------------------------------------------

    @property
    def pending(self) -> dict[tuple[str, str], RequestContext]:
        """A copy of the changes waiting for dispatch, keyed by (resource, id)."""
        with self._pending_lock:
            return dict(self._pending)

    def handle_event(self, resource: str, event: str, trigger: Any, *, payload: cb.EventPayload) -> None:
        """Remember that ``resource`` changed and wake the worker; never blocks on the push."""
        if resource not in self._resources:
            return
        with self._pending_lock:
            self.stats.events += 1
        if self._in_transaction():
            with self._pending_lock:
                self.stats.ignored_in_transaction += 1
            LOG.warning("session semantic violated: %s %s fired inside an open DB transaction; the push "
                        "handler only handles committed changes, event ignored", resource, event,
                        stack_info=not self._warned_semantics)
            self._warned_semantics = True
            return
        resource_id = _resource_id(payload)
        if resource_id is None:
            LOG.error("No resource id in %s %s payload; nothing to push", resource, event)
            return
        with self._pending_lock:
            # Keep the context so that a push can be traced back to the request that caused it.
            self._pending[(resource, resource_id)] = payload.context
        if not self._defer:
            self._submit()

    def _submit(self) -> None:
        executor = self._executor
        if executor is None:
            return
        try:
            future = executor.submit(self._dispatch_logged)
        except RuntimeError:
            LOG.warning("Push executor is shut down; changes stay pending until flush()")
            return
        with self._futures_lock:
            self._futures.add(future)
        future.add_done_callback(self._forget)

    def _forget(self, future: Future[int]) -> None:
        with self._futures_lock:
            self._futures.discard(future)

    def _dispatch_logged(self) -> int:
        try:
            return self.dispatch()
        except Exception:
            LOG.exception("Dispatching resource push events failed")
            return 0

    # -- dispatch ----------------------------------------------------------------------------------

    def dispatch(self) -> int:
        """Push every pending change once, with the state it has now; returns resources pushed."""
        with self._dispatch_lock:
            with self._pending_lock:
                to_dispatch, self._pending = self._pending, {}
            if not to_dispatch:
                return 0
            self.stats.dispatches += 1
            updated: list[tuple[str, Mapping[str, Any]]] = []
            deleted: list[tuple[str, Mapping[str, Any]]] = []
            for (resource, resource_id), context in to_dispatch.items():
                type_name = self._resources[resource].type_name
                try:
                    obj = self._load_latest(resource, resource_id)
                except Exception:
                    self.stats.load_errors += 1
                    LOG.exception("Could not re-read %s %s (request %s); push dropped",
                                  resource, resource_id, context.request_id)
                    continue
                if obj is None:
                    deleted.append((type_name, {"id": resource_id}))
                else:
                    updated.append((type_name, obj))
            pushed = 0
            for event_type, batch in ((UPDATED, updated), (DELETED, deleted)):
                if batch:
                    self._push_api.push(batch, event_type)
                    pushed += len(batch)
                    self.stats.by_event[event_type] = self.stats.by_event.get(event_type, 0) + len(batch)
            self.stats.pushed += pushed
            return pushed

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until every submitted dispatch has finished; False on timeout.

        Must not be called from the worker itself (it would wait for its own task).
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._futures_lock:
                outstanding = set(self._futures)
            if not outstanding:
                return True
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            _, not_done = wait_futures(outstanding, timeout=remaining)
            if not_done:
                return False

    def flush(self, timeout: float | None = None) -> int:
        """Finish submitted work, then dispatch whatever is still pending in this thread.

        :raises TimeoutError: the worker did not finish within ``timeout`` seconds.
        """
        if not self.wait_idle(timeout):
            raise TimeoutError("resource push worker still busy")
        return self.dispatch()


def _resource_id(payload: cb.EventPayload) -> str | None:
    if payload.resource_id:
        return str(payload.resource_id)
    latest = payload.latest_state
    if isinstance(latest, Mapping) and latest.get("id"):
        return str(latest["id"])
    return None
