"""The lab: every service of the one-machine cloud, started from one command.

Today the lab runs the central Neutron v2.0 API with its SQLite database under the state
directory; identity, the admin API and the regions join it as their issues land. Every listener
is configurable and ``port_offset`` shifts them all, so a lab can run beside another OpenStack.
"""

from __future__ import annotations

import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import TextIO

from regionmesh.api.server import ThreadedServer, build_neutron, port_in_use
from regionmesh.config import Settings, load_settings

CENTRAL_PORT = 20001


@dataclass
class LabOptions:
    state_dir: Path = Path(".lab")
    host: str = "127.0.0.1"
    port_offset: int = 0
    central_port: int = CENTRAL_PORT
    database: str | None = None
    noauth: bool = True
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def central_url(self) -> str:
        return f"http://{self.host}:{self.central_port + self.port_offset}"


class PortTaken(RuntimeError):
    """A lab listener's port is in use; the message names the service and the way out."""


def central_settings(opts: LabOptions) -> Settings:
    opts.state_dir.mkdir(parents=True, exist_ok=True)
    url = opts.database or f"sqlite:///{opts.state_dir.resolve()}/central.db"
    return load_settings(env={}, database__url=url, auth__strategy="noauth" if opts.noauth else "keystone",
                         api__host=opts.host, api__port=opts.central_port + opts.port_offset)


class Lab:
    """The running lab's services (in this process, each on its own listener)."""

    def __init__(self, opts: LabOptions, out: TextIO = sys.stdout) -> None:
        self.opts = opts
        self.out = out
        self.servers: list[tuple[str, ThreadedServer]] = []

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def start(self) -> None:
        opts = self.opts
        port = opts.central_port + opts.port_offset
        if port_in_use(opts.host, port):
            raise PortTaken(f"central Neutron API: {opts.host}:{port} is already in use; stop what holds it or "
                            f"start the lab with --port-offset N")
        self.say(f"[lab] state directory {opts.state_dir.resolve()}")
        self.say("[lab] central Neutron API: preparing database…")
        app = build_neutron(central_settings(opts))
        self.servers.append(("central Neutron API (CentralRegion)", ThreadedServer(app, opts.host, port).start()))
        self.say(f"[lab] central Neutron API ready on {opts.central_url}/ (noauth until the lab identity service "
                 f"lands: every caller is trusted)")

    def stop(self) -> None:
        for name, server in reversed(self.servers):
            server.stop()
            self.say(f"[lab] stopped {name}")
        self.servers.clear()

    def summary(self) -> str:
        url = self.opts.central_url
        return "\n".join([
            "",
            "RegionMesh lab is up.",
            f"  central Neutron v2.0 API   {url}/v2.0",
            "",
            "Try:",
            f"  curl -s {url}/v2.0/networks",
            f"  curl -s -X POST {url}/v2.0/networks -H 'Content-Type: application/json' "
            "-d '{\"network\": {\"name\": \"net1\"}}'",
            f"  openstack --os-auth-type none --os-endpoint {url} network list",
            "",
            "Ctrl-C stops the lab.",
        ])


def run_foreground(opts: LabOptions) -> int:
    """``regionmesh lab up``: start, print the endpoints, wait for Ctrl-C, stop cleanly."""
    lab = Lab(opts)
    try:
        lab.start()
    except PortTaken as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    lab.say(lab.summary())
    stopping = {"flag": False}

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stopping["flag"] = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        while not stopping["flag"]:
            signal.pause()
    finally:
        lab.say("[lab] stopping…")
        lab.stop()
    return 0
