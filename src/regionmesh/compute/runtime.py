"""What every compute part shares: configuration, database, clock, Neutron client, notifier."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from regionmesh.compute.neutron import NeutronClient
from regionmesh.compute.notify import Notifier
from regionmesh.compute.quota import DEFAULT_LIMITS
from regionmesh.context import RequestContext
from regionmesh.db.clock import Clock
from regionmesh.db.engine import Database

if TYPE_CHECKING:
    from regionmesh.compute.volumes import VolumeAPI


@dataclass
class ComputeConfig:
    """Nova's knobs that matter here (names follow nova.conf)."""

    region_name: str = "RegionOne"
    availability_zone: str = "nova"
    service_down_time: float = 60.0
    report_interval: float = 10.0
    # A DELETING instance whose host never acts is finished locally after this long (the seed's stuck case).
    delete_timeout: float = 300.0
    host_vcpus: int = 16
    host_memory_mb: int = 32768
    quota_limits: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_LIMITS))
    # Seconds a shelved instance stays on its host before offload; 0 (Nova's default) offloads at once,
    # -1 never offloads on its own (only shelveOffload does).
    shelved_offload_time: int = 0
    allow_resize_to_same_host: bool = False  # Nova's default: a resize must move to another host
    rpc_call_timeout: float = 60.0  # nova.conf rpc_response_timeout, for the API's synchronous calls
    # Seconds a soft-deleted instance can still be restored before the host reclaims it; 0 (Nova's
    # default) makes DELETE a real delete at once.
    reclaim_instance_interval: int = 0


@dataclass
class Runtime:
    config: ComputeConfig
    db: Database
    clock: Clock
    neutron: NeutronClient
    notifier: Notifier
    volumes_api: VolumeAPI | None = None  # the region's volume service; shared with the volume app when wired

    @property
    def volumes(self) -> VolumeAPI:
        """The region's volume service, called in process as Nova calls Cinder (same database)."""
        if self.volumes_api is None:
            from regionmesh.compute.volumes import VolumeAPI

            self.volumes_api = VolumeAPI(self.db, self.clock)
        return self.volumes_api


def service_context(project_id: str | None, user_id: str | None = None) -> RequestContext:
    """Nova's own identity acting for an instance's project (workers and periodic tasks)."""
    return RequestContext(user_id=user_id or "nova", project_id=project_id,
                          roles=frozenset({"admin", "service", "member", "reader"}))
