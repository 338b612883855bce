"""How a region reaches central's Neutron API: over HTTP, as the caller, failing fast.

Every call carries the caller's identity (its token, or in noauth mode its identity headers) and a
``User-Agent`` naming the region, so central can tell a region's lazy lookup from an ordinary
client (a resource being deleted is "not found" to a region, "in deleting" to others). When
central cannot be reached the call fails at once with a 503 that names central.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

import httpx

from regionmesh.context import RequestContext
from regionmesh.network import exceptions as exc

REGION_AGENT_PREFIX = "regionmesh-region/"

_BASE_BY_STATUS: dict[int, type[exc.NeutronException]] = {
    400: exc.BadRequest, 401: exc.Unauthenticated, 403: exc.NotAuthorized, 404: exc.NotFound,
    409: exc.Conflict, 412: exc.PreconditionFailed,
}


class CentralUnavailable(exc.ServiceUnavailable):
    message = "Central Neutron at %(url)s is unreachable (%(reason)s); this operation needs it. Resources " \
              "this region already has keep working; retry when central is back."


@cache
def _remote_error_class(type_name: str, status: int) -> type[exc.NeutronException]:
    """An exception class with central's error type name and the same HTTP status family."""
    base = _BASE_BY_STATUS.get(status, exc.ServiceUnavailable)
    safe = type_name if type_name.isidentifier() else "CentralError"
    return type(safe, (base,), {"message": "%(msg)s"})


class CentralClient:
    """Neutron v2.0 calls to central on behalf of a request context."""

    def __init__(self, url: str, region_name: str, *, timeout: float = 10.0,
                 transport: httpx.BaseTransport | None = None, token: Callable[[], str] | None = None) -> None:
        self.url = url.rstrip("/")
        self.region_name = region_name
        # The region's own identity, for calls it makes on its own behalf (outbox deliveries).
        self.token = token
        self.client = httpx.Client(base_url=self.url + "/v2.0", transport=transport,
                                   timeout=httpx.Timeout(timeout, connect=min(timeout, 2.0)))

    def headers(self, ctx: RequestContext) -> dict[str, str]:
        headers = {"User-Agent": REGION_AGENT_PREFIX + self.region_name,
                   "X-Openstack-Request-Id": ctx.request_id}
        if ctx.auth_token:
            headers["X-Auth-Token"] = ctx.auth_token
        elif self.token is not None and ctx.user_id and ctx.user_id.startswith("regionmesh-"):
            headers["X-Auth-Token"] = self.token()
        else:  # noauth deployments (tests, the unauthenticated lab): pass the identity on
            if ctx.project_id:
                headers["X-Project-Id"] = ctx.project_id
            headers["X-Roles"] = ",".join(sorted(ctx.roles))
            if ctx.user_id:
                headers["X-User-Id"] = ctx.user_id
        return headers

    def _call(self, ctx: RequestContext, method: str, path: str, body: Any = None,
              params: Any = None) -> httpx.Response:
        try:
            resp = self.client.request(method, path, json=body, params=params, headers=self.headers(ctx))
        except httpx.HTTPError as err:
            raise CentralUnavailable(url=self.url, reason=type(err).__name__) from err
        if resp.status_code >= 500:
            raise CentralUnavailable(url=self.url, reason=f"HTTP {resp.status_code}")
        if resp.status_code >= 400:
            try:
                error = resp.json()["NeutronError"]
                type_name, message = error.get("type", "CentralError"), error.get("message", resp.text)
            except (ValueError, KeyError, TypeError):
                type_name, message = "CentralError", resp.text
            raise _remote_error_class(type_name, resp.status_code)(msg=message)
        return resp

    def get(self, ctx: RequestContext, url_name: str, member: str, resource_id: str) -> dict[str, Any] | None:
        """The resource as central shows it to the caller, or ``None`` when central has none."""
        try:
            return self._call(ctx, "GET", f"/{url_name}/{resource_id}").json()[member]
        except exc.NotFound:
            return None

    def list(self, ctx: RequestContext, url_name: str, collection: str, **filters: Any) -> list[dict[str, Any]]:
        return self._call(ctx, "GET", f"/{url_name}", params=filters).json()[collection]

    def create(self, ctx: RequestContext, url_name: str, member: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._call(ctx, "POST", f"/{url_name}", {member: body}).json()[member]

    def update(self, ctx: RequestContext, url_name: str, member: str, resource_id: str,
               body: dict[str, Any]) -> dict[str, Any]:
        resp = self._call(ctx, "PUT", f"/{url_name}/{resource_id}", {member: body})
        return resp.json()[member]

    def delete(self, ctx: RequestContext, url_name: str, resource_id: str, *, missing_ok: bool = True) -> None:
        try:
            self._call(ctx, "DELETE", f"/{url_name}/{resource_id}")
        except exc.NotFound:
            if not missing_ok:
                raise

    def close(self) -> None:
        self.client.close()
