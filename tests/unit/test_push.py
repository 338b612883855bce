"""The OVO-style resource push (CB-06…CB-08) and REG-19 cases (a)–(d)."""

from __future__ import annotations

import copy
import logging
import threading
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from regionmesh.context import RequestContext
from regionmesh.network import callbacks as cb
from regionmesh.network import push
from regionmesh.network.callbacks import CallbackRegistry, EventPayload
from regionmesh.network.push import (
    Cast,
    InlineExecutor,
    InProcessFanoutTransport,
    PushedResource,
    ResourcePushHandler,
    ResourcesPushApi,
)

CTX = RequestContext(user_id="u1", project_id="p1", request_id="req-push")
SG = cb.SECURITY_GROUP
SG_TOPIC = "neutron-vo-SecurityGroup-1.1"


class FakeDB:
    """The latest committed objects, by (resource, id); counts reads and tracks their concurrency."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], dict[str, Any]] = {}
        self.reads: list[tuple[str, str]] = []
        self.fail_for: set[str] = set()
        self.gate: threading.Event | None = None
        self.entered = threading.Event()
        self._active = 0
        self.max_active = 0
        self._lock = threading.Lock()

    def put(self, resource: str, obj: dict[str, Any]) -> None:
        self.rows[(resource, obj["id"])] = copy.deepcopy(obj)

    def drop(self, resource: str, rid: str) -> None:
        self.rows.pop((resource, rid), None)

    def load_latest(self, resource: str, rid: str) -> Mapping[str, Any] | None:
        with self._lock:
            self._active += 1
            self.max_active = max(self.max_active, self._active)
        try:
            self.entered.set()
            if self.gate is not None:
                assert self.gate.wait(timeout=30)
            self.reads.append((resource, rid))
            if rid in self.fail_for:
                raise RuntimeError(f"cannot read {rid}")
            row = self.rows.get((resource, rid))
            return copy.deepcopy(row) if row is not None else None
        finally:
            with self._lock:
                self._active -= 1


@pytest.fixture()
def db() -> FakeDB:
    return FakeDB()


@pytest.fixture()
def reg() -> CallbackRegistry:
    return CallbackRegistry()


@pytest.fixture()
def transport() -> InProcessFanoutTransport:
    return InProcessFanoutTransport()


@pytest.fixture()
def deferred(db: FakeDB, transport: InProcessFanoutTransport,
             reg: CallbackRegistry) -> Iterator[ResourcePushHandler]:
    handler = ResourcePushHandler(db.load_latest, transport, registry=reg, defer=True)
    yield handler
    handler.close()


def sg(rid: str, rev: int, name: str = "web") -> dict[str, Any]:
    return {"id": rid, "name": name, "revision_number": rev, "security_group_rules": []}


def commit(reg: CallbackRegistry, db: FakeDB, event: str, obj: dict[str, Any], resource: str = SG) -> None:
    """What the pipeline does: change the DB (committed), then publish the AFTER event."""
    if event == cb.AFTER_DELETE:
        db.drop(resource, obj["id"])
    else:
        db.put(resource, obj)
    reg.publish(resource, event, "svc", EventPayload(CTX, resource_id=obj["id"], states=(obj,)))


def pushes(transport: InProcessFanoutTransport, topic: str = SG_TOPIC) -> list[tuple[str, list[Any]]]:
    return [(c.kwargs["event_type"], c.kwargs["resource_list"]) for c in transport.casts(topic)]


# ---- REG-19 (a): create + update coalesce into one UPDATED push of the latest revision -----------


def test_reg19a_create_then_update_before_dispatch_is_one_updated_push(
        deferred: ResourcePushHandler, reg: CallbackRegistry, db: FakeDB,
        transport: InProcessFanoutTransport) -> None:
    commit(reg, db, cb.AFTER_CREATE, sg("sg-1", 1))
    commit(reg, db, cb.AFTER_UPDATE, sg("sg-1", 2, name="web2"))
    assert list(deferred.pending) == [(SG, "sg-1")]
    assert transport.casts() == []

    assert deferred.flush() == 1

    assert pushes(transport) == [("updated", [sg("sg-1", 2, name="web2")])]
    assert db.reads == [(SG, "sg-1")]
    assert deferred.flush() == 0  # nothing left
    assert len(transport.casts()) == 1


def test_reg19a_coalescing_with_the_real_worker_thread(db: FakeDB, transport: InProcessFanoutTransport,
                                                       reg: CallbackRegistry) -> None:
    """REG-19 (a) with the threaded executor: events arriving while the worker is busy coalesce,
    and publishing never waits for the worker (the gate is still closed when publish returns)."""
    executor = ThreadPoolExecutor(max_workers=1)
    gate = threading.Event()
    blocker = executor.submit(gate.wait, 30)
    handler = ResourcePushHandler(db.load_latest, transport, executor=executor, registry=reg)
    try:
        commit(reg, db, cb.AFTER_CREATE, sg("sg-1", 1))
        commit(reg, db, cb.AFTER_UPDATE, sg("sg-1", 2))
        commit(reg, db, cb.AFTER_UPDATE, sg("sg-1", 3))
        assert not blocker.done() and transport.casts() == []
        gate.set()
        assert handler.wait_idle(timeout=30)
    finally:
        handler.close()
        executor.shutdown(wait=True)
    assert pushes(transport) == [("updated", [sg("sg-1", 3)])]
    assert handler.stats.dispatches == 1 and handler.stats.pushed == 1


def test_cb07_create_is_always_sent_as_update(deferred: ResourcePushHandler, reg: CallbackRegistry,
                                               db: FakeDB, transport: InProcessFanoutTransport) -> None:
    commit(reg, db, cb.AFTER_CREATE, sg("sg-1", 1))
    deferred.flush()
    assert [event for event, _ in pushes(transport)] == ["updated"]


# ---- REG-19 (b): create + delete coalesce into one DELETED push of a stub --------------------------


def test_reg19b_create_then_delete_before_dispatch_is_one_deleted_stub_push(
        deferred: ResourcePushHandler, reg: CallbackRegistry, db: FakeDB,
        transport: InProcessFanoutTransport) -> None:
    commit(reg, db, cb.AFTER_CREATE, sg("sg-1", 1))
    commit(reg, db, cb.AFTER_DELETE, sg("sg-1", 1))
    deferred.flush()
    assert pushes(transport) == [("deleted", [{"id": "sg-1"}])]


def test_cb07_payload_is_ignored_in_favour_of_the_latest_state(
        deferred: ResourcePushHandler, reg: CallbackRegistry, db: FakeDB,
        transport: InProcessFanoutTransport) -> None:
    db.put(SG, sg("sg-1", 7, name="fresh"))
    reg.publish(SG, cb.AFTER_UPDATE, "svc", EventPayload(CTX, resource_id="sg-1", states=(sg("sg-1", 5),)))
    deferred.flush()
    assert pushes(transport) == [("updated", [sg("sg-1", 7, name="fresh")])]


# ---- REG-19 (c): an AFTER event inside an open transaction is ignored -------------------------------


def test_reg19c_event_inside_open_transaction_is_ignored(db: FakeDB, transport: InProcessFanoutTransport,
                                                         reg: CallbackRegistry,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    in_tx = [True]
    handler = ResourcePushHandler(db.load_latest, transport, in_transaction=lambda: in_tx[0],
                                  executor=InlineExecutor(), registry=reg)
    with caplog.at_level(logging.WARNING, logger=push.__name__):
        commit(reg, db, cb.AFTER_CREATE, sg("sg-1", 1))
        commit(reg, db, cb.AFTER_UPDATE, sg("sg-1", 2))
    assert handler.pending == {} and handler.flush() == 0
    assert transport.casts() == [] and db.reads == []
    warnings = [r for r in caplog.records if "session semantic violated" in r.getMessage()]
    assert len(warnings) == 2 and warnings[0].stack_info and not warnings[1].stack_info
    assert handler.stats.ignored_in_transaction == 2

    in_tx[0] = False  # once committed, events are handled again
    commit(reg, db, cb.AFTER_UPDATE, sg("sg-1", 3))
    assert pushes(transport) == [("updated", [sg("sg-1", 3)])]
    handler.close()


# ---- REG-19 (d) / CB-08: topic, fan-out, method, kwargs, log line ----------------------------------


def test_reg19d_push_is_a_fanout_cast_of_push_on_the_versioned_topic(
        deferred: ResourcePushHandler, reg: CallbackRegistry, db: FakeDB,
        transport: InProcessFanoutTransport) -> None:
    received: list[tuple[str, dict[str, Any]]] = []
    transport.register_consumer(SG_TOPIC, lambda method, kwargs: received.append((method, kwargs)))
    commit(reg, db, cb.AFTER_CREATE, sg("sg-1", 1))
    deferred.flush()

    [cast] = transport.casts()
    assert cast == Cast(topic=SG_TOPIC, method="push", fanout=True, exchange=f"{SG_TOPIC}_fanout",
                        routing_key=None, kwargs={"resource_list": [sg("sg-1", 1)], "event_type": "updated"})
    assert received == [("push", {"resource_list": [sg("sg-1", 1)], "event_type": "updated"})]


def test_cb08_push_logs_event_and_resources_by_type(deferred: ResourcePushHandler, reg: CallbackRegistry,
                                                     db: FakeDB, caplog: pytest.LogCaptureFixture) -> None:
    commit(reg, db, cb.AFTER_CREATE, sg("47991532-81e1-4454-a010-7d1d45c07db1", 1))
    with caplog.at_level(logging.DEBUG, logger=push.__name__):
        deferred.flush()
    assert ("Pushing event updated for resources: {'SecurityGroup': "
            "['ID=47991532-81e1-4454-a010-7d1d45c07db1,revision_number=1']}") in caplog.text


def test_cb08_resources_are_grouped_per_type_and_cast_per_version(
        db: FakeDB, reg: CallbackRegistry, transport: InProcessFanoutTransport) -> None:
    types = (PushedResource(SG, "SecurityGroup", ("1.1", "1.2")),
             PushedResource(cb.SECURITY_GROUP_RULE, "SecurityGroupRule", ("1.0",)))
    handler = ResourcePushHandler(db.load_latest, transport, registry=reg, resources=types, defer=True)
    commit(reg, db, cb.AFTER_CREATE, sg("sg-1", 1))
    commit(reg, db, cb.AFTER_CREATE, sg("sg-2", 1))
    commit(reg, db, cb.AFTER_CREATE, {"id": "r-1", "revision_number": 1}, resource=cb.SECURITY_GROUP_RULE)
    commit(reg, db, cb.AFTER_UPDATE, {"id": "net-1"}, resource=cb.NETWORK)  # not configured: ignored
    assert handler.flush() == 3
    assert [(c.topic, [o["id"] for o in c.kwargs["resource_list"]]) for c in transport.casts()] == [
        ("neutron-vo-SecurityGroup-1.1", ["sg-1", "sg-2"]),
        ("neutron-vo-SecurityGroup-1.2", ["sg-1", "sg-2"]),
        ("neutron-vo-SecurityGroupRule-1.0", ["r-1"]),
    ]


def test_cb08_updates_and_deletes_in_one_dispatch_go_as_separate_events(
        deferred: ResourcePushHandler, reg: CallbackRegistry, db: FakeDB,
        transport: InProcessFanoutTransport) -> None:
    commit(reg, db, cb.AFTER_CREATE, sg("sg-1", 1))
    commit(reg, db, cb.AFTER_CREATE, sg("sg-2", 1))
    commit(reg, db, cb.AFTER_DELETE, sg("sg-2", 1))
    deferred.flush()
    assert pushes(transport) == [("updated", [sg("sg-1", 1)]), ("deleted", [{"id": "sg-2"}])]
    assert deferred.stats.by_event == {"updated": 1, "deleted": 1}


def test_cb08_unknown_type_is_rejected(transport: InProcessFanoutTransport) -> None:
    api = ResourcesPushApi(transport)
    with pytest.raises(push.UnknownResourceType):
        api.push([("Widget", {"id": "w"})], "updated")
    assert api.push([], "updated") == 0


def test_cb08_failing_cast_is_logged_and_other_types_still_go(caplog: pytest.LogCaptureFixture) -> None:
    sent: list[str] = []

    class FlakyTransport:
        def cast(self, topic: str, method: str, kwargs: dict[str, Any], fanout: bool = False) -> None:
            if "Port" in topic:
                raise ConnectionError("broker gone")
            sent.append(topic)

    api = ResourcesPushApi(FlakyTransport())
    with caplog.at_level(logging.ERROR, logger=push.__name__):
        casts = api.push([("Port", {"id": "p"}), ("SecurityGroup", {"id": "s"})], "updated")
    assert casts == 1 and sent == [SG_TOPIC]
    assert any(r.exc_info for r in caplog.records)


# ---- CB-06 / CB-07: the handler's mechanics ------------------------------------------------------


def test_cb06_pending_keeps_the_context_per_resource(deferred: ResourcePushHandler, reg: CallbackRegistry,
                                                      db: FakeDB) -> None:
    other = RequestContext(project_id="p2", request_id="req-2")
    commit(reg, db, cb.AFTER_CREATE, sg("sg-1", 1))
    db.put(SG, sg("sg-1", 2))
    reg.publish(SG, cb.AFTER_UPDATE, "svc", EventPayload(other, resource_id="sg-1"))
    assert deferred.pending == {(SG, "sg-1"): other}


def test_cb06_resource_id_falls_back_to_the_latest_state(deferred: ResourcePushHandler,
                                                         reg: CallbackRegistry) -> None:
    reg.publish(SG, cb.AFTER_CREATE, "svc", EventPayload(CTX, states=({"id": "sg-9"},)))
    assert list(deferred.pending) == [(SG, "sg-9")]


def test_cb06_event_without_any_id_is_logged_and_dropped(deferred: ResourcePushHandler, reg: CallbackRegistry,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger=push.__name__):
        reg.publish(SG, cb.AFTER_CREATE, "svc", EventPayload(CTX))
    assert deferred.pending == {} and "No resource id" in caplog.text


def test_cb06_inline_executor_pushes_during_publish(db: FakeDB, transport: InProcessFanoutTransport,
                                                    reg: CallbackRegistry) -> None:
    handler = ResourcePushHandler(db.load_latest, transport, executor=InlineExecutor(), registry=reg)
    commit(reg, db, cb.AFTER_CREATE, sg("sg-1", 1))
    assert pushes(transport) == [("updated", [sg("sg-1", 1)])]
    assert handler.wait_idle(timeout=0)


def test_cb06_default_executor_pushes_in_the_background(db: FakeDB, transport: InProcessFanoutTransport,
                                                        reg: CallbackRegistry) -> None:
    handler = ResourcePushHandler(db.load_latest, transport, registry=reg)
    try:
        for rev in (1, 2):
            commit(reg, db, cb.AFTER_UPDATE, sg("sg-1", rev))
        handler.flush(timeout=30)
    finally:
        handler.close()
    events = pushes(transport)
    # However the worker interleaved, the last push carries the latest revision.
    assert events and events[-1] == ("updated", [sg("sg-1", 2)])
    assert handler.pending == {}


def test_cb07_read_failure_for_one_id_does_not_block_the_others(
        deferred: ResourcePushHandler, reg: CallbackRegistry, db: FakeDB,
        transport: InProcessFanoutTransport, caplog: pytest.LogCaptureFixture) -> None:
    db.fail_for.add("sg-bad")
    commit(reg, db, cb.AFTER_CREATE, sg("sg-bad", 1))
    commit(reg, db, cb.AFTER_CREATE, sg("sg-ok", 1))
    with caplog.at_level(logging.ERROR, logger=push.__name__):
        assert deferred.flush() == 1
    assert pushes(transport) == [("updated", [sg("sg-ok", 1)])]
    assert "sg-bad" in caplog.text and "req-push" in caplog.text
    assert deferred.stats.load_errors == 1


def test_cb07_one_dispatcher_at_a_time(db: FakeDB, transport: InProcessFanoutTransport,
                                       deferred: ResourcePushHandler, reg: CallbackRegistry) -> None:
    commit(reg, db, cb.AFTER_CREATE, sg("sg-1", 1))
    db.gate = threading.Event()
    first = threading.Thread(target=deferred.dispatch)
    first.start()
    assert db.entered.wait(timeout=30)  # the first dispatcher is inside load_latest, holding the lock
    commit(reg, db, cb.AFTER_CREATE, sg("sg-2", 1))
    second = threading.Thread(target=deferred.dispatch)
    second.start()
    second.join(timeout=0.2)  # bounded negative check: it must be waiting for the lock
    assert second.is_alive() and db.reads == []
    db.gate.set()
    first.join(timeout=30)
    second.join(timeout=30)
    assert db.max_active == 1
    assert [[o["id"] for o in objs] for _, objs in pushes(transport)] == [["sg-1"], ["sg-2"]]


def test_close_unsubscribes(db: FakeDB, transport: InProcessFanoutTransport, reg: CallbackRegistry) -> None:
    handler = ResourcePushHandler(db.load_latest, transport, registry=reg, defer=True)
    assert reg.has_subscribers(SG, cb.AFTER_UPDATE)
    handler.close()
    commit(reg, db, cb.AFTER_UPDATE, sg("sg-1", 1))
    assert handler.pending == {}
    assert not any(reg.has_subscribers(r.resource, e) for r in push.DEFAULT_PUSHED_RESOURCES
                   for e in (cb.AFTER_CREATE, cb.AFTER_UPDATE, cb.AFTER_DELETE))


def test_events_after_executor_shutdown_stay_pending_for_flush(
        db: FakeDB, transport: InProcessFanoutTransport, reg: CallbackRegistry) -> None:
    executor = ThreadPoolExecutor(max_workers=1)
    executor.shutdown()
    handler = ResourcePushHandler(db.load_latest, transport, executor=executor, registry=reg)
    commit(reg, db, cb.AFTER_CREATE, sg("sg-1", 1))
    assert list(handler.pending) == [(SG, "sg-1")]
    assert handler.flush() == 1


def test_flush_raises_when_the_worker_does_not_finish(db: FakeDB, transport: InProcessFanoutTransport,
                                                      reg: CallbackRegistry) -> None:
    executor = ThreadPoolExecutor(max_workers=1)
    gate = threading.Event()
    executor.submit(gate.wait, 30)
    handler = ResourcePushHandler(db.load_latest, transport, executor=executor, registry=reg)
    try:
        commit(reg, db, cb.AFTER_CREATE, sg("sg-1", 1))
        assert not handler.wait_idle(timeout=0)
        with pytest.raises(TimeoutError):
            handler.flush(timeout=0)
    finally:
        gate.set()
        assert handler.wait_idle(timeout=30)
        executor.shutdown(wait=True)
    assert pushes(transport) == [("updated", [sg("sg-1", 1)])]


# ---- transport ----------------------------------------------------------------------------------------


def test_transport_fanout_reaches_every_consumer_with_its_own_copy(caplog: pytest.LogCaptureFixture) -> None:
    transport = InProcessFanoutTransport()
    seen: list[Any] = []

    def mutating(method: str, kwargs: dict[str, Any]) -> None:
        kwargs["resource_list"].clear()
        raise RuntimeError("agent crashed")

    def good(method: str, kwargs: dict[str, Any]) -> None:
        seen.append(kwargs["resource_list"])

    transport.register_consumer("t", mutating)
    transport.register_consumer("t", good)
    sent = {"resource_list": [{"id": "x"}], "event_type": "updated"}
    with caplog.at_level(logging.ERROR, logger=push.__name__):
        transport.cast("t", "push", sent, fanout=True)
    assert seen == [[{"id": "x"}]]
    assert sent["resource_list"] == [{"id": "x"}]
    assert transport.casts("t")[0].kwargs["resource_list"] == [{"id": "x"}]
    assert "agent crashed" in caplog.text

    transport.unregister_consumer("t", mutating)
    transport.cast("t", "push", sent)  # a plain cast goes to one consumer
    assert len(seen) == 2 and transport.casts("t")[1].exchange == "t"
    transport.clear()
    assert transport.casts() == []


def test_topic_for() -> None:
    assert push.topic_for("SecurityGroup", "1.1") == SG_TOPIC
