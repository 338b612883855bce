"""SC-01 end to end as an operator would run it: `regionmesh lab up --detach`, then
`regionmesh walkthrough` — pods by the Admin API, networks in CentralRegion, real boots in RegionOne
and RegionTwo, ext-net, router, gateway and a floating IP — all through the public APIs with real
tokens, stopping at the first problem."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from regionmesh.lab.launcher import LabOptions

EXE = str(Path(sys.executable).with_name("regionmesh"))


def test_seed_001_walkthrough_holds_end_to_end(tmp_path: Path) -> None:
    state = str(tmp_path / "lab")
    up = subprocess.run([EXE, "lab", "up", "--detach", "--state-dir", state, "--port-offset",
                         str(LabOptions().pick_free_offset())], capture_output=True, text=True, timeout=120)
    assert up.returncode == 0, up.stdout + up.stderr
    try:
        walk = subprocess.run([EXE, "walkthrough", "--state-dir", state], capture_output=True, text=True,
                              timeout=300)
        assert walk.returncode == 0, walk.stdout + walk.stderr
        out = walk.stdout
        assert "vm1 ACTIVE in RegionOne" in out and "vm2 ACTIVE in RegionTwo" in out
        assert "created in RegionTwo at once" in out
        assert "DOWN at creation, ACTIVE once associated" in out
        assert "holds end to end" in out
    finally:
        down = subprocess.run([EXE, "lab", "down", "--state-dir", state], capture_output=True, text=True,
                              timeout=60)
        assert down.returncode == 0, down.stdout + down.stderr
