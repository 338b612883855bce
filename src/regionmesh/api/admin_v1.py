"""The Admin API v1.0 (Tricircle-compatible): pods, resource routings and jobs, on its own listener.

Paths, bodies, fields and messages are the anchor's (``tricircle-api``, port 19999), with the fixes
the multi-region issue asks for: JSON errors everywhere in the anchor's ``{"<type>": {"message",
"code"}}`` shape (the anchor's pods controller answered plain text), 403 for policy denials (pods said
401), next links that keep the filters, ``POST /jobs`` and ``PUT /jobs/{id}`` answer 202 with the
job, job views show ``attempts``/``last_error``/``next_attempt_at``/``waiting_on``, pods can be
updated (``PUT /v1.0/pods/{id}``: dc_name, pod_az_name), and ``GET /jobs/{id}`` has its own rule.

Parse, authenticate, authorise, call ``central``/``jobs``, render — nothing else lives here.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlencode

import anyio.to_thread
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from regionmesh.api.auth import Authenticator, make_authenticator
from regionmesh.api.errors import status_for
from regionmesh.central import exceptions as cexc
from regionmesh.central import pods as pod_api
from regionmesh.central import routings as routing_api
from regionmesh.config import Settings
from regionmesh.context import RequestContext
from regionmesh.db.clock import Clock, SystemClock
from regionmesh.db.engine import Database
from regionmesh.jobs import store
from regionmesh.jobs.errors import InvalidJobRequest, JobNotFound
from regionmesh.jobs.schemas import SCHEMAS, check_ownership, resource_id_for, schema_for
from regionmesh.network import exceptions as nexc
from regionmesh.network.policy import Enforcer

LOG = logging.getLogger(__name__)

PAGINATION_MAX_LIMIT: Final = 2000  # the anchor's pagination_max_limit
ALL_METHODS: Final = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]
JOB_FILTERS: Final = ("project_id", "type", "status")

# Admin-only by default; a policy file may open rules up (e.g. to ``rule:admin_or_owner``).
ADMIN_API_POLICY: Final[dict[str, str]] = {
    "context_is_admin": "role:admin",
    "admin_only": "rule:context_is_admin",
    "admin_api": "rule:admin_only",
    "owner": "project_id:%(project_id)s",
    "admin_or_owner": "rule:context_is_admin or rule:owner",
    "default": "rule:admin_api",
    **{f"admin_api:pods:{a}": "rule:admin_api" for a in ("create", "list", "show", "update", "delete")},
    **{f"admin_api:routings:{a}": "rule:admin_api" for a in ("create", "list", "show", "put", "delete")},
    **{f"admin_api:jobs:{a}": "rule:admin_api"
       for a in ("create", "list", "schema_list", "show", "redo", "delete")},
}

# The anchor's message for each denied action.
DENIED: Final[dict[str, str]] = {
    "admin_api:pods:create": "Unauthorized to create pods",
    "admin_api:pods:list": "Unauthorized to list pods",
    "admin_api:pods:show": "Unauthorized to show pods",
    "admin_api:pods:update": "Unauthorized to update pods",
    "admin_api:pods:delete": "Unauthorized to delete pods",
    "admin_api:routings:create": "Unauthorized to create resource routing",
    "admin_api:routings:list": "Unauthorized to show all resource routings",
    "admin_api:routings:show": "Unauthorized to show the resource routing",
    "admin_api:routings:put": "Unauthorized to update resource routing",
    "admin_api:routings:delete": "Unauthorized to delete the resource routing",
    "admin_api:jobs:create": "Unauthorized to create a job",
    "admin_api:jobs:list": "Unauthorized to show all jobs",
    "admin_api:jobs:schema_list": "Unauthorized to show job information",
    "admin_api:jobs:show": "Unauthorized to show job information",
    "admin_api:jobs:redo": "Unauthorized to redo a job",
    "admin_api:jobs:delete": "Unauthorized to delete a job",
}

# Error body types (the anchor's, completed with Nova's names for the statuses it lacked).
ERROR_TYPES: Final[dict[int, str]] = {
    400: "badRequest", 401: "unauthorized", 403: "forbidden", 404: "itemNotFound", 405: "badMethod",
    409: "conflictingRequest", 422: "unprocessableEntity", 500: "internalServerError",
    501: "notImplemented", 503: "serviceUnavailable",
}


class AdminForbidden(nexc.NotAuthorized):
    message = "%(msg)s"


class MethodNotAllowed(nexc.NeutronException):
    message = "The method is not allowed for the requested resource."


class UnknownPath(nexc.NotFound):
    message = "The resource could not be found."


class LogJobNotFound(nexc.NotFound):
    message = "Resource not found"


def admin_status(error: Exception) -> int:
    """HTTP status of a domain error: the shared mapping, plus 422 and 405 which only this API uses."""
    if isinstance(error, cexc.UnprocessableEntity):
        return 422
    if isinstance(error, MethodNotAllowed):
        return 405
    return status_for(error)


def error_response(status: int, message: str) -> Response:
    kind = ERROR_TYPES.get(status, "Error")
    return _json(status, {kind: {"message": message, "code": status}})


def _json(status: int, body: Any) -> Response:
    return Response(json.dumps(body, separators=(",", ":")), status_code=status, media_type="application/json")


@dataclass(frozen=True)
class Call:
    """One parsed request, as handlers see it."""

    ctx: RequestContext
    params: dict[str, str]
    query: list[tuple[str, str]]
    body: Any
    base_url: str

    def query_dict(self) -> dict[str, str]:
        return dict(self.query)  # the last value of a repeated key wins


Handler = Callable[[Call], tuple[int, Any]]


def _member(body: Any, key: str, missing: nexc.NeutronException) -> dict[str, Any]:
    if not isinstance(body, dict) or not isinstance(body.get(key), dict):
        raise missing
    return body[key]


def parse_limit(raw: str | None) -> int:
    """The anchor's rule: missing or <= 0 → the maximum; above the maximum → the maximum."""
    if raw is None:
        return PAGINATION_MAX_LIMIT
    limit = routing_api.parse_int("Limit", raw)
    return PAGINATION_MAX_LIMIT if limit <= 0 or limit > PAGINATION_MAX_LIMIT else limit


def next_links(call: Call, collection: str, more: bool, last_id: Any, limit: int) -> list[dict[str, str]]:
    """The next-page link, keeping every filter (the anchor dropped them)."""
    if not more:
        return []
    query = [(k, v) for k, v in call.query_dict().items() if k not in ("limit", "marker")]
    query += [("limit", str(limit)), ("marker", str(last_id))]
    return [{"rel": "next", "href": f"{call.base_url}/v1.0/{collection}?{urlencode(query)}"}]


class AdminApp:
    """Routes Admin API v1.0 requests to the central registry and the job store."""

    def __init__(self, settings: Settings, db: Database, authenticator: Authenticator | None = None,
                 clock: Clock | None = None) -> None:
        self.settings = settings
        self.db = db
        self.auth = authenticator or make_authenticator(settings.auth)
        self.clock: Clock = clock or SystemClock()
        self.policy = Enforcer(defaults=ADMIN_API_POLICY, policy_file=settings.admin.policy_file)
        table: list[tuple[str, dict[str, tuple[Handler, str]]]] = [
            ("/v1.0/pods", {"GET": (self.list_pods, "Failed to list pods"),
                            "POST": (self.create_pod, "Failed to create pod")}),
            ("/v1.0/pods/{id}", {"GET": (self.show_pod, "Failed to show pod"),
                                 "PUT": (self.update_pod, "Failed to update pod"),
                                 "DELETE": (self.delete_pod, "Failed to delete pod")}),
            ("/v1.0/routings", {"GET": (self.list_routings, "Failed to show all resource routings"),
                                "POST": (self.create_routing, "Failed to create resource routing")}),
            ("/v1.0/routings/{id}", {"GET": (self.show_routing, "Failed to show the resource routing"),
                                     "PUT": (self.update_routing, "Failed to update resource routing"),
                                     "DELETE": (self.delete_routing, "Failed to delete the resource routing")}),
            ("/v1.0/jobs", {"GET": (self.list_jobs, "Failed to show all asynchronous jobs"),
                            "POST": (self.create_job, "Failed to create a job")}),
            ("/v1.0/jobs/detail", {"GET": (self.list_jobs, "Failed to show all asynchronous jobs")}),
            ("/v1.0/jobs/schemas", {"GET": (self.job_schemas, "Failed to show job schemas")}),
            ("/v1.0/jobs/{id}", {"GET": (self.show_job, "Failed to show the job"),
                                 "PUT": (self.redo_job, "Failed to redo the job"),
                                 "DELETE": (self.delete_job, "Failed to delete the job")}),
            ("/v1.0/jobs/{id}/logs", {"GET": (self.job_logs, "Failed to show the job log")}),
        ]
        routes = [Route("/", self._endpoint({"GET": (self.versions, "")}, public=True), methods=ALL_METHODS),
                  Route("/v1.0", self._endpoint({"GET": (self.v1_root, "")}, public=True), methods=ALL_METHODS),
                  Route("/v1.0/", self._endpoint({"GET": (self.v1_root, "")}, public=True), methods=ALL_METHODS)]
        routes += [Route(path, self._endpoint(methods), methods=ALL_METHODS) for path, methods in table]
        routes.append(Route("/{path:path}", self._endpoint({}), methods=ALL_METHODS))
        self.app = Starlette(routes=routes)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)

    # ---- plumbing -----------------------------------------------------------------------------
    def _endpoint(self, methods: dict[str, tuple[Handler, str]], *, public: bool = False) -> Callable[..., Any]:
        async def endpoint(request: Request) -> Response:
            body: Any = None
            if request.method in ("POST", "PUT"):
                raw = await request.body()
                if raw:
                    try:
                        body = json.loads(raw)
                    except ValueError:
                        return error_response(400, "Malformed JSON in request body")
            return await anyio.to_thread.run_sync(self._run, request, methods, public, body)

        return endpoint

    def _run(self, request: Request, methods: dict[str, tuple[Handler, str]], public: bool, body: Any) -> Response:
        failure = "Request failed"
        try:
            ctx = RequestContext() if public else self.auth.authenticate(request.headers)
            if not methods:
                raise UnknownPath()
            entry = methods.get("GET" if request.method == "HEAD" else request.method)
            if entry is None:
                raise MethodNotAllowed()
            handler, failure = entry
            call = Call(ctx=ctx, params=dict(request.path_params), query=list(request.query_params.multi_items()),
                        body=body, base_url=str(request.base_url).rstrip("/"))
            status, out = handler(call)
            return _json(status, out)
        except nexc.NeutronException as error:
            status = admin_status(error)
            if status < 500 or isinstance(error, nexc.ServiceUnavailable):
                return error_response(status, str(error))
            LOG.error("admin API %s %s failed: %s", request.method, request.url.path, error)
            return error_response(status, failure)
        except Exception:
            LOG.exception("admin API %s %s failed", request.method, request.url.path)
            return error_response(500, failure)

    def _authorize(self, ctx: RequestContext, action: str) -> None:
        if not self.policy.check(ctx, action, {"project_id": ctx.project_id, "tenant_id": ctx.project_id}):
            raise AdminForbidden(msg=DENIED.get(action, "Unauthorized"))

    @staticmethod
    def _scope(ctx: RequestContext) -> str | None:
        """Admins see every project; a caller let in by a custom policy sees only its own."""
        return None if ctx.is_admin else (ctx.project_id or "")

    # ---- discovery ----------------------------------------------------------------------------
    def versions(self, call: Call) -> tuple[int, Any]:
        return 200, {"versions": [{"status": "CURRENT", "links": [{"rel": "self", "href": f"{call.base_url}/v1.0/"}],
                                   "id": "v1.0", "updated": "2015-09-09"}]}

    def v1_root(self, call: Call) -> tuple[int, Any]:
        links = [{"rel": "self", "href": f"{call.base_url}/v1.0"}]
        links += [{"rel": name, "href": f"{call.base_url}/v1.0/{name}"} for name in ("jobs", "pods", "routings")]
        return 200, {"version": "1.0", "links": links}

    # ---- pods ---------------------------------------------------------------------------------
    def create_pod(self, call: Call) -> tuple[int, Any]:
        self._authorize(call.ctx, "admin_api:pods:create")
        fields = _member(call.body, "pod", cexc.InvalidRequest(msg="Request body pod not found"))
        now = self.clock.now()
        pod = self.db.transaction(lambda conn: pod_api.create_pod(
            conn, region_name=fields.get("region_name"), az_name=fields.get("az_name"),
            pod_az_name=fields.get("pod_az_name"), dc_name=fields.get("dc_name"), now=now))
        return 200, {"pod": pod.to_dict()}

    def list_pods(self, call: Call) -> tuple[int, Any]:
        self._authorize(call.ctx, "admin_api:pods:list")
        with self.db.read() as conn:
            return 200, {"pods": [p.to_dict() for p in pod_api.list_pods(conn)]}

    def show_pod(self, call: Call) -> tuple[int, Any]:
        self._authorize(call.ctx, "admin_api:pods:show")
        with self.db.read() as conn:
            return 200, {"pod": pod_api.get_pod(conn, call.params["id"]).to_dict()}

    def update_pod(self, call: Call) -> tuple[int, Any]:
        self._authorize(call.ctx, "admin_api:pods:update")
        fields = _member(call.body, "pod", cexc.InvalidRequest(msg="Request body pod not found"))
        now = self.clock.now()
        pod = self.db.transaction(lambda conn: pod_api.update_pod(conn, call.params["id"], fields, now=now))
        return 200, {"pod": pod.to_dict()}

    def delete_pod(self, call: Call) -> tuple[int, Any]:
        self._authorize(call.ctx, "admin_api:pods:delete")
        self.db.transaction(lambda conn: pod_api.delete_pod(conn, call.params["id"]))
        return 200, {}

    # ---- routings -----------------------------------------------------------------------------
    def _visible_routing(self, call: Call, routing: routing_api.Routing) -> routing_api.Routing:
        scope = self._scope(call.ctx)
        if scope is not None and routing.project_id != scope:
            raise cexc.RoutingNotFound()
        return routing

    def list_routings(self, call: Call) -> tuple[int, Any]:
        self._authorize(call.ctx, "admin_api:routings:list")
        query = call.query_dict()
        limit = parse_limit(query.pop("limit", None))
        marker = query.pop("marker", None)
        scope = self._scope(call.ctx)
        if scope is not None:
            query["project_id"] = scope
        with self.db.read() as conn:
            page, more = routing_api.list_routings(conn, query, limit=limit, marker=marker)
        out: dict[str, Any] = {"routings": [r.to_dict() for r in page]}
        links = next_links(call, "routings", more, page[-1].id if page else None, limit)
        if links:
            out["routings_links"] = links
        return 200, out

    def show_routing(self, call: Call) -> tuple[int, Any]:
        self._authorize(call.ctx, "admin_api:routings:show")
        with self.db.read() as conn:
            routing = self._visible_routing(call, routing_api.get_routing(conn, call.params["id"]))
        return 200, {"routing": routing.to_dict()}

    def _own_project_only(self, call: Call, fields: dict[str, Any]) -> None:
        """A caller let in by a custom policy may not write routings of other projects."""
        scope = self._scope(call.ctx)
        if scope is not None and "project_id" in fields and fields["project_id"] != scope:
            raise cexc.InvalidRequest(msg=f"Field project_id must be the caller's project {scope}")

    def create_routing(self, call: Call) -> tuple[int, Any]:
        self._authorize(call.ctx, "admin_api:routings:create")
        fields = _member(call.body, "routing", cexc.RequestBodyNotFound())
        self._own_project_only(call, fields)
        now = self.clock.now()
        routing = self.db.transaction(lambda conn: routing_api.create_routing(conn, fields, now=now))
        return 200, {"routing": routing.to_dict()}

    def update_routing(self, call: Call) -> tuple[int, Any]:
        self._authorize(call.ctx, "admin_api:routings:put")
        now = self.clock.now()

        def work(conn: Any) -> routing_api.Routing:
            self._visible_routing(call, routing_api.get_routing(conn, call.params["id"]))  # 404 first
            fields = _member(call.body, "routing", cexc.RequestBodyNotFound())
            self._own_project_only(call, fields)
            return routing_api.update_routing(conn, call.params["id"], fields, now=now)

        return 200, {"routing": self.db.transaction(work).to_dict()}

    def delete_routing(self, call: Call) -> tuple[int, Any]:
        self._authorize(call.ctx, "admin_api:routings:delete")

        def work(conn: Any) -> None:
            self._visible_routing(call, routing_api.get_routing(conn, call.params["id"]))
            routing_api.delete_routing(conn, call.params["id"])

        self.db.transaction(work)
        return 200, {}

    # ---- jobs ---------------------------------------------------------------------------------
    def _visible_job(self, call: Call, project_id: str | None) -> None:
        scope = self._scope(call.ctx)
        if scope is not None and project_id != scope:
            raise LogJobNotFound()

    def create_job(self, call: Call) -> tuple[int, Any]:
        """Validate as the anchor did (order and messages), then enqueue; 202 with the job."""
        self._authorize(call.ctx, "admin_api:jobs:create")
        job = _member(call.body, "job", cexc.RequestBodyNotFound())
        for field in ("type", "project_id"):
            value = job.get(field)
            if value is None:
                raise InvalidJobRequest(msg=f"{field} isn't provided in request body")
            if not isinstance(value, str) or not value.strip():
                raise InvalidJobRequest(msg=f"{field} can't be empty")
        job_type, project_id = job["type"].strip(), job["project_id"].strip()
        schema_for(job_type)
        resource = job.get("resource")
        if not isinstance(resource, dict):
            raise InvalidJobRequest(msg="Failed to create job, because the resource is not specified")
        resource_id_for(job_type, resource)  # missing/redundant keys, before the ownership check
        scope = self._scope(call.ctx)
        if scope is not None and project_id != scope:
            raise InvalidJobRequest(msg=f"Specified project_id {project_id} is not the caller's project")
        now = self.clock.now()

        def work(conn: Any) -> store.JobRow:
            check_ownership(conn, job_type, project_id, resource)
            return store.enqueue(conn, job_type, resource, project_id, now=now)

        return 202, {"job": self.db.transaction(work).to_dict()}

    def list_jobs(self, call: Call) -> tuple[int, Any]:
        self._authorize(call.ctx, "admin_api:jobs:list")
        query = call.query_dict()
        limit = parse_limit(query.pop("limit", None))
        marker = query.pop("marker", None)
        unknown = sorted(set(query) - set(JOB_FILTERS))
        if unknown:
            raise cexc.InvalidRequest(msg="Unsupported filter type: " + ", ".join(unknown))
        project_id = query.get("project_id")
        scope = self._scope(call.ctx)
        if scope is not None:
            project_id = scope
        with self.db.read() as conn:
            page, more = store.list_jobs(conn, project_id=project_id, job_type=query.get("type"),
                                         status=query.get("status"), limit=limit, marker=marker)
        out: dict[str, Any] = {"jobs": [j.to_dict() for j in page]}
        links = next_links(call, "jobs", more, page[-1].id if page else None, limit)
        if links:
            out["jobs_links"] = links
        return 200, out

    def job_schemas(self, call: Call) -> tuple[int, Any]:
        self._authorize(call.ctx, "admin_api:jobs:schema_list")
        return 200, {"schemas": [s.to_dict() for s in SCHEMAS.values()]}

    def show_job(self, call: Call) -> tuple[int, Any]:
        """A job from the job table, else a run from the job log (as the anchor looked in both)."""
        self._authorize(call.ctx, "admin_api:jobs:show")
        job_id = call.params["id"]
        with self.db.read() as conn:
            try:
                job = store.get_job(conn, job_id)
            except JobNotFound:
                log = store.get_job_log(conn, job_id)
                if log is None:
                    raise LogJobNotFound() from None
                self._visible_job(call, log.project_id)
                return 200, {"job": log.to_dict()}
        self._visible_job(call, job.project_id)
        return 200, {"job": job.to_dict()}

    def job_logs(self, call: Call) -> tuple[int, Any]:
        """The runs of a job, newest first (history the anchor only kept for successes)."""
        self._authorize(call.ctx, "admin_api:jobs:show")
        limit = parse_limit(call.query_dict().get("limit"))
        with self.db.read() as conn:
            job = store.get_job(conn, call.params["id"])
            self._visible_job(call, job.project_id)
            runs = store.list_job_logs(conn, job.id, limit=limit)
        return 200, {"job_logs": [r.to_dict() for r in runs]}

    def _check_job_scope(self, call: Call) -> None:
        if self._scope(call.ctx) is not None:
            # A missing job is reported by the store, with the anchor's message.
            with self.db.read() as conn, contextlib.suppress(JobNotFound):
                self._visible_job(call, store.get_job(conn, call.params["id"]).project_id)

    def redo_job(self, call: Call) -> tuple[int, Any]:
        self._authorize(call.ctx, "admin_api:jobs:redo")
        self._check_job_scope(call)
        job = store.redo(self.db, call.params["id"], now=self.clock.now())
        return 202, {"job": job.to_dict()}

    def delete_job(self, call: Call) -> tuple[int, Any]:
        self._authorize(call.ctx, "admin_api:jobs:delete")
        self._check_job_scope(call)
        store.delete_job(self.db, call.params["id"])
        return 200, {}


def create_admin_app(settings: Settings, db: Database, authenticator: Authenticator | None = None,
                     clock: Clock | None = None) -> AdminApp:
    """The Admin API as an ASGI app over ``db`` (whose schema must be at head)."""
    return AdminApp(settings, db, authenticator, clock)


def build_admin(settings: Settings, *, migrate: bool = True) -> AdminApp:
    """A ready Admin API for ``settings``: its own engine, schema upgraded first."""
    from regionmesh.db.migrate import upgrade

    if migrate:
        upgrade(settings.database.url)
    db = Database(settings.database.url, echo=settings.database.echo, pool_size=settings.database.pool_size,
                  retry_limit=settings.database.retry_limit)
    return create_admin_app(settings, db)
