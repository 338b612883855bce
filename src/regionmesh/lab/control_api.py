"""The running lab's control endpoint: stop and start its services on demand (failure injection).

Loopback only, on a random port recorded in ``<state>/lab.json`` with a token that the file (mode
0600) alone holds. ``regionmesh lab region stop RegionOne`` and ``lab central stop`` talk to it.
"""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING, Any

import anyio.to_thread
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

if TYPE_CHECKING:
    from regionmesh.lab.launcher import Lab


def create_control_app(lab: Lab) -> Starlette:
    async def act(request: Request) -> JSONResponse:
        token = request.headers.get("x-lab-token", "")
        if not hmac.compare_digest(token, lab.control_token):
            return JSONResponse({"error": "bad or missing lab control token"}, status_code=401)
        kind, name, action = (request.path_params[k] for k in ("kind", "name", "action"))
        if kind == "host":
            region, _, host = name.partition(":")
            compute = lab.computes.get(region)
            if compute is None or host not in compute.compute.hosts or action not in ("stop", "start"):
                hosts = {r: sorted(c.compute.hosts) for r, c in lab.computes.items()}
                return JSONResponse({"error": f"unknown host {host!r} in {region!r} or action {action!r}; hosts: "
                                              f"{hosts}"}, status_code=404)
            await anyio.to_thread.run_sync(compute.stop_host if action == "stop" else compute.start_host, host)
            return JSONResponse({"service": f"host:{name}", "state": "stopped" if action == "stop" else "running"})
        key = "central" if kind == "central" else f"region:{name}"
        if key not in lab.services or action not in ("stop", "start"):
            known = ", ".join(sorted(k.split(":")[-1] for k in lab.services))
            return JSONResponse({"error": f"unknown {kind} {name!r} or action {action!r}; services: {known}"},
                                status_code=404)
        handler: Any = lab.stop_service if action == "stop" else lab.start_service
        state = await anyio.to_thread.run_sync(handler, key)
        return JSONResponse({"service": key, "state": state})

    return Starlette(routes=[Route("/{kind}/{name}/{action}", act, methods=["POST"])])
