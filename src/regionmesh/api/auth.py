"""Authentication at the edge: Keystone v3 token validation, or noauth for tests.

Tokens are validated with ``GET /v3/auth/tokens`` (the token validates itself, so the service
needs no credentials of its own), and the result is cached briefly. Nothing secret is logged:
tokens appear only as a short hash.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

import httpx

from regionmesh.config import AuthSettings
from regionmesh.context import RequestContext
from regionmesh.network import exceptions as exc

LOG = logging.getLogger(__name__)


class Authenticator(Protocol):
    def authenticate(self, headers: Mapping[str, str]) -> RequestContext: ...


def token_fingerprint(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:12]


class NoAuth:
    """Neutron's ``noauth``: identity from trusted headers; no headers means an admin caller."""

    def __init__(self) -> None:
        LOG.warning("AUTHENTICATION IS DISABLED (noauth): every request is trusted. Never use this outside tests.")

    def authenticate(self, headers: Mapping[str, str]) -> RequestContext:
        project = headers.get("x-project-id") or headers.get("x-tenant-id")
        roles_raw = headers.get("x-roles")
        if roles_raw is None:
            roles = frozenset({"admin", "member", "reader"}) if project is None else frozenset({"member", "reader"})
        else:
            roles = frozenset(r.strip().lower() for r in roles_raw.split(",") if r.strip())
        return RequestContext(user_id=headers.get("x-user-id") or "noauth-user",
                              project_id=project or ("admin" if "admin" in roles else None), roles=roles,
                              request_id=headers.get("x-openstack-request-id") or RequestContext().request_id)


def context_from_token(body: Mapping[str, Any], token: str) -> RequestContext:
    """Build a context from a Keystone v3 token document."""
    tok = body.get("token", {})
    project = tok.get("project") or {}
    user = tok.get("user") or {}
    roles = frozenset(r.get("name", "").lower() for r in tok.get("roles", []) if r.get("name"))
    system = tok.get("system")
    return RequestContext(user_id=user.get("id"), user_name=user.get("name"), project_id=project.get("id"),
                          project_name=project.get("name"),
                          domain_id=(project.get("domain") or {}).get("id") or (tok.get("domain") or {}).get("id"),
                          roles=roles, system_scope="all" if system and system.get("all") else None,
                          auth_token=token)


class KeystoneAuth:
    """Validates ``X-Auth-Token`` against a Keystone v3 endpoint, with a short cache."""

    def __init__(self, settings: AuthSettings, client: httpx.Client | None = None) -> None:
        self.settings = settings
        self.client = client or httpx.Client(timeout=10.0)
        self._cache: dict[str, tuple[float, RequestContext]] = {}
        self._lock = threading.Lock()

    def authenticate(self, headers: Mapping[str, str]) -> RequestContext:
        token = headers.get("x-auth-token")
        if not token:
            raise exc.Unauthenticated()
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(token)
        if hit and hit[0] > now:
            return hit[1]
        url = self.settings.auth_url.rstrip("/") + "/auth/tokens"
        try:
            resp = self.client.get(url, headers={"X-Auth-Token": token, "X-Subject-Token": token})
        except httpx.HTTPError as err:
            LOG.error("identity service unreachable at %s: %s", self.settings.auth_url, err)
            raise exc.ServiceUnavailable(f"The identity service at {self.settings.auth_url} is unreachable.") \
                from err
        if resp.status_code != 200:
            LOG.info("token %s rejected by identity service (%s)", token_fingerprint(token), resp.status_code)
            raise exc.Unauthenticated()
        body = resp.json()
        expires = body.get("token", {}).get("expires_at")
        ttl = self.settings.cache_seconds
        if expires:
            left = (datetime.fromisoformat(expires.replace("Z", "+00:00")) - datetime.now(UTC)).total_seconds()
            if left <= 0:
                raise exc.Unauthenticated()
            ttl = min(ttl, left)
        ctx = context_from_token(body, token)
        with self._lock:
            if len(self._cache) > 10000:
                self._cache.clear()
            self._cache[token] = (now + ttl, ctx)
        return ctx


def make_authenticator(settings: AuthSettings) -> Authenticator:
    if settings.strategy == "noauth":
        return NoAuth()
    if settings.strategy == "keystone":
        return KeystoneAuth(settings)
    raise ValueError(f"unknown auth strategy {settings.strategy!r} (use 'keystone' or 'noauth')")
