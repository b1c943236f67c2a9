"""``wharf verify``: check that nothing was lost and nothing leaked. Read-only; it reports, it never repairs.

1. **Records have bytes.** Every file record of the registry names a blob that exists, whose size and (read
   back in full) sha256 are the recorded ones; the same for a wheel's core-metadata blob (PEP 658).
2. **Indexes are what the log says.** The registry's whole event log is fed to a scratch indexer (temporary
   SQLite database and blob directory, the same code as ``wharf replay``); every published pointer of the live
   indexer (conda indexes, CEP-16 shards, PyPI pages, both audiences) must equal the scratch one, byte for byte
   (same sha256), and the live pointer's blob must exist with that size and sha256. Before comparing, verify
   waits (``--wait`` seconds) until the system is quiet: every event relayed, every stream applied by the
   indexer, nothing left to publish; if it never gets there, that is reported as ``lagging``.
3. **No orphans; garbage is counted.** Stored blobs are classified as ``wharf gc`` sees them
   (``services.gc.survey``). A package blob nothing names (no file record, no staged upload, no indexed file)
   that a removal, a refused commit or an expired stage released is garbage awaiting collection, within the
   grace period or past it: counted, not a problem; so is one younger than the grace period (an upload in
   flight). An **orphan** is a package blob nothing names, nothing released and older than the grace period:
   bytes no history accounts for (a lost record, something written into the bucket by hand); that is a
   problem. Superseded index blobs, open and expired stages and staged bytes are counted. Verify deletes
   nothing.

The report is a dict (``--json`` prints it); ``problems`` lists every finding, ``ok`` is true when it is empty.
"""
from __future__ import annotations

import tempfile
import time

from services.gc import (LEFTOVER_DUE, LEFTOVER_WAITING, ORPHAN, RECENT, RELEASED_DUE, RELEASED_WAITING,
                         SUPERSEDED_DUE, SUPERSEDED_WAITING, Policy, survey)
from services.indexer.bootstrap import bootstrap as indexer_bootstrap
from services.kernel.adapters.blob_store import make_blob_store
from services.kernel.adapters.local_blobs import LocalBlobStore
from services.kernel.settings import Settings
from services.kernel.signing import blob_key_for
from services.registry.bootstrap import bootstrap as registry_bootstrap
from services.replay import rebuild_indexes
from services.storage.bootstrap import bootstrap as storage_bootstrap


def _pointer_id(p: dict) -> str:
    return f"{p['kind']}:{p['owner']}/{p['label']}/{p['place']}/{p['audience']}/{p['filename']}"


class Verifier:
    def __init__(self, registry, indexer, storage, hash_bytes: bool = True):
        self.registry, self.indexer, self.storage = registry, indexer, storage
        self.hash_bytes = hash_bytes
        self.problems: list[dict] = []
        self._digests: dict[str, dict | None] = {}

    def problem(self, kind: str, **details) -> None:
        self.problems.append({"kind": kind, **details})

    def _digest(self, key: str, offset: int | None = None, size: int | None = None,
                encoding: str | None = None) -> dict | None:
        if offset is not None:      # a shard packed with others: its byte range of the pack
            return self.storage.blob_digest(key, self.hash_bytes, offset=offset, length=size)
        if encoding is not None:    # stored compressed: the digest of the decoded bytes
            return self.storage.blob_digest(key, self.hash_bytes, encoding=encoding)
        if key not in self._digests:
            self._digests[key] = self.storage.blob_digest(key, self.hash_bytes)
        return self._digests[key]

    def _check_blob(self, key: str, sha256: str | None, size: int | None, offset: int | None = None,
                    encoding: str | None = None, **where) -> None:
        got = self._digest(key, offset, size, encoding)
        if got is None:
            self.problem("missing_blob", key=key, **where)
            return
        if size is not None and got["size"] != size:
            self.problem("size_mismatch", key=key, expected=size, found=got["size"], **where)
        if sha256 and got["sha256"] is not None and got["sha256"] != sha256:
            self.problem("sha256_mismatch", key=key, expected=sha256, found=got["sha256"], **where)

    # ------------------------------------------------------------------------------------------------ steps
    def settle(self, wait: float) -> tuple[dict, dict]:
        deadline = time.monotonic() + max(0.0, wait)
        while True:
            reg = self.registry.verify_inventory()
            idx = self.indexer.verify_inventory()
            behind = {s: {"log": n, "indexed": idx["streams"].get(s, 0)}
                      for s, n in reg["streams"].items() if idx["streams"].get(s, 0) < n}
            if not behind and not reg["unpublished"] and not idx["pending"]:
                return reg, idx
            if time.monotonic() >= deadline:
                self.problem("lagging", unrelayed_events=reg["unpublished"], unpublished_indexes=idx["pending"],
                             streams_behind=behind)
                return reg, idx
            time.sleep(0.5)

    def check_records(self, reg: dict) -> set[str]:
        referenced: set[str] = set()
        for f in reg["files"]:
            where = {"file": f"{f['owner']}/{f['package']}/{f['version']}/{f['basename']}"}
            referenced.add(f["blob_key"])
            if f["blob_key"] != blob_key_for(f["sha256"]):
                self.problem("record_key_mismatch", key=f["blob_key"], sha256=f["sha256"], **where)
            self._check_blob(f["blob_key"], f["sha256"], f["size"], **where)
            if f.get("core_metadata_key"):
                referenced.add(f["core_metadata_key"])
                self._check_blob(f["core_metadata_key"], f.get("core_metadata_sha256"), None,
                                 **where, what="core metadata")
        return referenced

    def check_indexes(self, idx: dict, log_reader) -> dict:
        live = {_pointer_id(p): p for p in idx["pointers"]}
        for pid, p in live.items():
            self._check_blob(p["key"], p["sha256"], p["size"], p.get("offset"), p.get("encoding"), pointer=pid)
        expected = {_pointer_id(p): p for p in replay_pointers(log_reader)}
        for pid in sorted(live.keys() | expected.keys()):
            have, want = live.get(pid), expected.get(pid)
            if want is None:
                self.problem("index_unexpected", pointer=pid, found=have["sha256"])
            elif have is None:
                self.problem("index_missing", pointer=pid, expected=want["sha256"])
            elif (have["sha256"], have["size"]) != (want["sha256"], want["size"]):
                self.problem("index_mismatch", pointer=pid, expected=want["sha256"], found=have["sha256"])
        return {"pointers": len(live), "replayed_pointers": len(expected)}

    def check_garbage(self, policy: Policy) -> dict:
        found = survey(self.registry, self.indexer, self.storage, policy)
        pkg, idx, staged = found["package"], found["index"], found["staged_bytes"]
        for key in sorted(pkg[ORPHAN]):
            self.problem("orphan_blob", key=key)
        return {"package_blobs": sum(len(c) for c in pkg.values()),
                "garbage_blobs": len(pkg[RELEASED_WAITING]) + len(pkg[RELEASED_DUE]),
                "garbage_blobs_collectable": len(pkg[RELEASED_DUE]),
                "garbage_bytes": sum(pkg[RELEASED_WAITING].values()) + sum(pkg[RELEASED_DUE].values()),
                "uploads_in_flight": len(pkg[RECENT]),
                "index_blobs": sum(len(c) for c in idx.values()),
                "superseded_index_blobs": len(idx[SUPERSEDED_WAITING]) + len(idx[SUPERSEDED_DUE]),
                "superseded_index_blobs_collectable": len(idx[SUPERSEDED_DUE]),
                "staged_uploads": found["stages"]["open"], "expired_stages": found["stages"]["expired"],
                "staged_blobs": sum(len(c) for c in staged.values()),
                "staged_leftovers": len(staged[LEFTOVER_WAITING]) + len(staged[LEFTOVER_DUE]),
                "grace": policy.grace}


def replay_pointers(log_reader) -> list[dict]:
    """Every pointer a fresh indexer publishes from the whole log (``log_reader(after, limit)``)."""
    with tempfile.TemporaryDirectory(prefix="wharf-verify-") as tmp:
        scratch = indexer_bootstrap(Settings(mode="embedded", data_dir=tmp, secret_key="verify"),
                                    blobs=LocalBlobStore(f"{tmp}/blobs"))
        rebuild_indexes(scratch, log_reader)
        pointers = scratch.verify_inventory()["pointers"]
        scratch.uow.engine.dispose()
        return pointers


def verify(settings: Settings, hash_bytes: bool = True, wait: float = 30.0, grace: float | None = None) -> dict:
    """``grace``: the grace period garbage and orphans are told apart by (default ``WHARF_GC_GRACE``)."""
    blobs = make_blob_store(settings)        # one store (one S3 connection pool) for both facades
    registry = registry_bootstrap(settings, publisher=None)
    indexer = indexer_bootstrap(settings, publisher=None, log_reader=registry.read_stream, blobs=blobs)
    storage = storage_bootstrap(settings, blobs=blobs)
    return run(registry, indexer, storage, hash_bytes=hash_bytes, wait=wait, policy=Policy.of(settings, grace))


def run(registry, indexer, storage, hash_bytes: bool = True, wait: float = 30.0,
        policy: Policy | None = None) -> dict:
    v = Verifier(registry, indexer, storage, hash_bytes)
    reg, idx = v.settle(wait)
    v.check_records(reg)
    counts = {"files": len(reg["files"]), "events": sum(reg["streams"].values()), "streams": len(reg["streams"])}
    counts.update(v.check_indexes(idx, registry.read_log))
    counts.update(v.check_garbage(policy or Policy.defaults()))
    return {"ok": not v.problems, "problems": v.problems, "counts": counts, "hashed": hash_bytes}


def render(report: dict) -> str:
    c = report["counts"]
    lines = [f"files {c['files']}, events {c['events']} in {c['streams']} streams, "
             f"index pointers {c['pointers']} (replay: {c['replayed_pointers']}), package blobs "
             f"{c['package_blobs']}, index blobs {c['index_blobs']} ({c['superseded_index_blobs']} superseded), "
             f"staged uploads {c['staged_uploads']} (blobs {c['staged_blobs']})"
             + ("" if report["hashed"] else "; sizes only, bytes not hashed"),
             f"garbage awaiting `wharf gc` (not problems): {c['garbage_blobs']} released package blobs "
             f"({c['garbage_bytes']} bytes; {c['garbage_blobs_collectable']} past the {int(c['grace'])} s grace "
             f"period), {c['superseded_index_blobs_collectable']} superseded index blobs past it, "
             f"{c['expired_stages']} expired staged uploads, {c['staged_leftovers']} staged leftovers; "
             f"{c['uploads_in_flight']} blobs of uploads in flight"]
    for p in report["problems"]:
        details = ", ".join(f"{k}={v}" for k, v in p.items() if k != "kind")
        lines.append(f"PROBLEM {p['kind']}: {details}")
    lines.append("verify: OK" if report["ok"] else f"verify: {len(report['problems'])} problem(s)")
    return "\n".join(lines)
