"""``channeldata.json`` (CEP-38 shape, as conda-index writes it) built from the repodata a reader already sees.

No installer reads channeldata.json (conda-build ``--use-channeldata`` and human-facing tools do), so Wharf does
not publish it: the gateway derives it on request from the reader's view of every subdir's ``repodata.json``
(public, private or partial), so it can never show more than those files do, and caches the result by the
hashes of its inputs. Per package: ``subdirs``, the newest ``version`` (conda version order, py-rattler's
``Version``), ``timestamp`` (newest record, seconds), and ``license`` / ``license_family`` of the newest record
when present. About-file fields (summary, home, ...) are not in repodata records and are left out.
"""
from __future__ import annotations

import hashlib
import json

from rattler import Version


def _version_key(v: str):
    try:
        return (1, Version(v))
    except Exception:  # noqa: BLE001 - a record with an unparseable version sorts first, never fails the file
        return (0, v)


def _seconds(ts) -> int:
    if not isinstance(ts, (int, float)):
        return 0
    return int(ts / 1000) if ts > 253402300799 else int(ts)   # repodata timestamps may be ms


def build(repodata_by_subdir: dict[str, bytes]) -> bytes:
    """``{subdir: repodata.json bytes}`` -> channeldata.json bytes (deterministic: sorted keys, compact)."""
    newest: dict[str, dict] = {}
    subdirs_of: dict[str, set] = {}
    timestamps: dict[str, int] = {}
    for subdir, data in repodata_by_subdir.items():
        doc = json.loads(data)
        for section in ("packages", "packages.conda"):
            for rec in (doc.get(section) or {}).values():
                name, version = rec.get("name"), rec.get("version")
                if not isinstance(name, str) or not isinstance(version, str):
                    continue
                subdirs_of.setdefault(name, set()).add(subdir)
                timestamps[name] = max(timestamps.get(name, 0), _seconds(rec.get("timestamp")))
                best = newest.get(name)
                key = (_version_key(version), rec.get("build_number") or 0, _seconds(rec.get("timestamp")))
                if best is None or key > best["key"]:
                    newest[name] = {"key": key, "rec": rec}
    packages = {}
    for name, best in newest.items():
        rec = best["rec"]
        entry = {"subdirs": sorted(subdirs_of[name]), "version": rec["version"], "timestamp": timestamps[name]}
        for field in ("license", "license_family"):
            if isinstance(rec.get(field), str):
                entry[field] = rec[field]
        packages[name] = entry
    subdirs = sorted({s for ss in subdirs_of.values() for s in ss})
    return json.dumps({"channeldata_version": 1, "packages": packages, "subdirs": subdirs},
                      sort_keys=True, separators=(",", ":")).encode()


def cache_key(parts: list[tuple[str, str]]) -> str:
    """A strong validator from the (subdir, repodata sha256) inputs."""
    h = hashlib.sha256(b"channeldata:1:")
    h.update("\n".join(f"{s}:{sha}" for s, sha in sorted(parts)).encode())
    return h.hexdigest()
