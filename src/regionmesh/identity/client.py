"""A service's own Keystone token: how central calls regions (and workers call anything) with a
real identity, from a password kept in the service's configuration. Cached until shortly before
it expires; never logged."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx

from regionmesh.config import AuthSettings


class ServiceTokenError(RuntimeError):
    """The identity service refused the service's credentials or could not be reached."""


class ServiceToken:
    """A project-scoped token for a service user, renewed a minute before it expires."""

    def __init__(self, auth_url: str, username: str, password: str, project_name: str = "service", *,
                 user_domain_name: str = "Default", project_domain_name: str = "Default",
                 transport: httpx.BaseTransport | None = None, timeout: float = 10.0) -> None:
        self.auth_url = auth_url.rstrip("/")
        self._body = {"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": username, "domain": {"name": user_domain_name}, "password": password}}},
            "scope": {"project": {"name": project_name, "domain": {"name": project_domain_name}}}}}
        self._client = httpx.Client(transport=transport, timeout=timeout)
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires = datetime.min.replace(tzinfo=UTC)

    def __repr__(self) -> str:
        return f"ServiceToken({self.auth_url!r})"

    def __call__(self) -> str:
        with self._lock:
            if self._token is None or datetime.now(UTC) > self._expires - timedelta(seconds=60):
                self._token, self._expires = self._issue()
            return self._token

    def _issue(self) -> tuple[str, datetime]:
        try:
            resp = self._client.post(f"{self.auth_url}/auth/tokens", json=self._body)
        except httpx.HTTPError as err:
            raise ServiceTokenError(f"identity service at {self.auth_url} unreachable: {type(err).__name__}") from err
        if resp.status_code != 201:
            raise ServiceTokenError(f"identity service at {self.auth_url} refused the service credentials "
                                    f"(HTTP {resp.status_code})")
        expires = datetime.fromisoformat(resp.json()["token"]["expires_at"].replace("Z", "+00:00"))
        return resp.headers["X-Subject-Token"], expires


def service_token(auth: AuthSettings) -> Callable[[], str] | None:
    """The service's own token source for calls to other services (None in noauth deployments)."""
    if auth.strategy != "keystone" or not auth.password:
        return None
    return ServiceToken(auth.auth_url, auth.username, auth.password, auth.project_name,
                        user_domain_name=auth.user_domain_name, project_domain_name=auth.project_domain_name)
