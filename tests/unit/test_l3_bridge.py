"""The per-project bridge /24 comes from ``bridge_cidr``: first free, never reused, exhaustion is permanent."""

from __future__ import annotations

import pytest

from regionmesh.jobs.errors import PermanentJobError
from regionmesh.jobs.l3_handlers import allocate_bridge_cidr


def test_first_free_slash24_of_the_pool() -> None:
    assert allocate_bridge_cidr("100.0.0.0/9", []) == "100.0.0.0/24"
    assert allocate_bridge_cidr("100.0.0.0/9", ["100.0.0.0/24", "100.0.2.0/24"]) == "100.0.1.0/24"


def test_overlapping_allocations_are_skipped() -> None:
    assert allocate_bridge_cidr("100.0.0.0/9", ["100.0.0.0/23"]) == "100.0.2.0/24"


def test_exhausted_pool_is_a_permanent_error() -> None:
    with pytest.raises(PermanentJobError, match="no free /24"):
        allocate_bridge_cidr("10.0.0.0/23", ["10.0.0.0/24", "10.0.1.0/24"])
