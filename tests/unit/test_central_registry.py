"""Pods, routings and deleting markers as the central logic and job handlers use them (no HTTP)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection

from regionmesh.central import deleting as deleting_api
from regionmesh.central import exceptions as exc
from regionmesh.central import pods as pod_api
from regionmesh.central import routings as routing_api
from regionmesh.db.engine import Database
from regionmesh.db.migrate import upgrade


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    url = f"sqlite:///{tmp_path}/central.db"
    upgrade(url)
    database = Database(url)
    yield database
    database.dispose()


@pytest.fixture
def pods(db: Database) -> dict[str, pod_api.Pod]:
    def work(conn: Connection) -> dict[str, pod_api.Pod]:
        return {p.region_name: p for p in (
            pod_api.create_pod(conn, region_name="CentralRegion"),
            pod_api.create_pod(conn, region_name="RegionOne", az_name="az1"),
            pod_api.create_pod(conn, region_name="RegionTwo", az_name="az2"),
            pod_api.create_pod(conn, region_name="RegionThree", az_name="az2"),
        )}

    return db.transaction(work)


def test_top_pod_and_lookups(db: Database, pods: dict[str, pod_api.Pod]) -> None:
    with db.read() as conn:
        top = pod_api.get_top_pod(conn)
        assert top is not None and top.region_name == "CentralRegion" and top.is_top
        assert pod_api.find_pod_by_az_or_region(conn, "az1").region_name == "RegionOne"
        assert pod_api.find_pod_by_az_or_region(conn, "RegionTwo").region_name == "RegionTwo"
        with pytest.raises(exc.MultiplePodsFound):
            pod_api.find_pod_by_az_or_region(conn, "az2")
        assert [p.region_name for p in pod_api.pods_for_hint(conn, "az2")] == ["RegionThree", "RegionTwo"]
        assert [p.region_name for p in pod_api.pods_for_hint(conn, "RegionThree")] == ["RegionThree"]
        for unknown in ("az9", "", "  "):
            with pytest.raises(exc.PodRegionNotFound):
                pod_api.pods_for_hint(conn, unknown)
        assert pod_api.get_pod_by_region(conn, "nope") is None


def test_add_routing_is_idempotent_and_fills_placeholders(db: Database, pods: dict[str, pod_api.Pod]) -> None:
    one = pods["RegionOne"].pod_id

    def work(conn: Connection) -> None:
        first = routing_api.add_routing(conn, "net-1", "net-1", one, "p1", "network")
        again = routing_api.add_routing(conn, "net-1", "net-1", one, "p1", "network")
        assert again == first
        assert routing_api.add_routing(conn, "net-1", None, one, "p1", "network") == first
        with pytest.raises(exc.RoutingExists):
            routing_api.add_routing(conn, "net-1", "net-1", one, "p1", "network", may_exist=False)
        with pytest.raises(exc.RoutingBottomMismatch):
            routing_api.add_routing(conn, "net-1", "other", one, "p1", "network")
        # A placeholder claim, then the real bottom id fills it in.
        assert routing_api.try_claim_routing(conn, "port-1", one, "p1", "port")
        assert not routing_api.try_claim_routing(conn, "port-1", one, "p1", "port")
        assert routing_api.bottom_routings(conn, "port-1", "port") == []
        filled = routing_api.add_routing(conn, "port-1", "b-port-1", one, "p1", "port")
        assert filled.bottom_id == "b-port-1"
        # Internal types are accepted here (not through the Admin API); unknown ones are not.
        routing_api.add_routing(conn, "port-1", "shadow-1", pods["RegionTwo"].pod_id, "p1", "shadow_port")
        with pytest.raises(exc.InvalidResourceType):
            routing_api.add_routing(conn, "x", "x", one, "p1", "volume")
        with pytest.raises(exc.PodNotFound):
            routing_api.add_routing(conn, "x", "x", "no-pod", "p1", "port")

    db.transaction(work)


def test_bottom_routings_and_delete(db: Database, pods: dict[str, pod_api.Pod]) -> None:
    def work(conn: Connection) -> None:
        for region in ("RegionTwo", "RegionOne"):
            routing_api.add_routing(conn, "sg-1", f"b-{region}", pods[region].pod_id, "p1", "security_group")
        routing_api.try_claim_routing(conn, "sg-1", pods["RegionThree"].pod_id, "p1", "security_group")
        found = routing_api.bottom_routings(conn, "sg-1", "security_group")
        assert [(p.region_name, b) for p, b in found] == [("RegionOne", "b-RegionOne"), ("RegionTwo", "b-RegionTwo")]
        assert routing_api.get_bottom_id_by_top_id_region_name(conn, "sg-1", "RegionTwo", "security_group") == \
            "b-RegionTwo"
        assert routing_api.get_bottom_id_by_top_id_region_name(conn, "sg-1", "RegionThree", "security_group") is None
        assert routing_api.project_owns(conn, "p1", "security_group", "sg-1")
        assert not routing_api.project_owns(conn, "p2", "security_group", "sg-1")
        assert routing_api.delete_routings(conn, "sg-1", "security_group", pods["RegionOne"].pod_id) == 1
        assert routing_api.delete_routings(conn, "sg-1", "security_group") == 2
        assert routing_api.bottom_routings(conn, "sg-1", "security_group") == []

    db.transaction(work)


def test_deleting_marker_is_always_removed(db: Database) -> None:
    class Boom(Exception):
        pass

    with pytest.raises(Boom), deleting_api.deleting(db, "sg-1", "security_group"):
        with db.read() as conn:
            assert deleting_api.is_deleting(conn, "sg-1", "security_group")
        raise Boom
    with db.read() as conn:
        assert not deleting_api.is_deleting(conn, "sg-1")  # seed 000's leak is gone


def test_second_delete_is_refused_and_does_not_remove_the_first_marker(db: Database) -> None:
    with deleting_api.deleting(db, "net-1", "network"):
        with pytest.raises(exc.ResourceIsInDeleting, match="resource is in deleting now"), \
                deleting_api.deleting(db, "net-1", "network"):
            pass
        with db.read() as conn:
            assert deleting_api.is_deleting(conn, "net-1", "network")
            with pytest.raises(exc.ResourceIsInDeleting):
                deleting_api.ensure_not_deleting(conn, "net-1", "network")
            with pytest.raises(exc.ResourceNotFoundWhileDeleting):  # OQ-05: 404 for a region's lazy lookup
                deleting_api.ensure_not_deleting(conn, "net-1", "network", for_region=True)
            deleting_api.ensure_not_deleting(conn, "net-1", "subnet")
    with db.read() as conn:
        assert not deleting_api.is_deleting(conn, "net-1", "network")


def test_stale_markers_can_be_cleared(db: Database) -> None:
    from datetime import UTC, datetime

    db.transaction(lambda conn: deleting_api.mark_deleting(conn, "p-1", "port", now=datetime(2030, 1, 1, tzinfo=UTC)))
    assert db.transaction(lambda conn: deleting_api.clear_stale(conn, older_than=datetime(2030, 1, 2))) == 1
    assert not db.transaction(lambda conn: deleting_api.unmark(conn, "p-1", "port"))
