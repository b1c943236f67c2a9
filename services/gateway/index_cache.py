"""In-memory cache of published index metadata (per owner/label/subdir/audience) and of index bytes (by
sha256). Metadata entries are dropped when ``index_published`` arrives and expire after ``ttl`` seconds as a
safety net, so the 304 path is a dict lookup: no database, no S3. Bytes are immutable (content-addressed), kept
in a size-bounded LRU."""
from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict


class IndexCache:
    def __init__(self, ttl: float = 5.0, max_bytes: int = 256 * 1024 * 1024):
        self.ttl = ttl
        self.max_bytes = max_bytes
        self._meta: dict[tuple, tuple[float, dict | None]] = {}
        self._bytes: "OrderedDict[str, bytes]" = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()
        self._invalidations = 0     # counts invalidations: a load that one overtook is not cached
        self._digests: "OrderedDict[str, str]" = OrderedDict()

    def get_meta(self, key: tuple, loader):
        """The cached metadata of ``key``, else ``loader()``'s, cached unless an invalidation arrived while it
        loaded (the value read may predate the publish that invalidation announced)."""
        now = time.monotonic()
        with self._lock:
            hit = self._meta.get(key)
            if hit is not None and hit[0] > now:
                return hit[1]
            seen = self._invalidations
        value = loader()
        with self._lock:
            if self._invalidations == seen:
                self._meta[key] = (now + self.ttl, value)
        return value

    def invalidate(self, owner: str, label: str, subdir: str) -> None:
        with self._lock:
            self._invalidations += 1
            for key in [k for k in self._meta if k[:3] == (owner, label, subdir)]:
                del self._meta[key]

    def invalidate_all(self) -> None:
        with self._lock:
            self._invalidations += 1
            self._meta.clear()

    def get_bytes(self, sha256: str, loader) -> bytes:
        with self._lock:
            data = self._bytes.get(sha256)
            if data is not None:
                self._bytes.move_to_end(sha256)
                return data
        data = loader()
        with self._lock:
            if sha256 not in self._bytes and len(data) <= self.max_bytes:
                self._bytes[sha256] = data
                self._size += len(data)
                while self._size > self.max_bytes and self._bytes:
                    _, old = self._bytes.popitem(last=False)
                    self._size -= len(old)
        return data

    def digest(self, key: str, data: bytes, keep: int = 100_000) -> str:
        """sha256 of ``data``, the bytes cached under ``key`` (a derived view): computed once per key."""
        with self._lock:
            hit = self._digests.get(key)
            if hit is not None:
                self._digests.move_to_end(key)
                return hit
        value = hashlib.sha256(data).hexdigest()
        with self._lock:
            self._digests[key] = value
            while len(self._digests) > keep:
                self._digests.popitem(last=False)
        return value

    def on_event(self, event) -> None:
        """Handler for ``index_published`` (embedded bus or AMQP listener)."""
        data = event.data if hasattr(event, "data") else event["data"]
        self.invalidate(data["owner"], data["label"], data["subdir"])
        self.invalidate(data["owner"], data["label"], "channeldata")   # its subdir list may have grown
