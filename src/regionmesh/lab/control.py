"""Running the lab in the background: ``lab up --detach``, ``lab status``, ``lab down``, ``lab reset``.

A detached lab is one ``regionmesh lab up`` process in its own session, logging to
``<state>/lab.log``. When every service is ready it writes ``<state>/lab.json`` (its pid and
endpoints, its central database with the password masked, its job worker processes if any);
``status`` reads that file and probes each endpoint, ``down`` stops the process (and any worker
process it left behind) and waits until no listener is left. ``--database`` goes to the background
process through the environment, not its command line, so ``ps`` never shows a database password.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

STATE_FILE = "lab.json"


def state_path(state_dir: Path) -> Path:
    return state_dir / STATE_FILE


DATABASE_ENV = "REGIONMESH_LAB_DATABASE"


def write_state(state_dir: Path, endpoints: dict[str, str], control: dict[str, str] | None = None, *,
                database: str | None = None, workers: list[dict[str, Any]] | None = None,
                worker_threads: int | None = None) -> None:
    """Called by the running lab once everything is ready (0600: it holds the control token).

    ``database`` must already be masked; ``workers`` lists the job worker processes (id, pid, log).
    """
    path = state_path(state_dir)
    path.touch(mode=0o600)
    path.write_text(json.dumps({"pid": os.getpid(), "endpoints": endpoints, "control": control,
                                "database": database, "workers": workers or [],
                                "worker_threads": worker_threads}, indent=2))


def clear_state(state_dir: Path) -> None:
    state_path(state_dir).unlink(missing_ok=True)


def read_state(state_dir: Path) -> dict[str, Any] | None:
    try:
        return dict(json.loads(state_path(state_dir).read_text()))
    except (FileNotFoundError, ValueError):
        return None


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def listening(url: str) -> bool:
    host, _, port = url.removeprefix("http://").split("/")[0].partition(":")
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, int(port))) == 0


def _without_database(argv: list[str]) -> tuple[list[str], str | None]:
    """``argv`` minus ``--detach`` and ``--database URL`` (returned apart: it may hold a password)."""
    out: list[str] = []
    database = None
    args = iter(argv)
    for arg in args:
        if arg == "--detach":
            continue
        if arg == "--database":
            database = next(args, None)
        elif arg.startswith("--database="):
            database = arg.partition("=")[2]
        else:
            out.append(arg)
    return out, database


def _start_error(log: Path, offset: int) -> str | None:
    """The last ``error:`` line the background lab wrote to its log since ``offset``."""
    try:
        with log.open("rb") as fh:
            fh.seek(offset)
            text = fh.read().decode(errors="replace")
    except OSError:
        return None
    errors = [line for line in text.splitlines() if line.startswith("error: ")]
    return errors[-1] if errors else None


def detach(argv: list[str], state_dir: Path, timeout: float = 60.0) -> int:
    """Start ``regionmesh lab up`` (without --detach) in the background and wait until it is ready."""
    from regionmesh.lab.workers import regionmesh_command

    state_dir.mkdir(parents=True, exist_ok=True)
    current = read_state(state_dir)
    if current and alive(int(current["pid"])):
        print(f"the lab in {state_dir} is already running (pid {current['pid']}); `regionmesh lab status` shows it")
        return 0
    clear_state(state_dir)
    log_path = state_dir / "lab.log"
    log = log_path.open("ab")
    offset = log.tell()
    args, database = _without_database(argv)
    env = dict(os.environ)
    if database is not None:
        env[DATABASE_ENV] = database
    proc = subprocess.Popen([*regionmesh_command(), *args], stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True, env=env)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            reason = _start_error(log_path, offset)
            if reason:
                print(reason, file=sys.stderr)
            else:
                print(f"error: the lab exited during start-up (code {proc.returncode}); see {log_path}",
                      file=sys.stderr)
            return 2
        if read_state(state_dir):
            print(f"the lab is up in the background (pid {proc.pid}); log: {state_dir / 'lab.log'}")
            return status(state_dir)
        time.sleep(0.1)  # waiting for the child's ready file, bounded by the deadline
    proc.terminate()
    print(f"error: the lab did not become ready within {timeout:.0f} s; see {state_dir / 'lab.log'}", file=sys.stderr)
    return 2


def status(state_dir: Path) -> int:
    state = read_state(state_dir)
    if state is None or not alive(int(state["pid"])):
        print(f"the lab in {state_dir} is not running (`make lab` or `regionmesh lab up --detach` starts it)")
        if state is not None:
            from regionmesh.lab.workers import is_worker_process

            left = [int(w["pid"]) for w in state.get("workers") or [] if is_worker_process(int(w["pid"]))]
            if left:
                print(f"  its job worker processes are still running (pids {', '.join(map(str, left))}): "
                      "`regionmesh lab down` stops them")
        return 3
    pid = int(state["pid"])
    mem = rss_mb(pid)
    print(f"lab pid {pid}, memory (RSS) {mem:.0f} MB" if mem is not None else f"lab pid {pid}")
    if state.get("database"):
        print(f"central database {state['database']}")
    for name, url in state["endpoints"].items():
        print(f"  {'up  ' if listening(url) else 'DOWN'}  {name:<24} {url}")
    _print_workers(state)
    return 0


def _print_workers(state: dict[str, Any]) -> None:
    from regionmesh.lab.workers import is_worker_process

    workers = state.get("workers") or []
    if not workers:
        threads = state.get("worker_threads")
        if threads:
            print(f"  job workers: {threads} threads in the lab process")
        return
    for w in workers:
        pid = int(w["pid"])
        mem = rss_mb(pid) if is_worker_process(pid) else None
        up = "up  " if is_worker_process(pid) else "DOWN"
        detail = f"pid {pid}" + (f", {mem:.0f} MB" if mem is not None else "")
        print(f"  {up}  job worker {w['id']:<24} {detail}  (log {w['log']})")


def _stop_leftover_workers(state: dict[str, Any], timeout: float) -> list[int]:
    """Worker processes the lab did not stop (it was killed): stop them; returns the pids still alive."""
    from regionmesh.lab.workers import CONFIG_FILE, is_worker_process

    if state.get("workers"):
        state_dir = Path(state["workers"][0]["log"]).parent
        (state_dir / CONFIG_FILE).unlink(missing_ok=True)  # the workers' settings hold passwords
    pids = [int(w["pid"]) for w in state.get("workers") or [] if is_worker_process(int(w["pid"]))]
    for pid in pids:
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(is_worker_process(p) for p in pids):
        time.sleep(0.05)  # waiting for the workers to exit, bounded
    for pid in pids:
        if is_worker_process(pid):
            os.kill(pid, signal.SIGKILL)
    return [p for p in pids if is_worker_process(p)]


def down(state_dir: Path, timeout: float = 30.0) -> int:
    """Stop the lab and wait until its process and its listeners are gone."""
    state = read_state(state_dir)
    if state is None or not alive(int(state["pid"])):
        # A lab that was killed may have left its worker processes running.
        workers_left = _stop_leftover_workers(state, timeout=10.0) if state else []
        clear_state(state_dir)
        if workers_left:
            print(f"error: job worker processes still running after stop: {workers_left}", file=sys.stderr)
            return 1
        print("the lab is not running")
        return 0
    pid = int(state["pid"])
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and alive(pid):
        time.sleep(0.05)  # waiting for the process to exit, bounded
    if alive(pid):
        os.kill(pid, signal.SIGKILL)
    left = [url for url in state["endpoints"].values() if listening(url)]
    workers_left = _stop_leftover_workers(state, timeout=10.0)
    clear_state(state_dir)
    if left:
        print(f"error: still listening after stop: {', '.join(left)}", file=sys.stderr)
        return 1
    if workers_left:
        print(f"error: job worker processes still running after stop: {workers_left}", file=sys.stderr)
        return 1
    print("the lab is down")
    return 0


def service_action(state_dir: Path, kind: str, name: str, action: str) -> int:
    """``lab region stop RegionOne`` and friends: ask the running lab through its control endpoint."""
    import httpx

    state = read_state(state_dir)
    if state is None or not alive(int(state["pid"])) or not state.get("control"):
        print(f"the lab in {state_dir} is not running (start it with `regionmesh lab up --detach`)", file=sys.stderr)
        return 3
    control = state["control"]
    resp = httpx.post(f"{control['url']}/{kind}/{name}/{action}", headers={"X-Lab-Token": control["token"]},
                      timeout=30)
    if resp.status_code != 200:
        print(f"error: {resp.json().get('error', resp.text)}", file=sys.stderr)
        return 2
    print(f"{kind} {name}: {resp.json()['state']}")
    return 0


def reset(state_dir: Path) -> int:
    """Stop the lab and forget its state (databases, passwords, logs)."""
    code = down(state_dir)
    if state_dir.exists():
        shutil.rmtree(state_dir)
    print(f"removed {state_dir}")
    return code
