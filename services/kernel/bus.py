"""The in-memory event bus of the embedded mode.

``publish`` enqueues and returns at once; one worker thread delivers events, in publish order, to every
handler subscribed to the event's type. Delivery is asynchronous like RabbitMQ's, so code that works here does
not depend on synchronous side effects. A handler that raises is logged and retried (bounded), mirroring a
nack/requeue. ``drain()`` waits until the queue is empty (tests, replay, shutdown).
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from collections import defaultdict
from typing import Callable

from .events import Event

log = logging.getLogger("wharf.bus")
Handler = Callable[[Event], None]


class InMemoryBus:
    def __init__(self, max_attempts: int = 5):
        self._handlers: dict[str, list[Handler]] = defaultdict(list)
        self._queue: "queue.Queue[Event | None]" = queue.Queue()
        self._max_attempts = max_attempts
        self._busy = threading.Condition()
        self._pending = 0
        self._thread: threading.Thread | None = None
        self._stopped = False

    def subscribe(self, event_type: str, handler: Handler) -> None:
        self._handlers[event_type].append(handler)

    def publish(self, events: list[Event]) -> None:
        with self._busy:
            self._pending += len(events)
        for ev in events:
            self._queue.put(ev)
        self._ensure_thread()

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="wharf-bus", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            ev = self._queue.get()
            if ev is None:
                return
            for handler in list(self._handlers.get(ev.type, ())):
                for attempt in range(1, self._max_attempts + 1):
                    try:
                        handler(ev)
                        break
                    except Exception:  # noqa: BLE001 - a consumer failure must not kill the bus
                        log.exception("handler %s failed on %s (attempt %d)", handler, ev.type, attempt)
                        time.sleep(0.05 * attempt)
            with self._busy:
                self._pending -= 1
                self._busy.notify_all()

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
        if self._thread is not None and self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout=5)
