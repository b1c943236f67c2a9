"""The gateway's HTTP access to blobs through presigned S3 URLs (distributed mode): index bytes it serves from
its cache, and upload bytes it hands to staging. Every failure of the object store is translated here: a
missing key is ``BlobNotFound``; an unreachable, slow or failing store is ``Unavailable`` (503 with
``Retry-After``), never an unhandled exception (500)."""
from __future__ import annotations

import requests

from services.kernel.errors import BlobNotFound, Unavailable

TIMEOUT = (5, 60)            # connect, read (seconds)
UPLOAD_TIMEOUT = (5, 300)


class _Sized:
    """File wrapper that requests streams from (len() lets it send Content-Length)."""

    def __init__(self, f, size):
        self._f, self._size = f, size

    def __len__(self):
        return self._size

    def read(self, n=-1):
        return self._f.read(n)


def get(url: str, start: int | None = None, size: int | None = None) -> bytes:
    """The bytes behind a presigned GET URL, or ``size`` of them from ``start``."""
    headers = {} if start is None else {"Range": f"bytes={start}-{start + size - 1}"}
    try:
        r = requests.get(url, headers=headers, timeout=TIMEOUT)
    except requests.RequestException as exc:
        raise Unavailable(f"object store unreachable: {exc.__class__.__name__}")
    if r.status_code == 404:
        raise BlobNotFound("blob not found in the object store")
    if r.status_code >= 300:
        raise Unavailable(f"object store answered {r.status_code}")
    if start is None or r.status_code == 206:
        return r.content
    return r.content[start:start + size]


def put(url: str, stream, size: int) -> None:
    """Send ``size`` bytes of ``stream`` to a presigned PUT URL."""
    try:
        r = requests.put(url, data=_Sized(stream, size), headers={"Content-Length": str(size)},
                         timeout=UPLOAD_TIMEOUT)
    except requests.RequestException as exc:
        raise Unavailable(f"object store unreachable: {exc.__class__.__name__}")
    if r.status_code >= 300:
        raise Unavailable(f"object store refused the upload ({r.status_code})")
