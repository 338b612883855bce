"""The hypervisor seam: what a compute host asks of its virt driver.

``RecordDriver`` keeps guests as records in memory — the lab's default. A data-plane driver
(network namespaces as "VMs") implements the same protocol later without touching the manager.
Guests outlive the nova-compute service on purpose: a host whose service dies keeps its guests
running (CMP-23), and its cleanup on return is what removes the ones deleted meanwhile.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Protocol

from regionmesh.compute.store import POWER_RUNNING, POWER_SHUTDOWN


class VirtDriver(Protocol):
    """The calls the compute manager makes on the hypervisor; all idempotent."""

    def spawn(self, instance: dict[str, Any], ports: list[dict[str, Any]]) -> None: ...

    def destroy(self, instance_uuid: str) -> None: ...

    def power_on(self, instance_uuid: str) -> None: ...

    def power_off(self, instance_uuid: str) -> None: ...

    def reboot(self, instance_uuid: str, hard: bool) -> None: ...

    def power_state(self, instance_uuid: str) -> int | None: ...

    def snapshot(self, instance_uuid: str) -> bytes:
        """The guest's root disk as image data (shelve's snapshot)."""
        ...

    def list_guests(self) -> list[str]: ...


@dataclass
class Guest:
    uuid: str
    name: str
    ports: list[str]
    power_state: int = POWER_RUNNING
    reboots: int = 0
    image_id: str | None = None  # what it was spawned from (unshelve spawns from the shelved snapshot)
    flavor_id: str | None = None


@dataclass
class RecordDriver:
    """A hypervisor made of records: spawn/destroy/power changes are remembered, nothing runs."""

    host: str
    guests: dict[str, Guest] = field(default_factory=dict)
    destroyed: list[str] = field(default_factory=list)
    fail_spawn: str | None = None  # tests: make the next spawn fail with this message
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def spawn(self, instance: dict[str, Any], ports: list[dict[str, Any]]) -> None:
        with self._lock:
            if self.fail_spawn:
                message, self.fail_spawn = self.fail_spawn, None
                raise RuntimeError(message)
            self.guests[instance["uuid"]] = Guest(instance["uuid"], instance["name"], [p["port_id"] for p in ports],
                                                  image_id=instance.get("image_id"),
                                                  flavor_id=instance.get("flavor_id"))

    def destroy(self, instance_uuid: str) -> None:
        with self._lock:
            if self.guests.pop(instance_uuid, None) is not None:
                self.destroyed.append(instance_uuid)

    def power_on(self, instance_uuid: str) -> None:
        self._set_power(instance_uuid, POWER_RUNNING)

    def power_off(self, instance_uuid: str) -> None:
        self._set_power(instance_uuid, POWER_SHUTDOWN)

    def reboot(self, instance_uuid: str, hard: bool) -> None:
        with self._lock:
            guest = self.guests.get(instance_uuid)
            if guest is not None:
                guest.reboots += 1
                guest.power_state = POWER_RUNNING

    def power_state(self, instance_uuid: str) -> int | None:
        with self._lock:
            guest = self.guests.get(instance_uuid)
            return guest.power_state if guest is not None else None

    def list_guests(self) -> list[str]:
        with self._lock:
            return list(self.guests)

    def snapshot(self, instance_uuid: str) -> bytes:
        with self._lock:
            guest = self.guests.get(instance_uuid)
        if guest is None:
            raise RuntimeError(f"guest {instance_uuid} is not on {self.host}")
        return f"snapshot of {guest.uuid} ({guest.name}) on {self.host}".encode()

    def _set_power(self, instance_uuid: str, state: int) -> None:
        with self._lock:
            guest = self.guests.get(instance_uuid)
            if guest is not None:
                guest.power_state = state
