"""The seam between the shared Neutron domain and the role a service plays.

The same ``network`` code serves central (top) and every lab region (bottom); what differs by role
— a region materialising resources from central on first sight, creating ports through central,
forwarding bindings — plugs in here. The default role changes nothing (a standalone Neutron).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from regionmesh.context import RequestContext

if TYPE_CHECKING:
    from regionmesh.network.query import ListParams
    from regionmesh.network.service import ResourceService


class Role:
    """Hooks the pipeline calls; every default is a no-op."""

    name = "standalone"

    def check_readable(self, ctx: RequestContext, svc: ResourceService, resource_id: str) -> None:
        """Before a GET by id (central hides resources that are being deleted)."""

    def run_delete(self, ctx: RequestContext, svc: ResourceService, original: dict[str, Any],
                   delete: Callable[[], None]) -> None:
        """Run ``delete`` (the local delete); a role may wrap it (central deletes bottom copies first)."""
        delete()

    def resolve_missing(self, ctx: RequestContext, svc: ResourceService, resource_id: str) -> dict[str, Any] | None:
        """A GET found nothing locally: return the resource after materialising it, or ``None``."""
        return None

    def before_list(self, ctx: RequestContext, svc: ResourceService, params: ListParams) -> None:
        """A list is about to run (a region materialises resources asked for by ``id``)."""

    def prepare_create(self, ctx: RequestContext, svc: ResourceService,
                       items: Sequence[dict[str, Any]]) -> None:
        """Validated items are about to be created (a region creates ports in central first)."""

    def before_update(self, ctx: RequestContext, svc: ResourceService, original: dict[str, Any],
                      changes: dict[str, Any]) -> None:
        """An update passed policy and is about to run (a region forwards bindings to central)."""

    def before_delete(self, ctx: RequestContext, svc: ResourceService, original: dict[str, Any]) -> None:
        """A delete passed policy and is about to run."""
