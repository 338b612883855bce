"""Versioned-notification stand-in: the lab records ``compute.instance.*`` events for tests and logs."""

from __future__ import annotations

import logging
import threading
from typing import Any

LOG = logging.getLogger(__name__)


class Notifier:
    """Keeps emitted events in order (bounded) and logs them."""

    def __init__(self, keep: int = 1000) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self._keep = keep
        self._lock = threading.Lock()

    def info(self, event_type: str, payload: dict[str, Any]) -> None:
        LOG.info("notification %s %s", event_type, payload.get("instance_id"))
        with self._lock:
            self.events.append((event_type, payload))
            del self.events[:-self._keep]

    def of(self, instance_uuid: str) -> list[str]:
        with self._lock:
            return [e for e, p in self.events if p.get("instance_id") == instance_uuid]
