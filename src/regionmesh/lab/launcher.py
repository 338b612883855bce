"""The lab: the one-machine multi-region cloud, started from one command.

Today the lab runs the identity service (a Keystone v3 subset with a catalog of every endpoint),
central's Neutron API (CentralRegion), the Admin API (pods, routings, jobs), job workers, and N lab
regions (RegionOne/az1, RegionTwo/az2, …) each with its own Neutron API and database; compute and
the data plane join as their issues land. It writes ``clouds.yaml`` (clouds ``regionmesh-admin``
and ``regionmesh-demo``) into its state directory; passwords are generated once and kept there. Every listener is
configurable and ``port_offset`` shifts them all, so a lab can run beside another OpenStack.
The lab registers pods only with ``register_pods``: by default the operator does, as in seed 001.
"""

from __future__ import annotations

import json
import random
import secrets
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

import yaml

from regionmesh.api.admin_v1 import create_admin_app
from regionmesh.api.server import ThreadedServer, build_neutron, port_in_use
from regionmesh.central import pods
from regionmesh.config import Settings, load_settings
from regionmesh.jobs.engine import JobContext, Worker, WorkerPool
from regionmesh.jobs.handlers import HANDLERS
from regionmesh.lab.control import clear_state, write_state
from regionmesh.lab.database import DatabaseUnavailable, check_database, is_postgresql, mask_url
from regionmesh.lab.workers import (
    CONFIG_FILE,
    WorkerProcess,
    start_worker_processes,
    stop_worker_processes,
    write_worker_config,
)
from regionmesh.network import callbacks as cb

IDENTITY_PORT = 5000
CENTRAL_PORT = 20001
COMPUTE_BASE_PORT = 8774  # RegionOne 8774, RegionTwo 8784, … (Nova's port, 10 apart)
IMAGE_BASE_PORT = 9292
VOLUME_BASE_PORT = 8776  # RegionOne 8776, RegionTwo 8786, …
ADMIN_PORT = 19999
REGION_BASE_PORT = 9696


@dataclass
class LabOptions:
    state_dir: Path = Path(".lab")
    host: str = "127.0.0.1"
    port_offset: int = 0
    identity_port: int = IDENTITY_PORT
    central_port: int = CENTRAL_PORT
    admin_port: int = ADMIN_PORT
    region_base_port: int = REGION_BASE_PORT
    regions: int = 2
    workers: int = 2
    database: str | None = None
    # >0: the job workers run as that many `regionmesh worker` processes (PostgreSQL only) instead of threads.
    worker_processes: int = 0
    register_pods: bool = False
    # Trust identity headers instead of tokens (tests that predate identity; never for users).
    noauth: bool = False

    def url(self, port: int) -> str:
        return f"http://{self.host}:{port + self.port_offset}"

    @property
    def central_url(self) -> str:
        return self.url(self.central_port)

    hosts_per_region: int = 2

    def compute_port(self, index: int) -> int:
        return COMPUTE_BASE_PORT + 10 * index

    def image_port(self, index: int) -> int:
        return IMAGE_BASE_PORT + index

    def volume_port(self, index: int) -> int:
        return VOLUME_BASE_PORT + 10 * index

    def base_ports(self) -> list[int]:
        """Every listener's port before the offset."""
        out = [self.identity_port, self.central_port, self.admin_port]
        for i, (_, _, port) in enumerate(self.region_names()):
            out += [port, self.compute_port(i), self.image_port(i), self.volume_port(i)]
        return out

    def host_names(self, region: str) -> list[str]:
        return [f"{region.lower()}-host{n}" for n in range(1, self.hosts_per_region + 1)]

    def pick_free_offset(self, low: int = 1000, high: int | None = None, tries: int = 100) -> int:
        """A random offset at which every listener's port is free (tests and benchmarks run labs side by side).

        Every port stays below the kernel's ephemeral range: a port in it may be handed to any client
        socket or port-0 server between this check and the lab's bind."""
        ports = self.base_ports()
        if high is None:
            high = ephemeral_port_floor() - max(ports)
        for _ in range(tries):
            offset = random.randrange(low, max(high, low + 1))
            if not any(port_in_use(self.host, p + offset) for p in ports):
                return offset
        raise PortTaken(f"no free block of ports found between offsets {low} and {high}")

    def region_names(self) -> list[tuple[str, str, int]]:
        """(region name, availability zone, port) for each lab region."""
        words = ["One", "Two", "Three", "Four", "Five", "Six", "Seven", "Eight", "Nine", "Ten"]
        out = []
        for i in range(self.regions):
            name = f"Region{words[i]}" if i < len(words) else f"Region{i + 1}"
            out.append((name, f"az{i + 1}", self.region_base_port + i))
        return out


def ephemeral_port_floor() -> int:
    """The first port the kernel hands out to client sockets and port-0 servers (Linux's default 32768)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


class LabStartError(RuntimeError):
    """The lab cannot start as asked; the message is one line saying why and what to do."""


class PortTaken(LabStartError):
    """A lab listener's port is in use; the message names the service and the way out."""


class BadOptions(LabStartError):
    """Options that cannot work together (e.g. worker processes on SQLite)."""


SERVICE_USER = "regionmesh"


def lab_secrets(state_dir: Path) -> dict[str, str]:
    """The lab's passwords: generated on first start, kept (0600) so a second ``lab up`` reuses them."""
    path = state_dir / "secrets.json"
    if path.exists():
        return dict(json.loads(path.read_text()))
    secrets_ = {name: secrets.token_urlsafe(12) for name in ("admin", "demo", SERVICE_USER)}
    path.touch(mode=0o600)
    path.write_text(json.dumps(secrets_))
    return secrets_


def _settings(opts: LabOptions, db_name: str, port: int, **extra: Any) -> Settings:
    opts.state_dir.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{opts.state_dir.resolve()}/{db_name}.db"
    if db_name == "central" and opts.database:
        url = opts.database
    if opts.noauth:
        auth: dict[str, Any] = {"auth__strategy": "noauth"}
    else:
        auth = {"auth__strategy": "keystone", "auth__auth_url": opts.url(opts.identity_port) + "/v3",
                "auth__username": SERVICE_USER, "auth__password": lab_secrets(opts.state_dir)[SERVICE_USER],
                "auth__project_name": "service"}
    return load_settings(env={}, database__url=url, api__host=opts.host, api__port=port + opts.port_offset,
                         **auth, **extra)


class Lab:
    """The running lab's services (in this process, each on its own listener)."""

    def __init__(self, opts: LabOptions, out: TextIO = sys.stdout) -> None:
        self.opts = opts
        self.out = out
        self.servers: list[tuple[str, ThreadedServer]] = []
        self.workers: WorkerPool | None = None
        self.worker_processes: list[WorkerProcess] = []
        self.central_app: Any = None
        # Services that can be stopped and started on demand (failures for users and tests alike).
        self.services: dict[str, tuple[str, Any, int]] = {}
        self.control: ThreadedServer | None = None
        self.computes: dict[str, Any] = {}
        self.control_token = secrets.token_urlsafe(16)

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def _check_ports(self) -> None:
        opts = self.opts
        wanted = [("central Neutron API", opts.central_port), ("Admin API", opts.admin_port)]
        if not opts.noauth:
            wanted.append(("identity", opts.identity_port))
        for i, (name, _, port) in enumerate(opts.region_names()):
            wanted += [(f"{name} Neutron API", port), (f"{name} compute API", opts.compute_port(i)),
                       (f"{name} image API", opts.image_port(i)), (f"{name} volume API", opts.volume_port(i))]
        for name, port in wanted:
            if port_in_use(opts.host, port + opts.port_offset):
                raise PortTaken(f"{name}: {opts.host}:{port + opts.port_offset} is already in use; stop what holds "
                                f"it or start the lab with --port-offset N")

    def _serve(self, name: str, app: Any, port: int, key: str | None = None) -> ThreadedServer:
        server = ThreadedServer(app, self.opts.host, port + self.opts.port_offset).start()
        self.servers.append((name, server))
        if key is not None:
            self.services[key] = (name, app, port)
        self.say(f"[lab] {name} ready on {server.url}/")
        return server

    def _server_of(self, name: str) -> ThreadedServer | None:
        return next((s for n, s in self.servers if n == name), None)

    def stop_service(self, key: str) -> str:
        """Stop one service's listener, as if its machine died; its state stays for a restart."""
        name, _, _ = self.services[key]
        server = self._server_of(name)
        if server is None:
            return "stopped"
        server.stop()
        self.servers = [(n, s) for n, s in self.servers if n != name]
        self.say(f"[lab] {name} stopped on request")
        return "stopped"

    def start_service(self, key: str) -> str:
        name, app, port = self.services[key]
        if self._server_of(name) is None:
            self._serve(name, app, port)
        return "running"

    def _check_options(self) -> None:
        opts = self.opts
        if opts.worker_processes < 0:
            raise BadOptions(f"--worker-processes {opts.worker_processes}: give 1 or more (0: worker threads)")
        if opts.worker_processes and not is_postgresql(opts.database):
            where = f"--database {mask_url(opts.database)}" if opts.database else "SQLite (no --database)"
            raise BadOptions(f"--worker-processes needs central on PostgreSQL, not {where}: add --database "
                             "postgresql+psycopg://USER:PASSWORD@HOST:PORT/DBNAME or leave --worker-processes out "
                             "(worker threads)")

    def start(self) -> None:
        """Start every service; on a :class:`LabStartError` nothing has been started."""
        opts = self.opts
        self._check_options()
        self._check_ports()
        if opts.database:
            try:
                check_database(opts.database)
            except DatabaseUnavailable as err:
                raise LabStartError(str(err)) from None
        opts.state_dir.mkdir(parents=True, exist_ok=True)
        self.say(f"[lab] state directory {opts.state_dir.resolve()}")
        endpoints = {name: opts.url(port) for name, _, port in opts.region_names()}
        if opts.noauth:
            self.say("[lab] WARNING: --noauth: authentication is off, every caller is trusted")
        else:
            self._start_identity(endpoints)
        # An external network created without a hint lives in the first region (the operator can hint
        # another): so `openstack network create --external` works as in a single-region cloud.
        central = _settings(opts, "central", opts.central_port, role__role="central",
                            role__region_endpoints=endpoints,
                            role__default_region_for_external_network=opts.region_names()[0][0])
        self.say(f"[lab] central: preparing database {mask_url(central.database.url)}…")
        self.central_app = build_neutron(central)
        self._serve("central Neutron API (CentralRegion)", self.central_app, opts.central_port, key="central")
        core = self.central_app.core
        self._serve("Admin API", create_admin_app(central, core.db), opts.admin_port)
        for i, (name, az, port) in enumerate(opts.region_names()):
            settings = _settings(opts, name, port, role__role="region", role__region_name=name, role__az_name=az,
                                 role__central_url=opts.central_url)
            region_app = build_neutron(settings)
            self._serve(f"{name} Neutron API ({az})", region_app, port, key=f"region:{name}")
            self._start_compute(i, name, az, settings, region_app)
        from regionmesh.lab.control_api import create_control_app

        self.control = ThreadedServer(create_control_app(self), opts.host, 0).start()
        if opts.register_pods:
            self.register_pods()
        if opts.worker_processes:
            self.start_worker_processes(central)
        else:
            self.start_workers()
        # Workers sleep until the next job is due; a change in central wakes them at once.
        for resource in (cb.PORT, cb.SECURITY_GROUP_RULE, cb.ROUTER_INTERFACE, cb.ROUTER, cb.NETWORK, cb.SUBNET,
                         cb.FLOATING_IP):
            for event in (cb.AFTER_CREATE, cb.AFTER_UPDATE, cb.AFTER_DELETE):
                core.registry.subscribe(self._wake_workers, resource, event)

    def _start_compute(self, index: int, name: str, az: str, settings: Settings, region_app: Any) -> None:
        """The region's compute (two hosts by default) and images, over the region's own database."""
        from regionmesh.api.compute_v21 import create_compute_app
        from regionmesh.api.image_v2 import create_image_app
        from regionmesh.api.volume_v3 import create_volume_app

        opts = self.opts
        db = region_app.core.db
        compute = create_compute_app(settings, db, opts.url(opts.region_base_port + index), name, az,
                                     opts.host_names(name))
        self.computes[name] = compute
        self._serve(f"{name} compute API", compute, opts.compute_port(index), key=f"compute:{name}")
        self._serve(f"{name} image API", create_image_app(db, settings.auth), opts.image_port(index),
                    key=f"image:{name}")
        volumes = create_volume_app(db, settings.auth, name, volumes=compute.compute.rt.volumes)
        self._serve(f"{name} volume API", volumes, opts.volume_port(index), key=f"volume:{name}")

    def _wake_workers(self, resource: str, event: str, trigger: Any, payload: Any = None) -> None:
        if self.workers is not None:
            self.workers.wake()

    def start_workers(self) -> None:
        core = self.central_app.core
        directory = core.role.directory
        self.workers = WorkerPool(lambda i: Worker(core.db, HANDLERS, JobContext(core, directory),
                                                   worker_id=f"lab-worker-{i}"), self.opts.workers).start()
        self.say(f"[lab] {self.opts.workers} job workers running")

    def start_worker_processes(self, central: Settings) -> None:
        """N `regionmesh worker` processes with central's settings (PostgreSQL: SKIP LOCKED claims)."""
        opts = self.opts
        auth = central.auth
        config = opts.state_dir / CONFIG_FILE
        write_worker_config(config, {
            "database": {"url": central.database.url},
            "auth": {"strategy": auth.strategy, "auth_url": auth.auth_url, "username": auth.username,
                     "password": auth.password, "project_name": auth.project_name},
            "role": {"role": "central",
                     "default_region_for_external_network": central.role.default_region_for_external_network,
                     "region_endpoints": dict(central.role.region_endpoints)},
            "admin": {"job_lease_seconds": central.admin.job_lease_seconds,
                      "job_backoff_base": central.admin.job_backoff_base,
                      "job_backoff_cap": central.admin.job_backoff_cap},
        })
        self.worker_processes = start_worker_processes(opts.state_dir, opts.worker_processes, config)
        pids = ", ".join(str(w.pid) for w in self.worker_processes)
        self.say(f"[lab] {opts.worker_processes} job worker processes running (pids {pids}; logs "
                 f"{opts.state_dir / 'worker-N.log'})")

    def worker_info(self) -> list[dict[str, Any]]:
        """What `lab status` shows about the job workers (and `lab down` stops)."""
        return [{"id": w.worker_id, "pid": w.pid, "log": str(w.log)} for w in self.worker_processes]

    def _start_identity(self, endpoints: dict[str, str]) -> None:
        """Identity first: every other service validates tokens against it."""
        from regionmesh.api.identity_v3 import create_identity_app
        from regionmesh.identity.bootstrap import BootstrapSpec, CatalogEntry, bootstrap

        opts = self.opts
        self.say("[lab] identity: preparing database…")
        app = create_identity_app(f"sqlite:///{opts.state_dir.resolve()}/identity.db", token_expiration=86400)
        server = ThreadedServer(app, opts.host, opts.identity_port + opts.port_offset)
        catalog = [CatalogEntry("network", "neutron", "CentralRegion", opts.central_url),
                   CatalogEntry("multiregion-networking", "regionmesh", "CentralRegion",
                                opts.url(opts.admin_port) + "/v1.0")]
        catalog += [CatalogEntry("network", "neutron", name, url) for name, url in endpoints.items()]
        for i, (name, _, _) in enumerate(opts.region_names()):
            volume_url = opts.url(opts.volume_port(i)) + "/v3/%(project_id)s"
            catalog += [CatalogEntry("compute", "nova", name, opts.url(opts.compute_port(i)) + "/v2.1"),
                        CatalogEntry("image", "glance", name, opts.url(opts.image_port(i))),
                        CatalogEntry("volumev3", "cinderv3", name, volume_url),
                        CatalogEntry("block-storage", "cinder", name, volume_url)]
        pw = lab_secrets(opts.state_dir)
        bootstrap(app.store, BootstrapSpec(admin_password=pw["admin"], demo_password=pw["demo"],
                                           identity_url=server.url + "/v3", catalog=catalog,
                                           service_users={SERVICE_USER: pw[SERVICE_USER]},
                                           regions=["CentralRegion", *endpoints]))
        server.start()
        self.servers.append(("identity", server))
        self.say(f"[lab] identity ready on {server.url}/v3")
        self.write_clouds_yaml()

    @property
    def clouds_yaml(self) -> Path:
        return self.opts.state_dir / "clouds.yaml"

    def write_clouds_yaml(self) -> None:
        opts = self.opts
        pw = lab_secrets(opts.state_dir)

        def cloud(user: str, project: str) -> dict[str, Any]:
            return {"auth": {"auth_url": opts.url(opts.identity_port) + "/v3", "username": user,
                             "password": pw[user], "project_name": project, "user_domain_name": "Default",
                             "project_domain_name": "Default"},
                    "regions": ["CentralRegion", *(name for name, _, _ in opts.region_names())],
                    "identity_api_version": 3, "interface": "public"}

        doc = {"clouds": {"regionmesh-admin": cloud("admin", "admin"), "regionmesh-demo": cloud("demo", "demo")}}
        self.clouds_yaml.touch(mode=0o600)
        self.clouds_yaml.write_text(yaml.safe_dump(doc, sort_keys=False))

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
        if self.control is not None:
            self.control.stop()
            self.control = None
        if self.workers is not None:
            self.workers.stop()
            self.workers = None
        if self.worker_processes:
            stop_worker_processes(self.worker_processes, self.out)
            self.worker_processes = []
            (self.opts.state_dir / CONFIG_FILE).unlink(missing_ok=True)
        for name, server in reversed(self.servers):
            server.stop()
            self.say(f"[lab] stopped {name}")
        self.servers.clear()
        for compute in self.computes.values():
            compute.close()
        self.computes.clear()

    def endpoints(self) -> dict[str, str]:
        opts = self.opts
        out = {} if opts.noauth else {"identity": opts.url(opts.identity_port) + "/v3"}
        out["central Neutron API"] = opts.central_url + "/v2.0"
        out["Admin API"] = opts.url(opts.admin_port) + "/v1.0"
        for i, (name, _, port) in enumerate(opts.region_names()):
            out[f"{name} Neutron API"] = opts.url(port) + "/v2.0"
            out[f"{name} compute API"] = opts.url(opts.compute_port(i)) + "/v2.1"
            out[f"{name} image API"] = opts.url(opts.image_port(i))
            out[f"{name} volume API"] = opts.url(opts.volume_port(i)) + "/v3"
        return out

    def summary(self) -> str:
        opts = self.opts
        admin = opts.url(opts.admin_port)
        lines = ["", "RegionMesh lab is up."]
        if not opts.noauth:
            lines += [f"  identity       Keystone v3    {opts.url(opts.identity_port)}/v3"]
        lines += [f"  CentralRegion  Neutron v2.0   {opts.central_url}/v2.0",
                 f"  Admin API      (pods, jobs)   {admin}/v1.0"]
        for i, (name, az, port) in enumerate(opts.region_names()):
            lines += [f"  {name:<14} Neutron v2.0   {opts.url(port)}/v2.0  ({az})",
                      f"  {'':<14} Nova v2.1      {opts.url(opts.compute_port(i))}/v2.1  "
                      f"(hosts {', '.join(opts.host_names(name))})",
                      f"  {'':<14} Glance v2      {opts.url(opts.image_port(i))}",
                      f"  {'':<14} Cinder v3      {opts.url(opts.volume_port(i))}/v3"]
        auth = "" if opts.noauth else ' -H "X-Auth-Token: $TOKEN"'
        lines += ["", "Next (seed 001, step 1): register the regions as pods"]
        if not opts.noauth:
            lines += [f"  export OS_CLIENT_CONFIG_FILE={self.clouds_yaml.resolve()}",
                      "  TOKEN=$(openstack --os-cloud regionmesh-admin token issue -f value -c id)"]
        lines += [f"  curl -X POST {admin}/v1.0/pods{auth} -H 'Content-Type: application/json' "
                  "-d '{\"pod\": {\"region_name\": \"CentralRegion\"}}'"]
        lines += [f"  curl -X POST {admin}/v1.0/pods{auth} -H 'Content-Type: application/json' "
                  f"-d '{{\"pod\": {{\"region_name\": \"{n}\", \"az_name\": \"{az}\"}}}}'"
                  for n, az, _ in opts.region_names()]
        if opts.noauth:
            lines += ["then create networks in CentralRegion:",
                      f"  openstack --os-auth-type none --os-endpoint {opts.central_url} network create net1"]
        else:
            lines += ["then create networks in CentralRegion (clouds regionmesh-admin and regionmesh-demo):",
                      "  NET1=$(openstack --os-cloud regionmesh-demo --os-region-name CentralRegion network create "
                      "--availability-zone-hint az1 net1 -f value -c id)",
                      "  openstack --os-cloud regionmesh-demo --os-region-name RegionOne network show $NET1",
                      "  openstack --os-cloud regionmesh-admin catalog list"]
        lines += ["", "Ctrl-C stops the lab."]
        return "\n".join(lines)


def run_foreground(opts: LabOptions) -> int:
    """``regionmesh lab up``: start, print the endpoints, wait for Ctrl-C, stop cleanly."""
    lab = Lab(opts)
    try:
        lab.start()
    except LabStartError as err:
        print(f"error: {err}", file=sys.stderr, flush=True)
        lab.stop()
        return 2
    except BaseException:
        lab.stop()  # nothing half-started is left listening
        raise
    lab.say(lab.summary())
    assert lab.control is not None
    write_state(opts.state_dir, lab.endpoints(), control={"url": lab.control.url, "token": lab.control_token},
                database=mask_url(opts.database) if opts.database else "SQLite (state directory)",
                workers=lab.worker_info() if opts.worker_processes else None,
                worker_threads=0 if opts.worker_processes else opts.workers)
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
        clear_state(opts.state_dir)
    return 0
