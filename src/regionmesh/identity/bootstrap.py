"""The lab's initial identity data, like ``keystone-manage bootstrap`` plus devstack's accounts.

Idempotent: every item is looked up by its natural key (name, or service type+name, or
service+region+interface) and created or brought up to date, so the lab can run it at every start.
A changed password is re-set (which revokes that user's tokens); an unchanged one is left alone, so
restarting the lab does not log anybody out.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from regionmesh.identity.store import IdentityStore

LOG = logging.getLogger(__name__)

# admin ⊃ member ⊃ reader, as Keystone's bootstrap sets up; "service" stands alone.
ROLES = ("admin", "member", "reader", "service")
IMPLIED = (("admin", "member"), ("member", "reader"))
INTERFACES = ("public", "internal", "admin")


@dataclass(frozen=True)
class CatalogEntry:
    """One service's endpoint(s) in one region (one endpoint row per interface)."""

    service_type: str
    service_name: str
    region: str
    url: str
    interfaces: tuple[str, ...] = INTERFACES


@dataclass(frozen=True)
class BootstrapSpec:
    """What the lab wants to exist. Passwords are kept out of ``repr`` (and so out of logs)."""

    admin_password: str = field(repr=False)
    catalog: Sequence[CatalogEntry] = ()
    # Registered as service type ``identity`` (name ``keystone``) in every region, so that clients
    # find the identity API whatever ``--os-region-name`` says.
    identity_url: str | None = None
    regions: Sequence[str] = ()  # regions to create even without endpoints
    demo_password: str | None = field(default=None, repr=False)
    # Service users (nova, neutron, ...) in the service project: name -> password.
    service_users: Mapping[str, str] = field(default_factory=dict, repr=False)
    service_user_roles: tuple[str, ...] = ("admin", "service")
    domain_id: str = "default"
    domain_name: str = "Default"
    admin_username: str = "admin"
    admin_project: str = "admin"
    service_project: str = "service"
    demo_username: str = "demo"
    demo_project: str = "demo"


@dataclass
class BootstrapResult:
    """Ids of what bootstrap made or found (for the lab's clouds.yaml and for tests)."""

    domain_id: str
    roles: dict[str, str]
    projects: dict[str, str]
    users: dict[str, str]
    services: dict[tuple[str, str], str]
    endpoints: list[str]


def bootstrap(store: IdentityStore, spec: BootstrapSpec) -> BootstrapResult:
    """Create or update everything in ``spec``; safe to run again."""
    domain_id = _ensure_domain(store, spec)
    roles = {name: _ensure(store, "roles", {"name": name}, {"name": name}) for name in ROLES}
    for prior, implied in IMPLIED:
        store.imply(roles[prior], roles[implied])
    projects = {
        name: _ensure(store, "projects", {"name": name, "domain_id": domain_id},
                      {"name": name, "domain_id": domain_id, "description": f"Bootstrap project {name}"})
        for name in (spec.admin_project, spec.service_project, spec.demo_project)
    }
    users: dict[str, str] = {}
    admin = users[spec.admin_username] = _ensure_user(store, domain_id, spec.admin_username, spec.admin_password,
                                                      projects[spec.admin_project])
    store.grant("UserProject", admin, projects[spec.admin_project], roles["admin"])
    store.grant("UserSystem", admin, "system", roles["admin"])
    demo = users[spec.demo_username] = _ensure_user(store, domain_id, spec.demo_username, spec.demo_password,
                                                    projects[spec.demo_project])
    store.grant("UserProject", demo, projects[spec.demo_project], roles["member"])
    for name, password in sorted(spec.service_users.items()):
        uid = users[name] = _ensure_user(store, domain_id, name, password, projects[spec.service_project])
        for role in spec.service_user_roles:
            store.grant("UserProject", uid, projects[spec.service_project], roles[role])

    entries = list(spec.catalog)
    region_names = list(dict.fromkeys([*spec.regions, *(e.region for e in entries)]))
    if spec.identity_url:
        entries += [CatalogEntry("identity", "keystone", region, spec.identity_url) for region in region_names]
    for region in region_names:
        _ensure_region(store, region)
    services: dict[tuple[str, str], str] = {}
    endpoints: list[str] = []
    for entry in entries:
        key = (entry.service_type, entry.service_name)
        if key not in services:
            services[key] = _ensure(store, "services", {"type": entry.service_type, "name": entry.service_name},
                                    {"type": entry.service_type, "name": entry.service_name, "enabled": True})
        for interface in entry.interfaces:
            endpoints.append(_ensure_endpoint(store, services[key], entry.region, interface, entry.url))
    LOG.info("identity bootstrap: %d projects, %d users, %d services, %d endpoints in %d regions",
             len(projects), len(users), len(services), len(endpoints), len(region_names))
    return BootstrapResult(domain_id, roles, projects, users, services, endpoints)


def _ensure(store: IdentityStore, collection: str, key: Mapping[str, str], body: dict[str, Any]) -> str:
    found = store.list_entities(collection, key)
    if found:
        return str(found[0]["id"])
    return str(store.create(collection, {collection[:-1]: body})["id"])


def _ensure_domain(store: IdentityStore, spec: BootstrapSpec) -> str:
    for domain in store.list_entities("domains"):
        if domain["id"] == spec.domain_id or domain["name"] == spec.domain_name:
            if not domain["enabled"]:
                store.update("domains", domain["id"], {"domain": {"enabled": True}})
            return str(domain["id"])
    body = {"domain": {"name": spec.domain_name, "description": "The default domain"}}
    return str(store.create("domains", body, entity_id=spec.domain_id)["id"])


def _ensure_user(store: IdentityStore, domain_id: str, name: str, password: str | None, project_id: str) -> str:
    found = store.list_entities("users", {"name": name, "domain_id": domain_id})
    if not found:
        body: dict[str, Any] = {"name": name, "domain_id": domain_id, "enabled": True,
                                "default_project_id": project_id}
        if password:
            body["password"] = password
        return str(store.create("users", {"user": body})["id"])
    user = found[0]
    changes: dict[str, Any] = {}
    if not user["enabled"]:
        changes["enabled"] = True
    if password and not _password_matches(store, user["id"], password):
        changes["password"] = password
    if changes:
        store.update("users", user["id"], {"user": changes})
    return str(user["id"])


def _password_matches(store: IdentityStore, user_id: str, password: str) -> bool:
    with store.db.read() as conn:
        row = store.user_row(conn, user_id)
    return row is not None and store.passwords.verify(row["password_hash"], password)


def _ensure_region(store: IdentityStore, region: str) -> None:
    if not any(r["id"] == region for r in store.list_entities("regions")):
        store.create("regions", {"region": {"id": region, "description": ""}})


def _ensure_endpoint(store: IdentityStore, service_id: str, region: str, interface: str, url: str) -> str:
    found = store.list_entities("endpoints", {"service_id": service_id, "region_id": region, "interface": interface})
    if not found:
        body = {"service_id": service_id, "region_id": region, "interface": interface, "url": url, "enabled": True}
        return str(store.create("endpoints", {"endpoint": body})["id"])
    endpoint = found[0]
    if endpoint["url"] != url or not endpoint["enabled"]:
        store.update("endpoints", endpoint["id"], {"endpoint": {"url": url, "enabled": True}})
    return str(endpoint["id"])
