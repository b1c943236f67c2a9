"""What inspecting an uploaded file yields, and the small guards every inspector shares (the archive walk
itself, with its limits, is ``archive.Walk``)."""
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


COOPERATE_INTERVAL = 0.02
"""Seconds of CPU-bound work between two yields. Under eventlet a yield lets the broker heartbeat and other
workers run; without it ``time.sleep(0)`` still gives up the core, which on a busy machine costs milliseconds,
so yielding per archive member (as once) made walking 25,000 members take seconds instead of a fraction."""
_last_yield = [0.0]


def cooperate() -> None:
    """Yield to other green threads between chunks of CPU-bound work, at most every ``COOPERATE_INTERVAL``
    (with eventlet's patching a green switch), so a nameko worker inspecting a large package does not starve
    the broker heartbeat."""
    now = time.monotonic()
    if now - _last_yield[0] >= COOPERATE_INTERVAL:
        _last_yield[0] = now
        time.sleep(0)


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


@contextlib.contextmanager
def refusing_corruption(what: str):
    """Turn any parser failure on untrusted bytes into ``InvalidPackage`` with a clear message."""
    try:
        yield
    except WharfError:
        raise
    except Exception as exc:  # noqa: BLE001 - zip/tar/zstd/bz2/json errors on hostile input
        raise InvalidPackage(f"{what} is corrupt or truncated ({exc.__class__.__name__})")
