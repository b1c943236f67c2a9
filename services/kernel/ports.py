"""Ports: the narrow interfaces services depend on. Each docstring is the contract every backend honours;
``tests/contracts`` runs one suite per port against every backend."""
from __future__ import annotations

from typing import BinaryIO, Iterator, Protocol

from .events import Event


class BlobStore(Protocol):
    """Immutable-ish byte blobs addressed by a string key (``a/b/c``, no leading slash, no ``..``).

    - ``put`` stores the whole stream under ``key``. It is atomic (a reader sees the old object or the whole new
      one, never a part) and durable when it returns. Overwriting an existing key is allowed.
    - ``open`` returns a readable binary file object (caller closes it); ``BlobNotFound`` when absent.
    - ``read_range`` returns ``length`` bytes from ``offset`` (shards packed into one object are read so);
      ``BlobNotFound`` when absent, ``Unavailable`` when the object is shorter.
    - ``stat`` returns the size in bytes, or None when absent.
    - ``delete`` removes the key; deleting a missing key is not an error.
    - ``copy`` copies ``src`` to ``dst`` server-side where the backend can (atomic like ``put``).
    - ``keys`` yields every key under ``prefix`` (sorted).
    - ``entries`` yields ``(key, size, modified)`` for every key under ``prefix`` (sorted), ``modified`` being
      when the object was last written, in epoch seconds (the backend's clock; ``wharf gc`` ages blobs by it).
    - ``url`` returns a self-authorising URL a client can use without credentials for ``method`` (GET or PUT),
      valid for ``expires`` seconds, or None when the backend cannot make one (local disk). ``internal=True``
      signs it for the endpoint services use inside the cluster; otherwise for the public endpoint clients use.
    Backend failures (unreachable endpoint, credentials) raise ``Unavailable``; nothing vendor-specific escapes.
    """

    def put(self, key: str, stream: BinaryIO, length: int | None = None,
            content_type: str = "application/octet-stream") -> None: ...

    def open(self, key: str) -> BinaryIO: ...

    def read_range(self, key: str, offset: int, length: int) -> bytes: ...

    def stat(self, key: str) -> int | None: ...

    def delete(self, key: str) -> None: ...

    def copy(self, src: str, dst: str) -> None: ...

    def keys(self, prefix: str = "") -> Iterator[str]: ...

    def entries(self, prefix: str = "") -> Iterator[tuple[str, int, float]]: ...

    def url(self, key: str, method: str = "GET", expires: int = 600,
            filename: str | None = None, internal: bool = False, cache_control: str | None = None) -> str | None: ...


class EventPublisher(Protocol):
    """Hands events to the transport.

    ``publish`` returns only once the transport has taken responsibility for every event given, i.e. holds it
    durably or has delivered it (RabbitMQ: the broker confirmed the persistent messages; in-memory bus, where
    nothing is durable: every subscribed handler has returned). It raises ``Unavailable`` when it could not, in
    which case the caller must treat the events as not published and try again later (at-least-once delivery;
    consumers deduplicate).

    ``waits_for_consumers`` (optional, default False) is True when ``publish`` returns only after the consumers
    handled the events (the in-memory bus): they may read the publisher's database meanwhile, so the caller
    must not hold a transaction that keeps them out."""

    waits_for_consumers: bool

    def publish(self, events: list[Event]) -> None: ...


class UploadStorage(Protocol):
    """What the registry's ``commit_upload`` asks of storage: a client of the storage service's messages (over
    RPC from the registry's nameko worker, in-process in embedded mode)."""

    def finalize(self, dist_id: str, owner: str, package: str, version: str, basename: str,
                 distribution_type: str, sha256: str | None = None) -> dict: ...

    def drop_stage(self, dist_id: str) -> None: ...


class Clock(Protocol):
    """Time as a service reads it (``services.kernel.clock``: ``SystemClock``, and ``FakeClock`` for tests).

    - ``time`` is the wall clock in epoch seconds (event ages, lags, the time a shard was retired);
    - ``monotonic`` never goes back (durations, deadlines);
    - ``sleep`` waits ``seconds`` (a fake clock advances instead, so tests of ages and deadlines do not wait).
    """

    def time(self) -> float: ...

    def monotonic(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...
