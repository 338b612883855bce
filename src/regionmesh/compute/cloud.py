"""One region's lab compute, assembled: runtime, host workers, the compute API, and the test handle.

``stop_host``/``start_host`` kill and revive a host as if its machine died (heartbeat and consumer
stop; queue and guests remain). ``tick`` runs one heartbeat of every live host and the API's
periodic task — what the background threads do on their own timers — so tests drive time with
a ``ManualClock`` and never sleep.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from regionmesh.compute import store
from regionmesh.compute.hosts import HostWorker
from regionmesh.compute.neutron import NeutronClient
from regionmesh.compute.notify import Notifier
from regionmesh.compute.runtime import ComputeConfig, Runtime
from regionmesh.compute.service import ComputeAPI
from regionmesh.compute.virt import VirtDriver
from regionmesh.db.clock import Clock, SystemClock
from regionmesh.db.engine import Database

LOG = logging.getLogger(__name__)


class LabCompute:
    """Compute for one region: ``api`` serves requests, ``hosts`` are its nova-compute services."""

    def __init__(self, db: Database, neutron_url: str, config: ComputeConfig, hosts: list[str], *,
                 clock: Clock | None = None, token: Callable[[], str] | None = None,
                 driver_factory: Callable[[str], VirtDriver] | None = None, periodic: bool = True) -> None:
        self.rt = Runtime(config=config, db=db, clock=clock or SystemClock(),
                          neutron=NeutronClient(neutron_url, token=token), notifier=Notifier())
        db.transaction(store.ensure_default_flavors)
        self.hosts = {name: HostWorker(self.rt, name, driver_factory(name) if driver_factory else None)
                      for name in hosts}
        self.api = ComputeAPI(self.rt, self.hosts)
        for worker in self.hosts.values():
            worker.start()
        self._stop = threading.Event()
        self._periodic: threading.Thread | None = None
        if periodic:
            self._periodic = threading.Thread(target=self._run_periodic, name="compute-periodic", daemon=True)
            self._periodic.start()

    def stop_host(self, name: str) -> None:
        """The host's machine dies: heartbeat and consumer stop; its queue and guests stay."""
        self.hosts[name].stop()

    def start_host(self, name: str) -> None:
        """The host returns: it reports, cleans up guests deleted meanwhile, and drains its queue."""
        self.hosts[name].start()

    def tick(self) -> list[str]:
        """One round of what the timers do: heartbeats of live hosts, then the periodic tasks."""
        for worker in self.hosts.values():
            if worker.running:
                worker.report_state()
        return self.periodic_tasks()

    def periodic_tasks(self) -> list[str]:
        """Live hosts destroy guests of deleted instances and reclaim soft-deleted ones past
        ``reclaim_instance_interval``; the API finishes deletes no host will do. Returns what was deleted."""
        reclaimed = []
        for worker in self.hosts.values():
            if worker.running:
                worker.manager.cleanup_deleted_guests()
                reclaimed += worker.manager.soft.reclaim_queued_deletes()
        return reclaimed + self.api.periodic()

    def _run_periodic(self) -> None:
        while not self._stop.wait(self.rt.config.report_interval):
            try:
                self.periodic_tasks()
            except Exception:
                LOG.exception("compute periodic task failed")

    def close(self) -> None:
        self._stop.set()
        for worker in self.hosts.values():
            worker.stop()
        if self._periodic is not None:
            self._periodic.join(10)
        self.rt.neutron.close()
