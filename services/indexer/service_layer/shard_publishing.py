"""Rebuilding the CEP-16 shards of one channel subdir at a cost proportional to the change.

Only the shards of the channel's dirty package names are rebuilt (for each audience: a name with no visible
file loses its shard); every other name keeps the shard the current index lists (``repo.shard_map``). Shards
are stored content-addressed before the shard index that names them, which is stored before the pointer flip.

A publish that makes few new shards stores each as its own object (several at once). One that makes many (a
full rebuild, a large coalesced burst) concatenates them into pack objects of up to ``PACK_BYTES``
(content-addressed too) and points each shard at its byte range (``pack_offset``): ten thousand shards cost a
handful of object PUTs instead of ten thousand, which is what object stores charge for. Clients never see
packs: the gateway reads the range and serves the shard under its own sha256.
"""
from __future__ import annotations

import hashlib
from collections import defaultdict

from services.kernel.ports import BlobStore

from ..domain.keys import AUDIENCES, SHARD_INDEX, ChannelKey
from ..domain.shards import build_shard, build_shard_index
from .publishing import compress, side_by_side, store

SHARD_SUFFIX = ".msgpack.zst"
STORE_THREADS = 8
PACK_MIN = 16                     # new shards in one publish from which they are packed
PACK_BYTES = 32 * 1024 * 1024     # largest pack object


def shard_file_name(sha256: str) -> str:
    """A shard's name under ``<subdir>/shards/``: the sha256 of its compressed bytes."""
    return f"{sha256}{SHARD_SUFFIX}"


def rebuild_shards(blobs: BlobStore, names: list[str], rows: list[tuple]) -> dict[str, dict[str, dict | None]]:
    """``rows``: (name, filename, record_json, run_exports_json, public) of the dirty names, in a stable order.
    Stores the new shards; returns {audience: {name: pointer, or None when the name has no visible file}}."""
    by_name: dict[str, list[tuple]] = defaultdict(list)
    for row in rows:
        by_name[row[0]].append(row)
    todo: dict[str, bytes] = {}      # by sha256: public and private shards are often identical
    chosen: dict[str, dict[str, str | None]] = {audience: {} for audience in AUDIENCES}
    for name in sorted(set(names)):
        rows_of = by_name.get(name, ())
        everyone = all(public for *_r, public in rows_of)
        made: str | None = None
        for audience in AUDIENCES:
            if everyone and audience != AUDIENCES[0]:     # no private file: the same shard, built once
                chosen[audience][name] = made
                continue
            raw = build_shard((fn, js, rx) for _n, fn, js, rx, public in rows_of if public or audience == "private")
            if raw is None:
                made = chosen[audience][name] = None
                continue
            data = compress(raw)
            made = chosen[audience][name] = hashlib.sha256(data).hexdigest()
            todo.setdefault(made, data)
    stored = store_packed(blobs, todo) if len(todo) >= PACK_MIN else store_each(blobs, todo)
    return {audience: {name: None if sha is None else dict(stored[sha]) for name, sha in by.items()}
            for audience, by in chosen.items()}


def store_each(blobs: BlobStore, shards: dict[str, bytes]) -> dict[str, dict]:
    """Store each of ``shards`` ({sha256: bytes}) as an object of its own, several at once (each is a stat and
    a PUT: one after the other, the few shards of a publish in a burst cost a round trip to S3 each, a third of
    such a publish); returns each shard's pointer ``{key, sha256, size, pack_offset: None}``."""
    def put(item: tuple[str, bytes]) -> dict:
        return {**store(blobs, shard_file_name(item[0]), item[1], item[0]), "pack_offset": None}

    return dict(zip(shards, side_by_side(put, list(shards.items()), STORE_THREADS)))


def store_packed(blobs: BlobStore, shards: dict[str, bytes]) -> dict[str, dict]:
    """Store ``shards`` ({sha256: bytes}) in pack objects, in sha256 order (the same shards make the same
    packs: replays are deterministic); returns each shard's pointer ``{key, sha256, size, pack_offset}``, where
    ``key`` names the pack."""
    packs: list[list[str]] = [[]]
    size = 0
    for sha256 in sorted(shards):
        if packs[-1] and size + len(shards[sha256]) > PACK_BYTES:
            packs.append([])
            size = 0
        packs[-1].append(sha256)
        size += len(shards[sha256])

    def put(members: list[str]) -> dict[str, dict]:
        data = b"".join(shards[sha] for sha in members)
        pack = store(blobs, "shards.pack", data)
        out, offset = {}, 0
        for sha in members:
            out[sha] = {"key": pack["key"], "sha256": sha, "size": len(shards[sha]), "pack_offset": offset}
            offset += len(shards[sha])
        return out

    stored: dict[str, dict] = {}
    for part in side_by_side(put, packs, STORE_THREADS):
        stored.update(part)
    return stored


def merged_shard_maps(current: dict[str, dict[str, str]], updates: dict[str, dict[str, dict | None]]
                      ) -> dict[str, dict[str, str]]:
    """{audience: {name: sha256}}: the current shard maps with ``updates`` applied (``current`` is not changed)."""
    out = {}
    for audience in AUDIENCES:
        merged = dict(current.get(audience, {}))
        for name, pointer in updates.get(audience, {}).items():
            if pointer is None:
                merged.pop(name, None)
            else:
                merged[name] = pointer["sha256"]
        out[audience] = merged
    return out


def shard_indexes(key: ChannelKey, changed_at: dict[str, int], maps: dict[str, dict[str, str]]
                  ) -> dict[str, dict[str, bytes]]:
    """The compressed shard index of each audience, listing ``maps[audience]`` and dated by the newest event
    that audience can see (``changed_at[audience]``)."""
    out: dict[str, dict[str, bytes]] = {}
    for audience in AUDIENCES:
        same = next((a for a in out if changed_at[a] == changed_at[audience] and maps[a] == maps[audience]), None)
        out[audience] = {SHARD_INDEX: out[same][SHARD_INDEX] if same else
                         compress(build_shard_index(key.subdir, changed_at[audience], maps[audience]))}
    return out
