"""What ``wharf gc`` and ``wharf verify`` ask of the registry: which blobs its records and stages name, which
blobs were released and when, and expiring staged uploads. Mixed into ``RegistryService``."""
from __future__ import annotations

import logging

from services.kernel.signing import blob_key_for, staging_key_for

from ..domain import staging

log = logging.getLogger("wharf.registry")


class CollectionMethods:
    stage_ttl: float
    _clock = None
    _uow = None

    def _now_iso(self) -> str:
        return staging.iso(self._clock())

    def gc_inventory(self) -> dict:
        """``{referenced: [blob keys file records and stages name], released: {blob key: ISO time it was last
        released}, stages: [{dist_id, owner, package, version, basename, actor, created_at, expired,
        staging_key, blob_key (None when the stage declared no sha256)}]}``. Stages are read before file
        records: a commit moves a blob's reference from its stage to its record in one transaction, so one of
        the two reads sees it even without a snapshot spanning both."""
        now = self._clock()

        def q(uow):
            stages = uow.repo.stages()
            referenced = set()
            for f in uow.repo.file_refs():
                referenced.add(f["blob_key"])
                if f.get("core_metadata_key"):
                    referenced.add(f["core_metadata_key"])
            return stages, referenced, uow.repo.released_blobs()
        stages, referenced, released = self._query(q)
        out = []
        for st in stages:
            key = blob_key_for(st["sha256"]) if st["sha256"] else None
            if key:
                referenced.add(key)
            out.append({**{k: st[k] for k in ("dist_id", "owner", "package", "version", "basename", "actor",
                                               "created_at")},
                        "expired": staging.expired(st["created_at"], self.stage_ttl, now),
                        "staging_key": staging_key_for(st["dist_id"]), "blob_key": key})
        return {"referenced": sorted(referenced), "released": released, "stages": out}

    def blob_references(self, keys: list[str]) -> list[str]:
        """Those of ``keys`` a file record or a staged upload names now (``wharf gc``'s re-check right before it
        deletes). Stages first, then records, for the reason given in ``gc_inventory``."""
        keys = sorted(set(keys))
        by_sha = {k.rsplit("/", 1)[-1]: k for k in keys}

        def q(uow):
            found = {by_sha[s] for s in uow.repo.staged_shas(sorted(by_sha)) if blob_key_for(s) == by_sha[s]}
            return found | uow.repo.files_naming(keys)
        return sorted(self._query(q))

    def expire_stages(self, dry_run: bool = False) -> list[dict]:
        """Remove every staged upload older than the stage TTL (no event: stages are not in the log) and record
        the blob it declared (its sha256) as released now; returns them as ``gc_inventory`` lists stages. Their
        staged bytes are storage's to delete."""
        now = self._clock()
        cutoff = staging.iso(now - self.stage_ttl)
        with self._uow() as uow:
            rows = [st for st in uow.repo.stages() if st["created_at"] < cutoff]
            if rows and not dry_run:
                uow.repo.delete_staged_many([st["dist_id"] for st in rows])
                uow.repo.release_blobs([blob_key_for(st["sha256"]) for st in rows if st["sha256"]],
                                       staging.iso(now))
                uow.commit()
        return [{**{k: st[k] for k in ("dist_id", "owner", "package", "version", "basename", "actor",
                                        "created_at")},
                 "expired": True, "staging_key": staging_key_for(st["dist_id"]),
                 "blob_key": blob_key_for(st["sha256"]) if st["sha256"] else None} for st in rows]

    def _release_refused(self, blob_meta) -> None:
        """A commit was refused after storage stored its bytes: record them as released (best effort)."""
        meta = blob_meta if isinstance(blob_meta, dict) else {}
        inner = meta.get("metadata") if isinstance(meta.get("metadata"), dict) else {}
        keys = [k for k in (meta.get("blob_key"), inner.get("core_metadata_key"))
                if isinstance(k, str) and k.startswith("blobs/sha256/")]
        if not keys:
            return
        try:
            with self._uow() as uow:
                uow.repo.release_blobs(keys, self._now_iso())
                uow.commit()
        except Exception:  # noqa: BLE001 - the refusal is what the caller must see; verify reports the rest
            log.warning("could not record the blobs of a refused commit as released", exc_info=True)
