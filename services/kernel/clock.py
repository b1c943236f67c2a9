"""Implementations of the ``Clock`` port (services/kernel/ports.py): the real one, and a fake for tests that would
otherwise sleep for time to pass (shard grace periods, the catch-up lag, apply and publish lags)."""
from __future__ import annotations

import threading
import time as _time


class SystemClock:
    """The process's clocks (``time.time``, ``time.monotonic``, ``time.sleep``; green under eventlet)."""

    def time(self) -> float:
        return _time.time()

    def monotonic(self) -> float:
        return _time.monotonic()

    def sleep(self, seconds: float) -> None:
        _time.sleep(seconds)


class FakeClock:
    """A clock that moves only when told: ``advance(seconds)``, or ``sleep(seconds)``, which advances instead of
    waiting. ``time`` starts at ``start`` (epoch seconds; default: now), ``monotonic`` at 0; both move together."""

    def __init__(self, start: float | None = None):
        self._lock = threading.Lock()
        self._time = _time.time() if start is None else float(start)
        self._monotonic = 0.0
        self.slept: list[float] = []          # every sleep asked for, in order

    def time(self) -> float:
        with self._lock:
            return self._time

    def monotonic(self) -> float:
        with self._lock:
            return self._monotonic

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock does not go back")
        with self._lock:
            self._time += seconds
            self._monotonic += seconds

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.advance(max(0.0, seconds))


SYSTEM_CLOCK = SystemClock()
