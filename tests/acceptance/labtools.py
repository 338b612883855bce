"""Shared by the acceptance tests: the `openstack` binary of this venv and an in-process lab."""

from __future__ import annotations

import io
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from regionmesh.lab.launcher import Lab, LabOptions

OPENSTACK = shutil.which("openstack", path=str(Path(sys.executable).parent)) or shutil.which("openstack")


def running_lab(state_dir: Path, **options: Any) -> Iterator[Lab]:
    """A lab on free ports (beside other tests' labs), stopped when the fixture ends."""
    opts = LabOptions(state_dir=state_dir, **options)
    opts.port_offset = opts.pick_free_offset()
    lab = Lab(opts, out=io.StringIO())
    lab.start()
    try:
        yield lab
    finally:
        lab.stop()
