"""A Cinder v3 HTTP subset per region (what openstacksdk's block-storage proxy and OSC use): a thin ASGI edge.

Volumes, snapshots, ``/action`` (admin ``os-reset_status``/``os-force_detach`` and the legacy
attach actions Nova uses: ``os-reserve``, ``os-unreserve``, ``os-initialize_connection``, ``os-attach``,
``os-begin_detaching``, ``os-roll_detaching``, ``os-terminate_connection``, ``os-detach``) and limits.
The project id may be in the path (``/v3/{project_id}/volumes``, Cinder's catalog form) or not.
All logic lives in :mod:`regionmesh.compute.volumes`; errors are Cinder's ``{"<key>": {message, code}}``.
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
from regionmesh.compute import volumes as vol
from regionmesh.compute.exceptions import BadRequest, ComputeError, NotFound
from regionmesh.config import AuthSettings
from regionmesh.context import RequestContext
from regionmesh.db.clock import Clock, format_time
from regionmesh.db.engine import Database
from regionmesh.network import exceptions as nexc

MIN_VERSION, MAX_VERSION = "3.0", "3.60"
_KEYS = {400: "badRequest", 401: "unauthorized", 403: "forbidden", 404: "itemNotFound", 405: "badMethod",
         409: "conflictingRequest", 413: "overLimit"}
RESOURCES = {"volumes", "snapshots", "limits"}


def _json(status: int, body: Any) -> Response:
    headers = {"OpenStack-API-Version": f"volume {MIN_VERSION}", "Vary": "OpenStack-API-Version"}
    return Response(json.dumps(body) if body is not None else b"", status_code=status,
                    media_type="application/json", headers=headers)


def _error(error: Exception) -> Response:
    if isinstance(error, ComputeError):
        status, message = error.code, error.message
    elif isinstance(error, nexc.NeutronException):
        status, message = status_for(error), str(error)
    else:
        status, message = 500, "The server has either erred or is incapable of performing the requested operation."
    body: dict[str, Any] = {"message": message, "code": status}
    if status == 413:
        body["retryAfter"] = "0"
    return _json(status, {_KEYS.get(status, "computeFault"): body})


def volume_view(v: dict[str, Any], atts: list[dict[str, Any]], ctx: RequestContext, base: str) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": v["id"], "name": v["name"], "description": v["description"], "size": v["size"], "status": v["status"],
        "availability_zone": v["availability_zone"], "created_at": format_time(v["created_at"]),
        "updated_at": format_time(v["updated_at"]), "volume_type": "__DEFAULT__", "snapshot_id": v["snapshot_id"],
        "source_volid": v["source_volid"], "bootable": "true" if v["bootable"] else "false", "encrypted": False,
        "multiattach": False, "metadata": {}, "user_id": v["user_id"], "consistencygroup_id": None,
        "replication_status": None, "os-vol-tenant-attr:tenant_id": v["project_id"],
        "attachments": [{"id": v["id"], "attachment_id": a["id"], "volume_id": v["id"],
                         "server_id": a["instance_uuid"], "host_name": a["attached_host"], "device": a["mountpoint"],
                         "attached_at": format_time(a["attached_at"])} for a in atts],
        "links": [{"rel": "self", "href": f"{base}/volumes/{v['id']}"}]}
    if v["image_id"]:
        view["volume_image_metadata"] = {"image_id": v["image_id"]}
    if ctx.is_admin:
        view["os-vol-host-attr:host"] = v["host"]
    return view


def snapshot_view(sn: dict[str, Any]) -> dict[str, Any]:
    return {"id": sn["id"], "name": sn["name"], "description": sn["description"], "size": sn["size"],
            "status": sn["status"], "volume_id": sn["volume_id"], "created_at": format_time(sn["created_at"]),
            "updated_at": format_time(sn["updated_at"]), "metadata": {}, "progress": "100%",
            "os-extended-snapshot-attributes:project_id": sn["project_id"],
            "os-extended-snapshot-attributes:progress": "100%"}


def _member(body: Any, key: str) -> dict[str, Any]:
    if not isinstance(body, dict) or not isinstance(body.get(key), dict):
        raise BadRequest(f"Missing required element '{key}' in request body.")
    return body[key]


class VolumeApp:
    """ASGI Cinder v3 over one region's :class:`~regionmesh.compute.volumes.VolumeAPI`."""

    def __init__(self, volumes: vol.VolumeAPI, authenticator: Authenticator, region_name: str) -> None:
        self.volumes = volumes
        self.auth = authenticator
        self.region_name = region_name
        self.app = Starlette(routes=[
            Route("/", self.versions, methods=["GET"]),
            Route("/v3", self.versions, methods=["GET"]),
            Route("/v3/", self.versions, methods=["GET"]),
            Route("/v3/{path:path}", self.dispatch, methods=["GET", "POST", "PUT", "DELETE"]),
        ])

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)

    async def versions(self, request: Request) -> Response:
        base = str(request.base_url).rstrip("/")
        doc = {"id": "v3.0", "status": "CURRENT", "version": MAX_VERSION, "min_version": MIN_VERSION,
               "updated": "2022-08-31T00:00:00Z", "links": [{"rel": "self", "href": f"{base}/v3/"}],
               "media-types": [{"base": "application/json",
                                "type": "application/vnd.openstack.volume+json;version=3"}]}
        return _json(300 if request.url.path == "/" else 200, {"versions": [doc]})

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
            return await anyio.to_thread.run_sync(self._handle, request, body)
        except Exception as error:  # mapped once, here
            return _error(error)

    def _handle(self, request: Request, body: Any) -> Response:
        ctx = self.auth.authenticate(request.headers)
        parts = [p for p in request.path_params["path"].strip("/").split("/") if p]
        root = str(request.base_url).rstrip("/") + "/v3"
        if parts and parts[0] not in RESOURCES:  # /v3/{project_id}/...
            if not ctx.is_admin and parts[0] != ctx.project_id:
                raise NotFound("The resource could not be found.")
            root += f"/{parts[0]}"
            parts = parts[1:]
        if not parts:
            raise NotFound("The resource could not be found.")
        if parts[0] not in RESOURCES:
            raise NotFound("The resource could not be found.")
        handler = {"volumes": self._volumes, "snapshots": self._snapshots, "limits": self._limits}[parts[0]]
        status, out = handler(ctx, request.method, parts[1:], body, root, request.query_params)
        return _json(status, out)

    # ---- volumes --------------------------------------------------------------------------------
    def _view(self, ctx: RequestContext, v: dict[str, Any], base: str) -> dict[str, Any]:
        with self.volumes.db.read() as conn:
            atts = vol.attachments(conn, v["id"])
        return volume_view(v, atts, ctx, base)

    def _volumes(self, ctx: RequestContext, method: str, parts: list[str], body: Any, base: str,
                 query: Any) -> tuple[int, Any]:
        api = self.volumes
        if not parts or parts == ["detail"]:
            if method == "POST" and not parts:
                b = _member(body, "volume")
                image = b.get("imageRef") or b.get("image_id")
                created = api.create(ctx, b.get("size"), name=b.get("name"), description=b.get("description"),
                                     image_id=image, snapshot_id=b.get("snapshot_id"),
                                     source_volid=b.get("source_volid"),
                                     availability_zone=b.get("availability_zone"))
                return 202, {"volume": self._view(ctx, created, base)}
            if method != "GET":
                return 405, {"badMethod": {"message": "Method not allowed", "code": 405}}
            all_projects = query.get("all_tenants") not in (None, "0", "false", "False") and ctx.is_admin
            with api.db.read() as conn:
                items = vol.list_volumes(conn, None if all_projects else ctx.project_id)
            for key in ("name", "status"):
                if query.get(key) is not None:
                    items = [i for i in items if i[key] == query.get(key)]
            if parts:
                return 200, {"volumes": [self._view(ctx, i, base) for i in items]}
            return 200, {"volumes": [{"id": i["id"], "name": i["name"],
                                      "links": [{"rel": "self", "href": f"{base}/volumes/{i['id']}"}]}
                                     for i in items]}
        vid = parts[0]
        if len(parts) == 1 and method == "GET":
            return 200, {"volume": self._view(ctx, api.get(ctx, vid), base)}
        if len(parts) == 1 and method == "DELETE":
            cascade = query.get("cascade") in ("true", "True", "1")
            api.delete(ctx, vid, cascade=cascade)
            return 202, None
        if len(parts) == 1 and method == "PUT":
            b = _member(body, "volume")
            changes = {k: b[k] for k in ("name", "description") if k in b}
            api.get(ctx, vid)
            api.db.transaction(lambda c: vol.set_volume(c, vid, api.clock.now(), **changes))
            return 200, {"volume": self._view(ctx, api.get(ctx, vid), base)}
        if len(parts) == 2 and parts[1] == "action" and method == "POST":
            return self._action(ctx, vid, body)
        return 405, {"badMethod": {"message": "Method not allowed", "code": 405}}

    def _action(self, ctx: RequestContext, vid: str, body: Any) -> tuple[int, Any]:
        api = self.volumes
        if not isinstance(body, dict) or len(body) != 1:
            raise BadRequest("Invalid request body: exactly one action is expected.")
        (name, arg), = body.items()
        arg = arg if isinstance(arg, dict) else {}
        if name == "os-reset_status":
            api.reset_status(ctx, vid, arg.get("status"), arg.get("attach_status"))
        elif name == "os-force_detach":
            api.force_detach(ctx, vid, arg.get("attachment_id"), arg.get("connector"))
        elif name == "os-reserve":
            api.reserve(ctx, vid)
        elif name == "os-unreserve":
            api.unreserve(ctx, vid)
        elif name == "os-initialize_connection":
            return 200, {"connection_info": api.initialize_connection(ctx, vid, arg.get("connector") or {})}
        elif name == "os-attach":
            if not arg.get("mountpoint") or not (arg.get("instance_uuid") or arg.get("host_name")):
                raise BadRequest("Invalid input received: os-attach needs mountpoint and instance_uuid or host_name.")
            api.attach(ctx, vid, arg.get("instance_uuid"), arg.get("host_name"), arg["mountpoint"])
        elif name == "os-begin_detaching":
            api.begin_detaching(ctx, vid)
        elif name == "os-roll_detaching":
            api.roll_detaching(ctx, vid)
        elif name == "os-terminate_connection":
            api.terminate_connection(ctx, vid, arg.get("connector") or {})
        elif name == "os-detach":
            api.detach(ctx, vid, arg.get("attachment_id"))
        else:
            raise BadRequest(f"There is no such action: {name}")
        return 202, None

    # ---- snapshots ------------------------------------------------------------------------------
    def _snapshots(self, ctx: RequestContext, method: str, parts: list[str], body: Any, base: str,
                   query: Any) -> tuple[int, Any]:
        api = self.volumes
        if not parts or parts == ["detail"]:
            if method == "POST" and not parts:
                b = _member(body, "snapshot")
                if not isinstance(b.get("volume_id"), str):
                    raise BadRequest("Invalid input received: 'volume_id' is a required property.")
                force = str(b.get("force", False)).lower() in ("true", "1")
                snap = api.create_snapshot(ctx, b["volume_id"], name=b.get("name"),
                                           description=b.get("description"), force=force)
                return 202, {"snapshot": snapshot_view(snap)}
            all_projects = query.get("all_tenants") not in (None, "0", "false", "False") and ctx.is_admin
            with api.db.read() as conn:
                items = vol.list_snapshots(conn, None if all_projects else ctx.project_id, query.get("volume_id"))
            return 200, {"snapshots": [snapshot_view(i) for i in items]}
        sid = parts[0]
        if len(parts) == 1 and method == "GET":
            with api.db.read() as conn:
                return 200, {"snapshot": snapshot_view(vol.get_snapshot(conn, ctx, sid))}
        if len(parts) == 1 and method == "DELETE":
            api.delete_snapshot(ctx, sid)
            return 202, None
        if parts[1:] == ["action"] and method == "POST":
            if not isinstance(body, dict) or set(body) != {"os-reset_status"}:
                raise BadRequest(f"There is no such action: {', '.join(body or {}) or '(none)'}")
            api.reset_snapshot_status(ctx, sid, (body["os-reset_status"] or {}).get("status"))
            return 202, None
        return 405, {"badMethod": {"message": "Method not allowed", "code": 405}}

    def _limits(self, ctx: RequestContext, method: str, parts: list[str], body: Any, base: str,
                query: Any) -> tuple[int, Any]:
        lim, used = self.volumes.config.quota_limits, self.volumes.usage(ctx.project_id or "")
        return 200, {"limits": {"rate": [], "absolute": {
            "maxTotalVolumes": lim["volumes"], "maxTotalSnapshots": lim["snapshots"],
            "maxTotalVolumeGigabytes": lim["gigabytes"], "maxTotalBackups": 0, "maxTotalBackupGigabytes": 0,
            "totalVolumesUsed": used["volumes"], "totalSnapshotsUsed": used["snapshots"],
            "totalGigabytesUsed": used["gigabytes"], "totalBackupsUsed": 0, "totalBackupGigabytesUsed": 0}}}


def create_volume_app(db: Database, auth_settings: AuthSettings | None, region_name: str, clock: Clock | None = None,
                      *, config: vol.VolumeConfig | None = None, volumes: vol.VolumeAPI | None = None) -> VolumeApp:
    """Cinder v3 for one region over ``db`` — the same database as the region's compute.

    Pass ``volumes=compute.rt.volumes`` (or give both the same :class:`VolumeConfig`) so compute's
    in-process calls and the HTTP API share limits; otherwise a new service is made from ``config``.
    """
    api = volumes or vol.VolumeAPI(db, clock, config)
    return VolumeApp(api, make_authenticator(auth_settings or AuthSettings()), region_name)
