"""The Neutron v2.0 HTTP API: a thin ASGI edge over ``regionmesh.network``.

Parses requests, authenticates, calls the pipeline, renders JSON. No business logic lives here;
domain errors become ``NeutronError`` bodies in one place.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import anyio.to_thread
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from regionmesh.api.auth import Authenticator, make_authenticator
from regionmesh.api.errors import neutron_error_body
from regionmesh.api.extensions import EXTENSIONS
from regionmesh.context import RequestContext
from regionmesh.network import exceptions as exc
from regionmesh.network.core import NetworkCore
from regionmesh.network.query import parse_list_params
from regionmesh.network.service import ResourceService
from regionmesh.region.central_client import REGION_AGENT_PREFIX
from regionmesh.region.driver import CENTRAL_AGENT

LOG = logging.getLogger(__name__)

# URL path segment -> collection name.
URL_COLLECTIONS = {
    "networks": "networks", "subnets": "subnets", "subnetpools": "subnetpools", "ports": "ports",
    "security-groups": "security_groups",
    "security-group-rules": "security_group_rules", "routers": "routers", "floatingips": "floatingips",
}
# Not Neutron's: the lab's window on emitted notifications (seed 002's .start/.end events).
NOTIFICATIONS_PATH = "regionmesh-notifications"
TAG_COLLECTIONS = {"networks", "subnets", "subnetpools", "ports", "security-groups", "routers", "floatingips"}


class MethodNotAllowed(exc.NeutronException):
    message = "The method is not allowed for the requested resource."


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body, separators=(",", ":")) if body is not None else b"", status_code=status,
                    media_type="application/json", headers=headers)


class NeutronApp:
    """Routes Neutron v2.0 requests to a :class:`NetworkCore`."""

    def __init__(self, core: NetworkCore, authenticator: Authenticator | None = None) -> None:
        self.core = core
        self.auth = authenticator or make_authenticator(core.settings.auth)
        # SQLite work never waits on I/O, so a thread hop only adds latency; PostgreSQL round
        # trips do wait, so there handlers run in the thread pool and overlap.
        threaded = core.settings.api.threaded
        self.threaded = (not core.db.is_sqlite) if threaded is None else threaded
        self.app = Starlette(routes=[
            Route("/", self.versions, methods=["GET"]),
            Route("/v2.0", self.v2_root, methods=["GET"]),
            Route("/v2.0/", self.v2_root, methods=["GET"]),
            Route("/v2.0/{path:path}", self.dispatch, methods=["GET", "POST", "PUT", "DELETE", "HEAD", "PATCH"]),
        ])

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)

    # ---- discovery ----------------------------------------------------------------------------
    def _base_url(self, request: Request) -> str:
        public = self.core.settings.api.public_endpoint
        return (public or str(request.base_url)).rstrip("/")

    async def versions(self, request: Request) -> Response:
        base = self._base_url(request)
        return _json(200, {"versions": [{"id": "v2.0", "status": "CURRENT",
                                         "links": [{"href": f"{base}/v2.0/", "rel": "self"}]}]})

    async def v2_root(self, request: Request) -> Response:
        base = self._base_url(request)
        resources = [{"name": c.rstrip("s") if not c.endswith("ies") else c[:-3] + "y", "collection": c,
                      "links": [{"href": f"{base}/v2.0/{url}", "rel": "self"}]}
                     for url, c in URL_COLLECTIONS.items() if c in self.core.services]
        return _json(200, {"resources": resources})

    # ---- dispatch -----------------------------------------------------------------------------
    async def dispatch(self, request: Request) -> Response:
        body: Any = None
        if request.method in ("POST", "PUT"):
            raw = await request.body()
            if raw:
                try:
                    body = json.loads(raw)
                except ValueError:
                    return self._error(exc.BadRequest(resource="body", msg="Malformed JSON in request body"))
        try:
            if self.threaded:
                return await anyio.to_thread.run_sync(self._handle, request, body)
            return self._handle(request, body)
        except Exception as error:  # mapped once, here
            return self._error(error)

    def _error(self, error: Exception) -> Response:
        status, body = neutron_error_body(error)
        return _json(status, body)

    def _handle(self, request: Request, body: Any) -> Response:
        ctx = self.auth.authenticate(request.headers)
        agent = request.headers.get("user-agent", "")
        if agent.startswith(REGION_AGENT_PREFIX):
            ctx = dataclasses.replace(ctx, origin_region=agent[len(REGION_AGENT_PREFIX):] or "unknown")
        elif agent.startswith(CENTRAL_AGENT) and ctx.is_admin:
            ctx = dataclasses.replace(ctx, via_central=True)
        path = request.path_params["path"].strip("/")
        if path.endswith(".json"):
            path = path[:-5]
        parts = path.split("/")
        method = request.method
        head = parts[0]
        if head == "extensions":
            return self._extensions(parts)
        if head == "quotas":
            return self._quotas(ctx, method, parts[1:], body)
        if head == "availability_zones" and len(parts) == 1:
            if method != "GET":
                raise MethodNotAllowed()
            return _json(200, {"availability_zones": self._availability_zones(request)})
        if head == NOTIFICATIONS_PATH and method == "GET":
            return self._notifications(request, ctx)
        collection = URL_COLLECTIONS.get(head)
        if collection is None or collection not in self.core.services:
            raise _UnknownResource(path=path)
        svc = self.core.services[collection]
        pipeline = self.core.pipeline
        if len(parts) == 1:
            if method in ("GET", "HEAD"):
                return self._list(request, ctx, svc, head)
            if method == "POST":
                return _json(201, pipeline.create(ctx, svc, body))
            raise MethodNotAllowed()
        rid = parts[1]
        if len(parts) == 2:
            fields = [f for v in request.query_params.getlist("fields") for f in v.split(",") if f]
            if method in ("GET", "HEAD"):
                return _json(200, {svc.rdef.member: pipeline.get(ctx, svc, rid, fields)})
            if method == "PUT":
                return _json(200, pipeline.update(ctx, svc, rid, body, request.headers.get("if-match")))
            if method == "DELETE":
                pipeline.delete(ctx, svc, rid, request.headers.get("if-match"))
                return Response(status_code=204)
            raise MethodNotAllowed()
        if parts[2] == "tags" and head in TAG_COLLECTIONS:
            return self._tags(ctx, svc, rid, method, parts[3] if len(parts) > 3 else None, body)
        action = getattr(svc, "member_actions", {}).get(parts[2]) if len(parts) == 3 else None
        if action is not None and method == "PUT":
            return _json(200, action(ctx, rid, body))
        raise _UnknownResource(path=path)

    def _list(self, request: Request, ctx: RequestContext, svc: ResourceService, url_name: str) -> Response:
        params = parse_list_params(svc.rdef, request.query_params.multi_items(),
                                   self.core.settings.network.pagination_max_limit)
        items, _more = self.core.pipeline.list_items(ctx, svc, params)
        out: dict[str, Any] = {svc.rdef.collection: items}
        if params.limit:
            out[f"{svc.rdef.collection}_links"] = self._page_links(request, url_name, items, params.limit,
                                                                   params.page_reverse)
        return _json(200, out)

    def _page_links(self, request: Request, url_name: str, items: list[dict[str, Any]], limit: int,
                    page_reverse: bool) -> list[dict[str, str]]:
        """Neutron's rule, which clients walk by: "next" (forward from the last item) unless a forward
        page came back short, "previous" (page_reverse from the first item; from the end when the page
        is empty) unless a reversed page came back short."""
        query = [(k, v) for k, v in request.query_params.multi_items() if k not in ("marker", "page_reverse")]
        base = f"{self._base_url(request)}/v2.0/{url_name}"
        links = []
        short = len(items) < limit
        if not (short and not page_reverse):
            marker = [("marker", items[-1]["id"])] if items else []
            links.append({"rel": "next", "href": f"{base}?{urlencode([*query, *marker])}"})
        if not (short and page_reverse):
            marker = [("marker", items[0]["id"])] if items else []
            reverse = [*query, *marker, ("page_reverse", "True")]
            links.append({"rel": "previous", "href": f"{base}?{urlencode(reverse)}"})
        return links

    def _availability_zones(self, request: Request) -> list[dict[str, str]]:
        """The availability_zone extension's list: each zone this API places networks and routers in
        (a central's pods, a region's own zone), filtered on name, resource and state like Neutron."""
        zones = [{"name": name, "resource": resource, "state": "available"}
                 for name in dict.fromkeys(self.core.az_names()) for resource in ("network", "router")]
        filters: dict[str, set[str]] = {}
        for key, value in request.query_params.multi_items():
            if key not in ("name", "resource", "state"):
                raise exc.HTTPBadRequest(f"{key} is an invalid filter")  # filter-validation
            filters.setdefault(key, set()).add(value)
        return [z for z in zones if all(z[k] in wanted for k, wanted in filters.items())]

    def _notifications(self, request: Request, ctx: RequestContext) -> Response:
        """The lab's view of the notifications this API emitted (admin only; newest last)."""
        if not ctx.is_admin:
            raise exc.PolicyNotAuthorized(action="get_notifications")
        params = request.query_params
        limit = int(params.get("limit", "100"))
        found = self.core.notifications.query(params.get("event_type", ""), project_id=params.get("project_id"),
                                              limit=limit)
        return _json(200, {"notifications": [n.to_dict() for n in found]})

    def _extensions(self, parts: list[str]) -> Response:
        if len(parts) == 1:
            return _json(200, {"extensions": list(EXTENSIONS.values())})
        ext = EXTENSIONS.get(parts[1])
        if ext is None:
            raise _ExtensionNotFound(alias=parts[1])
        return _json(200, {"extension": ext})

    # ---- tags ---------------------------------------------------------------------------------
    def _tags(self, ctx: RequestContext, svc: ResourceService, rid: str, method: str, tag: str | None,
              body: Any) -> Response:
        from regionmesh.network.tags import TagOps

        ops = TagOps(self.core, svc)
        if tag is None:
            if method == "GET":
                return _json(200, {"tags": ops.get(ctx, rid)})
            if method == "PUT":
                return _json(200, {"tags": ops.replace(ctx, rid, body)})
            if method == "DELETE":
                ops.clear(ctx, rid)
                return Response(status_code=204)
        else:
            if method == "GET":
                ops.check(ctx, rid, tag)
                return Response(status_code=204)
            if method == "PUT":
                ops.add(ctx, rid, tag)
                return Response(status_code=201)
            if method == "DELETE":
                ops.remove(ctx, rid, tag)
                return Response(status_code=204)
        raise MethodNotAllowed()

    # ---- quotas -------------------------------------------------------------------------------
    def _quotas(self, ctx: RequestContext, method: str, parts: list[str], body: Any) -> Response:
        from regionmesh.network.quota_api import QuotaApi

        api = QuotaApi(self.core)
        if not parts:
            if method == "GET":
                return _json(200, {"quotas": api.list(ctx)})
            raise MethodNotAllowed()
        project = parts[0]
        if project == "tenant" and len(parts) == 1 and method == "GET":
            return _json(200, {"tenant": {"tenant_id": ctx.project_id}})
        handlers: dict[tuple[str, str | None], Callable[[], Response]] = {
            ("GET", None): lambda: _json(200, {"quota": api.get(ctx, project)}),
            ("PUT", None): lambda: _json(200, {"quota": api.update(ctx, project, body)}),
            ("DELETE", None): lambda: _no_content(api.delete, ctx, project),
            ("GET", "default"): lambda: _json(200, {"quota": api.defaults(ctx, project)}),
            ("GET", "details"): lambda: _json(200, {"quota": api.details(ctx, project)}),
        }
        handler = handlers.get((method, parts[1] if len(parts) > 1 else None))
        if handler is None:
            raise MethodNotAllowed()
        return handler()


def _no_content(fn: Callable[..., None], *args: Any) -> Response:
    fn(*args)
    return Response(status_code=204)


class _UnknownResource(exc.NotFound):
    message = "The resource could not be found."


class _ExtensionNotFound(exc.NotFound):
    message = "Extension with alias %(alias)s does not exist"


def create_app(core: NetworkCore, authenticator: Authenticator | None = None) -> NeutronApp:
    return NeutronApp(core, authenticator)
