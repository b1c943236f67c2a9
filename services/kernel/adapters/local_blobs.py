"""BlobStore on local disk (embedded mode): one file per key under ``root``; writes go to a temporary file in
the same directory, are fsynced, then renamed over the target, so readers never see a partial blob."""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import BinaryIO, Iterator

from ..errors import BadRequest, BlobNotFound, Unavailable


class LocalBlobStore:
    def __init__(self, root: str):
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        if not key or key.startswith("/") or "\\" in key or any(p in ("", ".", "..") for p in key.split("/")):
            raise BadRequest(f"invalid blob key {key!r}")
        path = (self.root / key).resolve()
        if self.root not in path.parents:
            raise BadRequest(f"invalid blob key {key!r}")
        return path

    def put(self, key: str, stream: BinaryIO, length: int | None = None,
            content_type: str = "application/octet-stream") -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as out:
                shutil.copyfileobj(stream, out, 1024 * 1024)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            raise
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)

    def open(self, key: str) -> BinaryIO:
        try:
            return open(self._path(key), "rb")
        except FileNotFoundError:
            raise BlobNotFound(f"no blob {key}")

    def read_range(self, key: str, offset: int, length: int) -> bytes:
        with self.open(key) as f:
            f.seek(offset)
            data = f.read(length)
        if len(data) != length:
            raise Unavailable(f"blob {key} is shorter than {offset}+{length} bytes")
        return data

    def stat(self, key: str) -> int | None:
        try:
            return self._path(key).stat().st_size
        except FileNotFoundError:
            return None

    def delete(self, key: str) -> None:
        try:
            self._path(key).unlink()
        except FileNotFoundError:
            pass

    def copy(self, src: str, dst: str) -> None:
        with self.open(src) as f:
            self.put(dst, f)

    def keys(self, prefix: str = "") -> Iterator[str]:
        out = []
        for dirpath, _dirs, files in os.walk(self.root):
            for name in files:
                if name.startswith(".tmp-"):
                    continue
                key = os.path.relpath(os.path.join(dirpath, name), self.root).replace(os.sep, "/")
                if key.startswith(prefix):
                    out.append(key)
        return iter(sorted(out))

    def entries(self, prefix: str = "") -> Iterator[tuple[str, int, float]]:
        # walk only the directory the prefix lies in (``wharf gc`` looks keys up one by one this way)
        head = prefix.rsplit("/", 1)[0] if "/" in prefix else ""
        top = self._path(head) if head else self.root
        out = []
        for dirpath, _dirs, files in os.walk(top):
            for name in files:
                if name.startswith(".tmp-"):
                    continue
                path = os.path.join(dirpath, name)
                key = os.path.relpath(path, self.root).replace(os.sep, "/")
                if not key.startswith(prefix):
                    continue
                try:
                    st = os.stat(path)
                except FileNotFoundError:     # deleted while we walked
                    continue
                out.append((key, st.st_size, st.st_mtime))
        return iter(sorted(out))

    def url(self, key: str, method: str = "GET", expires: int = 600, filename: str | None = None,
            internal: bool = False, cache_control: str | None = None) -> str | None:
        return None

    def local_path(self, key: str) -> str:
        """Embedded-mode shortcut for streaming a blob from disk."""
        return str(self._path(key))
