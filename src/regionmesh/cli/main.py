"""The ``regionmesh`` command."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Any

from regionmesh.config import load_settings


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from regionmesh.api.server import build_neutron, port_in_use

    overrides = {}
    if args.database:
        overrides["database__url"] = args.database
    if args.noauth:
        overrides["auth__strategy"] = "noauth"
    settings = load_settings(args.config_file, **overrides)
    host = args.host or settings.api.host
    port = args.port or settings.api.port
    if port_in_use(host, port):
        print(f"error: the Neutron API cannot listen on {host}:{port}: the port is already taken. "
              f"Choose another with --port.", file=sys.stderr)
        return 2
    print(f"regionmesh: database {settings.database.url.split('@')[-1]}; upgrading schema…", flush=True)
    app = build_neutron(settings)
    print(f"regionmesh: Neutron v2.0 API on http://{host}:{port}/ (auth: {settings.auth.strategy})", flush=True)
    if settings.auth.strategy == "noauth":
        print("regionmesh: WARNING: authentication is disabled (noauth); every caller is trusted.", flush=True)
    uvicorn.run(app, host=host, port=port, log_level=args.log_level, access_log=args.access_log)
    return 0


def _db_upgrade(args: argparse.Namespace) -> int:
    from regionmesh.db.migrate import upgrade

    settings = load_settings(args.config_file, **({"database__url": args.database} if args.database else {}))
    upgrade(settings.database.url)
    print("database is at the latest schema")
    return 0


def _lab_up(args: argparse.Namespace) -> int:
    from pathlib import Path

    from regionmesh.lab.launcher import LabOptions, run_foreground

    if args.detach:
        from regionmesh.lab.control import detach

        return detach(sys.argv[1:], Path(args.state_dir))

    from regionmesh.lab.control import DATABASE_ENV

    # `lab up --detach` hands --database over in the environment (no password on a command line).
    database = args.database or os.environ.get(DATABASE_ENV) or None
    opts = LabOptions(state_dir=Path(args.state_dir), port_offset=args.port_offset, database=database,
                      regions=args.regions, register_pods=args.register_pods, noauth=args.noauth,
                      worker_processes=args.worker_processes)
    return run_foreground(opts)


def _worker(args: argparse.Namespace) -> int:
    """A job worker process: claims due jobs from the central database and runs them until stopped."""
    import signal
    import threading

    from regionmesh.api.server import service_token
    from regionmesh.db.engine import Database
    from regionmesh.db.migrate import upgrade
    from regionmesh.jobs.engine import JobContext, Worker
    from regionmesh.jobs.handlers import HANDLERS
    from regionmesh.jobs.store import backoff_from_settings
    from regionmesh.network.core import NetworkCore
    from regionmesh.region.driver import RegionDirectory

    overrides: dict[str, Any] = {}
    if args.database:
        overrides["database__url"] = args.database
    settings = load_settings(args.config_file, **overrides)
    endpoints = dict(settings.role.region_endpoints)
    for item in args.region_endpoint or []:
        name, _, url = item.partition("=")
        endpoints[name] = url
    upgrade(settings.database.url)
    core = NetworkCore(settings, Database(settings.database.url))
    directory = RegionDirectory(endpoints, token=service_token(settings))
    worker = Worker(core.db, HANDLERS, JobContext(core, directory), worker_id=args.worker_id,
                    lease_seconds=args.lease or settings.admin.job_lease_seconds,
                    backoff=backoff_from_settings(settings.admin))
    listener = None
    if core.db.engine.dialect.name == "postgresql":  # woken by NOTIFY when a job is written, not only by polling
        from regionmesh.jobs.wakeup import JobListener

        listener = JobListener(settings.database.url, worker.wakeup.set).start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print(f"regionmesh: job worker {worker.worker_id} on {settings.database.url.split('@')[-1]} "
          f"({len(endpoints)} regions)", flush=True)
    worker.run_forever(stop, idle_wait=args.idle_wait)
    if listener is not None:
        listener.stop()
    return 0


def _lab_control(args: argparse.Namespace) -> int:
    from pathlib import Path

    from regionmesh.lab import control

    action = {"status": control.status, "down": control.down, "reset": control.reset}[args.lab_action]
    return int(action(Path(args.state_dir)))


def _lab_service(args: argparse.Namespace) -> int:
    from pathlib import Path

    from regionmesh.lab.control import service_action

    name = f"{args.region}:{args.name}" if args.kind == "host" else args.name
    return service_action(Path(args.state_dir), args.kind, name, args.action)


def _operator(args: argparse.Namespace) -> int:
    from regionmesh.cli.operator import run

    if args.action in ("show", "redo") and not args.id:
        print(f"error: `regionmesh {args.resource} {args.action}` needs a job id", file=sys.stderr)
        return 2
    return run(args)


def _walkthrough(args: argparse.Namespace) -> int:
    from regionmesh.cli.walkthrough import main as walk

    return walk(args)


def _doctor(args: argparse.Namespace) -> int:
    from regionmesh.cli.operator import doctor

    return doctor(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="regionmesh", description="One Neutron API for a multi-region cloud.")
    parser.add_argument("--config-file", help="TOML settings file (also REGIONMESH_CONFIG)")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the Neutron v2.0 API")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--database", help="database URL (sqlite:///path or postgresql+psycopg://...)")
    serve.add_argument("--noauth", action="store_true", help="trust identity headers (tests only)")
    serve.add_argument("--log-level", default="info")
    serve.add_argument("--access-log", action="store_true")
    serve.set_defaults(func=_serve)
    lab = sub.add_parser("lab", help="the one-machine multi-region lab")
    lab_sub = lab.add_subparsers(dest="lab_command", required=True)
    up = lab_sub.add_parser("up", help="start the lab in the foreground (Ctrl-C stops it)")
    up.add_argument("--state-dir", default=".lab", help="where databases and logs live (default ./.lab)")
    up.add_argument("--port-offset", type=int, default=0, help="shift every listener's port by N")
    up.add_argument("--database", help="central database URL, e.g. postgresql+psycopg://USER:PASSWORD@HOST/DB "
                                       "(default: SQLite in the state directory; also $REGIONMESH_LAB_DATABASE)")
    up.add_argument("--regions", type=int, default=2, help="how many lab regions (default 2)")
    up.add_argument("--worker-processes", type=int, default=0, metavar="N",
                    help="run the job workers as N `regionmesh worker` processes (needs a PostgreSQL --database; "
                         "default: 2 threads in the lab process)")
    up.add_argument("--noauth", action="store_true", help="no identity service: trust identity headers (tests)")
    up.add_argument("--register-pods", action="store_true",
                    help="register CentralRegion and the regions as pods (by default the operator does it)")
    up.add_argument("--detach", action="store_true", help="run in the background (see lab status / lab down)")
    up.set_defaults(func=_lab_up)
    region_cmd = lab_sub.add_parser("region", help="stop or start a lab region's services (failure injection)")
    region_cmd.add_argument("action", choices=["stop", "start"])
    region_cmd.add_argument("name", help="region name, e.g. RegionOne")
    region_cmd.add_argument("--state-dir", default=".lab")
    region_cmd.set_defaults(func=_lab_service, kind="region")
    central_cmd = lab_sub.add_parser("central", help="stop or start the central Neutron API")
    central_cmd.add_argument("action", choices=["stop", "start"])
    central_cmd.add_argument("--state-dir", default=".lab")
    central_cmd.set_defaults(func=_lab_service, kind="central", name="CentralRegion")
    host_cmd = lab_sub.add_parser("host", help="stop or start a compute host (when the lab has compute)")
    host_cmd.add_argument("action", choices=["stop", "start"])
    host_cmd.add_argument("region")
    host_cmd.add_argument("name")
    host_cmd.add_argument("--state-dir", default=".lab")
    host_cmd.set_defaults(func=_lab_service, kind="host")
    for name, help_text in (("status", "show each service's state, endpoint and memory"),
                            ("down", "stop the lab; no process or listener is left"),
                            ("reset", "stop the lab and delete its state directory")):
        cmd = lab_sub.add_parser(name, help=help_text)
        cmd.add_argument("--state-dir", default=".lab")
        cmd.set_defaults(func=_lab_control, lab_action=name)
    for name, actions in (("pods", ["list"]), ("routings", ["list"]), ("jobs", ["list", "show", "redo", "watch"])):
        res = sub.add_parser(name, help=f"the Admin API's {name} ({', '.join(actions)})")
        res.add_argument("action", choices=actions, nargs="?", default="list")
        res.add_argument("id", nargs="?", help="job id (show, redo)")
        res.add_argument("--os-cloud", default="regionmesh-admin")
        res.add_argument("--state-dir", default=".lab")
        res.add_argument("-f", "--format", choices=["table", "json"], default="table")
        res.add_argument("--status", help="jobs: only this status")
        res.add_argument("--resource-type", help="routings: only this resource type")
        res.add_argument("--timeout", type=float, default=120.0, help="watch: give up after this many seconds")
        res.add_argument("--interval", type=float, default=1.0, help="watch: seconds between looks")
        res.set_defaults(func=_operator, resource=name)
    walk = sub.add_parser("walkthrough", help="run the seed 001 walkthrough step by step against the running lab")
    walk.add_argument("--state-dir", default=".lab")
    walk.set_defaults(func=_walkthrough)
    doc = sub.add_parser("doctor", help="check the lab and say what is wrong and how to fix it")
    doc.add_argument("--os-cloud", default="regionmesh-admin")
    doc.add_argument("--state-dir", default=".lab")
    doc.set_defaults(func=_doctor)
    worker = sub.add_parser("worker", help="run a job worker against the central database")
    worker.add_argument("--database", help="central database URL")
    worker.add_argument("--region-endpoint", action="append", metavar="REGION=URL",
                        help="a region's Neutron endpoint (repeat per region)")
    worker.add_argument("--worker-id")
    worker.add_argument("--lease", type=float, help="lease seconds (default: admin.job_lease_seconds)")
    worker.add_argument("--idle-wait", type=float, default=1.0,
                        help="seconds between polls when idle (on PostgreSQL NOTIFY wakes it sooner)")
    worker.set_defaults(func=_worker)
    db = sub.add_parser("db-upgrade", help="bring the database schema up to date")
    db.add_argument("--database")
    db.set_defaults(func=_db_upgrade)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
