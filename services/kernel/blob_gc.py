"""How blob writers and ``wharf gc`` stay out of each other's way (ARCHITECTURE.md, "Garbage collection").

Blobs are content-addressed and shared. A writer (storage finalizing an upload, the indexer storing an index
file) that finds its bytes already stored uses the stored blob instead of writing it again, and the record or
pointer naming it is committed a moment later. ``wharf gc`` deletes a blob that nothing references and that was
last written or re-used more than the grace period ago. Two rules keep the two apart without a shared lock:

- **Writers freshen.** A writer that re-uses a stored blob writes an empty marker ``gc/used/<key>``; a blob's
  age is measured from the later of its own and its marker's modification time (``last_used``).
- **gc claims, writers look.** Before deleting ``key``, gc writes ``gc/claims/<key>``, then reads the blob's
  age again, re-checks its references and deletes it only if that is all done within ``CLAIM_LIMIT`` seconds
  of starting the claim; then it removes the claim. A writer, after writing or freshening, waits while a claim
  on its key exists (at most ``WRITER_WAIT``, well above ``CLAIM_LIMIT``) and then writes the bytes again if
  they are gone (``write_once``).

Why that is enough: suppose gc deletes a blob after a writer's last look found it in place. gc's age check
came before the writer's freshening (else the blob was young and kept), so gc's claim came before it too, and
the writer's look for a claim, which follows its freshening, found the claim and waited until gc was done or
could no longer delete: its look at the blob then came after the deletion. A contradiction, so a writer never
returns while its blob is about to go. This needs a grace period above zero (``--grace 0`` ages nothing and is
for a quiet system) and clocks (gc's and the object store's) that agree to well within it; the waits are each
measured on one machine's own monotonic clock.
"""
from __future__ import annotations

import io
import time
from typing import Callable

from .ports import BlobStore

USED = "gc/used/"              # + key: empty marker, written when a writer re-uses a stored blob
CLAIMS = "gc/claims/"          # + key: gc is about to delete key
CLAIM_LIMIT = 15.0             # seconds from starting a claim within which gc must have deleted, or it keeps the blob
WRITER_WAIT = 60.0             # seconds a writer waits at most for a claim to go (> CLAIM_LIMIT + a slow delete)
STALE_CLAIM = 3600.0           # a claim older than this (by the store's clock) was left by a gc that died
_POLL = 0.1


def write_once(blobs: BlobStore, key: str, size: int, write: Callable[[], None]) -> None:
    """Make ``key`` hold the blob of ``size`` bytes and keep it from a gc run in progress: write it (``write()``
    puts the bytes) unless it is stored already, in which case freshen it; then wait out a claim on it and
    write it again if it went meanwhile."""
    if blobs.stat(key) == size:
        blobs.put(USED + key, io.BytesIO(b""), 0)
    else:
        write()
    deadline = time.monotonic() + WRITER_WAIT
    while blobs.stat(CLAIMS + key) is not None and time.monotonic() < deadline:
        time.sleep(_POLL)
    if blobs.stat(key) != size:
        write()


def entry(blobs: BlobStore, key: str) -> tuple[int, float] | None:
    """(size, modified) of ``key``, or None when absent."""
    for k, size, modified in blobs.entries(key):
        if k == key:
            return size, modified
    return None


def last_used(modified: float, used: float | None) -> float:
    """A blob's age reference: when it was last written or re-used (its freshening marker)."""
    return modified if used is None else max(modified, used)


def collect(blobs: BlobStore, candidates: dict[str, float], referenced: Callable[[list[str]], set[str]],
            dry_run: bool = False, batch: int = 25) -> dict:
    """Delete each candidate key whose blob was last used before its cutoff (``{key: epoch seconds}``) and which
    ``referenced(keys)`` (the caller's re-check, made after the claim and the age check) does not return.
    Returns ``{deleted: {key: size}, young: [...], referenced: [...], gone: [...], slow: [...]}``. With
    ``dry_run`` nothing is claimed or deleted: ``deleted`` is what would be."""
    out: dict = {"deleted": {}, "young": [], "referenced": [], "gone": [], "slow": []}
    keys = sorted(candidates)
    for i in range(0, len(keys), batch):
        claimed: dict[str, float] = {}
        try:
            for key in keys[i:i + batch]:
                started = time.monotonic()
                if not dry_run:
                    blobs.put(CLAIMS + key, io.BytesIO(b""), 0)
                claimed[key] = started
            old: dict[str, int] = {}
            for key in claimed:
                got, used = entry(blobs, key), entry(blobs, USED + key)
                if got is None:
                    out["gone"].append(key)
                elif last_used(got[1], used[1] if used else None) >= candidates[key]:
                    out["young"].append(key)
                else:
                    old[key] = got[0]
            still = referenced(sorted(old)) if old else set()
            for key, size in old.items():
                if key in still:
                    out["referenced"].append(key)
                elif time.monotonic() - claimed[key] > CLAIM_LIMIT:
                    out["slow"].append(key)        # a writer may have stopped waiting for this claim: keep it
                else:
                    if not dry_run:
                        blobs.delete(key)
                        blobs.delete(USED + key)
                    out["deleted"][key] = size
        finally:
            if not dry_run:
                for key in claimed:
                    blobs.delete(CLAIMS + key)
    return out


def sweep_stale_claims(blobs: BlobStore, now: float | None = None) -> int:
    """Remove claims left by a gc run that died (older than ``STALE_CLAIM``); returns how many."""
    now = time.time() if now is None else now
    stale = [k for k, _size, modified in blobs.entries(CLAIMS) if modified < now - STALE_CLAIM]
    for key in stale:
        blobs.delete(key)
    return len(stale)


def used_markers(blobs: BlobStore) -> dict[str, float]:
    """``{blob key: when a writer last re-used it}`` from the freshening markers."""
    return {k[len(USED):]: modified for k, _size, modified in blobs.entries(USED)}
