"""The request pipeline every read and write goes through (seed 002, NAPI-01…09, CB-*).

create: ``.create.start`` → validate and fill defaults → policy per item → quota reservation →
BEFORE callbacks → one transaction (rows + PRECOMMIT callbacks + reservation commit) → AFTER
callbacks → ``.create.end`` → BEFORE_RESPONSE. A failure anywhere before commit cancels the
reservation and leaves nothing behind; failures after commit are logged, never returned.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from regionmesh.context import RequestContext
from regionmesh.network import callbacks as cb
from regionmesh.network import exceptions as exc
from regionmesh.network.attributes import explicit_policy_attrs, prepare_post, prepare_put
from regionmesh.network.query import ListParams
from regionmesh.network.service import ResourceService

if TYPE_CHECKING:
    from regionmesh.network.core import NetworkCore

LOG = logging.getLogger(__name__)


class RevisionMismatch(exc.PreconditionFailed):
    message = "Constrained update failed: revision_number %(current)s does not match %(expected)s"


def parse_if_match(header: str | None) -> int | None:
    """``If-Match: revision_number=N`` → N (other forms are ignored, as Neutron does)."""
    if not header:
        return None
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key.strip() == "revision_number":
            try:
                return int(value.strip())
            except ValueError:
                raise exc.BadRequest(resource="If-Match",
                                     msg=f"Invalid revision_number '{value.strip()}'") from None
    return None


class Pipeline:
    """Generic create/update/delete/get/list over a :class:`ResourceService`."""

    def __init__(self, core: NetworkCore) -> None:
        self.core = core

    # ---- policy -----------------------------------------------------------------------------
    def _enforce(self, ctx: RequestContext, action: str, target: Mapping[str, Any],
                 attrs: Sequence[str] = (), hide: bool = False, resource_id: str | None = None,
                 svc: ResourceService | None = None) -> None:
        enforcer = self.core.enforcer
        if not enforcer.check(ctx, action, target):
            if hide and svc is not None and not self._may_see(ctx, svc, target):
                raise svc.not_found(id=resource_id or target.get("id"))
            raise exc.PolicyNotAuthorized(action=action)
        for attr in attrs:
            if not enforcer.check_attribute(ctx, action, attr, target):
                raise exc.PolicyNotAuthorized(action=f"{action}:{attr}")

    def _may_see(self, ctx: RequestContext, svc: ResourceService, target: Mapping[str, Any]) -> bool:
        return self.core.enforcer.check(ctx, f"get_{svc.rdef.member}", target)

    def view(self, ctx: RequestContext, svc: ResourceService, item: dict[str, Any],
             fields: Sequence[str] = ()) -> dict[str, Any]:
        """Strip attributes the caller may not read and those not asked for."""
        rdef = svc.rdef
        enforcer = self.core.enforcer
        out: dict[str, Any] = {}
        for name, value in item.items():
            attr = rdef.attrs.get(name)
            if attr is None or not attr.is_visible:
                continue
            if fields and name not in fields:
                continue
            if attr.enforce_policy and not enforcer.check_attribute(ctx, f"get_{rdef.member}", name, item):
                continue
            out[name] = value
        return out

    # ---- reads ------------------------------------------------------------------------------
    def get(self, ctx: RequestContext, svc: ResourceService, resource_id: str,
            fields: Sequence[str] = ()) -> dict[str, Any]:
        self.core.role.check_readable(ctx, svc, resource_id)
        try:
            with self.core.db.read() as conn:
                item = svc.get_raw(conn, ctx, resource_id)
                target = svc.policy_target(conn, ctx, item)
        except exc.NotFound:
            # The role may know it elsewhere (a region materialises it from central).
            if self.core.role.resolve_missing(ctx, svc, resource_id) is None:
                raise
            with self.core.db.read() as conn:
                item = svc.get_raw(conn, ctx, resource_id)
                target = svc.policy_target(conn, ctx, item)
        if not self.core.enforcer.check(ctx, f"get_{svc.rdef.member}", target):
            raise svc.not_found(id=resource_id)
        return self.view(ctx, svc, item, fields)

    def list_items(self, ctx: RequestContext, svc: ResourceService,
             params: ListParams) -> tuple[list[dict[str, Any]], bool]:
        self.core.role.before_list(ctx, svc, params)
        svc.before_list(ctx)
        with self.core.db.read() as conn:
            items, more = svc.list_raw(conn, ctx, params)
        return [self.view(ctx, svc, i, params.fields) for i in items], more

    # ---- create -----------------------------------------------------------------------------
    def create(self, ctx: RequestContext, svc: ResourceService, body: Any) -> dict[str, Any]:
        rdef = svc.rdef
        if not isinstance(body, dict):
            raise exc.BadRequest(resource=rdef.member, msg="Body contains invalid data")
        bulk = rdef.collection in body
        if bulk:
            if not rdef.allow_bulk:
                raise exc.BadRequest(resource=rdef.member, msg="Bulk operation not supported")
            raw_items = body[rdef.collection]
            if not isinstance(raw_items, list) or not raw_items:
                raise exc.BadRequest(resource=rdef.member, msg="Resources required")
            # Neutron takes each bulk item bare or wrapped in its member name.
            raw_items = [item[rdef.member] if isinstance(item, dict) and list(item) == [rdef.member] else item
                         for item in raw_items]
        elif rdef.member in body:
            raw_items = [body[rdef.member]]
        else:
            raise exc.BadRequest(resource=rdef.member,
                                 msg=f"Unable to find '{rdef.member}' in request body")
        self.core.notify(ctx, f"{rdef.member}.create.start", body)
        items = self.prepare_items(ctx, svc, raw_items)
        self.core.role.prepare_create(ctx, svc, items)
        results = self.create_items(ctx, svc, items, body)
        views = [self.view(ctx, svc, r) for r in results]
        if bulk:
            return {rdef.collection: views}
        return {rdef.member: views[0]}

    def prepare_items(self, ctx: RequestContext, svc: ResourceService,
                      raw_items: Sequence[Any]) -> list[dict[str, Any]]:
        rdef = svc.rdef
        items: list[dict[str, Any]] = []
        with self.core.db.read() as conn:
            for raw in raw_items:
                item = prepare_post(rdef, raw)
                populate_project(ctx, item, raw, rdef.member)
                svc.check_references(conn, ctx, item)
                target = svc.policy_target(conn, ctx, item)
                self._enforce(ctx, f"create_{rdef.member}", target, explicit_policy_attrs(rdef, raw))
                svc.prepare_create(conn, ctx, item)
                item["__explicit__"] = frozenset(raw)
                items.append(item)
        return items

    def create_items(self, ctx: RequestContext, svc: ResourceService, items: list[dict[str, Any]],
                     body: Any = None, *, check_quota: bool = True) -> list[dict[str, Any]]:
        """Everything after validation and policy: quota, callbacks, the transaction, events.

        ``check_quota=False`` is for copies of resources that exist elsewhere (a region
        materialising central's resources): they were counted where they were created."""
        rdef = svc.rdef
        core = self.core
        reservation = None
        if rdef.quota_resource and check_quota:
            deltas: dict[str, int] = {}
            for item in items:
                if item.get("project_id"):
                    deltas[item["project_id"]] = deltas.get(item["project_id"], 0) + 1
            reservation = core.quotas.reserve(ctx, rdef.quota_resource, deltas)
            try:
                for resource, more in svc.extra_quota(items).items():
                    reservation = [*(reservation or []), *(core.quotas.reserve(ctx, resource, more) or [])]
            except BaseException:
                core.quotas.cancel(reservation)
                raise
        try:
            for item in items:
                cb.publish_or_raise(core.registry, rdef.member, cb.BEFORE_CREATE, svc,
                                    cb.EventPayload(ctx, states=(item,), request_body=body),
                                    svc.conflict)

            def work(conn: Connection) -> list[str]:
                ids = []
                for item in items:
                    rid = svc.create_one(conn, ctx, item)
                    ids.append(rid)
                    if core.registry.has_subscribers(rdef.member, cb.PRECOMMIT_CREATE):
                        latest = svc.get_many(conn, [rid])[0]
                        cb.publish_or_raise(core.registry, rdef.member, cb.PRECOMMIT_CREATE, svc,
                                            cb.EventPayload(ctx, resource_id=rid, states=(latest,),
                                                            request_body=body, connection=conn),
                                            svc.conflict)
                if reservation is not None:
                    core.quotas.commit(conn, reservation)
                return ids

            ids = core.db.transaction(work)
        except BaseException:
            if reservation is not None:
                core.quotas.cancel(reservation)
            raise
        with core.db.read() as conn:
            results = svc.get_many(conn, ids)
        for result in results:
            core.registry.publish(rdef.member, cb.AFTER_CREATE, svc,
                                  cb.EventPayload(ctx, resource_id=result["id"], states=(result,)))
        end = {rdef.member: results[0]} if len(results) == 1 else {rdef.collection: results}
        core.notify(ctx, f"{rdef.member}.create.end", end)
        core.registry.publish(rdef.member, cb.BEFORE_RESPONSE, svc,
                              cb.EventPayload(ctx, states=({}, end), request_body=body,
                                              metadata={"method_name": f"{rdef.member}.create.end",
                                                        "collection_name": rdef.collection}))
        return results

    # ---- update -----------------------------------------------------------------------------
    def update(self, ctx: RequestContext, svc: ResourceService, resource_id: str, body: Any,
               if_match: str | None = None) -> dict[str, Any]:
        rdef = svc.rdef
        if not isinstance(body, dict) or rdef.member not in body:
            raise exc.BadRequest(resource=rdef.member, msg=f"Unable to find '{rdef.member}' in request body")
        raw = body[rdef.member]
        changes = svc.implied_changes(prepare_put(rdef, raw))
        expected = parse_if_match(if_match)
        self.core.notify(ctx, f"{rdef.member}.update.start", body)
        with self.core.db.read() as conn:
            original = svc.get_raw(conn, ctx, resource_id)
            target = svc.policy_target(conn, ctx, {**original, **changes})
        self._enforce(ctx, f"update_{rdef.member}", target, explicit_policy_attrs(rdef, raw), hide=True,
                      resource_id=resource_id, svc=svc)
        self.core.role.before_update(ctx, svc, original, changes)
        result = self.update_item(ctx, svc, resource_id, changes, expected, body)
        return {rdef.member: self.view(ctx, svc, result)}

    def update_item(self, ctx: RequestContext, svc: ResourceService, resource_id: str,
                    changes: dict[str, Any], expected_revision: int | None = None,
                    body: Any = None) -> dict[str, Any]:
        rdef = svc.rdef
        core = self.core
        with core.db.read() as conn:
            original = svc.get_raw(conn, None, resource_id)
        cb.publish_or_raise(core.registry, rdef.member, cb.BEFORE_UPDATE, svc,
                            cb.EventPayload(ctx, resource_id=resource_id, states=(original, changes),
                                            request_body=body), svc.conflict)

        def work(conn: Connection) -> dict[str, Any]:
            current = svc.get_raw(conn, None, resource_id)
            if expected_revision is not None and current["revision_number"] != expected_revision:
                raise RevisionMismatch(current=current["revision_number"], expected=expected_revision)
            svc.update_one(conn, ctx, current, changes)
            latest = svc.get_raw(conn, None, resource_id)
            cb.publish_or_raise(core.registry, rdef.member, cb.PRECOMMIT_UPDATE, svc,
                                cb.EventPayload(ctx, resource_id=resource_id, states=(current, changes, latest),
                                                request_body=body, connection=conn), svc.conflict)
            return latest

        latest = core.db.transaction(work)
        core.registry.publish(rdef.member, cb.AFTER_UPDATE, svc,
                              cb.EventPayload(ctx, resource_id=resource_id, states=(original, changes, latest)))
        core.notify(ctx, f"{rdef.member}.update.end", {rdef.member: latest})
        return latest

    # ---- delete -----------------------------------------------------------------------------
    def delete(self, ctx: RequestContext, svc: ResourceService, resource_id: str,
               if_match: str | None = None) -> None:
        rdef = svc.rdef
        expected = parse_if_match(if_match)
        self.core.notify(ctx, f"{rdef.member}.delete.start", {f"{rdef.member}_id": resource_id})
        with self.core.db.read() as conn:
            original = svc.get_raw(conn, ctx, resource_id)
            target = svc.policy_target(conn, ctx, original)
        self._enforce(ctx, f"delete_{rdef.member}", target, hide=True, resource_id=resource_id, svc=svc)
        with self.core.db.read() as conn:
            first = svc.delete_first(conn, original)
        for collection, dependent_id in first:  # as Neutron: not undone if this delete then fails
            with contextlib.suppress(exc.NotFound):  # deleted meanwhile
                self.delete(ctx.elevated(), self.core.services[collection], dependent_id)
        self.core.role.before_delete(ctx, svc, original)
        self.core.role.run_delete(ctx, svc, original, lambda: self.delete_item(ctx, svc, resource_id, expected))

    def delete_item(self, ctx: RequestContext, svc: ResourceService, resource_id: str,
                    expected_revision: int | None = None) -> None:
        rdef = svc.rdef
        core = self.core
        with core.db.read() as conn:
            original = svc.get_raw(conn, None, resource_id)
        cb.publish_or_raise(core.registry, rdef.member, cb.BEFORE_DELETE, svc,
                            cb.EventPayload(ctx, resource_id=resource_id, states=(original,)), svc.conflict)

        def work(conn: Connection) -> dict[str, Any]:
            current = svc.get_raw(conn, None, resource_id)
            if expected_revision is not None and current["revision_number"] != expected_revision:
                raise RevisionMismatch(current=current["revision_number"], expected=expected_revision)
            svc.delete_one(conn, ctx, current)
            cb.publish_or_raise(core.registry, rdef.member, cb.PRECOMMIT_DELETE, svc,
                                cb.EventPayload(ctx, resource_id=resource_id, states=(current,),
                                                connection=conn), svc.conflict)
            return current

        current = core.db.transaction(work)
        core.registry.publish(rdef.member, cb.AFTER_DELETE, svc,
                              cb.EventPayload(ctx, resource_id=resource_id, states=(current,)))
        core.notify(ctx, f"{rdef.member}.delete.end", {f"{rdef.member}_id": resource_id})


def populate_project(ctx: RequestContext, item: dict[str, Any], raw: Mapping[str, Any], member: str) -> None:
    """Fill ``project_id``/``tenant_id`` from the context; both given must agree."""
    project = raw.get("project_id")
    tenant = raw.get("tenant_id")
    if project and tenant and project != tenant:
        raise exc.BadRequest(resource=member, msg="'project_id' and 'tenant_id' do not match")
    chosen = project or tenant or ctx.project_id
    if chosen != ctx.project_id and not (ctx.is_admin or ctx.is_service):
        # neutron-lib's populate_project_id: a 400, before policy is asked.
        raise exc.HTTPBadRequest("Specifying 'project_id' or 'tenant_id' other than the authenticated project in "
                             "request requires admin privileges")
    if not chosen and not ctx.is_admin:
        raise exc.BadRequest(resource=member, msg="Failed to parse request. Required attribute 'project_id' "
                                                  "not specified")
    item["project_id"] = chosen
    item["tenant_id"] = chosen
