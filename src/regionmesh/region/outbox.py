"""A region's outbox (OQ-01): binding updates applied here while central was unreachable, kept in
the region's own database and forwarded, in order, when central answers again — so VM boots on
resources the region already has keep working, and central converges without an operator."""

from __future__ import annotations

import json
import logging
import threading
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from regionmesh.context import RequestContext
from regionmesh.db import models as m
from regionmesh.db.engine import Database
from regionmesh.network import exceptions as exc
from regionmesh.region.central_client import CentralClient, CentralUnavailable

LOG = logging.getLogger(__name__)
T = m.region_outbox

# Calls the region makes on its own behalf (noauth deployments); with Keystone the client's service
# token is used instead.
OUTBOX_CONTEXT = RequestContext(user_id="regionmesh-region-outbox", roles=frozenset({"admin", "service", "member",
                                                                                      "reader"}))


class RegionOutbox:
    """Persisted forwards to central, delivered oldest first."""

    def __init__(self, db: Database, central: CentralClient) -> None:
        self.db = db
        self.central = central
        self.wakeup = threading.Event()

    def add(self, resource_type: str, resource_id: str, body: dict[str, Any]) -> None:
        def work(conn: Connection) -> None:
            conn.execute(insert(T).values(resource_type=resource_type, resource_id=resource_id,
                                          body=json.dumps(body), created_at=datetime.now(UTC).replace(tzinfo=None),
                                          attempts=0))
        self.db.transaction(work)
        LOG.warning("central unreachable: %s %s applied locally, forward kept in the outbox", resource_type,
                    resource_id)

    def pending(self) -> int:
        with self.db.read() as conn:
            return len(conn.execute(select(T.c.id)).all())

    def deliver_once(self) -> int:
        """Forward what is waiting, oldest first; stops at the first sign central is still away."""
        with self.db.read() as conn:
            rows = conn.execute(select(T).order_by(T.c.id)).all()
        delivered = 0
        for row in rows:
            try:
                if row.resource_type == "port":
                    self.central.update(OUTBOX_CONTEXT, "ports", "port", row.resource_id, json.loads(row.body))
            except CentralUnavailable as err:
                self._note(row.id, str(err))
                return delivered
            except exc.NeutronException as err:
                # Central refused it (e.g. the port was deleted meanwhile): nothing later can change that.
                LOG.error("outbox: central refused the forward of %s %s: %s", row.resource_type, row.resource_id, err)
            self._forget(row.id)
            delivered += 1
        return delivered

    def _forget(self, row_id: int) -> None:
        def work(conn: Connection) -> None:
            conn.execute(delete(T).where(T.c.id == row_id))
        self.db.transaction(work)

    def _note(self, row_id: int, error: str) -> None:
        self.db.transaction(lambda conn: conn.execute(update(T).where(T.c.id == row_id).values(
            attempts=T.c.attempts + 1, last_error=error[:2000])))

    def run_forever(self, stop: threading.Event, interval: float = 2.0) -> None:
        while not stop.is_set():
            try:
                self.deliver_once()
            except Exception:  # the region's own database failed: try again next round
                LOG.exception("outbox delivery failed")
            self.wakeup.wait(interval)
            self.wakeup.clear()
