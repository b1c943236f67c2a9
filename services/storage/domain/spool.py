"""Read an upload once, as a stream, into an anonymous temporary file while computing its digests."""
from __future__ import annotations

import dataclasses
import hashlib
import tempfile
import time
from typing import BinaryIO

from services.kernel.errors import PayloadTooLarge

CHUNK = 1024 * 1024


@dataclasses.dataclass
class Spooled:
    file: BinaryIO          # positioned at 0; the caller closes it (the file vanishes on close)
    sha256: str
    md5: str
    size: int


def spool(stream: BinaryIO, max_size: int) -> Spooled:
    """Copy ``stream`` to a temporary file; ``PayloadTooLarge`` as soon as it exceeds ``max_size`` bytes."""
    sha, md5, size = hashlib.sha256(), hashlib.md5(), 0
    out = tempfile.TemporaryFile(prefix="wharf-spool-")
    try:
        while True:
            chunk = stream.read(CHUNK)
            if not chunk:
                break
            size += len(chunk)
            if size > max_size:
                raise PayloadTooLarge(f"upload exceeds the maximum size of {max_size} bytes")
            sha.update(chunk)
            md5.update(chunk)
            out.write(chunk)
            time.sleep(0)          # let other green threads run (no-op without eventlet)
        out.flush()
        out.seek(0)
    except BaseException:
        out.close()
        raise
    return Spooled(out, sha.hexdigest(), md5.hexdigest(), size)


class BoundedReader:
    """A read-only stream wrapper that raises ``PayloadTooLarge`` once more than ``limit`` bytes were read
    (for stores that consume a stream of unknown length)."""

    def __init__(self, stream: BinaryIO, limit: int):
        self._stream, self._limit, self._seen = stream, limit, 0
        self.exceeded = False

    def read(self, n: int = -1) -> bytes:
        data = self._stream.read(n) if n is not None and n >= 0 else self._stream.read()
        self._seen += len(data)
        if self._seen > self._limit:
            self.exceeded = True
            raise PayloadTooLarge(f"upload exceeds the maximum size of {self._limit} bytes")
        return data

    def readable(self) -> bool:
        return True
