"""The Nova v2.1 HTTP API (a subset openstacksdk and ``openstack server …`` accept): a thin ASGI edge.

Parses, authenticates, negotiates the microversion, calls ``regionmesh.compute``, renders Nova's
JSON and Nova's error bodies (``{"itemNotFound": {"message", "code"}}``). No lifecycle logic here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import anyio.to_thread
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from regionmesh.api.auth import Authenticator, make_authenticator
from regionmesh.api.errors import status_for
from regionmesh.compute import controllers
from regionmesh.compute import store as s
from regionmesh.compute.cloud import LabCompute
from regionmesh.compute.exceptions import BadRequest, ComputeError, NotFound
from regionmesh.compute.runtime import ComputeConfig
from regionmesh.db.clock import Clock
from regionmesh.db.engine import Database
from regionmesh.network import exceptions as nexc

MIN_VERSION, MAX_VERSION = (2, 1), (2, 79)
_KEYS = {400: "badRequest", 401: "unauthorized", 403: "forbidden", 404: "itemNotFound", 409: "conflictingRequest"}


def _fmt(version: tuple[int, int]) -> str:
    return f"{version[0]}.{version[1]}"


def _json(status: int, body: Any, version: tuple[int, int] = MIN_VERSION) -> Response:
    headers = {"OpenStack-API-Version": f"compute {_fmt(version)}", "X-OpenStack-Nova-API-Version": _fmt(version),
               "Vary": "OpenStack-API-Version, X-OpenStack-Nova-API-Version"}
    content = json.dumps(body, separators=(",", ":")) if body is not None else b""
    return Response(content, status_code=status, media_type="application/json", headers=headers)


def _error(error: Exception) -> Response:
    if isinstance(error, ComputeError):
        status, message = error.code, error.message
    elif isinstance(error, nexc.NeutronException):
        status, message = status_for(error), str(error)
    else:
        status, message = 500, "Unexpected API Error. Please report this at your cloud's operator."
    return _json(status, {_KEYS.get(status, "computeFault"): {"message": message, "code": status}})


def negotiate(headers: Any) -> tuple[int, int]:
    """The microversion asked for (``OpenStack-API-Version: compute X`` or the legacy header)."""
    raw = None
    for value in headers.getlist("openstack-api-version"):
        parts = value.strip().split()
        if len(parts) == 2 and parts[0].lower() == "compute":
            raw = parts[1]
    raw = raw or headers.get("x-openstack-nova-api-version")
    if not raw:
        return MIN_VERSION
    if raw.lower() == "latest":
        return MAX_VERSION
    match = re.fullmatch(r"(\d+)\.(\d+)", raw.strip())
    if match is None:
        raise BadRequest(f"Invalid format for API version string '{raw}'")
    version = (int(match.group(1)), int(match.group(2)))
    if not MIN_VERSION <= version <= MAX_VERSION:
        raise _NotAcceptable(f"Version {raw} is not supported by the API. Minimum is {_fmt(MIN_VERSION)} and "
                             f"maximum is {_fmt(MAX_VERSION)}.")
    return version


class _NotAcceptable(ComputeError):
    code = 406
    key = "computeFault"


class ComputeApp:
    """ASGI app over one region's :class:`LabCompute` (also the handle: ``stop_host``/``start_host``)."""

    def __init__(self, compute: LabCompute, authenticator: Authenticator) -> None:
        self.compute = compute
        self.api = compute.api
        self.auth = authenticator
        self.app = Starlette(routes=[
            Route("/", self.versions, methods=["GET"]),
            Route("/v2.1", self.version, methods=["GET"]),
            Route("/v2.1/", self.version, methods=["GET"]),
            Route("/v2.1/{path:path}", self.dispatch, methods=["GET", "POST", "PUT", "DELETE"]),
        ])

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)

    def stop_host(self, name: str) -> None:
        self.compute.stop_host(name)

    def start_host(self, name: str) -> None:
        self.compute.start_host(name)

    def close(self) -> None:
        self.compute.close()

    # ---- discovery ----------------------------------------------------------------------------
    def _version_doc(self, base: str) -> dict[str, Any]:
        return {"id": "v2.1", "status": "CURRENT", "version": _fmt(MAX_VERSION), "min_version": _fmt(MIN_VERSION),
                "updated": "2013-07-23T11:33:21Z", "links": [{"rel": "self", "href": f"{base}/v2.1/"}],
                "media-types": [{"base": "application/json",
                                 "type": "application/vnd.openstack.compute+json;version=2.1"}]}

    async def versions(self, request: Request) -> Response:
        return _json(200, {"versions": [self._version_doc(str(request.base_url).rstrip("/"))]})

    async def version(self, request: Request) -> Response:
        return _json(200, {"version": self._version_doc(str(request.base_url).rstrip("/"))})

    # ---- dispatch -----------------------------------------------------------------------------
    async def dispatch(self, request: Request) -> Response:
        body: Any = None
        if request.method in ("POST", "PUT"):
            raw = await request.body()
            if raw:
                try:
                    body = json.loads(raw)
                except ValueError:
                    return _error(BadRequest("Malformed request body"))
        try:
            version = negotiate(request.headers)
            return await anyio.to_thread.run_sync(self._handle, request, body, version)
        except Exception as error:  # mapped once, here
            return _error(error)

    def _handle(self, request: Request, body: Any, version: tuple[int, int]) -> Response:
        ctx = self.auth.authenticate(request.headers)
        parts = request.path_params["path"].strip("/").split("/")
        # Old catalogs put the project id in the path (/v2.1/<project>/servers): skip it.
        if len(parts) > 1 and ctx.project_id and parts[0] == ctx.project_id:
            parts = parts[1:]
        base = str(request.base_url).rstrip("/") + "/v2.1"
        handler = self._routes().get(parts[0])
        if handler is None:
            raise NotFound("The resource could not be found.")
        req = controllers.Call(ctx=ctx, method=request.method, parts=parts[1:], body=body, base=base,
                               version=version, query=request.query_params.multi_items())
        status, out = handler(self.compute, req)
        return _json(status, out, version)

    def _routes(self) -> dict[str, Callable[..., tuple[int, Any]]]:
        r = controllers
        return {"servers": r.servers, "flavors": r.flavors, "os-services": r.services,
                "os-hypervisors": r.hypervisors, "os-availability-zone": r.zones, "limits": r.limits,
                "os-keypairs": r.keypairs, "os-quota-sets": r.quota_sets}


def create_compute_app(settings_like: Any, db: Database, neutron_url: str, region_name: str, az: str,
                       hosts: list[str], clock: Clock | None = None, *, config: ComputeConfig | None = None,
                       periodic: bool = True) -> ComputeApp:
    """Lab compute for one region, served as Nova v2.1; ``settings_like.auth`` picks noauth or Keystone."""
    from regionmesh.identity.client import service_token

    config = config or ComputeConfig()
    config.region_name, config.availability_zone = region_name, az
    auth_settings = settings_like.auth
    db.transaction(s.ensure_default_flavors)
    compute = LabCompute(db, neutron_url, config, hosts, clock=clock, token=service_token(auth_settings),
                         periodic=periodic)
    return ComputeApp(compute, make_authenticator(auth_settings))

