"""The in-memory event bus of the embedded mode (one per source service, as RabbitMQ has one exchange each).

``publish`` hands the events to one worker thread, which delivers them, in publish order, to every handler
subscribed to the event's type, and returns once they are delivered: every handler has returned (the indexer has
committed the event with its stream position). Memory is not durable, so only that is "taken responsibility"
(``EventPublisher``): the registry's relay marks events relayed then, and events of a process killed before
are still unrelayed at the next start. The publisher's thread waits, not the code that committed (the relay
runs on its own thread), so delivery stays asynchronous as with RabbitMQ and code that works here does not
depend on synchronous side effects. A handler that raises is logged and retried (bounded), mirroring a
nack/requeue; if it still fails, ``publish`` raises ``Unavailable`` once the whole batch was tried, and the
relay publishes the events again later (consumers deduplicate). A handler that publishes on the same bus only
enqueues (waiting for its own thread would never end). ``drain()`` waits until the queue is empty.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from collections import defaultdict
from typing import Callable

from .errors import Unavailable
from .events import Event

log = logging.getLogger("wharf.bus")
Handler = Callable[[Event], None]


class _Batch:
    """One ``publish`` call: done once each of its events was handled or given up on."""

    def __init__(self, size: int):
        self.left = size
        self.failed: list[Event] = []
        self.done = threading.Event()
        self._lock = threading.Lock()

    def finished(self, ev: Event, ok: bool) -> None:
        with self._lock:
            if not ok:
                self.failed.append(ev)
            self.left -= 1
            if self.left == 0:
                self.done.set()


class InMemoryBus:
    waits_for_consumers = True     # EventPublisher: publish returns once the handlers have returned

    def __init__(self, max_attempts: int = 5, name: str = "wharf-bus", stop_timeout: float = 5.0):
        self._handlers: dict[str, list[Handler]] = defaultdict(list)
        self._queue: "queue.Queue[tuple[Event, _Batch] | None]" = queue.Queue()
        self._max_attempts = max_attempts
        self._name = name
        self._busy = threading.Condition()
        self._pending = 0
        self._thread: threading.Thread | None = None
        self._start = threading.Lock()
        self._stopped = False
        self._stop_timeout = stop_timeout

    def subscribe(self, event_type: str, handler: Handler) -> None:
        self._handlers[event_type].append(handler)

    def publish(self, events: list[Event]) -> None:
        if not events:
            return
        if self._stopped:
            raise Unavailable("the event bus is stopped")
        batch = _Batch(len(events))
        with self._busy:
            self._pending += len(events)
        for ev in events:
            self._queue.put((ev, batch))
        self._ensure_thread()
        if threading.current_thread() is self._thread:
            return
        batch.done.wait()
        if batch.failed:
            raise Unavailable(f"{len(batch.failed)} of {len(events)} events were not delivered "
                              f"(first: {batch.failed[0].type} {batch.failed[0].stream_id}#{batch.failed[0].sequence})")

    def _ensure_thread(self) -> None:
        with self._start:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            ev, batch = item
            ok = True
            for handler in list(self._handlers.get(ev.type, ())):
                for attempt in range(1, self._max_attempts + 1):
                    try:
                        handler(ev)
                        break
                    except Exception:  # noqa: BLE001 - a consumer failure must not kill the bus
                        log.exception("handler %s failed on %s (attempt %d)", handler, ev.type, attempt)
                        time.sleep(0.05 * attempt)
                else:
                    ok = False
            with self._busy:
                self._pending -= 1
                self._busy.notify_all()
            batch.finished(ev, ok)

    def drain(self, timeout: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout
        with self._busy:
            while self._pending > 0:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._busy.wait(left)
        return True

    def stop(self) -> None:
        """Stop delivering; publishers still waiting are told their remaining events were not delivered."""
        self._stopped = True
        if self._thread is not None and self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout=self._stop_timeout)
        while True:     # what is still queued will not be delivered
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                with self._busy:
                    self._pending -= 1
                    self._busy.notify_all()
                item[1].finished(item[0], False)
        if self._thread is not None and self._thread.is_alive():
            self._queue.put(None)     # still in a handler: let it end after that
