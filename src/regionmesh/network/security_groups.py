"""Security groups and rules (seed 002: SG-01…SG-12, REG-20).

A new group gets exactly two egress rules (IPv4, IPv6) in the same transaction; a project's
``default`` group is created on first need, race-free (its key is the project), with Neutron's
four default rules. Rules are validated per protocol, duplicates conflict, bulk creates are all
or nothing.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, bindparam, delete, insert, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import ColumnElement

from regionmesh.context import RequestContext
from regionmesh.db import models as m
from regionmesh.db.engine import RetryRequest
from regionmesh.network import exceptions as exc
from regionmesh.network import resources
from regionmesh.network import validators as v
from regionmesh.network.service import ResourceService, new_id, utcnow

ETHERTYPES = ("IPv4", "IPv6")
_DEFAULT_OF = select(m.default_security_groups.c.security_group_id).where(
    m.default_security_groups.c.project_id == bindparam("project_id"))


class SecurityGroupNotFound(exc.NotFound):
    message = "Security group %(id)s does not exist"


class SecurityGroupRuleNotFound(exc.NotFound):
    message = "Security group rule %(id)s does not exist"


class SecurityGroupConflict(exc.Conflict):
    message = "Error %(reason)s while attempting the operation."


class SecurityGroupInUse(exc.InUse):
    message = "Security Group %(id)s in use."


class SecurityGroupCannotRemoveDefault(exc.InUse):
    message = "Insufficient rights for removing default security group."


class SecurityGroupCannotUpdateDefault(exc.InUse):
    message = "Updating default security group not allowed."


class SecurityGroupDefaultAlreadyExists(exc.InUse):
    message = "Default security group already exists."


class SecurityGroupRuleExists(exc.InUse):
    message = "Security group rule already exists. Rule id is %(rule_id)s."


class DuplicateSecurityGroupRuleInPost(exc.InUse):
    message = "Duplicate Security Group Rule in POST."


class SecurityGroupRemoteGroupAndRemoteIpPrefix(exc.InvalidInput):
    message = "Only remote_ip_prefix or remote_group_id may be provided."


class SecurityGroupNotSingleGroupRules(exc.InvalidInput):
    message = "Only allowed to update rules for one security profile at a time"


class SecurityGroupRuleInvalidEtherType(exc.InvalidInput):
    message = "Security group rule for ethertype '%(ethertype)s' not supported. Allowed values are %(values)s."


class SecurityGroupRuleService(ResourceService):
    rdef = resources.SECURITY_GROUP_RULE
    table = m.securitygrouprules
    not_found = SecurityGroupRuleNotFound
    conflict = SecurityGroupConflict
    int_filters = frozenset({"port_range_min", "port_range_max"})

    def filter_hooks(self) -> dict[str, Any]:
        defaults = select(m.default_security_groups.c.security_group_id)

        def belongs(vals: list[str]) -> ColumnElement[bool]:
            wanted = {x.lower() in ("true", "1") for x in vals}
            clauses = []
            if True in wanted:
                clauses.append(self.table.c.security_group_id.in_(defaults))
            if False in wanted:
                clauses.append(self.table.c.security_group_id.not_in(defaults))
            return or_(*clauses)

        return {"belongs_to_default_sg": belongs}

    def visible_clause(self, ctx: RequestContext) -> ColumnElement[bool] | None:
        if ctx.is_admin:
            return None
        own_groups = select(m.securitygroups.c.id).where(m.securitygroups.c.project_id == ctx.project_id)
        return or_(self.table.c.project_id == ctx.project_id, self.table.c.security_group_id.in_(own_groups))

    def load(self, conn: Connection, rows: Sequence[Any]) -> list[dict[str, Any]]:
        sg_ids = {r.security_group_id for r in rows}
        defaults = {r[0] for r in conn.execute(select(m.default_security_groups.c.security_group_id).where(
            m.default_security_groups.c.security_group_id.in_(sg_ids)))} if sg_ids else set()
        return [rule_view(self, r, r.security_group_id in defaults) for r in rows]

    def policy_target(self, conn: Connection, ctx: RequestContext, item: Mapping[str, Any]) -> dict[str, Any]:
        target = super().policy_target(conn, ctx, item)
        owner = conn.execute(select(m.securitygroups.c.project_id).where(
            m.securitygroups.c.id == item.get("security_group_id"))).scalar()
        target["security_group:project_id"] = owner
        target["security_group:tenant_id"] = owner
        return target

    def check_references(self, conn: Connection, ctx: RequestContext, item: Mapping[str, Any]) -> None:
        sg = conn.execute(select(m.securitygroups.c.id, m.securitygroups.c.project_id).where(
            m.securitygroups.c.id == item["security_group_id"])).first()
        if sg is None or not (ctx.is_admin or sg.project_id == ctx.project_id):
            raise SecurityGroupNotFound(id=item["security_group_id"])

    def prepare_create(self, conn: Connection, ctx: RequestContext, item: dict[str, Any]) -> None:
        validate_rule(item)
        remote = item.get("remote_group_id")
        if remote and not conn.execute(select(m.securitygroups.c.id).where(m.securitygroups.c.id == remote)).first():
            raise SecurityGroupNotFound(id=remote)

    def create_one(self, conn: Connection, ctx: RequestContext, item: dict[str, Any]) -> str:
        if not conn.execute(select(m.securitygroups.c.id).where(
                m.securitygroups.c.id == item["security_group_id"])).first():
            raise SecurityGroupNotFound(id=item["security_group_id"])
        existing = find_duplicate(conn, item)
        if existing is not None:
            raise SecurityGroupRuleExists(rule_id=existing)
        rid = insert_rule(conn, item, item["project_id"], item.get("id"))
        touch_group(conn, item["security_group_id"])
        return rid

    def delete_one(self, conn: Connection, ctx: RequestContext, original: dict[str, Any]) -> None:
        conn.execute(delete(self.table).where(self.table.c.id == original["id"]))
        touch_group(conn, original["security_group_id"])


def rule_view(svc: ResourceService, r: Any, in_default: bool) -> dict[str, Any]:
    item = svc.standard_view(r)
    item.update({
        "security_group_id": r.security_group_id,
        "remote_group_id": r.remote_group_id,
        "remote_address_group_id": r.remote_address_group_id,
        "direction": r.direction,
        "ethertype": r.ethertype,
        "protocol": r.protocol,
        "port_range_min": r.port_range_min,
        "port_range_max": r.port_range_max,
        "remote_ip_prefix": r.remote_ip_prefix,
        "normalized_cidr": r.normalized_cidr,
        "belongs_to_default_sg": in_default,
    })
    return item


def validate_rule(item: dict[str, Any]) -> None:
    """Neutron's rule checks, in Neutron's order; normalises the item in place."""
    v.validate_security_group_rule(item)


def find_duplicate(conn: Connection, item: Mapping[str, Any]) -> str | None:
    """The id of an existing rule equal to ``item`` by Neutron's rule key ("tcp" equals "6")."""
    t = m.securitygrouprules
    key = v.security_group_rule_key(item)
    for row in conn.execute(select(t).where(t.c.security_group_id == item["security_group_id"],
                                            t.c.direction == item["direction"])):
        if v.security_group_rule_key(dict(row._mapping)) == key:
            return str(row.id)
    return None


def insert_rule(conn: Connection, item: Mapping[str, Any], project_id: str | None, rule_id: str | None = None) -> str:
    now = utcnow()
    rid = rule_id or new_id()
    prefix = item.get("remote_ip_prefix")
    normalized = str(ipaddress.ip_network(prefix, strict=False)) if prefix else None
    conn.execute(insert(m.securitygrouprules).values(
        id=rid, project_id=project_id, description=item.get("description") or "", created_at=now, updated_at=now,
        revision_number=1, security_group_id=item["security_group_id"], remote_group_id=item.get("remote_group_id"),
        remote_address_group_id=item.get("remote_address_group_id"), direction=item["direction"],
        ethertype=item.get("ethertype") or "IPv4", protocol=item.get("protocol"),
        port_range_min=item.get("port_range_min"), port_range_max=item.get("port_range_max"),
        remote_ip_prefix=prefix, normalized_cidr=normalized))
    return rid


def touch_group(conn: Connection, sg_id: str) -> None:
    conn.execute(m.securitygroups.update().where(m.securitygroups.c.id == sg_id).values(
        updated_at=utcnow(), revision_number=m.securitygroups.c.revision_number + 1))


class SecurityGroupService(ResourceService):
    rdef = resources.SECURITY_GROUP
    table = m.securitygroups
    not_found = SecurityGroupNotFound
    conflict = SecurityGroupConflict
    bool_filters = frozenset({"stateful", "shared"})

    def visible_clause(self, ctx: RequestContext) -> ColumnElement[bool] | None:
        if ctx.is_admin:
            return None
        return or_(self.table.c.project_id == ctx.project_id, self.table.c.shared.is_(True))

    def load(self, conn: Connection, rows: Sequence[Any]) -> list[dict[str, Any]]:
        ids = [r.id for r in rows]
        rules: dict[str, list[dict[str, Any]]] = {i: [] for i in ids}
        defaults: set[str] = set()
        if ids:
            defaults = {r[0] for r in conn.execute(select(m.default_security_groups.c.security_group_id).where(
                m.default_security_groups.c.security_group_id.in_(ids)))}
            for r in conn.execute(select(m.securitygrouprules).where(
                    m.securitygrouprules.c.security_group_id.in_(ids)).order_by(
                    m.securitygrouprules.c.created_at, m.securitygrouprules.c.id)):
                rules[r.security_group_id].append(rule_view(self, r, r.security_group_id in defaults))
        tags = self.load_tags(conn, ids)
        out = []
        for r in rows:
            item = self.standard_view(r)
            item.update({"security_group_rules": rules[r.id], "stateful": r.stateful, "shared": r.shared,
                         "tags": tags[r.id]})
            out.append(item)
        return out

    def extra_quota(self, items: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, int]]:
        """A new group's egress rules (one per ethertype) count against the rule quota, as in Neutron."""
        rules: dict[str, int] = {}
        for item in items:
            if item.get("project_id"):
                rules[item["project_id"]] = rules.get(item["project_id"], 0) + len(ETHERTYPES)
        return {"security_group_rule": rules}

    def prepare_create(self, conn: Connection, ctx: RequestContext, item: dict[str, Any]) -> None:
        if item.get("name") == "default" and not item.get("__default__"):
            raise SecurityGroupDefaultAlreadyExists()

    def create_one(self, conn: Connection, ctx: RequestContext, item: dict[str, Any]) -> str:
        if item.get("project_id"):
            self.ensure_default(conn, item["project_id"])
        return self.insert_group(conn, ctx, item)

    def insert_group(self, conn: Connection, ctx: RequestContext, item: dict[str, Any], *,
                     default: bool = False) -> str:
        """The group row plus its default rules, inside the caller's transaction (SG-02, SG-03)."""
        values = self.standard_values(ctx, item)
        values["stateful"] = item.get("stateful", True)
        try:
            conn.execute(insert(self.table).values(**values))
        except IntegrityError as err:
            raise SecurityGroupConflict(reason=f"security group {values['id']} already exists") from err
        sg_id = str(values["id"])
        project = values["project_id"]
        for ethertype in ETHERTYPES:
            insert_rule(conn, {"security_group_id": sg_id, "direction": "egress", "ethertype": ethertype}, project)
            if default:
                insert_rule(conn, {"security_group_id": sg_id, "direction": "ingress", "ethertype": ethertype,
                                   "remote_group_id": sg_id}, project)
        self.insert_tags(conn, sg_id, item.get("tags") or [])
        return sg_id

    def ensure_default(self, conn: Connection, project_id: str) -> str:
        """The project's default group id, created on first need (SG-04)."""
        t = m.default_security_groups
        found = conn.execute(_DEFAULT_OF, {"project_id": project_id}).scalar()
        if found:
            return str(found)
        sg_id = self.insert_group(conn, RequestContext(project_id=project_id),
                                  {"name": "default", "project_id": project_id,
                                   "description": "Default security group"}, default=True)
        try:
            conn.execute(insert(t).values(project_id=project_id, security_group_id=sg_id))
        except IntegrityError as err:
            # Another request created it first: start over and find theirs.
            raise RetryRequest("default security group created concurrently", err) from err
        return sg_id

    def before_list(self, ctx: RequestContext) -> None:
        """Listing groups creates the caller's default group, as Neutron does."""
        if ctx.project_id:
            with self.db.read() as conn:
                found = conn.execute(select(m.default_security_groups.c.project_id).where(
                    m.default_security_groups.c.project_id == ctx.project_id)).first()
            if found is None:
                self.db.transaction(lambda conn: self.ensure_default(conn, str(ctx.project_id)))

    def is_default(self, conn: Connection, sg_id: str) -> bool:
        t = m.default_security_groups
        return conn.execute(select(t.c.project_id).where(t.c.security_group_id == sg_id)).first() is not None

    def update_one(self, conn: Connection, ctx: RequestContext, original: dict[str, Any],
                   changes: dict[str, Any]) -> None:
        if self.is_default(conn, original["id"]) and "name" in changes:
            raise SecurityGroupCannotUpdateDefault()
        if "stateful" in changes and changes["stateful"] != original["stateful"]:
            # Neutron: a group's ports keep the filtering they were set up with.
            used = conn.execute(select(m.securitygroupportbindings.c.port_id).where(
                m.securitygroupportbindings.c.security_group_id == original["id"]).limit(1)).first()
            if used is not None:
                raise SecurityGroupInUse(id=original["id"])
        values: dict[str, Any] = {k: changes[k] for k in ("name", "description", "stateful") if k in changes}
        self.bump(conn, original["id"], values)

    def delete_one(self, conn: Connection, ctx: RequestContext, original: dict[str, Any]) -> None:
        sg_id = original["id"]
        if self.is_default(conn, sg_id) and not ctx.is_admin:
            raise SecurityGroupCannotRemoveDefault()
        bound = conn.execute(select(m.securitygroupportbindings.c.port_id).where(
            m.securitygroupportbindings.c.security_group_id == sg_id).limit(1)).first()
        if bound is not None:
            raise SecurityGroupInUse(id=sg_id)
        conn.execute(delete(m.default_security_groups).where(m.default_security_groups.c.security_group_id == sg_id))
        conn.execute(delete(m.tags).where(m.tags.c.resource_type == "security_groups", m.tags.c.resource_id == sg_id))
        conn.execute(delete(self.table).where(self.table.c.id == sg_id))
