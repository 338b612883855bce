"""The Admin API v1.0 in process: every path, the seed's curl bodies, and each error with its JSON body."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from starlette.testclient import TestClient

from regionmesh.api import admin_v1
from regionmesh.api.admin_v1 import create_admin_app
from regionmesh.config import Settings, load_settings
from regionmesh.context import RequestContext
from regionmesh.db.clock import ManualClock
from regionmesh.db.engine import Database
from regionmesh.db.migrate import upgrade
from regionmesh.jobs import store
from regionmesh.network import exceptions as nexc

ADMIN = {"X-Roles": "admin", "X-Project-Id": "admin-project"}
MEMBER = {"X-Roles": "member", "X-Project-Id": "p1"}
P1 = "p1"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(env={}, database__url=f"sqlite:///{tmp_path}/central.db", auth__strategy="noauth")


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    upgrade(settings.database.url)
    database = Database(settings.database.url)
    yield database
    database.dispose()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def client(settings: Settings, db: Database, clock: ManualClock) -> Iterator[TestClient]:
    with TestClient(create_admin_app(settings, db, clock=clock)) as c:
        yield c


class Api:
    """Admin or member calls with noauth headers."""

    def __init__(self, client: TestClient, headers: dict[str, str]) -> None:
        self.client, self.headers = client, headers

    def __call__(self, method: str, path: str, body: Any = None, **kw: Any) -> Any:
        if body is not None:
            kw["json"] = body
        return self.client.request(method, path, headers={**self.headers, **kw.pop("headers", {})}, **kw)


@pytest.fixture
def admin(client: TestClient) -> Api:
    return Api(client, ADMIN)


@pytest.fixture
def member(client: TestClient) -> Api:
    return Api(client, MEMBER)


def check_error(resp: Any, status: int, kind: str, message: str | None = None) -> None:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/json")
    body = resp.json()
    assert list(body) == [kind], body
    assert body[kind]["code"] == status
    if message is not None:
        assert body[kind]["message"] == message


def state(admin: Api) -> tuple[Any, Any, Any]:
    """Everything the Admin API can see, to prove a failed call changed nothing."""
    return (admin("GET", "/v1.0/pods").json(), admin("GET", "/v1.0/routings").json(),
            admin("GET", "/v1.0/jobs").json())


def make_pods(admin: Api) -> dict[str, dict[str, Any]]:
    """SC-01 step 5 (and OQ-07's RegionTwo)."""
    out = {}
    for body in ({"pod": {"region_name": "CentralRegion"}}, {"pod": {"region_name": "RegionOne", "az_name": "az1"}},
                 {"pod": {"region_name": "RegionTwo", "az_name": "az2"}}):
        resp = admin("POST", "/v1.0/pods", body)
        assert resp.status_code == 200, resp.text
        pod = resp.json()["pod"]
        out[pod["region_name"]] = pod
    return out


def make_routing(admin: Api, pod_id: str, top_id: str, resource_type: str = "router", project: str = P1) -> Any:
    resp = admin("POST", "/v1.0/routings", {"routing": {"top_id": top_id, "bottom_id": top_id, "pod_id": pod_id,
                                                        "project_id": project, "resource_type": resource_type}})
    assert resp.status_code == 200, resp.text
    return resp.json()["routing"]


# ---- discovery, routing, auth -------------------------------------------------------------------
def test_versions_and_v1_root(client: TestClient) -> None:
    versions = client.get("/").json()["versions"]
    assert versions[0]["id"] == "v1.0" and versions[0]["status"] == "CURRENT"
    assert versions[0]["links"][0]["href"].endswith("/v1.0/")
    root = client.get("/v1.0").json()
    assert root["version"] == "1.0"
    assert [link["rel"] for link in root["links"]] == ["self", "jobs", "pods", "routings"]
    check_error(client.post("/"), 405, "badMethod")
    check_error(client.delete("/v1.0"), 405, "badMethod")
    check_error(client.get("/v2.0/pods", headers=ADMIN), 404, "itemNotFound")
    check_error(client.patch("/v1.0/pods", headers=ADMIN), 405, "badMethod")


def test_unauthenticated_is_401(settings: Settings, db: Database) -> None:
    class TokenRequired:
        def authenticate(self, headers: Any) -> RequestContext:
            if headers.get("x-auth-token") != "good":
                raise nexc.Unauthenticated()
            return RequestContext(user_id="u", project_id="admin", roles=frozenset({"admin"}))

    with TestClient(create_admin_app(settings, db, authenticator=TokenRequired())) as c:
        check_error(c.get("/v1.0/pods"), 401, "unauthorized", "Authentication required.")
        check_error(c.post("/v1.0/jobs", json={}), 401, "unauthorized")
        assert c.get("/v1.0/pods", headers={"X-Auth-Token": "good"}).status_code == 200


@pytest.mark.parametrize(("method", "path", "message"), [
    ("POST", "/v1.0/pods", "Unauthorized to create pods"),
    ("GET", "/v1.0/pods", "Unauthorized to list pods"),
    ("GET", "/v1.0/pods/x", "Unauthorized to show pods"),
    ("PUT", "/v1.0/pods/x", "Unauthorized to update pods"),
    ("DELETE", "/v1.0/pods/x", "Unauthorized to delete pods"),
    ("POST", "/v1.0/routings", "Unauthorized to create resource routing"),
    ("GET", "/v1.0/routings", "Unauthorized to show all resource routings"),
    ("GET", "/v1.0/routings/1", "Unauthorized to show the resource routing"),
    ("PUT", "/v1.0/routings/1", "Unauthorized to update resource routing"),
    ("DELETE", "/v1.0/routings/1", "Unauthorized to delete the resource routing"),
    ("POST", "/v1.0/jobs", "Unauthorized to create a job"),
    ("GET", "/v1.0/jobs", "Unauthorized to show all jobs"),
    ("GET", "/v1.0/jobs/detail", "Unauthorized to show all jobs"),
    ("GET", "/v1.0/jobs/schemas", "Unauthorized to show job information"),
    ("GET", "/v1.0/jobs/x", "Unauthorized to show job information"),
    ("GET", "/v1.0/jobs/x/logs", "Unauthorized to show job information"),
    ("PUT", "/v1.0/jobs/x", "Unauthorized to redo a job"),
    ("DELETE", "/v1.0/jobs/x", "Unauthorized to delete a job"),
])
def test_members_are_forbidden_everywhere(admin: Api, member: Api, method: str, path: str, message: str) -> None:
    make_pods(admin)
    before = state(admin)
    body = {"pod": {"region_name": "R9", "az_name": "az9"}} if path.endswith("pods") else None
    check_error(member(method, path, body), 403, "forbidden", message)
    assert state(admin) == before


def test_policy_file_opens_rules_and_scopes_lists(settings: Settings, db: Database, tmp_path: Path) -> None:
    policy = tmp_path / "admin-policy.yaml"
    policy.write_text('"admin_api:pods:list": "role:member"\n'
                      '"admin_api:routings:list": "rule:admin_or_owner"\n')
    settings.admin.policy_file = str(policy)
    with TestClient(create_admin_app(settings, db)) as c:
        admin, member = Api(c, ADMIN), Api(c, MEMBER)
        pods = make_pods(admin)
        make_routing(admin, pods["RegionOne"]["pod_id"], "r1", project=P1)
        make_routing(admin, pods["RegionOne"]["pod_id"], "r2", project="p2")
        assert len(member("GET", "/v1.0/pods").json()["pods"]) == 3
        mine = member("GET", "/v1.0/routings?project_id=p2").json()["routings"]
        assert [r["top_id"] for r in mine] == ["r1"]  # a non-admin only ever sees its own project
        assert len(admin("GET", "/v1.0/routings").json()["routings"]) == 2
        check_error(member("POST", "/v1.0/pods", {"pod": {"region_name": "X", "az_name": "a"}}), 403, "forbidden")


def test_malformed_json_is_400(admin: Api) -> None:
    resp = admin("POST", "/v1.0/pods", content=b"{not json", headers={"Content-Type": "application/json"})
    check_error(resp, 400, "badRequest", "Malformed JSON in request body")


def test_unexpected_failure_is_a_json_500(admin: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(conn: Any) -> Any:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(admin_v1.pod_api, "list_pods", broken)
    check_error(admin("GET", "/v1.0/pods"), 500, "internalServerError", "Failed to list pods")


# ---- pods ---------------------------------------------------------------------------------------
def test_seed_pods_are_created(admin: Api) -> None:
    pods = make_pods(admin)
    central, one = pods["CentralRegion"], pods["RegionOne"]
    assert {k: central[k] for k in ("region_name", "az_name", "pod_az_name", "dc_name")} == \
        {"region_name": "CentralRegion", "az_name": "", "pod_az_name": "", "dc_name": ""}
    assert one["az_name"] == "az1" and len(one["pod_id"]) == 36
    listed = admin("GET", "/v1.0/pods").json()["pods"]
    assert sorted(p["region_name"] for p in listed) == ["CentralRegion", "RegionOne", "RegionTwo"]
    assert admin("GET", f"/v1.0/pods/{one['pod_id']}").json()["pod"] == one


def test_top_region_forces_empty_pod_az_name(admin: Api) -> None:
    resp = admin("POST", "/v1.0/pods", {"pod": {"region_name": " Central ", "pod_az_name": "x", "dc_name": "dc1"}})
    assert resp.status_code == 200
    assert resp.json()["pod"]["region_name"] == "Central" and resp.json()["pod"]["pod_az_name"] == ""


@pytest.mark.parametrize(("body", "status", "kind", "message"), [
    ({}, 400, "badRequest", "Request body pod not found"),
    ({"pods": {}}, 400, "badRequest", "Request body pod not found"),
    ({"pod": {"region_name": "  "}}, 422, "unprocessableEntity", "Valid region_name is required for top region"),
    ({"pod": {"region_name": "Another"}}, 409, "conflictingRequest", "Top region already exists"),
    ({"pod": {"region_name": "", "az_name": "az3"}}, 422, "unprocessableEntity",
     "Valid region_name is required for pod"),
    ({"pod": {"region_name": "CentralRegion", "az_name": "az3"}}, 409, "conflictingRequest",
     "Pod region name duplicated with the top region name"),
    ({"pod": {"region_name": "RegionOne", "az_name": "az3"}}, 409, "conflictingRequest", "Record already exists"),
    ({"pod": {"region_name": 5, "az_name": "az3"}}, 400, "badRequest", "Field region_name must be a string"),
    ({"pod": {"region_name": "R" * 256, "az_name": "az3"}}, 400, "badRequest", None),
])
def test_pod_create_errors_change_nothing(admin: Api, body: Any, status: int, kind: str, message: str | None) -> None:
    make_pods(admin)
    before = state(admin)
    check_error(admin("POST", "/v1.0/pods", body), status, kind, message)
    assert state(admin) == before


def test_pod_update(admin: Api, clock: ManualClock) -> None:
    pods = make_pods(admin)
    one = pods["RegionOne"]
    clock.advance(60)
    resp = admin("PUT", f"/v1.0/pods/{one['pod_id']}", {"pod": {"dc_name": "dc-east", "pod_az_name": "nova"}})
    assert resp.status_code == 200, resp.text
    updated = resp.json()["pod"]
    assert (updated["dc_name"], updated["pod_az_name"], updated["az_name"]) == ("dc-east", "nova", "az1")
    assert updated["updated_at"] is not None
    # Echoing unchanged fields back is fine (GET-then-PUT clients).
    echo = {k: updated[k] for k in ("pod_id", "region_name", "az_name", "dc_name")}
    assert admin("PUT", f"/v1.0/pods/{one['pod_id']}", {"pod": echo}).status_code == 200
    before = state(admin)
    check_error(admin("PUT", f"/v1.0/pods/{one['pod_id']}", {"pod": {"region_name": "Other"}}), 400, "badRequest",
                "Only dc_name and pod_az_name can be updated, not: region_name")
    check_error(admin("PUT", f"/v1.0/pods/{pods['CentralRegion']['pod_id']}", {"pod": {"pod_az_name": "x"}}), 400,
                "badRequest", "pod_az_name must stay empty for the top region")
    check_error(admin("PUT", f"/v1.0/pods/{one['pod_id']}", {"dc_name": "x"}), 400, "badRequest",
                "Request body pod not found")
    check_error(admin("PUT", "/v1.0/pods/nope", {"pod": {"dc_name": "x"}}), 404, "itemNotFound", "Pod not found")
    assert state(admin) == before


def test_pod_show_and_delete(admin: Api) -> None:
    pods = make_pods(admin)
    check_error(admin("GET", "/v1.0/pods/nope"), 404, "itemNotFound", "Pod not found")
    two = pods["RegionTwo"]["pod_id"]
    resp = admin("DELETE", f"/v1.0/pods/{two}")
    assert resp.status_code == 200 and resp.json() == {}
    check_error(admin("DELETE", f"/v1.0/pods/{two}"), 404, "itemNotFound", "Pod not found")
    one = pods["RegionOne"]["pod_id"]
    make_routing(admin, one, "r1")
    before = state(admin)
    check_error(admin("DELETE", f"/v1.0/pods/{one}"), 409, "conflictingRequest",
                f"Pod {one} is in use by 1 resource routing(s)")
    assert state(admin) == before


# ---- routings -----------------------------------------------------------------------------------
def test_routing_crud(admin: Api, clock: ManualClock) -> None:
    pods = make_pods(admin)
    one, two = pods["RegionOne"]["pod_id"], pods["RegionTwo"]["pod_id"]
    routing = make_routing(admin, one, "net-1", "network")
    assert routing["updated_at"] is None and isinstance(routing["id"], int)
    assert admin("GET", f"/v1.0/routings/{routing['id']}").json()["routing"] == routing
    clock.advance(30)
    resp = admin("PUT", f"/v1.0/routings/{routing['id']}", {"routing": {"pod_id": two, "bottom_id": "b-1"}})
    assert resp.status_code == 200, resp.text
    updated = resp.json()["routing"]
    assert (updated["pod_id"], updated["bottom_id"], updated["id"]) == (two, "b-1", routing["id"])
    assert updated["updated_at"] is not None  # shown at once, not on the next GET
    resp = admin("DELETE", f"/v1.0/routings/{routing['id']}")
    assert resp.status_code == 200 and resp.json() == {}
    check_error(admin("GET", f"/v1.0/routings/{routing['id']}"), 404, "itemNotFound", "Resource routing not found")
    check_error(admin("DELETE", f"/v1.0/routings/{routing['id']}"), 404, "itemNotFound")
    check_error(admin("GET", "/v1.0/routings/abc"), 404, "itemNotFound")


@pytest.mark.parametrize(("change", "message"), [
    ({"top_id": "x"}, None),
    ({"bottom_id": ""}, "Field bottom_id can not be empty"),
    ({"resource_type": "shadow_port"}, "There is no such resource type"),
    ({"pod_id": "no-such-pod"}, "The pod no-such-pod doesn't exist"),
    ({"id": 5}, "Unsupported field(s): id"),
])
def test_routing_create_and_update_errors(admin: Api, change: dict[str, Any], message: str | None) -> None:
    pods = make_pods(admin)
    one = pods["RegionOne"]["pod_id"]
    existing = make_routing(admin, one, "r1")
    make_routing(admin, one, "x")
    before = state(admin)
    if message is None:  # becomes a duplicate of the second routing
        check_error(admin("PUT", f"/v1.0/routings/{existing['id']}", {"routing": change}), 409,
                    "conflictingRequest", "Resource routing already exists")
    else:
        check_error(admin("PUT", f"/v1.0/routings/{existing['id']}", {"routing": change}), 400, "badRequest",
                    message)
    if "id" not in change:
        body = {"routing": {"top_id": "r1", "bottom_id": "r1", "pod_id": one, "project_id": P1,
                            "resource_type": "router", **change}}
        if message is None:
            body["routing"]["top_id"] = "x"
            check_error(admin("POST", "/v1.0/routings", body), 409, "conflictingRequest",
                        "Resource routing already exists")
        else:
            body["routing"]["top_id"] = "fresh"
            check_error(admin("POST", "/v1.0/routings", body), 400, "badRequest", message)
    assert state(admin) == before


def test_routing_body_errors(admin: Api) -> None:
    pods = make_pods(admin)
    existing = make_routing(admin, pods["RegionOne"]["pod_id"], "r1")
    before = state(admin)
    check_error(admin("POST", "/v1.0/routings", {"nope": {}}), 400, "badRequest", "Request body not found")
    check_error(admin("POST", "/v1.0/routings", {"routing": {"top_id": "t"}}), 400, "badRequest",
                "Field bottom_id can not be empty")
    check_error(admin("PUT", f"/v1.0/routings/{existing['id']}", {"x": 1}), 400, "badRequest",
                "Request body not found")
    check_error(admin("PUT", "/v1.0/routings/999", {"x": 1}), 404, "itemNotFound", "Resource routing not found")
    assert state(admin) == before


def test_routing_list_filters_and_pages_keep_filters(admin: Api) -> None:
    pods = make_pods(admin)
    one = pods["RegionOne"]["pod_id"]
    ports = [make_routing(admin, one, f"port-{i}", "port") for i in range(5)]
    make_routing(admin, one, "net-1", "network")
    listed = admin("GET", "/v1.0/routings").json()
    assert [r["id"] for r in listed["routings"]][:2] == sorted((r["id"] for r in listed["routings"]), reverse=True)[:2]
    assert "routings_links" not in listed
    seen: list[str] = []
    url = "/v1.0/routings?resource_type=port&limit=2"
    while url:
        page = admin("GET", url).json()
        seen += [r["top_id"] for r in page["routings"]]
        assert all(r["resource_type"] == "port" for r in page["routings"])
        links = page.get("routings_links", [])
        if not links:
            break
        href = urlsplit(links[0]["href"])
        assert parse_qs(href.query)["resource_type"] == ["port"]  # the anchor dropped this
        url = f"{href.path}?{href.query}"
    assert sorted(seen) == sorted(p["top_id"] for p in ports)
    assert [r["top_id"] for r in admin("GET", f"/v1.0/routings?id={ports[0]['id']}").json()["routings"]] == \
        ["port-0"]
    assert len(admin("GET", "/v1.0/routings?limit=0").json()["routings"]) == 6
    for query, message in [
        ("a=1&b=2", "Unsupported filter type: a, b"),
        ("id=x", "Id should be an integer or a valid literal for int() rather than 'x'"),
        ("limit=x", "Limit should be an integer or a valid literal for int() rather than 'x'"),
        ("marker=x", "Marker should be an integer or a valid literal for int() rather than 'x'"),
        ("marker=9999", "Marker 9999 is an invalid ID"),
        ("created_at=yesterday", None),
    ]:
        check_error(admin("GET", f"/v1.0/routings?{query}"), 400, "badRequest", message)


# ---- jobs ---------------------------------------------------------------------------------------
def job_body(**overrides: Any) -> dict[str, Any]:
    job = {"type": "router_setup", "project_id": P1,
           "resource": {"pod_id": "pod-x", "router_id": "r1", "network_id": "n1"}}
    job.update(overrides)
    return {"job": job}


def test_job_schemas_match_the_anchor(admin: Api) -> None:
    schemas = {s["type"]: s["resource"] for s in admin("GET", "/v1.0/jobs/schemas").json()["schemas"]}
    assert len(schemas) == 14
    assert schemas["router_setup"] == ["pod_id", "router_id", "network_id"]
    assert schemas["configure_route"] == ["router_id"]
    assert schemas["seg_rule_setup"] == ["project_id"]
    assert schemas["qos_create"] == ["pod_id", "policy_id", "res_type", "res_id"]
    assert schemas["sync_qos_rule"] == ["policy_id"]  # fixed: the anchor's schema was unusable


def test_job_create_returns_202_and_coalesces(admin: Api) -> None:
    pods = make_pods(admin)
    make_routing(admin, pods["RegionOne"]["pod_id"], "r1", "router")
    resp = admin("POST", "/v1.0/jobs", job_body())
    assert resp.status_code == 202, resp.text
    job = resp.json()["job"]
    assert (job["type"], job["status"], job["project_id"]) == ("router_setup", "NEW", P1)
    assert job["resource"] == {"pod_id": "pod-x", "router_id": "r1", "network_id": "n1"}
    assert job["attempts"] == 0 and job["last_error"] is None and job["waiting_on"] is None
    assert job["next_attempt_at"] == job["timestamp"]
    again = admin("POST", "/v1.0/jobs", job_body())
    assert again.status_code == 202 and again.json()["job"]["id"] == job["id"]
    seg = admin("POST", "/v1.0/jobs", {"job": {"type": "seg_rule_setup", "project_id": P1,
                                                "resource": {"project_id": P1}}})
    assert seg.status_code == 202
    assert len(admin("GET", "/v1.0/jobs").json()["jobs"]) == 2


@pytest.mark.parametrize(("body", "message"), [
    ({}, "Request body not found"),
    ({"job": {"project_id": P1}}, "type isn't provided in request body"),
    ({"job": {"type": "router_setup"}}, "project_id isn't provided in request body"),
    ({"job": {"type": " ", "project_id": P1}}, "type can't be empty"),
    ({"job": {"type": "router_setup", "project_id": ""}}, "project_id can't be empty"),
    ({"job": {"type": "nope", "project_id": P1}}, "There is no such job type: nope"),
    ({"job": {"type": "router_setup", "project_id": P1}},
     "Failed to create job, because the resource is not specified"),
    (job_body(resource={"pod_id": "p"}), "Some required fields are not specified: {'network_id', 'router_id'}"),
    (job_body(resource={"pod_id": "p", "router_id": "r1", "network_id": "n", "x": "1"}),
     "Some fields are redundant: {'x'}"),
    (job_body(resource={"pod_id": "p", "router_id": "r2", "network_id": "n"}),
     "router r2 doesn't belong to the project p1"),
    (job_body(project_id="p2"), "router r1 doesn't belong to the project p2"),
    ({"job": {"type": "seg_rule_setup", "project_id": P1, "resource": {"project_id": "p2"}}},
     "Specified project_id p1 and resource's project_id p2 are different"),
])
def test_job_create_errors_change_nothing(admin: Api, body: Any, message: str) -> None:
    pods = make_pods(admin)
    make_routing(admin, pods["RegionOne"]["pod_id"], "r1", "router")
    before = state(admin)
    check_error(admin("POST", "/v1.0/jobs", body), 400, "badRequest", message)
    assert state(admin) == before


def test_job_show_redo_delete(admin: Api, db: Database, clock: ManualClock) -> None:
    pods = make_pods(admin)
    make_routing(admin, pods["RegionOne"]["pod_id"], "r1", "router")
    job_id = admin("POST", "/v1.0/jobs", job_body()).json()["job"]["id"]
    assert admin("GET", f"/v1.0/jobs/{job_id}").json()["job"]["id"] == job_id
    check_error(admin("GET", "/v1.0/jobs/nope"), 404, "itemNotFound", "Resource not found")

    running = store.claim(db, "w1", now=clock.now(), lease_seconds=60)
    assert running is not None
    assert admin("GET", f"/v1.0/jobs/{job_id}").json()["job"]["status"] == "RUNNING"
    check_error(admin("PUT", f"/v1.0/jobs/{job_id}"), 400, "badRequest", f"Can't redo job {job_id} which is running")
    check_error(admin("DELETE", f"/v1.0/jobs/{job_id}"), 400, "badRequest",
                f"Failed to delete the running job {job_id}")
    store.finish_failure(db, running, "RegionOne unreachable", permanent=True, now=clock.now(),
                         backoff=store.Backoff())
    failed = admin("GET", f"/v1.0/jobs/{job_id}").json()["job"]
    assert (failed["status"], failed["attempts"], failed["last_error"]) == ("FAIL", 1, "RegionOne unreachable")

    clock.advance(5)
    resp = admin("PUT", f"/v1.0/jobs/{job_id}")
    assert resp.status_code == 202
    assert (resp.json()["job"]["status"], resp.json()["job"]["attempts"]) == ("NEW", 0)

    logs = admin("GET", f"/v1.0/jobs/{job_id}/logs").json()["job_logs"]
    assert [(r["status"], r["last_error"]) for r in logs] == [("FAIL", "RegionOne unreachable")]
    log_id = logs[0]["id"]
    assert admin("GET", f"/v1.0/jobs/{log_id}").json()["job"]["job_id"] == job_id
    check_error(admin("PUT", f"/v1.0/jobs/{log_id}"), 400, "badRequest", f"Job {log_id} is from job log")
    check_error(admin("DELETE", f"/v1.0/jobs/{log_id}"), 400, "badRequest", f"Job {log_id} is from job log")

    resp = admin("DELETE", f"/v1.0/jobs/{job_id}")
    assert resp.status_code == 200 and resp.json() == {}
    check_error(admin("DELETE", f"/v1.0/jobs/{job_id}"), 404, "itemNotFound", f"Job {job_id} not found")
    check_error(admin("PUT", f"/v1.0/jobs/{job_id}"), 404, "itemNotFound", f"Job {job_id} not found")
    check_error(admin("GET", f"/v1.0/jobs/{job_id}/logs"), 404, "itemNotFound")


def test_redo_of_a_successful_job_runs_it_again(admin: Api, db: Database, clock: ManualClock) -> None:
    pods = make_pods(admin)
    make_routing(admin, pods["RegionOne"]["pod_id"], "r1", "router")
    job_id = admin("POST", "/v1.0/jobs", job_body()).json()["job"]["id"]
    running = store.claim(db, "w1", now=clock.now(), lease_seconds=60)
    assert running is not None
    store.finish_success(db, running, now=clock.now())
    assert admin("GET", f"/v1.0/jobs/{job_id}").json()["job"]["status"] == "SUCCESS"
    resp = admin("PUT", f"/v1.0/jobs/{job_id}")
    assert resp.status_code == 202 and resp.json()["job"]["status"] == "NEW"


def test_job_list_filters_and_pages_keep_filters(admin: Api, clock: ManualClock) -> None:
    pods = make_pods(admin)
    for i in range(5):
        make_routing(admin, pods["RegionOne"]["pod_id"], f"port-{i}", "port")
        body = {"job": {"type": "port_delete", "project_id": P1, "resource": {"pod_id": "p", "port_id": f"port-{i}"}}}
        assert admin("POST", "/v1.0/jobs", body).status_code == 202
        clock.advance(1)
    admin("POST", "/v1.0/jobs", {"job": {"type": "seg_rule_setup", "project_id": P1, "resource": {"project_id": P1}}})
    assert len(admin("GET", "/v1.0/jobs/detail").json()["jobs"]) == 6
    assert len(admin("GET", "/v1.0/jobs?type=port_delete&status=new").json()["jobs"]) == 5
    assert admin("GET", "/v1.0/jobs?status=RUNNING").json()["jobs"] == []
    assert admin("GET", "/v1.0/jobs?project_id=other").json()["jobs"] == []
    seen: list[str] = []
    url = "/v1.0/jobs?type=port_delete&limit=2"
    while True:
        page = admin("GET", url).json()
        seen += [j["resource"]["port_id"] for j in page["jobs"]]
        links = page.get("jobs_links", [])
        if not links:
            break
        href = urlsplit(links[0]["href"])
        assert parse_qs(href.query)["type"] == ["port_delete"]
        url = f"{href.path}?{href.query}"
    assert seen == [f"port-{i}" for i in reversed(range(5))]
    check_error(admin("GET", "/v1.0/jobs?foo=1"), 400, "badRequest", "Unsupported filter type: foo")
    check_error(admin("GET", "/v1.0/jobs?marker=nope"), 400, "badRequest", "Invalid marker: nope")
    check_error(admin("GET", "/v1.0/jobs?limit=x"), 400, "badRequest",
                "Limit should be an integer or a valid literal for int() rather than 'x'")
