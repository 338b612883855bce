"""How central reaches a region: the region driver interface and the lab region driver.

Central and the job handlers speak to every region through :class:`RegionDriver` with *bottom*
ids; the routing table is the only map from top ids, so a real OpenStack region whose ids differ
fits the same interface (an openstacksdk-backed driver later). The lab driver talks to a lab
region's Neutron v2.0 API over HTTP as an admin.

Failures are classified for the job engine: a region that cannot be reached, or answers 5xx or
409, is a *temporary* problem (retry later); any other 4xx will not change by retrying and is
*permanent*.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

import httpx

from regionmesh.network import exceptions as exc

# API collection name -> (URL segment, member key)
COLLECTIONS: dict[str, tuple[str, str]] = {
    "networks": ("networks", "network"),
    "subnets": ("subnets", "subnet"),
    "ports": ("ports", "port"),
    "security_groups": ("security-groups", "security_group"),
    "security_group_rules": ("security-group-rules", "security_group_rule"),
    "routers": ("routers", "router"),
    "floatingips": ("floatingips", "floatingip"),
}


# The User-Agent of central's calls on regions: a region lets central place a copy its own
# availability-zone hints would not (shadow networks for cross-region floating IPs).
CENTRAL_AGENT = "regionmesh-central/"


class RegionUnavailable(exc.ServiceUnavailable):
    """The region could not be reached or failed; retrying later may succeed."""

    message = "Region %(region)s is unavailable: %(reason)s"


class RegionConflict(RegionUnavailable):
    """The region answered 409: its state is changing under us (another writer); retry after re-reading."""


class RegionRejected(exc.BadRequest):
    """The region refused the request with a 4xx that retrying will not change."""

    message = "Region %(region)s rejected %(what)s: %(status)s %(type)s: %(reason)s"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.status = int(kwargs.get("status", 400))
        self.error_type = str(kwargs.get("type", ""))


class RegionDriver(Protocol):
    """CRUD on one region's Neutron by bottom id."""

    region_name: str

    def get(self, collection: str, bottom_id: str) -> dict[str, Any] | None: ...
    def find(self, collection: str, **filters: Any) -> list[dict[str, Any]]: ...
    def create(self, collection: str, body: Mapping[str, Any]) -> dict[str, Any]: ...
    def create_bulk(self, collection: str, bodies: list[Mapping[str, Any]]) -> list[dict[str, Any]]: ...
    def update(self, collection: str, bottom_id: str, body: Mapping[str, Any]) -> dict[str, Any]: ...
    def delete(self, collection: str, bottom_id: str) -> bool: ...
    def action(self, collection: str, bottom_id: str, action: str, body: Mapping[str, Any]) -> dict[str, Any]: ...


class LabRegionDriver:
    """A lab region's Neutron v2.0 API over HTTP, called as the region's admin."""

    def __init__(self, region_name: str, url: str, *, headers: Mapping[str, str] | None = None,
                 timeout: float = 10.0, transport: httpx.BaseTransport | None = None,
                 token: Callable[[], str] | None = None) -> None:
        self.region_name = region_name
        self.url = url.rstrip("/")
        self.token = token
        # noauth lab: identity headers; with Keystone the caller passes a service token header.
        self.client = httpx.Client(base_url=self.url + "/v2.0", transport=transport,
                                   headers={"User-Agent": CENTRAL_AGENT + "1",
                                            **(headers or {"X-Roles": "admin,member,reader,service",
                                                           "X-User-Id": "regionmesh-central"})},
                                   timeout=httpx.Timeout(timeout, connect=min(timeout, 2.0)))

    def _call(self, method: str, path: str, body: Any = None, params: Any = None) -> httpx.Response:
        try:
            headers = {"X-Auth-Token": self.token()} if self.token is not None else None
            resp = self.client.request(method, path, json=body, params=params, headers=headers)
        except httpx.HTTPError as err:
            raise RegionUnavailable(region=self.region_name, reason=f"{type(err).__name__} at {self.url}") from err
        if resp.status_code == 409:
            raise RegionConflict(region=self.region_name, reason=f"HTTP 409 {resp.text[:200]}")
        if resp.status_code >= 500:
            raise RegionUnavailable(region=self.region_name, reason=f"HTTP {resp.status_code} {resp.text[:200]}")
        if resp.status_code >= 400 and resp.status_code != 404:
            try:
                body = resp.json()["NeutronError"]
                etype, reason = body.get("type", ""), body.get("message", "")
            except (ValueError, KeyError, TypeError):
                etype, reason = "", resp.text[:200]
            raise RegionRejected(region=self.region_name, what=f"{method} {path}", status=resp.status_code,
                                 type=etype, reason=reason)
        return resp

    def get(self, collection: str, bottom_id: str) -> dict[str, Any] | None:
        url, member = COLLECTIONS[collection]
        resp = self._call("GET", f"/{url}/{bottom_id}")
        return None if resp.status_code == 404 else resp.json()[member]

    def find(self, collection: str, **filters: Any) -> list[dict[str, Any]]:
        """A filtered list (Neutron filters as keyword arguments)."""
        url, _ = COLLECTIONS[collection]
        resp = self._call("GET", f"/{url}", params=filters)
        return [] if resp.status_code == 404 else resp.json()[collection]

    def create(self, collection: str, body: Mapping[str, Any]) -> dict[str, Any]:
        url, member = COLLECTIONS[collection]
        return self._call("POST", f"/{url}", {member: dict(body)}).json()[member]

    def create_bulk(self, collection: str, bodies: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
        if not bodies:
            return []
        url, _ = COLLECTIONS[collection]
        resp = self._call("POST", f"/{url}", {collection: [dict(b) for b in bodies]})
        return resp.json()[collection]

    def update(self, collection: str, bottom_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        url, member = COLLECTIONS[collection]
        resp = self._call("PUT", f"/{url}/{bottom_id}", {member: dict(body)})
        if resp.status_code == 404:
            raise RegionRejected(region=self.region_name, what=f"PUT {url}/{bottom_id}", status=404,
                                 type="NotFound", reason="not found")
        return resp.json()[member]

    def delete(self, collection: str, bottom_id: str) -> bool:
        """True when something was deleted; a copy already gone is not an error (idempotent)."""
        url, _ = COLLECTIONS[collection]
        return self._call("DELETE", f"/{url}/{bottom_id}").status_code != 404

    def action(self, collection: str, bottom_id: str, action: str, body: Mapping[str, Any]) -> dict[str, Any]:
        url, _ = COLLECTIONS[collection]
        return self._call("PUT", f"/{url}/{bottom_id}/{action}", dict(body)).json()

    def close(self) -> None:
        self.client.close()


DriverFactory = Callable[[str], RegionDriver]


class RegionDirectory:
    """Finds the driver for a region by name (lab: a static map of endpoints)."""

    def __init__(self, endpoints: Mapping[str, str], *, headers: Mapping[str, str] | None = None,
                 token: Callable[[], str] | None = None) -> None:
        self.endpoints = dict(endpoints)
        self.headers = headers
        self.token = token
        self._drivers: dict[str, RegionDriver] = {}

    def driver(self, region_name: str) -> RegionDriver:
        if region_name not in self._drivers:
            url = self.endpoints.get(region_name)
            if url is None:
                raise RegionUnavailable(region=region_name, reason="no endpoint is known for this region")
            self._drivers[region_name] = LabRegionDriver(region_name, url, headers=self.headers, token=self.token)
        return self._drivers[region_name]
