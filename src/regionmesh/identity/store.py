"""The identity model: domains, projects, users, roles, assignments, regions, services, endpoints.

One generic CRUD (driven by :data:`KINDS`) serves every entity, because Keystone's v3 resources all
share one shape: ``{"<member>": {...}}`` bodies, ``?name=`` style filters, unknown attributes kept
as "extra" (so ``openstack user create --email`` round-trips). What differs per kind (password
hashing, referential checks, cascades) lives in small hooks below. Callers' permissions are not
checked here but in :mod:`regionmesh.identity.tokens`, where the caller is known.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Table, and_, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from regionmesh.db.engine import Database
from regionmesh.identity import models as m
from regionmesh.identity.passwords import Passwords

INTERFACES = ("public", "internal", "admin")
SYSTEM = "system"


# ---- errors (Keystone's error body: {"error": {"code", "title", "message"}}) ---------------------
class IdentityError(Exception):
    """Base of the identity service's errors; ``code``/``title`` are Keystone's."""

    code = 500
    title = "Internal Server Error"
    default = "An unexpected error prevented the server from fulfilling your request."

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.default
        super().__init__(self.message)


class BadRequest(IdentityError):
    code, title, default = 400, "Bad Request", "The request body or parameters are not valid."


class Unauthorized(IdentityError):
    code, title, default = 401, "Unauthorized", "The request you have made requires authentication."


class Forbidden(IdentityError):
    code, title, default = 403, "Forbidden", "You are not authorized to perform the requested action."


class NotFound(IdentityError):
    code, title, default = 404, "Not Found", "Could not find the requested resource."


class Conflict(IdentityError):
    code, title, default = 409, "Conflict", "Conflict occurred attempting to store the resource."


# ---- entity kinds -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Kind:
    """How one Keystone resource maps onto its table."""

    member: str
    collection: str
    table: Table
    columns: tuple[str, ...]  # settable columns besides id and extra
    required: tuple[str, ...]
    filters: tuple[str, ...]
    immutable: tuple[str, ...] = ()
    constants: Mapping[str, Any] = field(default_factory=dict)  # shown as is on every entity


KINDS: dict[str, Kind] = {k.collection: k for k in (
    Kind("domain", "domains", m.domains, ("name", "description", "enabled"), ("name",), ("name", "enabled"),
         constants={"options": {}, "tags": []}),
    Kind("project", "projects", m.projects,
         ("name", "domain_id", "parent_id", "description", "enabled", "tags"), ("name",),
         ("name", "domain_id", "enabled", "parent_id"), immutable=("domain_id",),
         constants={"is_domain": False, "options": {}}),
    Kind("user", "users", m.users, ("name", "domain_id", "enabled", "default_project_id", "description"),
         ("name",), ("name", "domain_id", "enabled"), immutable=("domain_id",),
         constants={"password_expires_at": None, "options": {}}),
    Kind("role", "roles", m.roles, ("name", "description"), ("name",), ("name",),
         constants={"domain_id": None, "options": {}}),
    Kind("region", "regions", m.regions, ("description", "parent_region_id"), (), ("parent_region_id",)),
    Kind("service", "services", m.services, ("type", "name", "description", "enabled"), ("type",),
         ("type", "name")),
    Kind("endpoint", "endpoints", m.endpoints, ("service_id", "region_id", "interface", "url", "enabled"),
         ("service_id", "interface", "url"), ("service_id", "interface", "region_id")),
)}

_BOOL_COLUMNS = {"enabled"}
_NULLABLE = {"parent_id", "default_project_id", "parent_region_id", "region_id"}
_RESERVED = {"id", "links", "password", "options", "is_domain", "password_expires_at"}


def new_id() -> str:
    return uuid.uuid4().hex


def parse_bool(value: str) -> bool:
    """Keystone's query-string booleans: anything but ``0``/``false`` (any case) is true."""
    return value.strip().lower() not in ("0", "false", "no", "off", "")


def _loads(text: str | None, default: Any) -> Any:
    return json.loads(text) if text else default


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


class IdentityStore:
    """Reads and writes the identity database; every write is one retried transaction."""

    def __init__(self, db: Database, passwords: Passwords | None = None) -> None:
        self.db = db
        self.passwords = passwords or Passwords()

    # ---- generic CRUD ---------------------------------------------------------------------
    def create(self, collection: str, body: Any, *, entity_id: str | None = None) -> dict[str, Any]:
        kind = KINDS[collection]
        values, extra, password = self._parse(kind, body, creating=True)
        if password is not None:
            values["password_hash"] = self.passwords.hash(password)  # slow: outside the transaction
        new = entity_id or values.pop("id", None) or new_id()
        values.pop("id", None)

        def run(conn: Connection) -> dict[str, Any]:
            if conn.execute(select(kind.table.c.id).where(kind.table.c.id == new)).first():
                raise Conflict(f"Duplicate ID, {new}.")
            row = {**values, "id": new, "extra": _dumps(extra)}
            self._check(conn, kind, row)
            try:
                conn.execute(insert(kind.table).values(**row))
            except IntegrityError as err:
                raise Conflict(f"Conflict occurred attempting to store {kind.member}.") from err
            return self._get(conn, kind, new)

        return self.db.transaction(run)

    def get(self, collection: str, entity_id: str) -> dict[str, Any]:
        with self.db.read() as conn:
            return self._get(conn, KINDS[collection], entity_id)

    def list_entities(self, collection: str, filters: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
        kind = KINDS[collection]
        query = select(kind.table)
        for key, value in (filters or {}).items():
            if key in kind.filters:
                col = kind.table.c[key]
                query = query.where(col == parse_bool(value) if key in _BOOL_COLUMNS else col == value)
        order = kind.table.c.name if "name" in kind.table.c else kind.table.c.id
        with self.db.read() as conn:
            return [_render(kind, dict(r._mapping)) for r in conn.execute(query.order_by(order, kind.table.c.id))]

    def update(self, collection: str, entity_id: str, body: Any) -> dict[str, Any]:
        kind = KINDS[collection]
        values, extra, password = self._parse(kind, body, creating=False)
        values.pop("id", None)  # ids never change
        if password is not None:
            values["password_hash"] = self.passwords.hash(password)

        def run(conn: Connection) -> dict[str, Any]:
            old = self._row(conn, kind, entity_id)
            for key in kind.immutable:
                if key in values and values[key] != old[key]:
                    raise BadRequest(f"Cannot change the {key} of a {kind.member}.")
            merged_extra = {**_loads(old["extra"], {}), **extra}
            row = {**values, "extra": _dumps({k: v for k, v in merged_extra.items() if v is not None})}
            self._check(conn, kind, {**dict(old), **row})
            try:
                conn.execute(update(kind.table).where(kind.table.c.id == entity_id).values(**row))
            except IntegrityError as err:
                raise Conflict(f"Conflict occurred attempting to store {kind.member}.") from err
            if kind.member == "user" and (password is not None or values.get("enabled") is False):
                self._revoke_user_tokens(conn, entity_id)
            return self._get(conn, kind, entity_id)

        return self.db.transaction(run)

    def delete(self, collection: str, entity_id: str) -> None:
        kind = KINDS[collection]

        def run(conn: Connection) -> None:
            old = self._row(conn, kind, entity_id)
            self._cascade(conn, kind, old)
            conn.execute(delete(kind.table).where(kind.table.c.id == entity_id))

        self.db.transaction(run)

    # ---- lookups used by authentication --------------------------------------------------------
    def find(self, conn: Connection, collection: str, ref: Any, *, what: str) -> Mapping[str, Any]:
        """A row from ``{"id": ...}`` or ``{"name": ..., "domain": {"id"|"name": ...}}`` (Unauthorized if absent)."""
        kind = KINDS[collection]
        if not isinstance(ref, dict) or not (ref.get("id") or ref.get("name")):
            raise BadRequest(f"Expecting to find id or name in {what}.")
        table = kind.table
        if ref.get("id"):
            query = select(table).where(table.c.id == str(ref["id"]))
        else:
            query = select(table).where(table.c.name == str(ref["name"]))
            if kind.member != "domain":
                domain = self.find(conn, "domains", ref.get("domain"), what=f"{what} domain")
                query = query.where(table.c.domain_id == domain["id"])
        row = conn.execute(query).first()
        if row is None:
            raise Unauthorized(f"Could not find {what}.")
        return dict(row._mapping)

    def user_row(self, conn: Connection, user_id: str) -> Mapping[str, Any] | None:
        row = conn.execute(select(m.users).where(m.users.c.id == user_id)).first()
        return dict(row._mapping) if row else None

    def domain_of(self, conn: Connection, domain_id: str) -> dict[str, Any]:
        row = conn.execute(select(m.domains.c.id, m.domains.c.name).where(m.domains.c.id == domain_id)).first()
        return {"id": domain_id, "name": row.name if row else None}

    # ---- role assignments ----------------------------------------------------------------------
    def grant(self, atype: str, actor_id: str, target_id: str, role_id: str) -> None:
        """Add one assignment (idempotent, like Keystone's PUT)."""

        def run(conn: Connection) -> None:
            self._check_assignment_refs(conn, atype, actor_id, target_id, role_id)
            key = {"type": atype, "actor_id": actor_id, "target_id": target_id, "role_id": role_id}
            if not self._has(conn, key):
                conn.execute(insert(m.role_assignments).values(**key))

        self.db.transaction(run)

    def ungrant(self, atype: str, actor_id: str, target_id: str, role_id: str) -> None:
        def run(conn: Connection) -> None:
            self._check_assignment_refs(conn, atype, actor_id, target_id, role_id)
            key = {"type": atype, "actor_id": actor_id, "target_id": target_id, "role_id": role_id}
            if not self._has(conn, key):
                raise NotFound(f"Could not find role assignment with role: {role_id}, user: {actor_id}.")
            ra = m.role_assignments.c
            conn.execute(delete(m.role_assignments).where(
                ra.type == atype, ra.actor_id == actor_id, ra.target_id == target_id, ra.role_id == role_id))

        self.db.transaction(run)

    def check_grant(self, atype: str, actor_id: str, target_id: str, role_id: str) -> None:
        with self.db.read() as conn:
            self._check_assignment_refs(conn, atype, actor_id, target_id, role_id)
            if not self._has(conn, {"type": atype, "actor_id": actor_id, "target_id": target_id,
                                    "role_id": role_id}):
                raise NotFound(f"Could not find role assignment with role: {role_id}, user: {actor_id}.")

    def granted_roles(self, atype: str, actor_id: str, target_id: str) -> list[dict[str, Any]]:
        """The roles directly assigned (no implied ones), as ``GET .../users/{u}/roles`` shows."""
        with self.db.read() as conn:
            self._check_assignment_refs(conn, atype, actor_id, target_id, None)
            ra = m.role_assignments.c
            query = select(m.roles).join(m.role_assignments, ra.role_id == m.roles.c.id).where(
                ra.type == atype, ra.actor_id == actor_id, ra.target_id == target_id).order_by(m.roles.c.name)
            return [_render(KINDS["roles"], dict(r._mapping)) for r in conn.execute(query)]

    def role_assignments(self, *, user_id: str | None = None, role_id: str | None = None,
                         project_id: str | None = None, domain_id: str | None = None, system: bool = False,
                         effective: bool = False) -> list[dict[str, Any]]:
        """Keystone's ``GET /v3/role_assignments`` rows: {type, actor_id, target_id, role_id, prior_role_id}."""
        ra = m.role_assignments.c
        query = select(m.role_assignments)
        if user_id:
            query = query.where(ra.actor_id == user_id)
        scopes = [("UserProject", project_id), ("UserDomain", domain_id), ("UserSystem", SYSTEM if system else None)]
        wanted = [and_(ra.type == t, ra.target_id == target) for t, target in scopes if target]
        if wanted:
            query = query.where(or_(*wanted))
        with self.db.read() as conn:
            rows = [dict(r._mapping) for r in conn.execute(query.order_by(ra.type, ra.actor_id, ra.target_id))]
            if effective:  # direct assignments win over the same role reached by implication
                graph = self._implication_graph(conn)
                out: dict[tuple[str, ...], dict[str, Any]] = {}
                for row in rows:
                    out[(row["type"], row["actor_id"], row["target_id"], row["role_id"])] = {**row,
                                                                                            "prior_role_id": None}
                for row in rows:
                    for implied in sorted(_closure({row["role_id"]}, graph) - {row["role_id"]}):
                        out.setdefault((row["type"], row["actor_id"], row["target_id"], implied),
                                       {**row, "role_id": implied, "prior_role_id": row["role_id"]})
                rows = list(out.values())
        if role_id:
            rows = [r for r in rows if r["role_id"] == role_id]
        return rows

    def names(self, ids: Iterable[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
        """``{(collection, id): {"name", "domain"?}}`` for ``include_names``."""
        out: dict[tuple[str, str], dict[str, Any]] = {}
        with self.db.read() as conn:
            for collection, entity_id in set(ids):
                row = conn.execute(select(KINDS[collection].table).where(
                    KINDS[collection].table.c.id == entity_id)).first()
                if row is None:
                    continue
                info: dict[str, Any] = {"name": getattr(row, "name", entity_id)}
                if collection in ("projects", "users"):
                    info["domain"] = self.domain_of(conn, row.domain_id)
                out[(collection, entity_id)] = info
        return out

    # ---- implied roles ---------------------------------------------------------------------------
    def imply(self, prior_id: str, implied_id: str) -> None:
        def run(conn: Connection) -> None:
            self._row(conn, KINDS["roles"], prior_id)
            self._row(conn, KINDS["roles"], implied_id)
            if prior_id in _closure({implied_id}, self._implication_graph(conn)):
                raise Forbidden("Implied roles must not form a cycle.")
            key = {"prior_role_id": prior_id, "implied_role_id": implied_id}
            ir = m.implied_roles.c
            if not conn.execute(select(ir.prior_role_id).where(ir.prior_role_id == prior_id,
                                                               ir.implied_role_id == implied_id)).first():
                conn.execute(insert(m.implied_roles).values(**key))

        self.db.transaction(run)

    def unimply(self, prior_id: str, implied_id: str) -> None:
        ir = m.implied_roles.c

        def run(conn: Connection) -> None:
            gone = conn.execute(delete(m.implied_roles).where(ir.prior_role_id == prior_id,
                                                              ir.implied_role_id == implied_id)).rowcount
            if not gone:
                raise NotFound(f"{prior_id} does not imply {implied_id}.")

        self.db.transaction(run)

    def implications(self) -> dict[str, list[str]]:
        """Direct implications, prior role id -> implied role ids."""
        with self.db.read() as conn:
            return {k: sorted(v) for k, v in sorted(self._implication_graph(conn).items())}

    def effective_roles(self, conn: Connection, user_id: str, scope_type: str, scope_id: str | None
                        ) -> list[dict[str, str]]:
        """The user's roles on a scope with implied roles expanded (what a token shows)."""
        atype = {"project": "UserProject", "domain": "UserDomain", "system": "UserSystem"}.get(scope_type)
        if atype is None:
            return []
        target = SYSTEM if scope_type == "system" else scope_id
        ra = m.role_assignments.c
        direct = {r.role_id for r in conn.execute(select(ra.role_id).where(
            ra.type == atype, ra.actor_id == user_id, ra.target_id == target))}
        if not direct:
            return []
        ids = _closure(direct, self._implication_graph(conn))
        rows = conn.execute(select(m.roles.c.id, m.roles.c.name).where(m.roles.c.id.in_(ids)).order_by(m.roles.c.name))
        return [{"id": r.id, "name": r.name} for r in rows]

    def targets_of(self, conn: Connection, user_id: str, atype: str) -> list[str]:
        ra = m.role_assignments.c
        return sorted({r.target_id for r in conn.execute(select(ra.target_id).where(
            ra.type == atype, ra.actor_id == user_id))})

    def user_projects(self, user_id: str, *, enabled_only: bool = False) -> list[dict[str, Any]]:
        with self.db.read() as conn:
            if self.user_row(conn, user_id) is None:
                raise NotFound(f"Could not find user: {user_id}.")
            return self._entities_in(conn, "projects", self.targets_of(conn, user_id, "UserProject"), enabled_only)

    def user_domains(self, user_id: str) -> list[dict[str, Any]]:
        with self.db.read() as conn:
            return self._entities_in(conn, "domains", self.targets_of(conn, user_id, "UserDomain"), True)

    # ---- catalog ---------------------------------------------------------------------------------
    def catalog(self, conn: Connection) -> list[dict[str, Any]]:
        """Keystone's v3 catalog: enabled services with their enabled endpoints."""
        s, e = m.services.c, m.endpoints.c
        out: dict[str, dict[str, Any]] = {}
        for svc in conn.execute(select(m.services).where(s.enabled.is_(True)).order_by(s.type, s.name, s.id)):
            out[svc.id] = {"id": svc.id, "type": svc.type, "name": svc.name, "endpoints": []}
        query = select(m.endpoints).where(e.enabled.is_(True)).order_by(e.region_id, e.interface, e.id)
        for ep in conn.execute(query):
            if ep.service_id in out:
                out[ep.service_id]["endpoints"].append({"id": ep.id, "interface": ep.interface, "region":
                                                        ep.region_id, "region_id": ep.region_id, "url": ep.url})
        return list(out.values())

    # ---- internals -------------------------------------------------------------------------------
    def _get(self, conn: Connection, kind: Kind, entity_id: str) -> dict[str, Any]:
        return _render(kind, self._row(conn, kind, entity_id))

    def _row(self, conn: Connection, kind: Kind, entity_id: str) -> Mapping[str, Any]:
        row = conn.execute(select(kind.table).where(kind.table.c.id == entity_id)).first()
        if row is None:
            raise NotFound(f"Could not find {kind.member}: {entity_id}.")
        return dict(row._mapping)

    def _entities_in(self, conn: Connection, collection: str, ids: list[str], enabled_only: bool
                     ) -> list[dict[str, Any]]:
        kind = KINDS[collection]
        query = select(kind.table).where(kind.table.c.id.in_(ids)).order_by(kind.table.c.name)
        if enabled_only:
            query = query.where(kind.table.c.enabled.is_(True))
        return [_render(kind, dict(r._mapping)) for r in conn.execute(query)]

    def _parse(self, kind: Kind, body: Any, *, creating: bool) -> tuple[dict[str, Any], dict[str, Any], str | None]:
        """(column values, extra attributes, clear password) from a request body's member."""
        if not isinstance(body, dict) or not isinstance(body.get(kind.member), dict):
            raise BadRequest(f"Expecting to find {kind.member} in request body.")
        data: dict[str, Any] = dict(body[kind.member])
        if kind.member == "endpoint" and "region" in data:
            data.setdefault("region_id", data.pop("region"))
        password = data.pop("password", None) if kind.member == "user" else None
        if password is not None and (not isinstance(password, str) or not password):
            raise BadRequest("Invalid input for field 'password': expecting a non-empty string.")
        if kind.member == "project" and data.get("is_domain"):
            raise BadRequest("Projects acting as domains are not supported.")
        if creating:
            missing = [k for k in kind.required if data.get(k) in (None, "")]
            if missing:
                raise BadRequest(f"'{missing[0]}' is a required property.")
        values: dict[str, Any] = {}
        if kind.member == "region" and data.get("id"):
            values["id"] = str(data["id"])
        extra: dict[str, Any] = {}
        for key, value in data.items():
            if key in kind.columns:
                values[key] = _coerce(kind, key, value)
            elif key not in _RESERVED:
                extra[key] = value
        return values, extra, password

    def _check(self, conn: Connection, kind: Kind, row: dict[str, Any]) -> None:
        """Referential and uniqueness rules, with Keystone's status codes."""
        t = kind.table.c
        if kind.member in ("project", "user"):
            row.setdefault("domain_id", "default")
            self._exists(conn, "domains", row["domain_id"], "domain_id")
        if kind.member == "project" and row.get("parent_id"):
            parent = self._exists(conn, "projects", row["parent_id"], "parent_id")
            if parent["domain_id"] != row["domain_id"]:
                raise BadRequest("A project's parent must be in the same domain.")
            if row["parent_id"] == row["id"]:
                raise BadRequest("A project cannot be its own parent.")
        if kind.member == "endpoint":
            self._exists(conn, "services", row["service_id"], "service_id")
            if row.get("region_id"):
                self._exists(conn, "regions", row["region_id"], "region_id")
        if kind.member == "region" and row.get("parent_region_id"):
            self._exists(conn, "regions", row["parent_region_id"], "parent_region_id")
        if "name" in kind.columns and kind.member != "service" and row.get("name"):
            same = select(t.id).where(func.lower(t.name) == str(row["name"]).lower(), t.id != row["id"])
            if "domain_id" in kind.table.c and kind.member != "role":
                same = same.where(t.domain_id == row["domain_id"])
            if conn.execute(same).first():
                where = " in the same domain" if kind.member in ("project", "user") else ""
                raise Conflict(f"Conflict occurred attempting to store {kind.member} - it is not permitted to "
                               f"have two {kind.collection} with the same name{where}: {row['name']}.")

    def _exists(self, conn: Connection, collection: str, entity_id: Any, field_name: str) -> Mapping[str, Any]:
        table = KINDS[collection].table
        row = conn.execute(select(table).where(table.c.id == str(entity_id))).first()
        if row is None:
            raise BadRequest(f"Invalid {field_name}: {KINDS[collection].member} {entity_id} does not exist.")
        return dict(row._mapping)

    def _cascade(self, conn: Connection, kind: Kind, old: Mapping[str, Any]) -> None:
        """What deleting ``old`` takes with it (or forbids), as Keystone does."""
        ra, ep = m.role_assignments.c, m.endpoints.c
        oid = old["id"]
        if kind.member == "domain":
            if old["enabled"]:
                raise Forbidden("Cannot delete a domain that is enabled, please disable it first.")
            for table, collection in ((m.projects, "projects"), (m.users, "users")):
                for row in conn.execute(select(table).where(table.c.domain_id == oid).order_by(table.c.id.desc())):
                    self._cascade(conn, KINDS[collection], dict(row._mapping))
                conn.execute(delete(table).where(table.c.domain_id == oid))
            conn.execute(delete(m.role_assignments).where(ra.type == "UserDomain", ra.target_id == oid))
        elif kind.member == "project":
            if conn.execute(select(m.projects.c.id).where(m.projects.c.parent_id == oid)).first():
                raise Forbidden(f"Cannot delete project {oid}: it has child projects.")
            conn.execute(delete(m.role_assignments).where(ra.type == "UserProject", ra.target_id == oid))
            conn.execute(update(m.tokens).where(m.tokens.c.scope_type == "project", m.tokens.c.scope_id == oid)
                         .values(revoked=True))
        elif kind.member == "user":
            conn.execute(delete(m.role_assignments).where(ra.actor_id == oid))
            self._revoke_user_tokens(conn, oid)
        elif kind.member == "role":
            conn.execute(delete(m.role_assignments).where(ra.role_id == oid))
            ir = m.implied_roles.c
            conn.execute(delete(m.implied_roles).where(or_(ir.prior_role_id == oid, ir.implied_role_id == oid)))
        elif kind.member == "service":
            conn.execute(delete(m.endpoints).where(ep.service_id == oid))
        elif kind.member == "region" and (
                conn.execute(select(ep.id).where(ep.region_id == oid)).first()
                or conn.execute(select(m.regions.c.id).where(m.regions.c.parent_region_id == oid)).first()):
            raise Forbidden(f"Unable to delete region {oid}: it has endpoints or child regions.")

    def _revoke_user_tokens(self, conn: Connection, user_id: str) -> None:
        conn.execute(update(m.tokens).where(m.tokens.c.user_id == user_id).values(revoked=True))

    def _check_assignment_refs(self, conn: Connection, atype: str, actor_id: str, target_id: str,
                               role_id: str | None) -> None:
        self._row(conn, KINDS["users"], actor_id)
        if atype == "UserProject":
            self._row(conn, KINDS["projects"], target_id)
        elif atype == "UserDomain":
            self._row(conn, KINDS["domains"], target_id)
        if role_id is not None:
            self._row(conn, KINDS["roles"], role_id)

    def _has(self, conn: Connection, key: Mapping[str, str]) -> bool:
        ra = m.role_assignments.c
        return conn.execute(select(ra.role_id).where(
            ra.type == key["type"], ra.actor_id == key["actor_id"], ra.target_id == key["target_id"],
            ra.role_id == key["role_id"])).first() is not None

    def _implication_graph(self, conn: Connection) -> dict[str, set[str]]:
        graph: dict[str, set[str]] = {}
        for r in conn.execute(select(m.implied_roles)):
            graph.setdefault(r.prior_role_id, set()).add(r.implied_role_id)
        return graph


def _closure(start: set[str], graph: Mapping[str, set[str]]) -> set[str]:
    seen, todo = set(start), list(start)
    while todo:
        for nxt in graph.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def _coerce(kind: Kind, key: str, value: Any) -> Any:
    if key in _BOOL_COLUMNS:
        if not isinstance(value, bool):
            raise BadRequest(f"Invalid input for field '{key}': {value!r} is not a boolean.")
        return value
    if key == "tags":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise BadRequest("Invalid input for field 'tags': expecting a list of strings.")
        return _dumps(value)
    if value is None:
        if key in _NULLABLE:
            return None
        if key == "description":
            return ""
        raise BadRequest(f"Invalid input for field '{key}': null is not allowed.")
    if not isinstance(value, str):
        raise BadRequest(f"Invalid input for field '{key}': expecting a string.")
    if key == "name" and not value.strip():
        raise BadRequest(f"Invalid input for field 'name': a {kind.member} name cannot be empty.")
    if key == "interface" and value not in INTERFACES:
        raise BadRequest(f"Invalid input for field 'interface': {value!r} is not one of {list(INTERFACES)}.")
    if len(value) > 255 and key not in ("url", "description"):
        raise BadRequest(f"Invalid input for field '{key}': longer than 255 characters.")
    return value


def _render(kind: Kind, row: Mapping[str, Any]) -> dict[str, Any]:
    """A row as Keystone shows the entity (without ``links``, which need the public URL)."""
    out: dict[str, Any] = dict(_loads(row.get("extra"), {}))
    out["id"] = row["id"]
    for key in kind.columns:
        value = row[key]
        out[key] = _loads(value, []) if key == "tags" else value
    out.update(kind.constants)
    if kind.member == "project":
        out["parent_id"] = row["parent_id"] or row["domain_id"]
    if kind.member == "endpoint":
        out["region"] = row["region_id"]
    if kind.member == "user" and out.get("default_project_id") is None:
        out.pop("default_project_id", None)
    return out

