"""The tag API (``/v2.0/{collection}/{id}/tags``): tags are standard attributes and bump revisions."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, insert, select

from regionmesh.context import RequestContext
from regionmesh.db import models as m
from regionmesh.network import exceptions as exc
from regionmesh.network import validators as v
from regionmesh.network.service import ResourceService


class TagNotFound(exc.NotFound):
    message = "Tag %(tag)s could not be found for %(resource)s %(resource_id)s."


class TagOps:
    """Tag operations on one collection; policy is the resource's own update rule."""

    def __init__(self, core: Any, svc: ResourceService) -> None:
        self.core = core
        self.svc = svc
        self.rtype = svc.rdef.collection

    def _authorize(self, ctx: RequestContext, rid: str, write: bool) -> None:
        with self.core.db.read() as conn:
            item = self.svc.get_raw(conn, ctx, rid)
            target = self.svc.policy_target(conn, ctx, item)
        action = f"{'update' if write else 'get'}_{self.svc.rdef.member}"
        if not self.core.enforcer.check(ctx, action, target):
            if not write or not self.core.enforcer.check(ctx, f"get_{self.svc.rdef.member}", target):
                raise self.svc.not_found(id=rid)
            raise exc.PolicyNotAuthorized(action=action)

    def _validate(self, tag: Any) -> str:
        msg = v.VALIDATORS["type:tag"](tag, None)
        if msg:
            raise exc.InvalidInput(error_message=msg)
        return str(tag)

    def _current(self, conn: Connection, rid: str) -> list[str]:
        t = m.tags
        return sorted(r[0] for r in conn.execute(select(t.c.tag).where(t.c.resource_type == self.rtype,
                                                                       t.c.resource_id == rid)))

    def get(self, ctx: RequestContext, rid: str) -> list[str]:
        self._authorize(ctx, rid, write=False)
        with self.core.db.read() as conn:
            return self._current(conn, rid)

    def check(self, ctx: RequestContext, rid: str, tag: str) -> None:
        if tag not in self.get(ctx, rid):
            raise TagNotFound(tag=tag, resource=self.svc.rdef.member, resource_id=rid)

    def replace(self, ctx: RequestContext, rid: str, body: Any) -> list[str]:
        if not isinstance(body, dict) or not isinstance(body.get("tags"), list):
            raise exc.BadRequest(resource="tags", msg="Invalid tags body")
        tags = sorted({self._validate(t) for t in body["tags"]})
        self._authorize(ctx, rid, write=True)

        def work(conn: Connection) -> list[str]:
            conn.execute(delete(m.tags).where(m.tags.c.resource_type == self.rtype, m.tags.c.resource_id == rid))
            if tags:
                conn.execute(insert(m.tags), [{"resource_type": self.rtype, "resource_id": rid, "tag": t}
                                              for t in tags])
            self.svc.bump(conn, rid)
            return tags

        return self.core.db.transaction(work)

    def add(self, ctx: RequestContext, rid: str, tag: str) -> None:
        tag = self._validate(tag)
        self._authorize(ctx, rid, write=True)

        def work(conn: Connection) -> None:
            if tag not in self._current(conn, rid):
                conn.execute(insert(m.tags).values(resource_type=self.rtype, resource_id=rid, tag=tag))
                self.svc.bump(conn, rid)

        self.core.db.transaction(work)

    def remove(self, ctx: RequestContext, rid: str, tag: str) -> None:
        self._authorize(ctx, rid, write=True)

        def work(conn: Connection) -> None:
            t = m.tags
            result = conn.execute(delete(t).where(t.c.resource_type == self.rtype, t.c.resource_id == rid,
                                                  t.c.tag == tag))
            if result.rowcount == 0:
                raise TagNotFound(tag=tag, resource=self.svc.rdef.member, resource_id=rid)
            self.svc.bump(conn, rid)

        self.core.db.transaction(work)

    def clear(self, ctx: RequestContext, rid: str) -> None:
        self.replace(ctx, rid, {"tags": []})
