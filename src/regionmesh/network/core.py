"""The network domain assembled: database, services, pipeline, policy, quotas, callbacks, notifier.

One :class:`NetworkCore` serves one Neutron API (central or a lab region). Role-specific layers
(``central``, ``region``) hook in through the callback registry and the availability-zone hooks,
never by editing the services.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from regionmesh.config import Settings
from regionmesh.context import RequestContext
from regionmesh.db.engine import Database
from regionmesh.network import callbacks
from regionmesh.network import exceptions as exc
from regionmesh.network.networks import NetworkService
from regionmesh.network.notifications import MemorySink, Notifier
from regionmesh.network.pipeline import Pipeline
from regionmesh.network.policy import Enforcer, load_enforcer
from regionmesh.network.ports import PortService
from regionmesh.network.quotas import QuotaEngine
from regionmesh.network.role import Role
from regionmesh.network.security_groups import SecurityGroupRuleService, SecurityGroupService
from regionmesh.network.service import ResourceService
from regionmesh.network.subnetpools import SubnetPoolService
from regionmesh.network.subnets import SubnetService


class AvailabilityZoneNotFound(exc.NotFound):
    message = "AvailabilityZone %(availability_zone)s could not be found."


class NetworkCore:
    """Everything one Neutron API needs, wired once."""

    def __init__(self, settings: Settings, db: Database | None = None, *,
                 registry: callbacks.CallbackRegistry | None = None,
                 enforcer: Enforcer | None = None, notifier: Notifier | None = None) -> None:
        self.settings = settings
        self.db = db or Database(settings.database.url, echo=settings.database.echo,
                                 pool_size=settings.database.pool_size,
                                 retry_limit=settings.database.retry_limit)
        self.registry = registry or callbacks.CallbackRegistry()
        self.enforcer = enforcer or load_enforcer(settings.api.policy_file)
        self.notifications = MemorySink()
        self.notifier = notifier or Notifier(sinks=[self.notifications], publisher_id="network.regionmesh")
        self.quotas = QuotaEngine(self.db, settings.quotas)
        self.pipeline = Pipeline(self)
        self.role: Role = Role()
        # Role layers replace these: central maps hints to pods, a region reports itself.
        self.az_names: Callable[[], Sequence[str]] = lambda: list(settings.network.default_availability_zones)
        self.networks = NetworkService(self)
        self.subnets = SubnetService(self)
        self.subnetpools = SubnetPoolService(self)
        self.ports = PortService(self)
        self.security_groups = SecurityGroupService(self)
        self.security_group_rules = SecurityGroupRuleService(self)
        self.services: dict[str, ResourceService] = {
            s.rdef.collection: s for s in (self.networks, self.subnets, self.subnetpools, self.ports,
                                           self.security_groups, self.security_group_rules)
        }
        self._load_l3()

    def _load_l3(self) -> None:
        """Routers and floating IPs, when their module is present."""
        try:
            from regionmesh.network.floatingips import FloatingIPService
            from regionmesh.network.routers import RouterService
        except ImportError:
            return
        self.routers = RouterService(self)
        self.floatingips = FloatingIPService(self)
        self.services["routers"] = self.routers
        self.services["floatingips"] = self.floatingips

    # ---- hooks used by the services -----------------------------------------------------------
    def validate_az_hints(self, hints: Sequence[str]) -> None:
        known = set(self.az_names())
        for hint in hints:
            if hint not in known:
                raise AvailabilityZoneNotFound(availability_zone=hint)

    def availability_zones_of(self, row: Any) -> list[str]:
        return []

    def notify(self, ctx: RequestContext, event_type: str, payload: Any) -> None:
        self.notifier.info(ctx, event_type, payload)

    def service(self, collection: str) -> ResourceService:
        return self.services[collection]
