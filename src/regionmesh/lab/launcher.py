"""The lab: the one-machine multi-region cloud, started from one command.

Today the lab runs central's Neutron API (CentralRegion), the Admin API (pods, routings, jobs),
job workers, and N lab regions (RegionOne/az1, RegionTwo/az2, …) each with its own Neutron API and
database; identity, compute and the data plane join as their issues land. Every listener is
configurable and ``port_offset`` shifts them all, so a lab can run beside another OpenStack.
The lab registers pods only with ``register_pods``: by default the operator does, as in seed 001.
"""

from __future__ import annotations

import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from regionmesh.api.admin_v1 import create_admin_app
from regionmesh.api.server import ThreadedServer, build_neutron, port_in_use
from regionmesh.central import pods
from regionmesh.config import Settings, load_settings
from regionmesh.jobs.engine import JobContext, Worker, WorkerPool
from regionmesh.jobs.handlers import HANDLERS
from regionmesh.network import callbacks as cb

CENTRAL_PORT = 20001
ADMIN_PORT = 19999
REGION_BASE_PORT = 9696


@dataclass
class LabOptions:
    state_dir: Path = Path(".lab")
    host: str = "127.0.0.1"
    port_offset: int = 0
    central_port: int = CENTRAL_PORT
    admin_port: int = ADMIN_PORT
    region_base_port: int = REGION_BASE_PORT
    regions: int = 2
    workers: int = 2
    database: str | None = None
    register_pods: bool = False

    def url(self, port: int) -> str:
        return f"http://{self.host}:{port + self.port_offset}"

    @property
    def central_url(self) -> str:
        return self.url(self.central_port)

    def region_names(self) -> list[tuple[str, str, int]]:
        """(region name, availability zone, port) for each lab region."""
        words = ["One", "Two", "Three", "Four", "Five", "Six", "Seven", "Eight", "Nine", "Ten"]
        out = []
        for i in range(self.regions):
            name = f"Region{words[i]}" if i < len(words) else f"Region{i + 1}"
            out.append((name, f"az{i + 1}", self.region_base_port + i))
        return out


class PortTaken(RuntimeError):
    """A lab listener's port is in use; the message names the service and the way out."""


def _settings(opts: LabOptions, db_name: str, port: int, **extra: Any) -> Settings:
    opts.state_dir.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{opts.state_dir.resolve()}/{db_name}.db"
    if db_name == "central" and opts.database:
        url = opts.database
    return load_settings(env={}, database__url=url, auth__strategy="noauth", api__host=opts.host,
                         api__port=port + opts.port_offset, **extra)


class Lab:
    """The running lab's services (in this process, each on its own listener)."""

    def __init__(self, opts: LabOptions, out: TextIO = sys.stdout) -> None:
        self.opts = opts
        self.out = out
        self.servers: list[tuple[str, ThreadedServer]] = []
        self.workers: WorkerPool | None = None
        self.central_app: Any = None

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def _check_ports(self) -> None:
        opts = self.opts
        wanted = [("central Neutron API", opts.central_port), ("Admin API", opts.admin_port)]
        wanted += [(f"{name} Neutron API", port) for name, _, port in opts.region_names()]
        for name, port in wanted:
            if port_in_use(opts.host, port + opts.port_offset):
                raise PortTaken(f"{name}: {opts.host}:{port + opts.port_offset} is already in use; stop what holds "
                                f"it or start the lab with --port-offset N")

    def _serve(self, name: str, app: Any, port: int) -> ThreadedServer:
        server = ThreadedServer(app, self.opts.host, port + self.opts.port_offset).start()
        self.servers.append((name, server))
        self.say(f"[lab] {name} ready on {server.url}/")
        return server

    def start(self) -> None:
        opts = self.opts
        self._check_ports()
        self.say(f"[lab] state directory {opts.state_dir.resolve()} (authentication off until the lab identity "
                 f"service lands: every caller is trusted)")
        endpoints = {name: opts.url(port) for name, _, port in opts.region_names()}
        central = _settings(opts, "central", opts.central_port, role__role="central",
                            role__region_endpoints=endpoints)
        self.say("[lab] central: preparing database…")
        self.central_app = build_neutron(central)
        self._serve("central Neutron API (CentralRegion)", self.central_app, opts.central_port)
        core = self.central_app.core
        self._serve("Admin API", create_admin_app(central, core.db), opts.admin_port)
        for name, az, port in opts.region_names():
            settings = _settings(opts, name, port, role__role="region", role__region_name=name, role__az_name=az,
                                 role__central_url=opts.central_url)
            self._serve(f"{name} Neutron API ({az})", build_neutron(settings), port)
        if opts.register_pods:
            self.register_pods()
        self.start_workers()
        # Workers sleep until the next job is due; a change in central wakes them at once.
        for resource in (cb.PORT, cb.SECURITY_GROUP_RULE, cb.ROUTER_INTERFACE, cb.ROUTER, cb.NETWORK, cb.SUBNET,
                         cb.FLOATING_IP):
            for event in (cb.AFTER_CREATE, cb.AFTER_UPDATE, cb.AFTER_DELETE):
                core.registry.subscribe(self._wake_workers, resource, event)

    def _wake_workers(self, resource: str, event: str, trigger: Any, payload: Any = None) -> None:
        if self.workers is not None:
            self.workers.wake()

    def start_workers(self) -> None:
        core = self.central_app.core
        directory = core.role.directory
        self.workers = WorkerPool(lambda i: Worker(core.db, HANDLERS, JobContext(core, directory),
                                                   worker_id=f"lab-worker-{i}"), self.opts.workers).start()
        self.say(f"[lab] {self.opts.workers} job workers running")

    def register_pods(self) -> None:
        core = self.central_app.core
        with core.db.begin() as conn:
            if pods.get_pod_by_region(conn, "CentralRegion") is None:
                pods.create_pod(conn, region_name="CentralRegion")
            for name, az, _ in self.opts.region_names():
                if pods.get_pod_by_region(conn, name) is None:
                    pods.create_pod(conn, region_name=name, az_name=az)
        self.say("[lab] pods registered: CentralRegion, " + ", ".join(n for n, _, _ in self.opts.region_names()))

    def stop(self) -> None:
        if self.workers is not None:
            self.workers.stop()
            self.workers = None
        for name, server in reversed(self.servers):
            server.stop()
            self.say(f"[lab] stopped {name}")
        self.servers.clear()

    def summary(self) -> str:
        opts = self.opts
        admin = opts.url(opts.admin_port)
        lines = ["", "RegionMesh lab is up.",
                 f"  CentralRegion  Neutron v2.0   {opts.central_url}/v2.0",
                 f"  Admin API      (pods, jobs)   {admin}/v1.0"]
        lines += [f"  {name:<14} Neutron v2.0   {opts.url(port)}/v2.0  ({az})" for name, az, port in
                  opts.region_names()]
        lines += ["", "Next (seed 001, step 1): register the regions as pods",
                  f"  curl -X POST {admin}/v1.0/pods -H 'Content-Type: application/json' "
                  "-d '{\"pod\": {\"region_name\": \"CentralRegion\"}}'"]
        lines += [f"  curl -X POST {admin}/v1.0/pods -H 'Content-Type: application/json' "
                  f"-d '{{\"pod\": {{\"region_name\": \"{n}\", \"az_name\": \"{az}\"}}}}'"
                  for n, az, _ in opts.region_names()]
        lines += ["then create networks in CentralRegion:",
                  f"  openstack --os-auth-type none --os-endpoint {opts.central_url} network create net1",
                  "", "Ctrl-C stops the lab."]
        return "\n".join(lines)


def run_foreground(opts: LabOptions) -> int:
    """``regionmesh lab up``: start, print the endpoints, wait for Ctrl-C, stop cleanly."""
    lab = Lab(opts)
    try:
        lab.start()
    except PortTaken as err:
        print(f"error: {err}", file=sys.stderr)
        lab.stop()
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
