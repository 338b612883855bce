"""Running an API on a real HTTP listener (uvicorn), in the foreground or in a thread."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from collections.abc import Callable
from typing import Any

import uvicorn

from regionmesh.config import Settings
from regionmesh.db.migrate import upgrade
from regionmesh.network.core import NetworkCore

LOG = logging.getLogger(__name__)


def build_neutron(settings: Settings, *, migrate: bool = True) -> Any:
    """A ready Neutron v2.0 ASGI app for ``settings`` (schema upgraded first)."""
    from regionmesh.api.neutron_v2 import create_app

    if migrate:
        upgrade(settings.database.url)
    core = NetworkCore(settings)
    if settings.role.role == "region":
        from regionmesh.region.local import install_region_role

        install_region_role(core)
    elif settings.role.role == "central":
        from regionmesh.central.role import install_central_role
        from regionmesh.jobs.store import enqueue
        from regionmesh.region.driver import RegionDirectory

        install_central_role(core, enqueue, RegionDirectory(settings.role.region_endpoints,
                                                            token=service_token(settings)))
    return create_app(core)


def service_token(settings: Settings) -> Callable[[], str] | None:
    """The service's own token source for calls to other services (None in noauth deployments)."""
    from regionmesh.identity.client import service_token as from_auth

    return from_auth(settings.auth)


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


class ThreadedServer:
    """A uvicorn server in a background thread; ``start()`` returns once it accepts connections."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0) -> None:
        # proto=IPPROTO_TCP matters: asyncio only turns Nagle off (TCP_NODELAY) on sockets that say they
        # are TCP, and without it every response waits ~40 ms for a delayed ACK.
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.bind((host, port))
        self.host, self.port = self.sock.getsockname()[:2]
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self._run, name=f"api-{self.port}", daemon=True)
        self._ready = threading.Event()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _run(self) -> None:
        async def main() -> None:
            serve = asyncio.create_task(self.server.serve(sockets=[self.sock]))
            while not self.server.started and not serve.done():
                await asyncio.sleep(0.005)
            self._ready.set()
            await serve

        asyncio.run(main())

    def start(self) -> ThreadedServer:
        self.thread.start()
        if not self._ready.wait(30) or not self.server.started:
            raise RuntimeError(f"API server on {self.url} did not start")
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()
