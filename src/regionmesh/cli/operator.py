"""``regionmesh pods|routings|jobs …`` and ``regionmesh doctor``: the operator's view of a lab or a
deployment, in a table or as JSON.

Credentials come from a clouds.yaml cloud (default: the lab's ``regionmesh-admin``), with the same
lookup the OpenStack clients use (``OS_CLIENT_CONFIG_FILE``, then ``./clouds.yaml``, then
``<state>/clouds.yaml``); the Admin API is found in the token's catalog. Only plain HTTP (httpx) —
no OpenStack client libraries are needed at run time.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import httpx
import yaml

SERVICE_TYPE = "multiregion-networking"


class OperatorError(RuntimeError):
    """Something the operator must fix; the message says what."""


def find_clouds_yaml(state_dir: Path) -> Path:
    for candidate in (os.environ.get("OS_CLIENT_CONFIG_FILE"), "clouds.yaml", str(state_dir / "clouds.yaml")):
        if candidate and Path(candidate).exists():
            return Path(candidate)
    raise OperatorError(f"no clouds.yaml found (set OS_CLIENT_CONFIG_FILE, or start the lab: `make lab` writes "
                        f"{state_dir / 'clouds.yaml'})")


class AdminSession:
    """A token and the Admin API's URL for one cloud."""

    def __init__(self, cloud: str, state_dir: Path, region: str = "CentralRegion") -> None:
        path = find_clouds_yaml(state_dir)
        clouds = (yaml.safe_load(path.read_text()) or {}).get("clouds", {})
        if cloud not in clouds:
            raise OperatorError(f"cloud {cloud!r} is not in {path} (it has: {', '.join(clouds) or 'none'})")
        auth = clouds[cloud]["auth"]
        body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
            "name": auth["username"], "password": auth["password"],
            "domain": {"name": auth.get("user_domain_name", "Default")}}}},
            "scope": {"project": {"name": auth["project_name"],
                                  "domain": {"name": auth.get("project_domain_name", "Default")}}}}}
        url = auth["auth_url"].rstrip("/")
        try:
            resp = httpx.post(f"{url}/auth/tokens", json=body, timeout=15)
        except httpx.HTTPError as err:
            raise OperatorError(f"identity service at {url} unreachable ({type(err).__name__}); is the lab up? "
                                f"(`regionmesh lab status`)") from err
        if resp.status_code != 201:
            raise OperatorError(f"identity service refused cloud {cloud!r} (HTTP {resp.status_code}); check "
                                f"its credentials in {path}")
        self.token = resp.headers["X-Subject-Token"]
        self.token_body = resp.json()["token"]
        self.catalog = self.token_body.get("catalog", [])
        base = self.endpoint(SERVICE_TYPE, region)
        self.base = base if base.endswith("/v1.0") else base + "/v1.0"
        self.client = httpx.Client(headers={"X-Auth-Token": self.token}, timeout=30)

    def endpoint(self, service_type: str, region: str) -> str:
        urls = [e["url"] for s in self.catalog if s["type"] == service_type for e in s["endpoints"]
                if e.get("interface") == "public" and e.get("region", e.get("region_id")) == region]
        if not urls:
            raise OperatorError(f"the catalog has no {service_type} endpoint in {region}")
        return str(urls[0]).rstrip("/")

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            resp = self.client.request(method, self.base + path, **kwargs)
        except httpx.HTTPError as err:
            raise OperatorError(f"Admin API at {self.base} unreachable ({type(err).__name__})") from err
        if resp.status_code >= 400:
            try:
                detail = next(iter(resp.json().values()))["message"]
            except (ValueError, StopIteration, KeyError, TypeError, AttributeError):
                detail = resp.text
            raise OperatorError(f"{method} {path}: HTTP {resp.status_code}: {detail}")
        return resp.json() if resp.content else None


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    """A plain text table (no dependency), or a note when there is nothing to show."""
    if not rows:
        return "(none)"
    cells = [[str(r.get(c, "") if r.get(c) is not None else "") for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    line = "  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))
    body = ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join([line, "  ".join("-" * w for w in widths), *body])


def show(items: Any, columns: Sequence[str], fmt: str) -> None:
    if fmt == "json":
        print(json.dumps(items, indent=2))
    elif isinstance(items, list):
        print(table(items, columns))
    else:
        for key, value in items.items():
            print(f"{key:<16} {value}")


JOB_COLUMNS = ("id", "type", "status", "attempts", "resource", "last_error")


def _job_row(job: dict[str, Any]) -> dict[str, Any]:
    return {**job, "resource": "#".join(job.get("resource", {}).values()),
            "last_error": (job.get("last_error") or "")[:60]}


def run(args: Any) -> int:
    try:
        return _run(args)
    except OperatorError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


def _run(args: Any) -> int:
    session = AdminSession(args.os_cloud, Path(args.state_dir))
    what, action = args.resource, args.action
    if what == "pods":
        pods = session.call("GET", "/pods")["pods"]
        show(pods, ("pod_id", "region_name", "az_name", "pod_az_name", "dc_name"), args.format)
    elif what == "routings":
        params = {"resource_type": args.resource_type} if args.resource_type else {}
        rows = session.call("GET", "/routings", params=params)["routings"]
        show(rows, ("id", "top_id", "bottom_id", "pod_id", "resource_type"), args.format)
    elif action == "list":
        params = {"status": args.status} if args.status else {}
        jobs = session.call("GET", "/jobs", params=params)["jobs"]
        show(jobs if args.format == "json" else [_job_row(j) for j in jobs], JOB_COLUMNS, args.format)
    elif action == "show":
        show(session.call("GET", f"/jobs/{args.id}")["job"], (), args.format)
    elif action == "redo":
        show(session.call("PUT", f"/jobs/{args.id}")["job"], (), args.format)
    elif action == "watch":
        return watch(session, args.timeout, args.interval)
    return 0


def watch(session: AdminSession, timeout: float, interval: float) -> int:
    """Print job state changes until every job is SUCCESS (0), one FAILs (1) or time runs out (3)."""
    seen: dict[str, tuple[str, int]] = {}
    deadline = time.monotonic() + timeout
    while True:
        jobs = session.call("GET", "/jobs")["jobs"]
        for job in jobs:
            state = (job["status"], job["attempts"])
            if seen.get(job["id"]) != state:
                seen[job["id"]] = state
                extra = f" — {job['last_error']}" if job.get("last_error") else ""
                print(f"{job['type']:<18} {'#'.join(job['resource'].values())}: {job['status']} "
                      f"(attempt {job['attempts']}){extra}", flush=True)
        if jobs and all(j["status"] == "SUCCESS" for j in jobs):
            print("all jobs SUCCESS")
            return 0
        if any(j["status"] == "FAIL" for j in jobs):
            print("a job FAILed: see its last_error; `regionmesh jobs redo ID` runs it again")
            return 1
        if time.monotonic() > deadline:
            print("still converging when --timeout ran out")
            return 3
        time.sleep(interval)  # an operator's polling interval, not synchronisation


def doctor(args: Any) -> int:
    """Check the lab and say what is wrong and how to fix it."""
    from regionmesh.lab.control import alive, listening, read_state

    state_dir = Path(args.state_dir)
    problems: list[str] = []
    state = read_state(state_dir)
    if state is None or not alive(int(state["pid"])):
        print(f"✗ no running lab in {state_dir}: start it with `make lab` (or `regionmesh lab up --detach`)")
        return 1
    print(f"✓ lab running (pid {state['pid']})")
    for name, url in state["endpoints"].items():
        if listening(url):
            print(f"✓ {name} answers at {url}")
        else:
            problems.append(f"{name} is down at {url}: `regionmesh lab {_service_hint(name)} start`")
    try:
        session = AdminSession(args.os_cloud, state_dir)
        print(f"✓ cloud {args.os_cloud!r} gets a token; Admin API at {session.base}")
        pods = session.call("GET", "/pods")["pods"]
        if not pods:
            problems.append("no pods registered: register CentralRegion and each region "
                            "(`openstack multiregion networking pod create --region-name RegionOne "
                            "--availability-zone az1`, or the curl calls `lab up` printed)")
        elif not any(p["az_name"] == "" for p in pods):
            problems.append("no top pod: register CentralRegion with an empty az_name")
        else:
            print(f"✓ {len(pods)} pods: {', '.join(p['region_name'] for p in pods)}")
        failed = [j for j in session.call("GET", "/jobs")["jobs"] if j["status"] == "FAIL"]
        problems += [f"job {j['id']} ({j['type']}) FAILed: {j.get('last_error')}; fix the cause, then "
                     f"`regionmesh jobs redo {j['id']}`" for j in failed]
    except OperatorError as err:
        problems.append(str(err))
    for problem in problems:
        print(f"✗ {problem}")
    if not problems:
        print("everything looks right")
    return 1 if problems else 0


def _service_hint(name: str) -> Iterable[str] | str:
    if name.startswith("central"):
        return "central"
    if name.startswith("Region"):
        return f"region {name.split()[0]}"
    return "down; regionmesh lab up --detach; regionmesh lab"
