"""The create pipeline and quotas over HTTP (seed 002: NAPI-*, CB-*, REG-14…REG-17, QP-02/03)."""

from __future__ import annotations

from typing import Any

import pytest
from apiclient import PROJECT_A, Caller, error_type
from sqlalchemy import func, select

from regionmesh.db import models as m
from regionmesh.network import callbacks as cb


def _core(app: Any) -> Any:
    return app.core


def test_quota_defaults_update_and_reset(admin: Caller, alice: Caller) -> None:
    q = alice.get(f"quotas/{PROJECT_A}").json()["quota"]
    assert q["network"] == 100 and q["security_group"] == 10
    assert alice.put(f"quotas/{PROJECT_A}", {"quota": {"network": 1}}).status_code == 403
    assert admin.put(f"quotas/{PROJECT_A}", {"quota": {"network": 1}}).json()["quota"]["network"] == 1
    alice.make("network", "networks", name="one")
    over = alice.post("networks", {"network": {"name": "two"}})
    assert over.status_code == 409 and error_type(over) == "OverQuota"
    assert len(alice.get("networks").json()["networks"]) == 1
    details = admin.get(f"quotas/{PROJECT_A}/details").json()["quota"]["network"]
    assert details == {"limit": 1, "used": 1, "reserved": 0}
    assert admin.get(f"quotas/{PROJECT_A}/default").json()["quota"]["network"] == 100
    listed = admin.get("quotas").json()["quotas"]
    assert [q["project_id"] for q in listed] == [PROJECT_A]
    assert admin.delete(f"quotas/{PROJECT_A}").status_code == 204
    assert alice.get(f"quotas/{PROJECT_A}").json()["quota"]["network"] == 100
    bad = admin.put(f"quotas/{PROJECT_A}", {"quota": {"widgets": 3}})
    assert bad.status_code == 404


def test_bulk_over_quota_creates_nothing(admin: Caller, alice: Caller) -> None:
    admin.put(f"quotas/{PROJECT_A}", {"quota": {"network": 2}})
    resp = alice.post("networks", {"networks": [{"name": "a"}, {"name": "b"}, {"name": "c"}]})
    assert resp.status_code == 409 and error_type(resp) == "OverQuota"
    assert alice.get("networks").json()["networks"] == []


def _reserved(app: Any) -> int:
    with _core(app).db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(m.reservations)).scalar_one())


def test_reg14_failed_create_cancels_reservation(app: Any, alice: Caller) -> None:
    """REG-14: a failure after the reservation leaves no reservation and no rows."""
    def boom(resource: str, event: str, trigger: Any, payload: Any) -> None:
        raise RuntimeError("plugin failure")

    _core(app).registry.subscribe(boom, cb.SECURITY_GROUP, cb.PRECOMMIT_CREATE)
    resp = alice.post("security-groups", {"security_groups": [{"name": "a"}, {"name": "b"}]})
    assert resp.status_code == 409
    assert _reserved(app) == 0
    _core(app).registry.unsubscribe(boom, cb.SECURITY_GROUP, cb.PRECOMMIT_CREATE)
    names = [g["name"] for g in alice.get("security-groups").json()["security_groups"]]
    assert names == ["default"]
    detail = alice.get(f"quotas/{PROJECT_A}/details")
    assert detail.json()["quota"]["security_group"]["reserved"] == 0


def test_reg15_before_failure_aborts_and_notifies_abort(app: Any, alice: Caller) -> None:
    calls: list[str] = []

    def refuse(resource: str, event: str, trigger: Any, payload: Any) -> None:
        raise ValueError("no")

    def aborted(resource: str, event: str, trigger: Any, payload: Any) -> None:
        calls.append(event)

    registry = _core(app).registry
    registry.subscribe(refuse, cb.SECURITY_GROUP, cb.BEFORE_CREATE)
    registry.subscribe(aborted, cb.SECURITY_GROUP, cb.ABORT_CREATE)
    sink = _core(app).notifications
    resp = alice.post("security-groups", {"security_group": {"name": "x"}})
    assert resp.status_code == 409 and error_type(resp) == "SecurityGroupConflict"
    assert calls == [cb.ABORT_CREATE]
    assert not [n for n in sink.query("security_group.create.end")]
    registry.unsubscribe(refuse, cb.SECURITY_GROUP, cb.BEFORE_CREATE)
    with _core(app).db.read() as conn:
        assert conn.execute(select(func.count()).select_from(m.securitygroups)).scalar_one() == 0
        assert conn.execute(select(func.count()).select_from(m.securitygrouprules)).scalar_one() == 0


def test_reg17_after_failure_is_not_fatal(app: Any, alice: Caller, caplog: pytest.LogCaptureFixture) -> None:
    seen: list[str] = []

    def broken(resource: str, event: str, trigger: Any, payload: Any) -> None:
        raise RuntimeError("after failed")

    def later(resource: str, event: str, trigger: Any, payload: Any) -> None:
        seen.append(payload.resource_id)

    registry = _core(app).registry
    registry.subscribe(broken, cb.SECURITY_GROUP, cb.AFTER_CREATE, priority=1)
    registry.subscribe(later, cb.SECURITY_GROUP, cb.AFTER_CREATE, priority=2)
    resp = alice.post("security-groups", {"security_group": {"name": "x"}})
    assert resp.status_code == 201
    assert seen == [resp.json()["security_group"]["id"]]
    assert "after failed" in caplog.text


def test_napi_notifications_start_and_end(app: Any, alice: Caller) -> None:
    sink = _core(app).notifications
    sg = alice.make("security_group", "security-groups", name="n")
    starts = sink.query("security_group.create.start")
    ends = sink.query("security_group.create.end")
    assert starts and starts[-1].payload == {"security_group": {"name": "n"}}
    assert ends and ends[-1].payload["security_group"]["id"] == sg["id"]


def test_notifications_are_queryable_over_http(admin: Caller, alice: Caller) -> None:
    net = alice.make("network", "networks", name="seen")
    found = admin.get("regionmesh-notifications", params={"event_type": "network.create"}).json()["notifications"]
    assert [n["event_type"] for n in found] == ["network.create.start", "network.create.end"]
    assert found[1]["payload"]["network"]["id"] == net["id"]
    assert alice.get("regionmesh-notifications").status_code == 403
