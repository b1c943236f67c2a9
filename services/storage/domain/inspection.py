"""What inspecting an uploaded file yields, and the archive-reading guards every inspector shares."""
from __future__ import annotations

import contextlib
import dataclasses
import re
import time
from typing import BinaryIO

from services.kernel.errors import InvalidPackage, WharfError

INFO_LIMIT = 16 * 1024 * 1024          # largest metadata member we read into memory (index.json, METADATA...)
_DRIVE = re.compile(r"^[A-Za-z]:")


@dataclasses.dataclass
class Digests:
    sha256: str
    md5: str
    size: int


@dataclasses.dataclass
class Inspection:
    filename: str
    subdir: str | None
    record: dict | None                 # conda repodata record, None for other types
    metadata: dict
    extra_blobs: dict[str, bytes] = dataclasses.field(default_factory=dict)   # key -> bytes to store too


def cooperate() -> None:
    """Yield to other green threads between chunks of CPU-bound work (a no-op without eventlet's patching),
    so a nameko worker inspecting a large package does not starve the broker heartbeat."""
    time.sleep(0)


def expansion_budget(size: int) -> int:
    """How many uncompressed bytes we are willing to walk through for a file of ``size`` bytes (bombs)."""
    return max(256 * 1024 * 1024, 64 * size)


class Budget:
    def __init__(self, limit: int):
        self.limit, self.used = limit, 0

    def spend(self, n: int) -> None:
        self.used += max(int(n or 0), 0)
        cooperate()
        if self.used > self.limit:
            raise InvalidPackage("archive expands to more data than its size allows")


def check_member_name(name: str, linkname: str | None = None) -> None:
    """Refuse archive members (and link targets) that are absolute or climb out with ``..``."""
    for value in (name, linkname):
        if not value:
            continue
        parts = re.split(r"[\\/]", value)
        if value.startswith(("/", "\\")) or _DRIVE.match(value) or ".." in parts or "\x00" in value:
            raise InvalidPackage(f"archive member {value[:200]!r} has an absolute or parent-relative path")


def read_limited(fileobj: BinaryIO, what: str, limit: int = INFO_LIMIT) -> bytes:
    data = fileobj.read(limit + 1)
    if len(data) > limit:
        raise InvalidPackage(f"{what} is larger than {limit} bytes")
    return data


def verify_zip(zf, budget: Budget) -> None:
    """Read every member of a zip to its end, which verifies each CRC (bounded by ``budget``)."""
    for info in zf.infolist():
        check_member_name(info.filename)
        budget.spend(info.file_size)
        with zf.open(info) as f:
            while f.read(1024 * 1024):
                cooperate()


@contextlib.contextmanager
def refusing_corruption(what: str):
    """Turn any parser failure on untrusted bytes into ``InvalidPackage`` with a clear message."""
    try:
        yield
    except WharfError:
        raise
    except Exception as exc:  # noqa: BLE001 - zip/tar/zstd/bz2/json errors on hostile input
        raise InvalidPackage(f"{what} is corrupt or truncated ({exc.__class__.__name__})")
