"""The lab's identity API: a Keystone v3 subset over ``regionmesh.identity``, as an ASGI app.

Enough of Keystone for keystoneauth, openstacksdk, the ``openstack`` CLI and keystonemiddleware-style
token validation: version discovery, password/token authentication with project, domain and system
scope, token validation and revocation, the catalog, and admin CRUD of domains, projects, users,
roles, role assignments, implied roles, regions, services and endpoints. Errors use Keystone's body
``{"error": {"code", "title", "message"}}``; 401s carry ``WWW-Authenticate: Keystone uri="..."``.

Handlers run in a worker thread: Argon2 verification is deliberately slow (~0.1 s) and must not
stall the event loop. No business logic lives here; permissions are ``identity.tokens.authorize``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlencode

import anyio.to_thread
from starlette.applications import Starlette
from starlette.datastructures import Headers, QueryParams
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from regionmesh.db.engine import Database
from regionmesh.identity.bootstrap import BootstrapSpec, bootstrap
from regionmesh.identity.migrate import upgrade
from regionmesh.identity.passwords import Passwords
from regionmesh.identity.store import KINDS, SYSTEM, BadRequest, Forbidden, IdentityError, IdentityStore, NotFound
from regionmesh.identity.tokens import Clock, TokenInfo, TokenService, authorize, utcnow

LOG = logging.getLogger(__name__)

V3_MEDIA_TYPE = "application/vnd.openstack.identity-v3+json"
V3_ID, V3_UPDATED = "v3.14", "2020-04-07T00:00:00Z"
SUBJECT = "X-Subject-Token"
# URL segment of an assignment target -> assignment type.
ASSIGNMENT_TYPES = {"projects": "UserProject", "domains": "UserDomain", "system": "UserSystem"}


class IdentityConfig(Protocol):
    """The settings this app reads (the ``[identity]`` section, or any object with these fields)."""

    database_url: str
    public_url: str | None
    token_expiration: int
    admin_project_name: str
    admin_project_domain_name: str


@dataclass(frozen=True)
class Call:
    """One request, parsed on the event loop and handed to a worker thread."""

    method: str
    params: Mapping[str, str]
    query: QueryParams
    headers: Headers
    body: Any
    base: str  # public base URL, no trailing slash

    def flag(self, name: str) -> bool:
        value = self.query.get(name)
        return value is not None and value.lower() not in ("0", "false", "no")


def _json(status: int, body: Any, headers: Mapping[str, str] | None = None) -> Response:
    return Response(json.dumps(body, separators=(",", ":")), status_code=status, media_type="application/json",
                    headers=dict(headers or {}))


def _no_content() -> Response:
    return Response(status_code=204)


class IdentityApp:
    """Routes Keystone v3 requests to an :class:`IdentityStore` and a :class:`TokenService`."""

    def __init__(self, store: IdentityStore, tokens: TokenService, *, public_url: str | None = None) -> None:
        self.store = store
        self.tokens = tokens
        self.public_url = public_url.rstrip("/") if public_url else None
        r = self._route
        routes = [
            Route("/", self._wrap(self.versions), methods=["GET"]),
            Route("/v3", self._wrap(self.version), methods=["GET"]),
            Route("/v3/", self._wrap(self.version), methods=["GET"]),
            r("/v3/auth/tokens", self.issue, ["POST"]),
            r("/v3/auth/tokens", self.check_token, ["GET", "DELETE"]),
            r("/v3/auth/catalog", self.auth_catalog, ["GET"]),
            r("/v3/auth/projects", self.auth_projects, ["GET"]),
            r("/v3/auth/domains", self.auth_domains, ["GET"]),
            r("/v3/auth/system", self.auth_system, ["GET"]),
            r("/v3/role_assignments", self.role_assignments, ["GET"]),
            r("/v3/role_inferences", self.role_inferences, ["GET"]),
            r("/v3/roles/{prior}/implies", self.implied_list, ["GET"]),
            r("/v3/roles/{prior}/implies/{implied}", self.implied_one, ["GET", "PUT", "DELETE"]),
            r("/v3/users/{id}/projects", self.user_projects, ["GET"]),
            r("/v3/users/{id}/password", self.change_password, ["POST"]),
            r("/v3/projects/{tid}/users/{uid}/roles", self.grants, ["GET"], target="projects"),
            r("/v3/projects/{tid}/users/{uid}/roles/{rid}", self.grant, ["GET", "PUT", "DELETE"], target="projects"),
            r("/v3/domains/{tid}/users/{uid}/roles", self.grants, ["GET"], target="domains"),
            r("/v3/domains/{tid}/users/{uid}/roles/{rid}", self.grant, ["GET", "PUT", "DELETE"], target="domains"),
            r("/v3/system/users/{uid}/roles", self.grants, ["GET"], target="system"),
            r("/v3/system/users/{uid}/roles/{rid}", self.grant, ["GET", "PUT", "DELETE"], target="system"),
            r("/v3/regions/{id}", self.put_region, ["PUT"]),
            r("/v3/{collection}", self.collection, ["GET", "POST"]),
            r("/v3/{collection}/{id}", self.member, ["GET", "PATCH", "DELETE"]),
        ]
        self.app = Starlette(routes=routes, exception_handlers={HTTPException: self._http_error})

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)

    # ---- plumbing -----------------------------------------------------------------------------
    def _route(self, path: str, handler: Callable[[Call], Response], methods: list[str], **fixed: str) -> Route:
        return Route(path, self._wrap(handler, fixed), methods=methods)

    def _wrap(self, handler: Callable[[Call], Response], fixed: Mapping[str, str] | None = None
              ) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            base = self.public_url or str(request.base_url).rstrip("/")
            params = {**request.path_params, **(fixed or {})}
            body: Any = None
            if request.method in ("POST", "PUT", "PATCH"):
                raw = await request.body()
                if raw:
                    try:
                        body = json.loads(raw)
                    except ValueError:
                        return self._error(BadRequest("Malformed JSON in request body."), base)
            call = Call(request.method, params, request.query_params, request.headers, body, base)
            try:
                response = await anyio.to_thread.run_sync(handler, call)
            except IdentityError as err:
                response = self._error(err, base)
            except Exception:
                LOG.exception("identity request %s %s failed", request.method, request.url.path)
                response = self._error(IdentityError(), base)
            if request.method == "HEAD":  # same status and headers as GET, no body
                return Response(status_code=response.status_code, headers=dict(response.headers))
            return response

        return endpoint

    async def _http_error(self, request: Request, err: Exception) -> Response:
        """Routing errors (unknown path, wrong method) in Keystone's body too."""
        code = err.status_code if isinstance(err, HTTPException) else 500
        title = {404: "Not Found", 405: "Method Not Allowed"}.get(code, "Error")
        message = "The resource could not be found." if code == 404 else f"{request.method} is not allowed here."
        return _json(code, {"error": {"code": code, "title": title, "message": message}})

    def _error(self, err: IdentityError, base: str) -> Response:
        headers = {"WWW-Authenticate": f'Keystone uri="{base}"'} if err.code == 401 else None
        return _json(err.code, {"error": {"code": err.code, "title": err.title, "message": err.message}}, headers)

    def _caller(self, call: Call) -> TokenInfo:
        return self.tokens.caller(call.headers.get("x-auth-token"))

    @staticmethod
    def _links(call: Call, path: str) -> dict[str, Any]:
        query = urlencode(list(call.query.multi_items()))
        return {"self": f"{call.base}/v3/{path}" + (f"?{query}" if query else ""), "previous": None, "next": None}

    @staticmethod
    def _entity(call: Call, collection: str, entity: dict[str, Any]) -> dict[str, Any]:
        return {**entity, "links": {"self": f"{call.base}/v3/{collection}/{entity['id']}"}}

    # ---- discovery ------------------------------------------------------------------------------
    @staticmethod
    def _v3(base: str) -> dict[str, Any]:
        return {"id": V3_ID, "status": "stable", "updated": V3_UPDATED,
                "links": [{"rel": "self", "href": f"{base}/v3/"}],
                "media-types": [{"base": "application/json", "type": V3_MEDIA_TYPE}]}

    def versions(self, call: Call) -> Response:
        return _json(300, {"versions": {"values": [self._v3(call.base)]}})

    def version(self, call: Call) -> Response:
        return _json(200, {"version": self._v3(call.base)})

    # ---- tokens ---------------------------------------------------------------------------------
    def _document(self, call: Call, info: TokenInfo) -> dict[str, Any]:
        wants_catalog = info.scope_type != "unscoped" and not call.flag("nocatalog")
        return info.document(self.tokens.catalog() if wants_catalog else None)

    def issue(self, call: Call) -> Response:
        token, info = self.tokens.authenticate(call.body)
        return _json(201, self._document(call, info), {SUBJECT: token})

    def check_token(self, call: Call) -> Response:
        caller = self._caller(call)
        subject = call.headers.get(SUBJECT.lower())
        if not subject:
            raise BadRequest(f"Expecting to find the {SUBJECT} header.")
        info = self.tokens.validate(subject)
        if call.method == "DELETE":
            authorize(caller, "revoke_token", "service or self", {"user_id": info.user_id})
            self.tokens.revoke(subject)
            return _no_content()
        authorize(caller, "validate_token", "reader or service or self", {"user_id": info.user_id})
        return _json(200, self._document(call, info), {SUBJECT: subject})

    def auth_catalog(self, call: Call) -> Response:
        caller = self._caller(call)
        if caller.scope_type == "unscoped":
            raise Forbidden("A scoped token is required to produce a service catalog.")
        return _json(200, {"catalog": self.tokens.catalog(), "links": self._links(call, "auth/catalog")})

    def auth_projects(self, call: Call) -> Response:
        caller = self._caller(call)
        projects = self.store.user_projects(caller.user_id, enabled_only=True)
        return _json(200, {"projects": [self._entity(call, "projects", p) for p in projects],
                           "links": self._links(call, "auth/projects")})

    def auth_domains(self, call: Call) -> Response:
        caller = self._caller(call)
        domains = self.store.user_domains(caller.user_id)
        return _json(200, {"domains": [self._entity(call, "domains", d) for d in domains],
                           "links": self._links(call, "auth/domains")})

    def auth_system(self, call: Call) -> Response:
        caller = self._caller(call)
        has = bool(self.store.role_assignments(user_id=caller.user_id, system=True))
        return _json(200, {"system": [{"all": True}] if has else [], "links": self._links(call, "auth/system")})

    # ---- generic collections ----------------------------------------------------------------------
    def _kind(self, call: Call) -> str:
        collection = call.params["collection"]
        if collection not in KINDS:
            raise NotFound(f"The resource could not be found: /v3/{collection}.")
        return collection

    def collection(self, call: Call) -> Response:
        collection = self._kind(call)
        caller = self._caller(call)
        member = KINDS[collection].member
        if call.method == "POST":
            authorize(caller, f"create_{member}", "admin")
            created = self.store.create(collection, call.body)
            return _json(201, {member: self._entity(call, collection, created)})
        authorize(caller, f"list_{collection}", "reader")
        items = self.store.list_entities(collection, dict(call.query))
        return _json(200, {collection: [self._entity(call, collection, e) for e in items],
                           "links": self._links(call, collection)})

    def member(self, call: Call) -> Response:
        collection = self._kind(call)
        caller = self._caller(call)
        member, entity_id = KINDS[collection].member, call.params["id"]
        if call.method == "PATCH":
            authorize(caller, f"update_{member}", "admin")
            return _json(200, {member: self._entity(call, collection, self.store.update(collection, entity_id,
                                                                                         call.body))})
        if call.method == "DELETE":
            authorize(caller, f"delete_{member}", "admin")
            self.store.delete(collection, entity_id)
            return _no_content()
        rule = {"users": "reader or self", "projects": "reader or project"}.get(collection, "reader")
        authorize(caller, f"get_{member}", rule, {"user_id": entity_id, "project_id": entity_id})
        return _json(200, {member: self._entity(call, collection, self.store.get(collection, entity_id))})

    def put_region(self, call: Call) -> Response:
        authorize(self._caller(call), "create_region", "admin")
        body = call.body if isinstance(call.body, dict) else {}
        created = self.store.create("regions", {"region": dict(body.get("region") or {})},
                                    entity_id=call.params["id"])
        return _json(201, {"region": self._entity(call, "regions", created)})

    # ---- users --------------------------------------------------------------------------------------
    def user_projects(self, call: Call) -> Response:
        user_id = call.params["id"]
        authorize(self._caller(call), "list_user_projects", "reader or self", {"user_id": user_id})
        projects = self.store.user_projects(user_id)
        return _json(200, {"projects": [self._entity(call, "projects", p) for p in projects],
                           "links": self._links(call, f"users/{user_id}/projects")})

    def change_password(self, call: Call) -> Response:
        """Self-service password change, authenticated by the original password (as Keystone does)."""
        user = call.body.get("user") if isinstance(call.body, dict) else None
        if not isinstance(user, dict) or not isinstance(user.get("original_password"), str):
            raise BadRequest("Expecting to find user with password and original_password.")
        self.tokens.check_password({"user": {"id": call.params["id"], "password": user["original_password"]}})
        self.store.update("users", call.params["id"], {"user": {"password": user.get("password")}})
        return _no_content()

    # ---- role assignments ---------------------------------------------------------------------------
    def _assignment_type(self, call: Call) -> tuple[str, str]:
        target = call.params["target"]
        if target not in ASSIGNMENT_TYPES:
            raise NotFound(f"The resource could not be found: /v3/{target}.")
        return ASSIGNMENT_TYPES[target], call.params.get("tid", SYSTEM)

    def grants(self, call: Call) -> Response:
        atype, target_id = self._assignment_type(call)
        authorize(self._caller(call), "list_grants", "reader or self", {"user_id": call.params["uid"]})
        roles = self.store.granted_roles(atype, call.params["uid"], target_id)
        path = call.params["target"] + ("" if atype == "UserSystem" else f"/{target_id}")
        return _json(200, {"roles": [self._entity(call, "roles", r) for r in roles],
                           "links": self._links(call, f"{path}/users/{call.params['uid']}/roles")})

    def grant(self, call: Call) -> Response:
        atype, target_id = self._assignment_type(call)
        caller, uid, rid = self._caller(call), call.params["uid"], call.params["rid"]
        if call.method == "PUT":
            authorize(caller, "create_grant", "admin")
            self.store.grant(atype, uid, target_id, rid)
        elif call.method == "DELETE":
            authorize(caller, "revoke_grant", "admin")
            self.store.ungrant(atype, uid, target_id, rid)
        else:
            authorize(caller, "check_grant", "reader or self", {"user_id": uid})
            self.store.check_grant(atype, uid, target_id, rid)
        return _no_content()

    def role_assignments(self, call: Call) -> Response:
        q = call.query
        authorize(self._caller(call), "list_role_assignments", "reader or self", {"user_id": q.get("user.id")})
        if q.get("group.id"):
            rows: list[dict[str, Any]] = []  # no groups in the lab
        else:
            rows = self.store.role_assignments(
                user_id=q.get("user.id"), role_id=q.get("role.id"), project_id=q.get("scope.project.id"),
                domain_id=q.get("scope.domain.id"), system=q.get("scope.system") == "all",
                effective=call.flag("effective"))
        names = self.store.names(
            [("roles", r["role_id"]) for r in rows] + [("users", r["actor_id"]) for r in rows]
            + [({"UserProject": "projects", "UserDomain": "domains"}[r["type"]], r["target_id"])
               for r in rows if r["type"] != "UserSystem"]) if call.flag("include_names") else {}
        out = []
        for row in rows:
            role, user = {"id": row["role_id"]}, {"id": row["actor_id"]}
            role.update(names.get(("roles", row["role_id"]), {}))
            user.update(names.get(("users", row["actor_id"]), {}))
            if row["type"] == "UserSystem":
                scope: dict[str, Any] = {"system": {"all": True}}
                link = f"{call.base}/v3/system/users/{row['actor_id']}/roles/{row['role_id']}"
            else:
                collection = "projects" if row["type"] == "UserProject" else "domains"
                target = {"id": row["target_id"], **names.get((collection, row["target_id"]), {})}
                scope = {collection[:-1]: target}
                link = f"{call.base}/v3/{collection}/{row['target_id']}/users/{row['actor_id']}/roles/{row['role_id']}"
            links = {"assignment": link}
            if row.get("prior_role_id"):
                links["prior_role"] = f"{call.base}/v3/roles/{row['prior_role_id']}"
            out.append({"role": role, "user": user, "scope": scope, "links": links})
        return _json(200, {"role_assignments": out, "links": self._links(call, "role_assignments")})

    # ---- implied roles ------------------------------------------------------------------------------
    def _role_ref(self, call: Call, role_id: str) -> dict[str, Any]:
        role = self.store.get("roles", role_id)
        return {"id": role["id"], "name": role["name"], "links": {"self": f"{call.base}/v3/roles/{role['id']}"}}

    def implied_one(self, call: Call) -> Response:
        caller, prior, implied = self._caller(call), call.params["prior"], call.params["implied"]
        if call.method == "PUT":
            authorize(caller, "create_implied_role", "admin")
            self.store.imply(prior, implied)
        elif call.method == "DELETE":
            authorize(caller, "delete_implied_role", "admin")
            self.store.unimply(prior, implied)
            return _no_content()
        else:
            authorize(caller, "get_implied_role", "reader")
            if implied not in self.store.implications().get(prior, []):
                raise NotFound(f"{prior} does not imply {implied}.")
            if call.method == "HEAD":
                return _no_content()
        body = {"role_inference": {"prior_role": self._role_ref(call, prior),
                                   "implies": self._role_ref(call, implied)},
                "links": {"self": f"{call.base}/v3/roles/{prior}/implies/{implied}"}}
        return _json(201 if call.method == "PUT" else 200, body)

    def implied_list(self, call: Call) -> Response:
        authorize(self._caller(call), "list_implied_roles", "reader")
        prior = call.params["prior"]
        implied = self.store.implications().get(prior, [])
        return _json(200, {"role_inference": {"prior_role": self._role_ref(call, prior),
                                              "implies": [self._role_ref(call, i) for i in implied]},
                           "links": {"self": f"{call.base}/v3/roles/{prior}/implies"}})

    def role_inferences(self, call: Call) -> Response:
        authorize(self._caller(call), "list_role_inference_rules", "reader")
        out = [{"prior_role": self._role_ref(call, prior), "implies": [self._role_ref(call, i) for i in implied]}
               for prior, implied in self.store.implications().items()]
        return _json(200, {"role_inferences": out, "links": self._links(call, "role_inferences")})


# ---- construction ----------------------------------------------------------------------------------
def create_identity_app(settings_or_db_url: str | IdentityConfig | Any, *, public_url: str | None = None,
                        token_expiration: float | None = None, clock: Clock | None = None,
                        passwords: Passwords | None = None, bootstrap_spec: BootstrapSpec | None = None,
                        migrate: bool = True) -> IdentityApp:
    """A ready identity ASGI app: schema upgraded, optionally bootstrapped.

    ``settings_or_db_url`` is a database URL, an identity settings object (see
    :class:`IdentityConfig`), or the whole settings object whose ``identity`` section is used.
    Keyword arguments override the settings; ``clock`` and ``passwords`` exist for tests.
    """
    cfg: Any = getattr(settings_or_db_url, "identity", settings_or_db_url)
    url = cfg if isinstance(cfg, str) else cfg.database_url
    if migrate:
        upgrade(url)
    store = IdentityStore(Database(url), passwords)
    if bootstrap_spec is not None:
        bootstrap(store, bootstrap_spec)
    expiration = token_expiration if token_expiration is not None else getattr(cfg, "token_expiration", 3600)
    tokens = TokenService(store, expiration=expiration, clock=clock or utcnow,
                          admin_project_name=getattr(cfg, "admin_project_name", "admin"),
                          admin_project_domain_name=getattr(cfg, "admin_project_domain_name", "Default"))
    return IdentityApp(store, tokens, public_url=public_url or getattr(cfg, "public_url", None))
