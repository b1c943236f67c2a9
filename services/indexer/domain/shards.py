"""CEP-16 sharded repodata (with CEP-21 ``run_exports``), as deterministic msgpack bytes.

A shard holds every record of one package name in one channel subdir:
``{"packages": {fn: record}, "packages.conda": {fn: record}}``, each record exactly as in ``repodata.json``
except that ``md5`` and ``sha256`` are raw bytes (msgpack bin), plus ``run_exports`` when the package's
``info/run_exports.json`` is known (an absent key means unknown). The shard index maps each name to the sha256
(32 raw bytes) of its compressed shard. Every map is packed in sorted key order, so equal content gives equal
bytes. Compression is the service layer's business.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Iterable

import msgpack

from .records import section_of

RUN_EXPORT_KINDS = frozenset({"weak", "strong", "noarch", "weak_constrains", "strong_constrains"})
SHARDS_BASE_URL = "./shards/"
_DIGESTS = {"md5": 32, "sha256": 64}


def clean_run_exports(value) -> dict | None:
    """``info/run_exports.json`` as clients parse it ({kind: [spec, ...]}), or None when it is not one: a shard
    record that a client cannot parse would hide the whole package, so doubtful data counts as unknown."""
    if not isinstance(value, dict):
        return None
    for kind, specs in value.items():
        if kind not in RUN_EXPORT_KINDS or not isinstance(specs, list) or \
                not all(isinstance(s, str) for s in specs):
            return None
    return value


def _sorted(value):
    if isinstance(value, dict):
        return {k: _sorted(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted(v) for v in value]
    return value


def pack(value) -> bytes:
    """msgpack with every map in sorted key order (str keys), bytes as bin, str as str."""
    return msgpack.packb(_sorted(value), use_bin_type=True)


def shard_record(record_json: str, run_exports_json: str | None) -> dict:
    """The shard form of a record. Both texts are ``canonical_json`` (keys sorted at every level), so the maps
    decoded from them are in sorted order already; only the record's own keys are sorted again when it gains
    ``run_exports``."""
    record = json.loads(record_json)
    for field, width in _DIGESTS.items():
        digest = record.get(field)
        if isinstance(digest, str) and len(digest) == width:
            try:
                record[field] = bytes.fromhex(digest)
            except ValueError:
                pass
    if run_exports_json is not None:
        record["run_exports"] = json.loads(run_exports_json)
        record = {k: record[k] for k in sorted(record)}
    return record


def build_shard(entries: Iterable[tuple[str, str, str | None]]) -> bytes | None:
    """``entries``: (filename, record_json, run_exports_json) of one name, in a stable order (a later
    duplicate file name wins, like in repodata.json). None when no entry is a conda package. The bytes are
    ``pack`` of the shard; the records are packed as decoded (see ``shard_record``), not walked to be sorted."""
    sections: dict[str, dict] = {"packages": {}, "packages.conda": {}}
    for filename, record_json, run_exports_json in entries:
        section = section_of(filename)
        if section is not None:
            sections[section][filename] = (record_json, run_exports_json)
    if not sections["packages"] and not sections["packages.conda"]:
        return None
    return msgpack.packb({section: {fn: shard_record(*records[fn]) for fn in sorted(records)}
                          for section, records in sections.items()}, use_bin_type=True)


def iso_millis(millis: int) -> str:
    """Epoch milliseconds -> RFC 3339 UTC with milliseconds (``2026-05-01T12:00:01.001Z``)."""
    dt = datetime.fromtimestamp(millis // 1000, tz=timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{millis % 1000:03d}Z"


def build_shard_index(subdir: str, changed_at: int, shards: dict[str, str]) -> bytes:
    """``shards``: name -> hex sha256 of the compressed shard. ``changed_at`` (epoch ms of the newest event
    applied to the channel; 0 = none) becomes ``info.created_at``, so replays give the same bytes."""
    info = {"subdir": subdir, "base_url": "", "shards_base_url": SHARDS_BASE_URL}
    if changed_at > 0:
        info["created_at"] = iso_millis(changed_at)
    return pack({"version": 1, "info": info, "shards": {name: bytes.fromhex(sha) for name, sha in shards.items()}})
