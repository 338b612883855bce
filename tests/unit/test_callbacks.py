"""The callback registry (CB-01…CB-05) and the callback parts of REG-15…REG-18, OQ-04."""

from __future__ import annotations

import logging
import sqlite3
import threading
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from regionmesh.context import RequestContext
from regionmesh.db.engine import RetryRequest
from regionmesh.network import callbacks as cb
from regionmesh.network.callbacks import (
    CallbackFailure,
    CallbackRegistry,
    EventPayload,
    NotificationError,
    publish_or_raise,
)
from regionmesh.network.exceptions import Conflict, NotFound

CTX = RequestContext(user_id="u1", project_id="p1", roles=frozenset({"member"}), auth_token="secret-token")
SG = cb.SECURITY_GROUP


class SecurityGroupConflict(Conflict):
    """Stands in for the SG service's 409 (its template uses ``reason``, like Neutron's)."""

    message = "Error %(reason)s while attempting the operation."


class Recorder:
    """A named callback that records its calls into a shared log and can be told to fail."""

    def __init__(self, name: str, log: list[str], fail: BaseException | None = None) -> None:
        self.name = name
        self.log = log
        self.fail = fail
        self.payloads: list[EventPayload] = []

    def __call__(self, resource: str, event: str, trigger: Any, *, payload: EventPayload) -> None:
        self.log.append(f"{self.name}:{event}")
        self.payloads.append(payload)
        if self.fail is not None:
            raise self.fail


def payload(**kwargs: Any) -> EventPayload:
    return EventPayload(CTX, **kwargs)


@pytest.fixture()
def reg() -> CallbackRegistry:
    return CallbackRegistry()


# ---- CB-01: subscription and order ------------------------------------------------------------


def test_cb01_callbacks_run_in_ascending_priority_order(reg: CallbackRegistry) -> None:
    log: list[str] = []
    reg.subscribe(Recorder("late", log), SG, cb.AFTER_CREATE, priority=300)
    reg.subscribe(Recorder("early", log), SG, cb.AFTER_CREATE, priority=100)
    reg.subscribe(Recorder("default", log), SG, cb.AFTER_CREATE)
    reg.subscribe(Recorder("middle", log), SG, cb.AFTER_CREATE, priority=200)

    reg.publish(SG, cb.AFTER_CREATE, None, payload())

    assert log == ["early:after_create", "middle:after_create", "late:after_create", "default:after_create"]


def test_cb01_equal_priorities_keep_subscription_order(reg: CallbackRegistry) -> None:
    log: list[str] = []
    for name in "abcde":
        reg.subscribe(Recorder(name, log), SG, cb.AFTER_UPDATE)
    reg.publish(SG, cb.AFTER_UPDATE, None, payload())
    assert [entry[0] for entry in log] == list("abcde")


def test_cb01_callback_receives_resource_event_trigger_and_payload(reg: CallbackRegistry) -> None:
    seen: list[tuple[str, str, Any, EventPayload]] = []

    def callback(resource: str, event: str, trigger: Any, payload: EventPayload) -> None:
        seen.append((resource, event, trigger, payload))

    trigger = object()
    p = payload(resource_id="sg-1", states=({"id": "sg-1"},))
    reg.subscribe(callback, SG, cb.AFTER_CREATE)
    reg.publish(SG, cb.AFTER_CREATE, trigger, p)
    assert seen == [(SG, cb.AFTER_CREATE, trigger, p)]


def test_cb01_only_the_matching_resource_and_event_are_notified(reg: CallbackRegistry) -> None:
    log: list[str] = []
    reg.subscribe(Recorder("sg", log), SG, cb.AFTER_CREATE)
    reg.subscribe(Recorder("port", log), cb.PORT, cb.AFTER_CREATE)
    reg.subscribe(Recorder("upd", log), SG, cb.AFTER_UPDATE)
    reg.publish(SG, cb.AFTER_CREATE, None, payload())
    assert log == ["sg:after_create"]


def test_cb01_subscribing_twice_replaces_and_updates_priority(reg: CallbackRegistry) -> None:
    log: list[str] = []
    a, b = Recorder("a", log), Recorder("b", log)
    reg.subscribe(a, SG, cb.AFTER_CREATE, priority=1)
    reg.subscribe(b, SG, cb.AFTER_CREATE, priority=2)
    reg.subscribe(a, SG, cb.AFTER_CREATE, priority=3)
    reg.publish(SG, cb.AFTER_CREATE, None, payload())
    assert log == ["b:after_create", "a:after_create"]


def test_cb01_publish_without_subscribers_is_a_no_op(reg: CallbackRegistry) -> None:
    reg.publish(SG, cb.BEFORE_CREATE, None, payload())
    assert not reg.has_subscribers(SG, cb.BEFORE_CREATE)


def test_subscribe_rejects_empty_resource_or_event(reg: CallbackRegistry) -> None:
    with pytest.raises(ValueError):
        reg.subscribe(Recorder("x", []), "", cb.AFTER_CREATE)
    with pytest.raises(ValueError):
        reg.subscribe(Recorder("x", []), SG, "")


# ---- callback ids ---------------------------------------------------------------------------------


class Service:
    def handler(self, resource: str, event: str, trigger: Any, *, payload: EventPayload) -> None:
        """A bound-method subscriber, the common case."""


def test_callback_ids_are_stable_for_bound_methods_and_distinct_per_instance() -> None:
    s1, s2 = Service(), Service()
    assert cb.callback_id(s1.handler) == cb.callback_id(s1.handler)  # a new bound method each access
    assert cb.callback_id(s1.handler) != cb.callback_id(s2.handler)
    assert cb.callback_id(s1.handler).startswith(f"{__name__}.Service.handler-")


def test_bound_method_can_be_unsubscribed_with_a_fresh_bound_method(reg: CallbackRegistry) -> None:
    s = Service()
    cid = reg.subscribe(s.handler, SG, cb.AFTER_CREATE)
    assert reg.subscribers(SG, cb.AFTER_CREATE) == [cid]
    reg.unsubscribe(s.handler, SG, cb.AFTER_CREATE)
    assert reg.subscribers(SG, cb.AFTER_CREATE) == []


# ---- unsubscription ----------------------------------------------------------------------------


def test_unsubscribe_all_and_by_resource(reg: CallbackRegistry) -> None:
    log: list[str] = []
    a = Recorder("a", log)
    for resource in (SG, cb.PORT):
        for event in (cb.BEFORE_CREATE, cb.AFTER_CREATE):
            reg.subscribe(a, resource, event)
    reg.unsubscribe_by_resource(a, cb.PORT)
    assert not reg.has_subscribers(cb.PORT, cb.AFTER_CREATE)
    assert reg.has_subscribers(SG, cb.AFTER_CREATE)
    reg.unsubscribe_all(a)
    for resource in (SG, cb.PORT):
        for event in (cb.BEFORE_CREATE, cb.AFTER_CREATE):
            reg.publish(resource, event, None, payload())
    assert log == []


def test_unsubscribing_an_unknown_callback_is_harmless(reg: CallbackRegistry) -> None:
    a = Recorder("a", [])
    reg.unsubscribe(a, SG, cb.AFTER_CREATE)
    reg.unsubscribe_all(a)
    reg.unsubscribe_by_resource(a, SG)


# ---- REG-18: unsubscribing during notify ----------------------------------------------------------


def test_reg18_callback_may_unsubscribe_itself_during_notify(reg: CallbackRegistry) -> None:
    """REG-18: notify finishes, and every callback subscribed at the start is called exactly once."""
    log: list[str] = []

    class SelfRemoving(Recorder):
        def __call__(self, resource: str, event: str, trigger: Any, *, payload: EventPayload) -> None:
            super().__call__(resource, event, trigger, payload=payload)
            reg.unsubscribe(self, resource, event)

    first, selfish, last = Recorder("first", log), SelfRemoving("selfish", log), Recorder("last", log)
    reg.subscribe(first, SG, cb.AFTER_CREATE, priority=1)
    reg.subscribe(selfish, SG, cb.AFTER_CREATE, priority=2)
    reg.subscribe(last, SG, cb.AFTER_CREATE, priority=3)

    reg.publish(SG, cb.AFTER_CREATE, None, payload())
    assert log == ["first:after_create", "selfish:after_create", "last:after_create"]

    log.clear()
    reg.publish(SG, cb.AFTER_CREATE, None, payload())
    assert log == ["first:after_create", "last:after_create"]


def test_reg18_snapshot_covers_removals_and_additions_by_other_callbacks(reg: CallbackRegistry) -> None:
    """REG-18: the list is snapshotted, so one callback removing a later one does not skip it, and a
    callback added during notify waits for the next publish."""
    log: list[str] = []
    victim, newcomer = Recorder("victim", log), Recorder("newcomer", log)

    def meddler(resource: str, event: str, trigger: Any, *, payload: EventPayload) -> None:
        log.append("meddler")
        reg.unsubscribe(victim, resource, event)
        reg.subscribe(newcomer, resource, event)

    reg.subscribe(meddler, SG, cb.BEFORE_DELETE, priority=1)
    reg.subscribe(victim, SG, cb.BEFORE_DELETE, priority=2)
    reg.publish(SG, cb.BEFORE_DELETE, None, payload())
    assert log == ["meddler", "victim:before_delete"]

    log.clear()
    reg.publish(SG, cb.BEFORE_DELETE, None, payload())
    assert log == ["meddler", "newcomer:before_delete"]


# ---- CB-02: errors are collected, the loop goes on -------------------------------------------------


def test_cb02_errors_are_collected_per_callback_and_loop_continues(reg: CallbackRegistry) -> None:
    log: list[str] = []
    boom1, boom2 = ValueError("boom-1"), KeyError("boom-2")
    bad1, good, bad2 = Recorder("bad1", log, boom1), Recorder("good", log), Recorder("bad2", log, boom2)
    reg.subscribe(bad1, SG, cb.PRECOMMIT_CREATE, priority=1)
    reg.subscribe(good, SG, cb.PRECOMMIT_CREATE, priority=2)
    reg.subscribe(bad2, SG, cb.PRECOMMIT_CREATE, priority=3)

    with pytest.raises(CallbackFailure) as info:
        reg.publish(SG, cb.PRECOMMIT_CREATE, None, payload())

    assert log == ["bad1:precommit_create", "good:precommit_create", "bad2:precommit_create"]
    failure = info.value
    assert all(isinstance(e, NotificationError) for e in failure.errors)
    assert [e.callback_id for e in failure.errors] == [cb.callback_id(bad1), cb.callback_id(bad2)]
    assert failure.inner_exceptions == [boom1, boom2]
    assert "boom-1" in str(failure) and cb.callback_id(bad2) in str(failure)


def test_cb02_abortable_event_errors_are_logged_at_debug_without_trace(
    reg: CallbackRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    reg.subscribe(Recorder("bad", [], ValueError("nope")), SG, cb.BEFORE_CREATE)
    caplog.set_level(logging.DEBUG, logger=cb.__name__)
    with pytest.raises(CallbackFailure):
        reg.publish(SG, cb.BEFORE_CREATE, None, payload())
    records = [r for r in caplog.records if "nope" in r.getMessage()]
    assert records and all(r.levelno == logging.DEBUG and r.exc_info is None for r in records)
    assert not any(r.levelno >= logging.WARNING for r in caplog.records)


def test_is_cancellable_event() -> None:
    assert cb.is_cancellable_event(cb.BEFORE_CREATE)
    assert cb.is_cancellable_event(cb.PRECOMMIT_DELETE)
    assert not cb.is_cancellable_event(cb.AFTER_UPDATE)
    assert not cb.is_cancellable_event(cb.ABORT_CREATE)
    assert not cb.is_cancellable_event(cb.BEFORE_RESPONSE)  # OQ-04


# ---- CB-03 / REG-15: BEFORE failure publishes ABORT then raises ------------------------------------


def test_reg15_before_failure_publishes_abort_exactly_once_then_raises(reg: CallbackRegistry) -> None:
    """REG-15: two failing BEFORE subscribers still give one ABORT, and the caller gets every error."""
    log: list[str] = []
    abort = Recorder("abort", log)
    reg.subscribe(Recorder("veto1", log, ValueError("no 1")), SG, cb.BEFORE_CREATE, priority=1)
    reg.subscribe(Recorder("ok", log), SG, cb.BEFORE_CREATE, priority=2)
    reg.subscribe(Recorder("veto2", log, ValueError("no 2")), SG, cb.BEFORE_CREATE, priority=3)
    reg.subscribe(abort, SG, cb.ABORT_CREATE)
    reg.subscribe(Recorder("after", log), SG, cb.AFTER_CREATE)
    p = payload(states=({"name": "web"},))

    with pytest.raises(CallbackFailure) as info:
        reg.publish(SG, cb.BEFORE_CREATE, "trigger", p)

    assert log == ["veto1:before_create", "ok:before_create", "veto2:before_create", "abort:abort_create"]
    assert abort.payloads == [p]  # ABORT subscribers see the same payload
    assert [str(e) for e in info.value.inner_exceptions] == ["no 1", "no 2"]


@pytest.mark.parametrize(
    ("before", "abort"), [(cb.BEFORE_UPDATE, cb.ABORT_UPDATE), (cb.BEFORE_DELETE, cb.ABORT_DELETE)]
)
def test_reg15_abort_event_matches_the_before_event(reg: CallbackRegistry, before: str, abort: str) -> None:
    log: list[str] = []
    reg.subscribe(Recorder("veto", log, RuntimeError("x")), SG, before)
    reg.subscribe(Recorder("abort", log), SG, abort)
    reg.subscribe(Recorder("other-abort", log), SG, cb.ABORT_CREATE)
    with pytest.raises(CallbackFailure):
        reg.publish(SG, before, None, payload())
    assert log == [f"veto:{before}", f"abort:{abort}"]


def test_reg15_successful_before_publishes_no_abort(reg: CallbackRegistry) -> None:
    log: list[str] = []
    reg.subscribe(Recorder("ok", log), SG, cb.BEFORE_CREATE)
    reg.subscribe(Recorder("abort", log), SG, cb.ABORT_CREATE)
    reg.publish(SG, cb.BEFORE_CREATE, None, payload())
    assert log == ["ok:before_create"]


def test_reg15_failing_abort_subscriber_does_not_mask_the_original_failure(
    reg: CallbackRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    log: list[str] = []
    reg.subscribe(Recorder("veto", log, ValueError("veto")), SG, cb.BEFORE_CREATE)
    reg.subscribe(Recorder("abort-bad", log, RuntimeError("abort broke")), SG, cb.ABORT_CREATE, priority=1)
    reg.subscribe(Recorder("abort-ok", log), SG, cb.ABORT_CREATE, priority=2)
    with caplog.at_level(logging.ERROR, logger=cb.__name__), pytest.raises(CallbackFailure) as info:
        reg.publish(SG, cb.BEFORE_CREATE, None, payload())
    assert [str(e) for e in info.value.inner_exceptions] == ["veto"]
    assert log == ["veto:before_create", "abort-bad:abort_create", "abort-ok:abort_create"]
    assert any(r.exc_info and "abort_create" in r.getMessage() for r in caplog.records)


# ---- CB-04: publish_or_raise ------------------------------------------------------------------------


def test_cb04_reg15_publish_or_raise_turns_failure_into_the_api_error(reg: CallbackRegistry) -> None:
    """REG-15: a BEFORE veto becomes SecurityGroupConflict (409), whose message lists the reasons."""
    log: list[str] = []
    reg.subscribe(Recorder("veto", log, ValueError("quota backend says no")), SG, cb.BEFORE_CREATE)
    reg.subscribe(Recorder("abort", log), SG, cb.ABORT_CREATE)

    with pytest.raises(SecurityGroupConflict) as info:
        publish_or_raise(reg, SG, cb.BEFORE_CREATE, None, payload(), SecurityGroupConflict)

    err = info.value
    assert isinstance(err, Conflict)
    assert "quota backend says no" in str(err) and str(err).startswith("Error cannot perform before_create")
    assert isinstance(err.__cause__, CallbackFailure)
    assert log.count("abort:abort_create") == 1


def test_cb04_inner_http_errors_are_exposed_but_exc_cls_wins(reg: CallbackRegistry) -> None:
    missing = NotFound(resource="network", id="n1")
    reg.subscribe(Recorder("nf", [], missing), SG, cb.PRECOMMIT_DELETE)
    with pytest.raises(SecurityGroupConflict) as info:
        publish_or_raise(
            reg, SG, cb.PRECOMMIT_DELETE, None, payload(resource_id="sg-1"), SecurityGroupConflict
        )
    assert type(info.value) is SecurityGroupConflict
    assert cb.inner_exceptions(info.value) == [missing]
    err: Any = info.value
    assert err.inner_exceptions == [missing]
    assert [e.error for e in err.errors] == [missing]
    assert "network n1 could not be found" in str(err)
    assert cb.inner_exceptions(ValueError("unrelated")) == []


def test_cb04_template_with_msg_is_filled_too(reg: CallbackRegistry) -> None:
    reg.subscribe(Recorder("veto", [], ValueError("nah")), SG, cb.BEFORE_UPDATE)
    with pytest.raises(Conflict) as info:
        publish_or_raise(reg, SG, cb.BEFORE_UPDATE, None, payload(), Conflict)
    assert str(info.value).startswith("A conflict occurred: cannot perform before_update on security_group")


def test_cb04_publish_or_raise_is_silent_for_after_failures(reg: CallbackRegistry) -> None:
    reg.subscribe(Recorder("bad", [], ValueError("late")), SG, cb.AFTER_CREATE)
    publish_or_raise(reg, SG, cb.AFTER_CREATE, None, payload(), SecurityGroupConflict)


# ---- CB-03 / REG-16: PRECOMMIT failure raises and the transaction rolls back ------------------------


def test_reg16_precommit_failure_raises_without_abort(reg: CallbackRegistry) -> None:
    log: list[str] = []
    reg.subscribe(Recorder("bad", log, ValueError("no")), SG, cb.PRECOMMIT_CREATE)
    reg.subscribe(Recorder("abort", log), SG, cb.ABORT_CREATE)
    with pytest.raises(CallbackFailure):
        reg.publish(SG, cb.PRECOMMIT_CREATE, None, payload())
    assert log == ["bad:precommit_create"]


def _create_sg_in_transaction(reg: CallbackRegistry, db: sqlite3.Connection, sg_id: str) -> None:
    """A miniature create: the SG row, two egress rules and PRECOMMIT, all in one transaction."""
    with db:  # commits on success, rolls back on any exception
        db.execute("INSERT INTO sg (id) VALUES (?)", (sg_id,))
        for ethertype in ("IPv4", "IPv6"):
            db.execute("INSERT INTO rules (sg_id, ethertype) VALUES (?, ?)", (sg_id, ethertype))
        publish_or_raise(
            reg,
            SG,
            cb.PRECOMMIT_CREATE,
            None,
            payload(resource_id=sg_id, states=({"id": sg_id},), connection=db),
            SecurityGroupConflict,
        )


@pytest.fixture()
def db() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    conn.executescript(
        "CREATE TABLE sg (id TEXT PRIMARY KEY);"
        "CREATE TABLE rules (sg_id TEXT, ethertype TEXT);"
        "CREATE TABLE jobs (resource_id TEXT);"
    )
    return conn


def _write_job(resource: str, event: str, trigger: Any, *, payload: EventPayload) -> None:
    """What the central role does in PRECOMMIT: write an outbox row through the open transaction."""
    payload.connection.execute("INSERT INTO jobs (resource_id) VALUES (?)", (payload.resource_id,))


def _count(db: sqlite3.Connection, table: str) -> int:
    return int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def test_reg16_precommit_subscriber_writes_in_the_same_transaction(
    reg: CallbackRegistry, db: sqlite3.Connection
) -> None:
    reg.subscribe(_write_job, SG, cb.PRECOMMIT_CREATE)
    _create_sg_in_transaction(reg, db, "sg-1")
    assert (_count(db, "sg"), _count(db, "rules"), _count(db, "jobs")) == (1, 2, 1)


def test_reg16_precommit_failure_rolls_back_rows_rules_and_subscriber_writes(
    reg: CallbackRegistry, db: sqlite3.Connection
) -> None:
    """REG-16: the SG, its two egress rules and the job a subscriber wrote are all gone; 409."""
    reg.subscribe(_write_job, SG, cb.PRECOMMIT_CREATE, priority=1)
    reg.subscribe(Recorder("veto", [], ValueError("routing clash")), SG, cb.PRECOMMIT_CREATE, priority=2)
    with pytest.raises(SecurityGroupConflict):
        _create_sg_in_transaction(reg, db, "sg-1")
    assert (_count(db, "sg"), _count(db, "rules"), _count(db, "jobs")) == (0, 0, 0)


# ---- CB-03 / REG-17: AFTER failure is logged, not raised --------------------------------------------


def test_reg17_after_failure_is_logged_with_traceback_and_later_subscribers_run(
    reg: CallbackRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    log: list[str] = []
    bad = Recorder("bad", log, RuntimeError("agent notifier down"))
    reg.subscribe(Recorder("first", log), SG, cb.AFTER_CREATE, priority=1)
    reg.subscribe(bad, SG, cb.AFTER_CREATE, priority=2)
    reg.subscribe(Recorder("later", log), SG, cb.AFTER_CREATE, priority=3)
    reg.subscribe(Recorder("abort", log), SG, cb.ABORT_CREATE)

    with caplog.at_level(logging.ERROR, logger=cb.__name__):
        reg.publish(SG, cb.AFTER_CREATE, None, payload(resource_id="sg-1"))

    assert log == ["first:after_create", "bad:after_create", "later:after_create"]
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    expected = f"Error during notification for {cb.callback_id(bad)} security_group, after_create"
    assert record.getMessage() == expected
    assert record.exc_info is not None and record.exc_info[1] is bad.fail
    assert "Traceback" in caplog.text and "agent notifier down" in caplog.text


def test_oq04_before_response_failure_is_logged_not_raised_and_not_aborted(
    reg: CallbackRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    """OQ-04: BEFORE_RESPONSE fires after the commit, so the result stands."""
    log: list[str] = []
    reg.subscribe(Recorder("bad", log, ValueError("view hook")), SG, cb.BEFORE_RESPONSE)
    reg.subscribe(Recorder("abort", log), SG, "abort_response")
    with caplog.at_level(logging.ERROR, logger=cb.__name__):
        reg.publish(
            SG,
            cb.BEFORE_RESPONSE,
            None,
            cb.APIEventPayload(
                CTX,
                states=({}, {"security_group": {}}),
                method_name="security_group.create.end",
                action="create_security_group",
                collection_name="security_groups",
            ),
        )
    assert log == ["bad:before_response"]
    assert any(r.exc_info for r in caplog.records)


# ---- CB-05: retriable DB errors become retry requests ----------------------------------------------


def test_cb05_retriable_db_error_in_precommit_becomes_retry_request(reg: CallbackRegistry) -> None:
    locked = OperationalError("INSERT ...", {}, sqlite3.OperationalError("database is locked"))
    reg.subscribe(Recorder("db", [], locked), SG, cb.PRECOMMIT_UPDATE)
    with pytest.raises(RetryRequest) as info:
        publish_or_raise(reg, SG, cb.PRECOMMIT_UPDATE, None, payload(), SecurityGroupConflict)
    assert info.value.inner is locked
    assert isinstance(info.value.__cause__, CallbackFailure)


def test_cb05_retry_request_from_before_callback_passes_through_after_abort(reg: CallbackRegistry) -> None:
    log: list[str] = []
    retry = RetryRequest("ip allocation race")
    reg.subscribe(Recorder("racer", log, retry), SG, cb.BEFORE_CREATE)
    reg.subscribe(Recorder("abort", log), SG, cb.ABORT_CREATE)
    with pytest.raises(RetryRequest) as info:
        publish_or_raise(reg, SG, cb.BEFORE_CREATE, None, payload(), SecurityGroupConflict)
    assert info.value is retry
    assert log == ["racer:before_create", "abort:abort_create"]


def test_cb05_non_retriable_errors_stay_callback_failures(reg: CallbackRegistry) -> None:
    reg.subscribe(Recorder("x", [], ValueError("plain")), SG, cb.PRECOMMIT_CREATE)
    with pytest.raises(CallbackFailure):
        reg.publish(SG, cb.PRECOMMIT_CREATE, None, payload())


# ---- payloads -----------------------------------------------------------------------------------------


def test_payload_latest_state_prefers_desired_state_then_last_state() -> None:
    assert payload().latest_state is None and not payload().has_states
    assert payload(states=({"rev": 1}, {"name": "x"}, {"rev": 2})).latest_state == {"rev": 2}
    assert payload(states=({"rev": 1},), desired_state={"rev": 9}).latest_state == {"rev": 9}
    assert payload(desired_state={"rev": 9}).desired_state == {"rev": 9}


def test_payload_metadata_is_not_shared_between_payloads() -> None:
    a, b = payload(), payload()
    a.metadata["is_default"] = True
    assert b.metadata == {}


# ---- injection and threads -------------------------------------------------------------------------


def test_module_default_registry_exists_but_registries_are_independent() -> None:
    assert isinstance(cb.registry, CallbackRegistry)
    one, two = CallbackRegistry(), CallbackRegistry()
    log: list[str] = []
    one.subscribe(Recorder("a", log), SG, cb.AFTER_CREATE)
    two.publish(SG, cb.AFTER_CREATE, None, payload())
    cb.registry.publish(SG, cb.AFTER_CREATE, None, payload())
    assert log == []


def test_publish_does_not_hold_the_lock_while_calling_callbacks(reg: CallbackRegistry) -> None:
    """A callback whose work subscribes from another thread must not deadlock."""
    done = threading.Event()

    def subscribe_elsewhere(resource: str, event: str, trigger: Any, *, payload: EventPayload) -> None:
        def other_thread() -> None:
            reg.subscribe(Recorder("n", []), SG, cb.AFTER_DELETE)
            done.set()

        worker = threading.Thread(target=other_thread)
        worker.start()
        worker.join(timeout=10)

    reg.subscribe(subscribe_elsewhere, SG, cb.AFTER_CREATE)
    reg.publish(SG, cb.AFTER_CREATE, None, payload())
    assert done.is_set()


def test_concurrent_subscribe_unsubscribe_and_publish_are_consistent(reg: CallbackRegistry) -> None:
    threads_n, per_thread = 8, 100
    start = threading.Barrier(threads_n + 1)
    keep: list[list[Recorder]] = [[] for _ in range(threads_n)]

    def churn(i: int) -> None:
        start.wait()
        for j in range(per_thread):
            r = Recorder(f"{i}-{j}", [])
            reg.subscribe(r, SG, cb.AFTER_UPDATE)
            if j % 2:
                reg.unsubscribe(r, SG, cb.AFTER_UPDATE)
            else:
                keep[i].append(r)

    workers = [threading.Thread(target=churn, args=(i,)) for i in range(threads_n)]
    for w in workers:
        w.start()
    start.wait()
    for _ in range(50):
        reg.publish(SG, cb.AFTER_UPDATE, None, payload())
    for w in workers:
        w.join(timeout=30)
    assert len(reg.subscribers(SG, cb.AFTER_UPDATE)) == threads_n * per_thread // 2
