"""Neutron-style notifications (NAPI-01, NAPI-08, CB-10): notifier, sinks, secrecy, best effort."""

from __future__ import annotations

import json
import logging
import threading
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from regionmesh.context import RequestContext
from regionmesh.network import notifications as n
from regionmesh.network.notifications import LogSink, MemorySink, Notification, Notifier

TOKEN = "gAAAAAB-very-secret-token"
CTX = RequestContext(user_id="u1", project_id="p1", roles=frozenset({"member"}), request_id="req-1",
                     auth_token=TOKEN)
FIXED = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)


def notifier(*sinks: n.NotificationSink) -> Notifier:
    return Notifier(publisher_id="network.test", sinks=sinks, clock=lambda: FIXED)


def test_napi01_create_start_carries_the_request_body() -> None:
    sink = MemorySink()
    body = {"security_group": {"name": "sg-debug-can-delete"}}
    note = notifier(sink).start(CTX, "security_group", "create", body)
    assert note.event_type == "security_group.create.start"
    assert sink.query() == [note]
    assert note.payload == body


def test_napi08_create_end_carries_the_result() -> None:
    sink = MemorySink()
    result = {"security_group": {"id": "sg-1", "security_group_rules": [{}, {}]}}
    notifier(sink).end(CTX, "security_group", "create", result)
    [note] = sink.query("security_group.create.end")
    assert note.payload == result


def test_notification_fields() -> None:
    note = notifier().info(CTX, "network.create.end", {"network": {"id": "n1"}})
    assert note.publisher_id == "network.test"
    assert note.timestamp == "2024-05-06T07:08:09.123456+00:00"
    assert str(uuid.UUID(note.message_id)) == note.message_id
    assert (note.request_id, note.project_id, note.user_id, note.priority) == ("req-1", "p1", "u1", "INFO")
    assert note.to_dict()["event_type"] == "network.create.end"


def test_message_ids_are_unique_and_default_clock_is_utc() -> None:
    real = Notifier()
    a, b = real.info(None, "x.y.start", {}), real.info(None, "x.y.end", {})
    assert a.message_id != b.message_id
    assert datetime.fromisoformat(a.timestamp).utcoffset() == timedelta(0)
    assert a.request_id is None and a.project_id is None


def test_timestamps_are_normalised_to_utc() -> None:
    plus2 = timezone(timedelta(hours=2))
    local = Notifier(clock=lambda: datetime(2024, 1, 1, 12, 0, tzinfo=plus2)).info(None, "a.b.end", {})
    naive = Notifier(clock=lambda: datetime(2024, 1, 1, 12, 0)).info(None, "a.b.end", {})
    assert local.timestamp == "2024-01-01T10:00:00+00:00"
    assert naive.timestamp == "2024-01-01T12:00:00+00:00"


def test_cb10_service_notification_through_info() -> None:
    sink = MemorySink()
    payload = {"firewall_group": {"id": "fw1", "status": "ACTIVE", "error_msg": None}}
    notifier(sink).info(CTX, "firewall_group.update_status", payload)
    assert sink.event_types() == ["firewall_group.update_status"]


def test_warn_and_error_priorities() -> None:
    sink = MemorySink()
    nt = notifier(sink)
    nt.warn(CTX, "a.b.end", {})
    nt.error(CTX, "a.b.end", {})
    assert [x.priority for x in sink.query()] == ["WARN", "ERROR"]


def test_payload_is_snapshotted_when_emitted() -> None:
    sink = MemorySink()
    fixed_ips = [{"ip_address": "10.0.0.3"}]
    notifier(sink).end(CTX, "port", "create", {"port": {"id": "p1", "fixed_ips": fixed_ips}})
    fixed_ips.clear()
    assert sink.query()[0].payload["port"]["fixed_ips"] == [{"ip_address": "10.0.0.3"}]


# ---- secrets --------------------------------------------------------------------------------------


def test_context_token_never_reaches_notification_or_log(caplog: pytest.LogCaptureFixture) -> None:
    sink = MemorySink()
    with caplog.at_level(logging.DEBUG):
        note = notifier(sink, LogSink()).info(CTX, "port.create.end", {"port": {"id": "p1"}})
    assert TOKEN not in json.dumps(note.to_dict(), default=str)
    assert TOKEN not in caplog.text
    assert "port.create.end" in caplog.text


def test_log_sink_masks_secret_payload_keys(caplog: pytest.LogCaptureFixture) -> None:
    body: dict[str, Any] = {
        "server": {"adminPass": "hunter2", "nested": [{"password": "pw-1"}], "name": "vm"},
        "auth_token": TOKEN,
    }
    with caplog.at_level(logging.INFO, logger="regionmesh.notifications"):
        notifier(LogSink()).info(CTX, "compute.instance.create.start", body)
    assert "hunter2" not in caplog.text and "pw-1" not in caplog.text and TOKEN not in caplog.text
    assert '"name": "vm"' in caplog.text
    assert body["server"]["adminPass"] == "hunter2"  # the caller's data is untouched


def test_redact_handles_nested_lists_and_tuples() -> None:
    assert n.redact({"a": ({"secret": 1}, [{"Token": "t"}]), "b": 2}) == {
        "a": [{"secret": "***"}, [{"Token": "***"}]], "b": 2}


def test_log_sink_is_quiet_when_its_level_is_disabled(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="regionmesh.notifications"):
        notifier(LogSink()).info(CTX, "a.b.end", {"x": 1})
    assert caplog.records == []


# ---- best effort ----------------------------------------------------------------------------------


class BrokenSink:
    def emit(self, notification: Notification) -> None:
        raise ConnectionError("bus down")


def test_failing_sink_is_logged_and_other_sinks_still_receive(caplog: pytest.LogCaptureFixture) -> None:
    before, after = MemorySink(), MemorySink()
    with caplog.at_level(logging.ERROR, logger=n.__name__):
        note = notifier(before, BrokenSink(), after).info(CTX, "router.create.end", {"router": {}})
    assert before.query() == [note] and after.query() == [note]
    [record] = caplog.records
    assert "BrokenSink" in record.getMessage() and record.exc_info is not None
    assert TOKEN not in caplog.text


def test_sinks_can_be_added_and_removed() -> None:
    a, b = MemorySink(), MemorySink()
    nt = notifier(a)
    nt.add_sink(b)
    nt.info(CTX, "a.b.start", {})
    nt.remove_sink(a)
    nt.info(CTX, "a.b.end", {})
    assert a.event_types() == ["a.b.start"]
    assert b.event_types() == ["a.b.start", "a.b.end"]
    assert nt.sinks == [b]


# ---- memory sink ----------------------------------------------------------------------------------


def test_memory_sink_is_a_bounded_ring() -> None:
    sink = MemorySink(capacity=3)
    nt = notifier(sink)
    for i in range(5):
        nt.info(CTX, f"net.create.{i}", {})
    assert sink.event_types() == ["net.create.2", "net.create.3", "net.create.4"]
    assert len(sink) == 3
    with pytest.raises(ValueError):
        MemorySink(capacity=0)


def test_memory_sink_query_by_dotted_prefix_project_and_limit() -> None:
    sink = MemorySink()
    nt = notifier(sink)
    other = RequestContext(project_id="p2")
    nt.start(CTX, "security_group", "create", {})
    nt.start(CTX, "security_group_rule", "create", {})
    nt.end(CTX, "security_group", "create", {})
    nt.end(other, "security_group", "delete", {})

    assert sink.event_types("security_group") == [
        "security_group.create.start", "security_group.create.end", "security_group.delete.end"]
    assert sink.event_types("security_group.create") == [
        "security_group.create.start", "security_group.create.end"]
    assert sink.event_types("security_group.create.") == sink.event_types("security_group.create")
    assert sink.event_types("security_group_rule") == ["security_group_rule.create.start"]
    assert [x.event_type for x in sink.query(project_id="p2")] == ["security_group.delete.end"]
    assert [x.event_type for x in sink.query(request_id="req-1", limit=1)] == ["security_group.create.end"]
    assert sink.query(limit=0) == []
    assert len(sink.query()) == 4
    sink.clear()
    assert sink.query() == []


def test_event_type_helpers() -> None:
    assert n.event_type("port", "update", n.END) == "port.update.end"
    assert n.event_type_matches("port.update.end", "")
    assert not n.event_type_matches("portal.update.end", "port")


def test_memory_sink_is_thread_safe() -> None:
    sink = MemorySink()
    nt = notifier(sink)
    threads_n, per_thread = 8, 250
    start = threading.Barrier(threads_n)

    def emit(i: int) -> None:
        start.wait()
        for j in range(per_thread):
            nt.info(CTX, f"t{i}.create.end", {"j": j})
            sink.query(f"t{i}")

    workers = [threading.Thread(target=emit, args=(i,)) for i in range(threads_n)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=30)
    assert len(sink) == threads_n * per_thread
    assert all(len(sink.query(f"t{i}")) == per_thread for i in range(threads_n))


def test_memory_sink_wait_for_returns_when_the_notification_arrives() -> None:
    sink = MemorySink()
    nt = notifier(sink)
    waiting = threading.Event()
    got: list[list[Notification]] = []

    def waiter() -> None:
        waiting.set()
        got.append(sink.wait_for("port.create.end", count=2, timeout=30))

    thread = threading.Thread(target=waiter)
    thread.start()
    assert waiting.wait(timeout=30)
    nt.end(CTX, "port", "create", {"port": {"id": "a"}})
    nt.end(CTX, "port", "create", {"port": {"id": "b"}})
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert [x.payload["port"]["id"] for x in got[0]] == ["a", "b"]


def test_memory_sink_wait_for_times_out() -> None:
    sink = MemorySink()
    with pytest.raises(TimeoutError):
        sink.wait_for("never.happens", timeout=0)
