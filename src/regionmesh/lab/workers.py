"""The lab's job workers as separate ``regionmesh worker`` processes (``lab up --worker-processes N``).

Only on PostgreSQL: there, workers in different processes claim jobs with ``FOR UPDATE SKIP LOCKED``
and never wait on one another, which is how a real deployment runs them. (SQLite has one writer;
the lab runs its workers as threads there.) Each process reads its settings from a 0600 TOML file in
the state directory, so the database password and the service password never appear on a command
line; each logs to ``<state>/worker-N.log``. The lab stops them when it stops; ``lab down`` makes
sure none is left even if the lab process itself was killed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

CONFIG_FILE = "worker.toml"


def regionmesh_command() -> list[str]:
    """How to run ``regionmesh`` from this interpreter (the console script, or ``python -m``)."""
    exe = Path(sys.executable).with_name("regionmesh")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "regionmesh.cli.main"]


def _toml_value(value: Any) -> str:
    """A TOML scalar (JSON's string escapes are valid TOML basic-string escapes)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(str(value))


def write_worker_config(path: Path, sections: dict[str, dict[str, Any]]) -> None:
    """Write the workers' settings (0600: it holds passwords); nested dicts become sub-tables."""
    lines: list[str] = []
    for name, values in sections.items():
        lines.append(f"[{name}]")
        tables = {k: v for k, v in values.items() if isinstance(v, dict)}
        lines += [f"{k} = {_toml_value(v)}" for k, v in values.items() if k not in tables]
        for key, table in tables.items():
            lines.append(f"[{name}.{key}]")
            lines += [f"{json.dumps(str(k))} = {_toml_value(v)}" for k, v in table.items()]
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text("\n".join(lines) + "\n")


@dataclass
class WorkerProcess:
    worker_id: str
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.proc.pid


def start_worker_processes(state_dir: Path, count: int, config: Path) -> list[WorkerProcess]:
    """Start ``count`` ``regionmesh worker`` processes reading ``config``; their logs go to the state dir."""
    # The workers take their settings from the file alone, as the lab's own services do.
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGIONMESH_")}
    out = []
    for i in range(1, count + 1):
        worker_id = f"lab-worker-process-{i}"
        log_path = state_dir / f"worker-{i}.log"
        with log_path.open("ab") as log:
            proc = subprocess.Popen([*regionmesh_command(), "--config-file", str(config), "worker",
                                     "--worker-id", worker_id],
                                    stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
        out.append(WorkerProcess(worker_id, proc, log_path))
    return out


def stop_worker_processes(workers: list[WorkerProcess], out: TextIO | None = None, timeout: float = 15.0) -> None:
    """SIGTERM every worker (each finishes its current job), then SIGKILL what is left at the deadline."""
    for w in workers:
        if w.proc.poll() is None:
            w.proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for w in workers:
        try:
            w.proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            w.proc.kill()
            w.proc.wait(5)
        if out is not None:
            print(f"[lab] stopped job worker process {w.worker_id} (pid {w.pid})", file=out, flush=True)


def is_worker_process(pid: int) -> bool:
    """True while ``pid`` is alive and still a ``regionmesh worker`` (not a reused pid)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except FileNotFoundError:
        return False
    except OSError:  # no /proc: fall back to liveness
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    return b"worker" in cmdline and any(b"regionmesh" in part for part in cmdline)
