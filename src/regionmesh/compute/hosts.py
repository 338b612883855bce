"""Compute hosts as workers: a message queue (the host's RPC topic) and a heartbeat.

``stop()`` is the machine dying: the consumer and the heartbeat stop, but the queue and the
guests remain — casts sent meanwhile wait, exactly as in RabbitMQ, and guests keep "running".
``start()`` is the host coming back: it reports in, cleans up guests whose instances were deleted
while it was away, then drains its queue. Heartbeats take their time from the injected clock; the
thread only decides *when* to report, so tests call :meth:`HostWorker.report_state` instead of sleeping.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

from regionmesh.compute import store as s
from regionmesh.compute.manager import ComputeManager
from regionmesh.compute.runtime import Runtime
from regionmesh.compute.virt import RecordDriver, VirtDriver

LOG = logging.getLogger(__name__)

Message = tuple[str, tuple[Any, ...]]


class HostWorker:
    """One nova-compute service: ``cast`` enqueues, the worker thread runs messages in order."""

    def __init__(self, rt: Runtime, host: str, driver: VirtDriver | None = None) -> None:
        self.rt = rt
        self.host = host
        self.driver: VirtDriver = driver or RecordDriver(host)
        self.manager = ComputeManager(rt, host, self.driver)
        self.queue: queue.Queue[Message | None] = queue.Queue()
        self.casts: list[Message] = []  # every message ever cast here (tests assert "exactly one terminate")
        self._stop = threading.Event()
        self._idle = threading.Condition()
        self._busy = 0
        self._threads: list[threading.Thread] = []
        rt.db.transaction(lambda c: s.ensure_service(c, host, rt.config.availability_zone, rt.config.host_vcpus,
                                                     rt.config.host_memory_mb))

    @property
    def running(self) -> bool:
        return bool(self._threads) and not self._stop.is_set()

    def cast(self, method: str, *args: Any) -> None:
        """Fire-and-forget (OQ-10): the caller never learns whether or when the host acts."""
        self.casts.append((method, args))
        with self._idle:
            self._busy += 1
        self.queue.put((method, args))

    def call(self, method: str, *args: Any, timeout: float = 60.0) -> bool:
        """Nova's ``rpc.call`` (``cast=False``): queued like a cast, waited for; False on timeout."""
        done = threading.Event()
        self.cast("rpc_call", method, args, done)
        return done.wait(timeout)

    @property
    def idle(self) -> bool:
        with self._idle:
            return self._busy == 0

    def start(self) -> None:
        if self.running:
            return
        self._stop = threading.Event()
        self.report_state()
        self.manager.cleanup_deleted_guests()
        self._threads = [threading.Thread(target=self._consume, name=f"compute-{self.host}", daemon=True),
                         threading.Thread(target=self._heartbeat, name=f"heartbeat-{self.host}", daemon=True)]
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        """The host dies: no more heartbeats, no more consuming; queued casts stay queued."""
        if not self._threads:
            return
        self._stop.set()
        self.queue.put(None)  # wake the consumer so it notices
        for thread in self._threads:
            thread.join(10)
        self._threads = []

    def report_state(self) -> None:
        """One heartbeat (nova-compute's ``report_state``): ``last_seen_up = clock.now()``."""
        self.rt.db.transaction(lambda c: s.report(c, self.host, self.rt.clock.now()))

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """True once every cast so far has been handled (tests; a stopped host never gets there)."""
        with self._idle:
            return self._idle.wait_for(lambda: self._busy == 0, timeout)

    def _heartbeat(self) -> None:
        while not self._stop.wait(self.rt.config.report_interval):
            try:
                self.report_state()
            except Exception:  # a failed heartbeat must not kill the service
                LOG.exception("heartbeat of %s failed", self.host)

    def _consume(self) -> None:
        while not self._stop.is_set():
            message = self.queue.get()
            if message is None:
                continue
            if self._stop.is_set():  # died with a message in hand: it stays queued for the next start
                self.queue.put(message)
                return
            try:
                self._handlers()[message[0]](*message[1])
            except Exception:  # one bad message must not stop the host
                LOG.exception("compute %s: %s failed", self.host, message[0])
            finally:
                with self._idle:
                    self._busy -= 1
                    self._idle.notify_all()

    def _rpc_call(self, method: str, args: tuple[Any, ...], done: threading.Event) -> None:
        try:
            self._handlers()[method](*args)
        finally:
            done.set()

    def _handlers(self) -> dict[str, Callable[..., None]]:
        m, life = self.manager, self.manager.lifecycle
        return {"build_and_run_instance": m.build, "terminate_instance": m.terminate, "power_action": m.power,
                "attach_volume": m.attach_volume, "detach_volume": m.detach_volume, "rpc_call": self._rpc_call,
                "shelve_instance": life.shelve, "shelve_offload_instance": life.shelve_offload,
                "unshelve_instance": life.unshelve, "resize_instance": life.resize_instance,
                "finish_resize": life.finish_resize, "confirm_resize": life.confirm_resize,
                "revert_resize": life.revert_resize, "finish_revert_resize": life.finish_revert_resize,
                "soft_delete_instance": m.soft.soft_delete, "restore_instance": m.soft.restore}
