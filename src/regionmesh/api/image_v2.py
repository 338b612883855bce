"""A minimal Glance v2 HTTP API: enough for ``openstack image create --file`` and ``server create --image``.

Image data is read, measured and checksummed, then dropped: the lab's hypervisor boots records, not
disks. Errors use Glance's plain ``{"code", "title", "message"}``-style bodies.
"""

from __future__ import annotations

import json
from typing import Any

import anyio.to_thread
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from regionmesh.api.auth import Authenticator, make_authenticator
from regionmesh.api.errors import status_for
from regionmesh.compute import images
from regionmesh.compute.exceptions import BadRequest, ComputeError, NotFound
from regionmesh.config import AuthSettings
from regionmesh.context import RequestContext
from regionmesh.db.clock import Clock, SystemClock
from regionmesh.db.engine import Database
from regionmesh.network import exceptions as nexc

_TITLES = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 409: "Conflict",
           405: "Method Not Allowed", 500: "Internal Server Error"}


def _json(status: int, body: Any) -> Response:
    return Response(json.dumps(body) if body is not None else b"", status_code=status,
                    media_type="application/json")


def _error(error: Exception) -> Response:
    if isinstance(error, ComputeError):
        status, message = error.code, error.message
    elif isinstance(error, nexc.NeutronException):
        status, message = status_for(error), str(error)
    else:
        status, message = 500, "Internal server error"
    return _json(status, {"code": status, "title": _TITLES.get(status, "Error"), "message": message,
                          "error": {"code": status, "title": _TITLES.get(status, "Error"), "message": message}})


def image_view(image: dict[str, Any]) -> dict[str, Any]:
    iid = image["id"]
    return {"id": iid, "name": image["name"], "status": image["status"], "visibility": image["visibility"],
            "protected": image["protected"], "owner": image["owner"], "min_disk": image["min_disk"],
            "min_ram": image["min_ram"], "disk_format": image["disk_format"],
            "container_format": image["container_format"], "size": image["size"], "checksum": image["checksum"],
            "virtual_size": None, "os_hidden": False, "os_hash_algo": None, "os_hash_value": None, "tags": [],
            "created_at": image["created_at"].strftime("%Y-%m-%dT%H:%M:%SZ"),
            "updated_at": image["updated_at"].strftime("%Y-%m-%dT%H:%M:%SZ"),
            "self": f"/v2/images/{iid}", "file": f"/v2/images/{iid}/file", "schema": "/v2/schemas/image"}


class ImageApp:
    """Routes Glance v2 requests to ``regionmesh.compute.images``."""

    def __init__(self, db: Database, authenticator: Authenticator, clock: Clock | None = None) -> None:
        self.db = db
        self.auth = authenticator
        self.clock = clock or SystemClock()
        self.app = Starlette(routes=[
            Route("/", self.versions, methods=["GET"]),
            Route("/versions", self.versions, methods=["GET"]),
            Route("/v2", self.versions, methods=["GET"]),
            Route("/v2/", self.versions, methods=["GET"]),
            Route("/v2/{path:path}", self.dispatch, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
        ])

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)

    async def versions(self, request: Request) -> Response:
        base = str(request.base_url).rstrip("/")
        return _json(200, {"versions": [{"id": "v2.9", "status": "CURRENT",
                                         "links": [{"rel": "self", "href": f"{base}/v2/"}]}]})

    async def dispatch(self, request: Request) -> Response:
        raw = await request.body() if request.method in ("POST", "PUT", "PATCH") else b""
        try:
            return await anyio.to_thread.run_sync(self._handle, request, raw)
        except Exception as error:
            return _error(error)

    def _handle(self, request: Request, raw: bytes) -> Response:
        ctx = self.auth.authenticate(request.headers)
        parts = request.path_params["path"].strip("/").split("/")
        method = request.method
        if parts[0] == "schemas":
            return _json(200, {"name": parts[-1], "properties": {}, "additionalProperties": {"type": "string"}})
        if parts[0] == "info":
            return _json(200, {"import-methods": {"value": []}} if parts[-1] == "import" else {"stores": []})
        if parts[0] != "images":
            raise NotFound("The resource could not be found.")
        if len(parts) == 1:
            if method == "GET":
                with self.db.read() as conn:
                    items = images.list_images(conn, ctx)
                return _json(200, {"images": [image_view(i) for i in _filter(items, request)],
                                   "first": "/v2/images", "schema": "/v2/schemas/images"})
            if method == "POST":
                body = _body(raw)
                image = self.db.transaction(lambda c: images.create(c, ctx, body, self.clock.now()))
                return _json(201, image_view(image))
        elif len(parts) == 2:
            return self._member(ctx, method, parts[1], raw)
        elif len(parts) == 3 and parts[2] == "file" and method == "PUT":
            self.db.transaction(lambda c: images.upload(c, ctx, parts[1], raw, self.clock.now()))
            return Response(status_code=204)
        return _json(405, {"code": 405, "title": "Method Not Allowed", "message": "Method not allowed"})

    def _member(self, ctx: RequestContext, method: str, image_id: str, raw: bytes) -> Response:
        if method == "GET":
            with self.db.read() as conn:
                return _json(200, image_view(images.show(conn, ctx, image_id)))
        if method == "DELETE":
            self.db.transaction(lambda c: images.remove(c, ctx, image_id))
            return Response(status_code=204)
        if method == "PATCH":
            changes: dict[str, Any] = {}
            for op in _body(raw, list):
                if op.get("op") in ("replace", "add") and isinstance(op.get("path"), str):
                    changes[op["path"].lstrip("/")] = op.get("value")
            image = self.db.transaction(lambda c: images.patch(c, ctx, image_id, changes, self.clock.now()))
            return _json(200, image_view(image))
        return _json(405, {"code": 405, "title": "Method Not Allowed", "message": "Method not allowed"})


def _body(raw: bytes, kind: type = dict) -> Any:
    try:
        body = json.loads(raw or b"{}" if kind is dict else raw or b"[]")
    except ValueError as err:
        raise BadRequest("Malformed JSON in request body") from err
    if not isinstance(body, kind):
        raise BadRequest("Malformed request body")
    return body


def _filter(items: list[dict[str, Any]], request: Request) -> list[dict[str, Any]]:
    for key in ("name", "status", "visibility", "owner"):
        value = request.query_params.get(key)
        if value is not None:
            items = [i for i in items if str(i[key]) == value]
    return items


def create_image_app(db: Database, auth: AuthSettings | None = None, clock: Clock | None = None) -> ImageApp:
    """Glance v2 for one region over ``db`` (the same database its compute reads images from).

    ``auth`` defaults to Keystone validation at the default auth URL; tests pass a noauth ``AuthSettings``.
    """
    return ImageApp(db, make_authenticator(auth or AuthSettings()), clock)
