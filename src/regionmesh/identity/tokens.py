"""Authentication, tokens and who may call what.

Tokens are opaque random strings (``secrets.token_urlsafe``); only their SHA-256 is stored, so a
copy of the database yields no usable token. A token row records the user, the scope and the
expiry, never the roles: roles are computed at each validation, so removing a role, disabling a
user or a project, or deleting them takes effect at once (Keystone's fernet tokens behave the same
way). Expired rows are deleted lazily when new tokens are issued.

Nothing secret is logged: tokens appear in logs only through their audit id, which Keystone made
public for exactly that purpose; passwords never appear at all.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from regionmesh.identity import models as m
from regionmesh.identity.store import BadRequest, Forbidden, IdentityStore, NotFound, Unauthorized

LOG = logging.getLogger(__name__)
Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def isotime(value: datetime) -> str:
    """Keystone's timestamp format (microseconds, ``Z``), which keystoneauth parses."""
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class _Invalid(Exception):
    """A token that exists no more (expired, revoked, or its user/scope gone): 404 or 401."""


def substitute_catalog(catalog: list[dict[str, Any]], project_id: str | None) -> list[dict[str, Any]]:
    """Keystone's URL templates: ``%(project_id)s`` (also ``$(project_id)s`` and the tenant_id forms) become
    the token's project; endpoints that need a project are left out of tokens without one."""
    out = []
    for service in catalog:
        endpoints = []
        for endpoint in service["endpoints"]:
            url = str(endpoint["url"])
            if any(t in url for t in _PROJECT_TEMPLATES):
                if project_id is None:
                    continue
                for template in _PROJECT_TEMPLATES:
                    url = url.replace(template, project_id)
            endpoints.append({**endpoint, "url": url})
        out.append({**service, "endpoints": endpoints})
    return out


_PROJECT_TEMPLATES = ("%(project_id)s", "$(project_id)s", "%(tenant_id)s", "$(tenant_id)s")


@dataclass(frozen=True)
class TokenInfo:
    """A valid token as it stands now: user, scope and effective (implied-expanded) roles."""

    user: dict[str, Any]
    methods: list[str]
    scope_type: str  # unscoped | project | domain | system
    project: dict[str, Any] | None
    domain: dict[str, Any] | None
    roles: list[dict[str, str]]
    issued_at: datetime
    expires_at: datetime
    audit_ids: list[str]
    is_admin_project: bool | None = None

    @property
    def user_id(self) -> str:
        return str(self.user["id"])

    @property
    def role_names(self) -> frozenset[str]:
        return frozenset(r["name"].lower() for r in self.roles)

    @property
    def is_admin(self) -> bool:
        return "admin" in self.role_names

    @property
    def system(self) -> bool:
        return self.scope_type == "system"

    def document(self, catalog: list[dict[str, Any]] | None) -> dict[str, Any]:
        """The Keystone v3 token body; ``catalog`` is included for scoped tokens when given."""
        tok: dict[str, Any] = {"methods": self.methods, "user": self.user, "audit_ids": self.audit_ids,
                               "expires_at": isotime(self.expires_at), "issued_at": isotime(self.issued_at)}
        if self.scope_type == "project":
            tok["project"] = self.project
            tok["is_domain"] = False
            if self.is_admin_project is not None:
                tok["is_admin_project"] = self.is_admin_project
        elif self.scope_type == "domain":
            tok["domain"] = self.domain
        elif self.scope_type == "system":
            tok["system"] = {"all": True}
        if self.scope_type != "unscoped":
            tok["roles"] = self.roles
            if catalog is not None:
                project_id = (self.project or {}).get("id") if self.scope_type == "project" else None
                tok["catalog"] = substitute_catalog(catalog, project_id)
        return {"token": tok}


class TokenService:
    """Issues, validates and revokes tokens over an :class:`IdentityStore`."""

    def __init__(self, store: IdentityStore, *, expiration: float = 3600, clock: Clock = utcnow,
                 admin_project_name: str | None = "admin", admin_project_domain_name: str | None = "Default"
                 ) -> None:
        self.store = store
        self.expiration = timedelta(seconds=expiration)
        self.clock = clock
        self.admin_project = (admin_project_name, admin_project_domain_name)

    def now(self) -> datetime:
        """Naive UTC, as stored (the injectable clock may return aware or naive UTC)."""
        value = self.clock()
        return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value

    # ---- POST /v3/auth/tokens ----------------------------------------------------------------
    def authenticate(self, body: Any) -> tuple[str, TokenInfo]:
        """(new token, its info) for a v3 auth body; Unauthorized for any credential or scope failure."""
        auth = body.get("auth") if isinstance(body, dict) else None
        identity = auth.get("identity") if isinstance(auth, dict) else None
        methods = identity.get("methods") if isinstance(identity, dict) else None
        if not isinstance(auth, dict) or not isinstance(identity, dict) or not isinstance(methods, list) \
                or not methods or not all(isinstance(x, str) for x in methods):
            raise BadRequest("Expecting to find identity and methods in auth.")
        if "password" in methods:
            user_id, expires, chain = self.check_password(identity.get("password")), None, None
        elif "token" in methods:
            user_id, expires, chain = self._token_method(identity.get("token"))
        else:
            raise Unauthorized("Attempted to authenticate with an unsupported method.")
        scope = auth.get("scope")
        token = secrets.token_urlsafe(32)
        audit_id = secrets.token_urlsafe(16)[:22]

        def run(conn: Connection) -> TokenInfo:
            now = self.now()
            user = self.store.user_row(conn, user_id)
            if user is None or not user["enabled"]:
                raise Unauthorized()
            scope_type, scope_id = self._scope(conn, user, scope)
            conn.execute(delete(m.tokens).where(m.tokens.c.expires_at < now))  # lazy cleanup
            row = {"id_hash": token_hash(token), "user_id": user_id, "scope_type": scope_type,
                   "scope_id": scope_id, "methods": json.dumps(sorted(set(methods), key=methods.index)),
                   "audit_id": audit_id, "audit_chain_id": chain or audit_id, "issued_at": now,
                   "expires_at": min(expires, now + self.expiration) if expires else now + self.expiration,
                   "revoked": False}
            conn.execute(insert(m.tokens).values(**row))
            try:
                return self._info(conn, row, now)
            except _Invalid as err:
                raise Unauthorized() from err

        info = self.store.db.transaction(run)
        LOG.info("issued %s token (audit id %s) to user %s", info.scope_type, audit_id, user_id)
        return token, info

    def check_password(self, method: Any) -> str:
        """The user id for a password method body (``{"user": {..., "password"}}``); Unauthorized if wrong."""
        user_ref = method.get("user") if isinstance(method, dict) else None
        if not isinstance(user_ref, dict) or not isinstance(user_ref.get("password"), str):
            raise BadRequest("Expecting to find user and password in the password method.")
        try:
            with self.store.db.read() as conn:
                user = dict(self.store.find(conn, "users", user_ref, what="user"))
                domain_ok = self._enabled(conn, m.domains, user["domain_id"])
        except Unauthorized:
            self.store.passwords.verify(None, user_ref["password"])  # same cost as a wrong password
            LOG.info("password authentication failed: no such user")
            raise Unauthorized() from None
        if not self.store.passwords.verify(user["password_hash"], user_ref["password"]):
            LOG.info("password authentication failed for user %s", user["id"])
            raise Unauthorized()
        if not user["enabled"] or not domain_ok:
            raise Unauthorized(f"User {user['id']} or its domain is disabled.")
        if self.store.passwords.needs_rehash(user["password_hash"]):
            self._rehash(user["id"], user["password_hash"], user_ref["password"])
        return str(user["id"])

    def _rehash(self, user_id: str, old_hash: str, password: str) -> None:
        """Raise a stored hash to the current cost after a successful login."""
        new_hash = self.store.passwords.hash(password)
        u = m.users.c
        self.store.db.transaction(lambda conn: conn.execute(
            update(m.users).where(u.id == user_id, u.password_hash == old_hash).values(password_hash=new_hash)))

    def _token_method(self, method: Any) -> tuple[str, datetime, str]:
        if not isinstance(method, dict) or not isinstance(method.get("id"), str):
            raise BadRequest("Expecting to find id in the token method.")
        with self.store.db.read() as conn:
            row = self._row(conn, method["id"])
            try:
                self._info(conn, row, self.now())
            except _Invalid as err:
                raise Unauthorized() from err
        return str(row["user_id"]), row["expires_at"], str(row["audit_chain_id"])

    def _scope(self, conn: Connection, user: Mapping[str, Any], scope: Any) -> tuple[str, str | None]:
        """(scope type, scope id) after checking the user holds a role there (401 otherwise)."""
        if scope is None:
            default = user["default_project_id"]
            if default and self._enabled(conn, m.projects, default) \
                    and self.store.effective_roles(conn, user["id"], "project", default):
                return "project", default
            return "unscoped", None
        if scope == "unscoped":
            return "unscoped", None
        if not isinstance(scope, dict):
            raise BadRequest("Invalid scope.")
        kinds = [k for k in ("project", "domain", "system") if k in scope]
        if "OS-TRUST:trust" in scope:
            raise Unauthorized("Trust-scoped tokens are not supported.")
        if len(kinds) != 1:
            raise BadRequest("Specify one of project, domain or system in scope.")
        kind = kinds[0]
        if kind == "system":
            if scope["system"] != {"all": True}:
                raise BadRequest("The only system scope is {\"all\": true}.")
            scope_id = "all"
        else:
            row = self.store.find(conn, f"{kind}s", scope[kind], what=kind)
            scope_id = str(row["id"])
            domain_id = row["id"] if kind == "domain" else row["domain_id"]
            if not row["enabled"] or not self._enabled(conn, m.domains, domain_id):
                raise Unauthorized(f"The {kind} {scope_id} is disabled.")
        if not self.store.effective_roles(conn, user["id"], kind, scope_id):
            target = "the system" if kind == "system" else f"{kind} {scope_id}"
            raise Unauthorized(f"User {user['id']} has no access to {target}.")
        return kind, scope_id

    # ---- validation ------------------------------------------------------------------------------
    def validate(self, token: str) -> TokenInfo:
        """The info of a valid token; NotFound (Keystone's 404) when expired, revoked or unknown."""
        with self.store.db.read() as conn:
            try:
                return self._info(conn, self._row(conn, token), self.now())
            except _Invalid as err:
                raise NotFound("Could not find token.") from err

    def caller(self, token: str | None) -> TokenInfo:
        """The caller behind ``X-Auth-Token``; Unauthorized when it is missing or not valid."""
        if not token:
            raise Unauthorized()
        try:
            return self.validate(token)
        except NotFound as err:
            raise Unauthorized("The request you have made requires authentication.") from err

    def revoke(self, token: str) -> TokenInfo:
        """Revoke one token (its row stays, marked, until it expires); NotFound when not valid."""
        info = self.validate(token)
        self.store.db.transaction(lambda conn: conn.execute(
            update(m.tokens).where(m.tokens.c.id_hash == token_hash(token)).values(revoked=True)))
        LOG.info("revoked token (audit id %s) of user %s", info.audit_ids[0], info.user_id)
        return info

    def catalog(self) -> list[dict[str, Any]]:
        with self.store.db.read() as conn:
            return self.store.catalog(conn)

    def _row(self, conn: Connection, token: str) -> Mapping[str, Any]:
        row = conn.execute(select(m.tokens).where(m.tokens.c.id_hash == token_hash(token))).first()
        if row is None:
            raise _Invalid("unknown")
        return dict(row._mapping)

    def _info(self, conn: Connection, row: Mapping[str, Any], now: datetime) -> TokenInfo:
        if row["revoked"] or row["expires_at"] <= now:
            raise _Invalid("revoked or expired")
        user = self.store.user_row(conn, row["user_id"])
        if user is None or not user["enabled"] or not self._enabled(conn, m.domains, user["domain_id"]):
            raise _Invalid("user gone or disabled")
        scope_type, scope_id = row["scope_type"], row["scope_id"]
        project = domain = None
        admin_project = None
        if scope_type == "project":
            prow = conn.execute(select(m.projects).where(m.projects.c.id == scope_id)).first()
            if prow is None or not prow.enabled or not self._enabled(conn, m.domains, prow.domain_id):
                raise _Invalid("project gone or disabled")
            project = {"id": prow.id, "name": prow.name, "domain": self.store.domain_of(conn, prow.domain_id)}
            name, domain_name = self.admin_project
            if name and domain_name:
                admin_project = prow.name == name and project["domain"]["name"] == domain_name
        elif scope_type == "domain":
            if not self._enabled(conn, m.domains, scope_id):
                raise _Invalid("domain gone or disabled")
            domain = self.store.domain_of(conn, scope_id)
        roles = self.store.effective_roles(conn, user["id"], scope_type, scope_id)
        if scope_type != "unscoped" and not roles:
            raise _Invalid("no roles left on the scope")
        audit = [row["audit_id"]] if row["audit_chain_id"] == row["audit_id"] else \
            [row["audit_id"], row["audit_chain_id"]]
        return TokenInfo(
            user={"id": user["id"], "name": user["name"], "domain": self.store.domain_of(conn, user["domain_id"]),
                  "password_expires_at": None},
            methods=json.loads(row["methods"]), scope_type=scope_type, project=project, domain=domain,
            roles=roles, issued_at=row["issued_at"], expires_at=row["expires_at"], audit_ids=audit,
            is_admin_project=admin_project)

    @staticmethod
    def _enabled(conn: Connection, table: Any, entity_id: str | None) -> bool:
        row = conn.execute(select(table.c.enabled).where(table.c.id == entity_id)).first()
        return bool(row and row.enabled)


# ---- authorization ---------------------------------------------------------------------------------
# A rule is alternatives joined by " or "; the admin role (any scope) always passes, which is what the
# lab's admin gets from `openstack` with a project scope. Atoms: "admin"; "reader" (a system-scoped
# reader: read-only operators); "service" (the service role: services validating user tokens);
# "self" (the caller is the target user); "project" (the caller's token is scoped to the target project).
def allowed(caller: TokenInfo, rule: str, target: Mapping[str, Any] | None = None) -> bool:
    if caller.is_admin:
        return True
    target = target or {}
    checks = {
        "admin": lambda: False,
        "reader": lambda: caller.system and "reader" in caller.role_names,
        "service": lambda: "service" in caller.role_names,
        "self": lambda: target.get("user_id") == caller.user_id,
        "project": lambda: caller.project is not None and target.get("project_id") == caller.project["id"],
    }
    return any(checks[atom.strip()]() for atom in rule.split(" or "))


def authorize(caller: TokenInfo, action: str, rule: str, target: Mapping[str, Any] | None = None) -> None:
    """Raise Forbidden (403) unless ``caller`` passes ``rule`` for ``identity:<action>``."""
    if not allowed(caller, rule, target):
        raise Forbidden(f"You are not authorized to perform the requested action: identity:{action}.")
