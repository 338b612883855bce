"""Nova's view of its region's Neutron: exactly the calls Nova makes, over HTTP, as the caller.

Reads and port creation go as the user (their token, or in noauth mode their identity headers);
bindings and cleanup go with a service identity, as Nova's admin client does. The region Neutron
does the rest (lazy network creation on the GET, ports through central, bindings forwarded).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from regionmesh.compute.exceptions import BadRequest, NeutronFailure
from regionmesh.context import RequestContext

USER_AGENT = "regionmesh-compute"


class NeutronClient:
    """The region's Neutron v2.0, as Nova calls it."""

    def __init__(self, url: str, *, timeout: float = 30.0, token: Callable[[], str] | None = None,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.url = url.rstrip("/")
        self.token = token  # the service's own token (keystone deployments); None in noauth
        self.client = httpx.Client(base_url=self.url + "/v2.0", transport=transport,
                                   timeout=httpx.Timeout(timeout, connect=min(timeout, 2.0)))

    def headers(self, ctx: RequestContext, *, service: bool = False) -> dict[str, str]:
        headers = {"User-Agent": USER_AGENT, "X-Openstack-Request-Id": ctx.request_id}
        if service and self.token is not None:
            headers["X-Auth-Token"] = self.token()
        elif ctx.auth_token and not service:
            headers["X-Auth-Token"] = ctx.auth_token
        else:  # noauth: pass the identity on (service calls add Nova's admin/service roles)
            if ctx.project_id:
                headers["X-Project-Id"] = ctx.project_id
            roles = set(ctx.roles) | ({"admin", "service", "member", "reader"} if service else set())
            headers["X-Roles"] = ",".join(sorted(roles))
            headers["X-User-Id"] = "nova" if service else (ctx.user_id or "nova")
        return headers

    def _call(self, ctx: RequestContext, method: str, path: str, body: Any = None, params: Any = None,
              *, service: bool = False) -> httpx.Response:
        try:
            resp = self.client.request(method, path, json=body, params=params,
                                       headers=self.headers(ctx, service=service))
        except httpx.HTTPError as err:
            raise NeutronFailure(f"Neutron at {self.url} is unreachable ({type(err).__name__})") from err
        if resp.status_code >= 400:
            try:
                message = resp.json()["NeutronError"]["message"]
            except (ValueError, KeyError, TypeError):
                message = resp.text
            raise NeutronFailure(f"Neutron {method} {path} failed ({resp.status_code}): {message}",
                                 resp.status_code)
        return resp

    def get_network(self, ctx: RequestContext, network_id: str) -> dict[str, Any]:
        """``GET /v2.0/networks/{id}`` — the call that makes a lab region create the network lazily."""
        try:
            return self._call(ctx, "GET", f"/networks/{network_id}").json()["network"]
        except NeutronFailure as err:
            if err.status == 404:
                raise BadRequest(f"Network {network_id} could not be found.") from err
            raise

    def security_group_ids(self, ctx: RequestContext, names: list[str]) -> list[str]:
        """Nova resolves names to ids in the caller's project before creating the port."""
        ids = []
        for name in names:
            groups = self._call(ctx, "GET", "/security-groups",
                                params={"name": name, "project_id": ctx.project_id or ""}).json()["security_groups"]
            if not groups:
                raise BadRequest(f"Security group {name} not found for project {ctx.project_id}.")
            if len(groups) > 1:
                raise BadRequest(f"Multiple security groups named {name}; use the id.")
            ids.append(groups[0]["id"])
        return ids

    def list_networks(self, ctx: RequestContext, **filters: Any) -> list[dict[str, Any]]:
        return self._call(ctx, "GET", "/networks", params=filters).json()["networks"]

    def get_port(self, ctx: RequestContext, port_id: str) -> dict[str, Any] | None:
        try:
            return self._call(ctx, "GET", f"/ports/{port_id}").json()["port"]
        except NeutronFailure as err:
            if err.status == 404:
                return None
            raise

    def create_port(self, ctx: RequestContext, network_id: str, instance_uuid: str, az: str,
                    security_groups: list[str] | None) -> dict[str, Any]:
        body: dict[str, Any] = {"network_id": network_id, "device_id": instance_uuid,
                                "device_owner": f"compute:{az}"}
        if security_groups is not None:
            body["security_groups"] = security_groups
        return self._call(ctx, "POST", "/ports", {"port": body}).json()["port"]

    def bind_port(self, ctx: RequestContext, port_id: str, host: str, instance_uuid: str,
                  az: str) -> dict[str, Any]:
        """The binding update (LP-05): the region forwards it to central."""
        body = {"port": {"binding:host_id": host, "device_owner": f"compute:{az}", "device_id": instance_uuid}}
        return self._call(ctx, "PUT", f"/ports/{port_id}", body, service=True).json()["port"]

    def clear_binding_host(self, ctx: RequestContext, port_id: str) -> None:
        """Shelve-offload: the port stays the instance's (IP kept) but is bound to no host any more."""
        self._call(ctx, "PUT", f"/ports/{port_id}", {"port": {"binding:host_id": ""}}, service=True)

    def unbind_port(self, ctx: RequestContext, port_id: str) -> None:
        """A port the user passed in survives the instance: clear its binding instead of deleting it."""
        body = {"port": {"binding:host_id": "", "device_owner": "", "device_id": ""}}
        try:
            self._call(ctx, "PUT", f"/ports/{port_id}", body, service=True)
        except NeutronFailure as err:
            if err.status != 404:
                raise

    def delete_port(self, ctx: RequestContext, port_id: str) -> None:
        try:
            self._call(ctx, "DELETE", f"/ports/{port_id}", service=True)
        except NeutronFailure as err:
            if err.status != 404:  # already gone: deallocation is idempotent
                raise

    def close(self) -> None:
        self.client.close()
