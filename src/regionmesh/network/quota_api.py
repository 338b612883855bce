"""The quota API (``/v2.0/quotas``): defaults from config, per-project overrides, details."""

from __future__ import annotations

from typing import Any

from regionmesh.context import RequestContext
from regionmesh.network import exceptions as exc


class QuotaApi:
    def __init__(self, core: Any) -> None:
        self.core = core
        self.engine = core.quotas

    def _authorize(self, ctx: RequestContext, action: str, project_id: str) -> None:
        target = {"project_id": project_id, "tenant_id": project_id}
        if not self.core.enforcer.check(ctx, action, target):
            raise exc.PolicyNotAuthorized(action=action)

    def list(self, ctx: RequestContext) -> list[dict[str, Any]]:
        self._authorize(ctx, "get_quota", "")
        with self.core.db.read() as conn:
            projects = self.engine.projects_with_quotas(conn)
            return [{**self.engine.limits(conn, p), "project_id": p, "tenant_id": p} for p in projects]

    def get(self, ctx: RequestContext, project_id: str) -> dict[str, int]:
        self._authorize(ctx, "get_quota", project_id)
        with self.core.db.read() as conn:
            return self.engine.limits(conn, project_id)

    def defaults(self, ctx: RequestContext, project_id: str) -> dict[str, int]:
        self._authorize(ctx, "get_quota", project_id)
        return self.engine.defaults()

    def details(self, ctx: RequestContext, project_id: str) -> dict[str, dict[str, int]]:
        self._authorize(ctx, "get_quota", project_id)
        with self.core.db.read() as conn:
            return self.engine.details(conn, project_id)

    def update(self, ctx: RequestContext, project_id: str, body: Any) -> dict[str, int]:
        self._authorize(ctx, "update_quota", project_id)
        if not isinstance(body, dict) or not isinstance(body.get("quota"), dict):
            raise exc.BadRequest(resource="quota", msg="Unable to find 'quota' in request body")
        return self.engine.set_limits(project_id, body["quota"])

    def delete(self, ctx: RequestContext, project_id: str) -> None:
        self._authorize(ctx, "delete_quota", project_id)
        self.engine.reset(project_id)
