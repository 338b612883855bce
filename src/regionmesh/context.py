"""The request context: who is calling, in which project, with which roles.

Built once at the API edge (from a validated Keystone token, or from trusted headers in noauth
mode) and passed down to every service operation. Secrets (the token) never appear in ``repr``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field


@dataclass(frozen=True)
class RequestContext:
    """An authenticated caller, in OpenStack's secure-RBAC terms."""

    user_id: str | None = None
    project_id: str | None = None
    roles: frozenset[str] = frozenset()
    domain_id: str | None = None
    system_scope: str | None = None
    request_id: str = field(default_factory=lambda: "req-" + str(uuid.uuid4()))
    auth_token: str | None = field(default=None, repr=False, compare=False)
    user_name: str | None = None
    project_name: str | None = None
    # Set when a region's local Neutron makes the call (its lazy lookups see deleting resources as gone).
    origin_region: str | None = None
    # Set when central makes the call on a region (placement constraints are central's to decide).
    via_central: bool = False

    @property
    def is_admin(self) -> bool:
        """Admin role, whatever the scope (Neutron treats project-scoped admin as admin too)."""
        return "admin" in self.roles

    @property
    def is_service(self) -> bool:
        return "service" in self.roles

    @property
    def is_member(self) -> bool:
        return bool(self.roles & {"member", "admin"})

    @property
    def is_reader(self) -> bool:
        return bool(self.roles & {"reader", "member", "admin"})

    @property
    def tenant_id(self) -> str | None:
        return self.project_id

    def elevated(self) -> RequestContext:
        """A copy with the admin role, for internal reads that must see every project."""
        return RequestContext(
            user_id=self.user_id,
            project_id=self.project_id,
            roles=self.roles | {"admin"},
            domain_id=self.domain_id,
            system_scope=self.system_scope,
            request_id=self.request_id,
            auth_token=self.auth_token,
            user_name=self.user_name,
            project_name=self.project_name,
        )

    def to_policy_creds(self) -> dict[str, object]:
        """The credentials a policy rule may refer to (``%(project_id)s`` style)."""
        return {
            "user_id": self.user_id,
            "project_id": self.project_id,
            "tenant_id": self.project_id,
            "roles": sorted(self.roles),
            "domain_id": self.domain_id,
            "system_scope": self.system_scope,
        }


def admin_context() -> RequestContext:
    """An internal admin context (system scope) for workers and start-up tasks."""
    return RequestContext(user_id=None, project_id=None, roles=frozenset({"admin", "member", "reader"}),
                          system_scope="all")
