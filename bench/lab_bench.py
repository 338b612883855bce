"""The lab's footprint: time from `regionmesh lab up --detach` to every service answering, and the
memory (RSS) of the whole lab after start. Figures only. Usage: python bench/lab_bench.py"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from regionmesh.lab.control import read_state, rss_mb
from regionmesh.lab.launcher import LabOptions

EXE = str(Path(sys.executable).with_name("regionmesh"))




def main() -> None:
    state = Path(tempfile.mkdtemp(prefix="rm-labbench-")) / "lab"
    t0 = time.perf_counter()
    up = subprocess.run([EXE, "lab", "up", "--detach", "--state-dir", str(state), "--port-offset",
                         str(LabOptions().pick_free_offset())], capture_output=True, text=True, timeout=300)
    took = time.perf_counter() - t0
    if up.returncode != 0:
        raise SystemExit(up.stdout + up.stderr)
    info = read_state(state)
    assert info is not None
    mem = rss_mb(int(info["pid"]))
    print(f"lab up (identity, central, admin API, 2 regions with compute and images, 2 workers): "
          f"ready in {took:5.1f} s, RSS {mem:6.1f} MB (goal < 300 MB)", flush=True)
    subprocess.run([EXE, "lab", "down", "--state-dir", str(state)], capture_output=True, timeout=60)


if __name__ == "__main__":
    main()
