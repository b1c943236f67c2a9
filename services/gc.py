"""``wharf gc``: reclaim the bytes nothing needs any more. Like ``wharf verify`` (which uses ``survey`` to tell
garbage from problems) it runs beside the services with their environment and reads their facades in-process.

What is garbage (ARCHITECTURE.md, "Garbage collection"):

- **Package blobs** (``blobs/``) that no file record, no staged upload (its declared sha256) and no indexed file
  names, that were *released* (``released_blobs``: a record naming them was removed or replaced, their commit
  was refused, their stage expired) and whose release and last write or re-use (``blob_gc.last_used``) are both
  older than the grace period (``WHARF_GC_GRACE``). A blob nothing names and no release explains is an
  **orphan** once older than the grace period: ``wharf verify`` reports it as a problem and gc keeps it unless
  told ``--orphans`` (it may be the bytes of a record that was lost, e.g. a registry database restored from an
  older backup than the bucket). Younger, it is an upload in flight.
- **Index blobs** (``indexes/``) that no current pointer or shard names and no shard retired within
  ``WHARF_SHARD_GRACE``, last written or re-used longer ago than the larger of the two graces.
- **Staged uploads** older than ``WHARF_STAGE_TTL``: the registry's row and the staged bytes. Staged bytes
  without a stage (a PUT that finished after its stage closed) once older than the TTL.

Each deletion is claimed and re-checked right before it (``StorageService.collect``, ``blob_gc``).
"""
from __future__ import annotations

import dataclasses
import time
from datetime import datetime

from services.indexer.bootstrap import bootstrap as indexer_bootstrap
from services.kernel.adapters.blob_store import make_blob_store
from services.kernel.blob_gc import last_used
from services.kernel.settings import Settings
from services.registry.bootstrap import bootstrap as registry_bootstrap
from services.storage.bootstrap import bootstrap as storage_bootstrap


def _epoch(iso_text: str) -> float:
    return datetime.fromisoformat(iso_text.replace("Z", "+00:00")).timestamp()


@dataclasses.dataclass(frozen=True)
class Policy:
    now: float
    grace: float            # WHARF_GC_GRACE (or --grace)
    shard_grace: float      # WHARF_SHARD_GRACE
    stage_ttl: float        # WHARF_STAGE_TTL

    @classmethod
    def of(cls, settings: Settings, grace: float | None = None, now: float | None = None) -> "Policy":
        return cls(time.time() if now is None else now, settings.gc_grace if grace is None else max(0.0, grace),
                   settings.shard_grace, settings.stage_ttl)

    @classmethod
    def defaults(cls) -> "Policy":
        """The settings' defaults, now."""
        f = {f.name: f.default for f in dataclasses.fields(Settings)}
        return cls(time.time(), f["gc_grace"], f["shard_grace"], f["stage_ttl"])

    @property
    def blob_cutoff(self) -> float:
        return self.now - self.grace

    @property
    def index_cutoff(self) -> float:
        return self.now - max(self.grace, self.shard_grace)


# classes of stored keys (``survey``)
LIVE, RELEASED_WAITING, RELEASED_DUE, RECENT, ORPHAN = "live", "released_in_grace", "released_due", "recent", "orphan"
CURRENT, SUPERSEDED_WAITING, SUPERSEDED_DUE = "current", "superseded_in_grace", "superseded_due"
OPEN, EXPIRED, LEFTOVER_WAITING, LEFTOVER_DUE = "open", "expired", "leftover_recent", "leftover_due"


def survey(registry, indexer, storage, policy: Policy) -> dict:
    """Every stored package blob, index blob and staged upload, classified (read-only): ``{package: {class:
    {key: size}}, index: {...}, staged_bytes: {...}, stages: {"open": n, "expired": n}, released: {key: ISO}}``.

    Storage is listed before the references are read: a blob stored after the listing is not looked at, and
    one named after the reading is caught by the re-check ``collect`` makes before each deletion."""
    package = storage.blob_entries("blobs/")
    index = storage.blob_entries("indexes/")
    staged_bytes = storage.blob_entries("staging/")
    used = storage.used_markers()
    reg = registry.gc_inventory()
    indexed = set(indexer.blob_references())
    live = set(reg["referenced"]) | indexed
    released = reg["released"]

    out: dict = {"package": {c: {} for c in (LIVE, RELEASED_WAITING, RELEASED_DUE, RECENT, ORPHAN)},
                 "index": {c: {} for c in (CURRENT, SUPERSEDED_WAITING, SUPERSEDED_DUE)},
                 "staged_bytes": {c: {} for c in (OPEN, EXPIRED, LEFTOVER_WAITING, LEFTOVER_DUE)},
                 "released": released}
    for e in package:
        key, since = e["key"], last_used(e["modified"], used.get(e["key"]))
        if key in live:
            cls = LIVE
        elif key in released:
            since = max(since, _epoch(released[key]))
            cls = RELEASED_DUE if since < policy.blob_cutoff else RELEASED_WAITING
        else:
            cls = RECENT if since >= policy.blob_cutoff else ORPHAN
        out["package"][cls][key] = e["size"]
    for e in index:
        key = e["key"]
        if key in indexed:
            cls = CURRENT
        elif last_used(e["modified"], used.get(key)) < policy.index_cutoff:
            cls = SUPERSEDED_DUE
        else:
            cls = SUPERSEDED_WAITING
        out["index"][cls][key] = e["size"]
    stages = {st["staging_key"]: st for st in reg["stages"]}
    out["stages"] = {"open": sum(1 for st in reg["stages"] if not st["expired"]),
                     "expired": sum(1 for st in reg["stages"] if st["expired"])}
    for e in staged_bytes:
        st = stages.get(e["key"])
        if st is not None:
            cls = EXPIRED if st["expired"] else OPEN
        else:
            cls = LEFTOVER_DUE if e["modified"] < policy.now - policy.stage_ttl else LEFTOVER_WAITING
        out["staged_bytes"][cls][e["key"]] = e["size"]
    return out


def _sum(sizes: dict) -> dict:
    return {"count": len(sizes), "bytes": sum(sizes.values())}


def collect(registry, indexer, storage, policy: Policy, dry_run: bool = False, orphans: bool = False) -> dict:
    """Expire stages, then delete what ``survey`` finds due, each deletion claimed and re-checked
    (``StorageService.collect``). Returns the report ``wharf gc`` prints."""
    if not dry_run:
        storage.sweep_stale_claims()
    expired = registry.expire_stages(dry_run=dry_run)
    expired_bytes = storage.drop_staged([st["staging_key"] for st in expired], dry_run=dry_run)
    found = survey(registry, indexer, storage, policy)
    pkg, idx = found["package"], found["index"]
    candidates = {k: policy.blob_cutoff for k in pkg[RELEASED_DUE]}
    if orphans:
        candidates.update({k: policy.blob_cutoff for k in pkg[ORPHAN]})
    candidates.update({k: policy.index_cutoff for k in idx[SUPERSEDED_DUE]})

    def referenced(keys: list[str]) -> set[str]:
        return set(registry.blob_references(keys)) | set(indexer.blob_references(keys))

    done = storage.collect(candidates, referenced, dry_run=dry_run)
    deleted = done["deleted"]
    leftovers = storage.drop_staged(sorted(found["staged_bytes"][LEFTOVER_DUE]), dry_run=dry_run)
    reclaimed = {
        "package_blobs": _sum({k: s for k, s in deleted.items() if k.startswith("blobs/")}),
        "index_blobs": _sum({k: s for k, s in deleted.items() if k.startswith("indexes/")}),
        "expired_stages": {"count": len(expired), "bytes": sum(expired_bytes.values())},
        "staged_leftovers": _sum(leftovers),
    }
    reclaimed["total"] = {"count": sum(v["count"] for v in reclaimed.values()),
                          "bytes": sum(v["bytes"] for v in reclaimed.values())}
    kept = {
        "package_blobs_in_grace": len(pkg[RELEASED_WAITING]),
        "uploads_in_flight": len(pkg[RECENT]),
        "orphans": 0 if orphans else len(pkg[ORPHAN]),
        "index_blobs_in_grace": len(idx[SUPERSEDED_WAITING]),
        "changed_since_survey": len(done["young"]) + len(done["referenced"]) + len(done["slow"]),
        "staged_uploads_open": found["stages"]["open"],
    }
    return {"dry_run": dry_run, "grace": policy.grace, "shard_grace": policy.shard_grace,
            "stage_ttl": policy.stage_ttl, "orphans_collected": orphans, "reclaimed": reclaimed, "kept": kept,
            "deleted": sorted(deleted) + sorted(leftovers) + sorted(expired_bytes)}


def gc(settings: Settings, grace: float | None = None, dry_run: bool = False, orphans: bool = False) -> dict:
    blobs = make_blob_store(settings)        # one store (one S3 connection pool) for both facades
    registry = registry_bootstrap(settings, publisher=None)
    indexer = indexer_bootstrap(settings, publisher=None, blobs=blobs)
    storage = storage_bootstrap(settings, blobs=blobs)
    return collect(registry, indexer, storage, Policy.of(settings, grace), dry_run=dry_run, orphans=orphans)


def render(report: dict) -> str:
    r, k = report["reclaimed"], report["kept"]
    verb = "would reclaim" if report["dry_run"] else "reclaimed"
    lines = [f"gc{' (dry run)' if report['dry_run'] else ''}: {verb} {r['total']['count']} objects, "
             f"{r['total']['bytes']} bytes"]
    for name, label in (("package_blobs", "package blobs"), ("index_blobs", "superseded index blobs"),
                        ("expired_stages", "expired staged uploads"), ("staged_leftovers", "staged leftovers")):
        lines.append(f"  {label:<24}{r[name]['count']:>8} {r[name]['bytes']:>14} bytes")
    lines.append(f"kept: {k['package_blobs_in_grace']} released package blobs and {k['index_blobs_in_grace']} "
                 f"superseded index blobs within the grace period ({int(report['grace'])} s), "
                 f"{k['uploads_in_flight']} blobs of uploads in flight, {k['staged_uploads_open']} open staged "
                 f"uploads, {k['changed_since_survey']} in use again by the time of deletion")
    if k["orphans"]:
        lines.append(f"kept {k['orphans']} orphan blob(s) that nothing explains: see `wharf verify`; "
                     f"`wharf gc --orphans` deletes them")
    return "\n".join(lines)
