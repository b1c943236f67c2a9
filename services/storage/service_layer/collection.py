"""What ``wharf gc`` and ``wharf verify`` ask of storage: what is stored and since when, and deleting what the
collector found to be garbage under the claim protocol of ``services.kernel.blob_gc``. In-process only (the
collector runs as a tool beside the services, like verify): ``collect`` takes the caller's reference re-check
as a function."""
from __future__ import annotations

from typing import Callable

from services.kernel import blob_gc
from services.kernel.errors import BadRequest

STAGING = "staging/"


class CollectionMethods:
    blobs = None     # the StorageService's BlobStore

    def blob_entries(self, prefix: str) -> list[dict]:
        """``[{key, size, modified}]`` of every stored key under ``prefix`` (``modified``: epoch seconds of the
        last write, the object store's clock)."""
        return [{"key": k, "size": size, "modified": modified} for k, size, modified in self.blobs.entries(prefix)]

    def used_markers(self) -> dict[str, float]:
        """``{blob key: epoch seconds}``: when a writer last re-used an already stored blob (``blob_gc``)."""
        return blob_gc.used_markers(self.blobs)

    def collect(self, candidates: dict[str, float], referenced: Callable[[list[str]], set[str]],
                dry_run: bool = False) -> dict:
        """Delete the candidates (``{key: cutoff epoch}``) still unreferenced and last used before their
        cutoff, each under a claim (``blob_gc.collect``); returns what was deleted and why others were kept."""
        if any(k.startswith((STAGING, blob_gc.USED, blob_gc.CLAIMS)) for k in candidates):
            raise BadRequest("collect is for blobs and index files; staged bytes go through drop_staged")
        return blob_gc.collect(self.blobs, candidates, referenced, dry_run=dry_run)

    def drop_staged(self, keys: list[str], dry_run: bool = False) -> dict[str, int]:
        """Delete staged bytes (``staging/<dist_id>``) whose stage is closed or expired; returns ``{key: size}``
        of what was there."""
        out = {}
        for key in keys:
            if not key.startswith(STAGING) or "/" in key[len(STAGING):]:
                raise BadRequest(f"not a staging key: {key!r}")
            size = self.blobs.stat(key)
            if size is None:
                continue
            if not dry_run:
                self.blobs.delete(key)
            out[key] = size
        return out

    def sweep_stale_claims(self) -> int:
        """Remove claims a gc run that died left behind."""
        return blob_gc.sweep_stale_claims(self.blobs)
