"""Shard bookkeeping of ``SqlIndexRepository`` (a mixin: it uses the repository's ``conn`` and ``_where``):
which package names of a channel are dirty, and which shard each name of each audience has."""
from __future__ import annotations

from collections import defaultdict
from typing import Iterable

from sqlalchemy import delete, select

from services.kernel.adapters.db import bulk_insert

from ..domain.keys import REPODATA, ChannelKey, ShardKey
from .file_table import chunks
from .tables import dirty, dirty_names, file_labels, files, published, retired_shards, shards


class ShardMixin:
    def mark_names_dirty(self, keys: Iterable[ShardKey]) -> None:
        """Mark names at their channel's current generation (call after ``mark_dirty`` of those channels)."""
        by_channel: dict[ChannelKey, set[str]] = defaultdict(set)
        for k in keys:
            by_channel[k.channel].add(k.name)
        for channel in sorted(by_channel):
            generation = self.conn.execute(select(dirty.c.generation).where(self._where(dirty, channel))
                                           ).scalar_one_or_none()
            if generation is None:
                self.mark_dirty([channel])
                generation = 1
            bulk_insert(self.conn, dirty_names,
                        [{**channel._asdict(), "name": n, "generation": generation}
                         for n in sorted(by_channel[channel])],
                        conflict=("owner", "label", "subdir", "name"), update=("generation",))

    def dirty_names(self, key: ChannelKey) -> list[str]:
        return list(self.conn.execute(select(dirty_names.c.name).where(self._where(dirty_names, key))
                                      .order_by(dirty_names.c.name)).scalars())

    def clear_dirty_names(self, key: ChannelKey, generation: int) -> None:
        self.conn.execute(delete(dirty_names).where(self._where(dirty_names, key),
                                                    dirty_names.c.generation <= generation))

    def shard_entries(self, key: ChannelKey, names: list[str]) -> list[tuple[str, str, str, str | None, bool]]:
        """(name, filename, record_json, run_exports_json, public) of the channel's files with those names."""
        out = []
        for chunk in chunks(sorted(names)):
            q = (select(files.c.name, files.c.filename, files.c.record_json, files.c.run_exports_json,
                        files.c.public)
                 .select_from(files.join(file_labels, file_labels.c.file_id == files.c.id))
                 .where(files.c.owner == key.owner, files.c.subdir == key.subdir,
                        file_labels.c.label == key.label, files.c.name.in_(chunk))
                 .order_by(files.c.filename, files.c.package, files.c.version, files.c.basename))
            out += [(n, fn, js, rx, bool(pub)) for n, fn, js, rx, pub in self.conn.execute(q)]
        return out

    def channel_rows(self, key: ChannelKey, names: list[str] | None = None) -> list[tuple]:
        """(name, filename, package, version, basename, record_json, run_exports_json, public) of the channel's
        files, all of them or only those of ``names``; unordered."""
        cols = (files.c.name, files.c.filename, files.c.package, files.c.version, files.c.basename,
                files.c.record_json, files.c.run_exports_json, files.c.public)
        base = (select(*cols).select_from(files.join(file_labels, file_labels.c.file_id == files.c.id))
                .where(files.c.owner == key.owner, files.c.subdir == key.subdir, file_labels.c.label == key.label))
        if names is None:
            return [(*r[:7], bool(r[7])) for r in self.conn.execute(base)]
        out = []
        for chunk in chunks(sorted(names)):
            out += [(*r[:7], bool(r[7])) for r in self.conn.execute(base.where(files.c.name.in_(chunk)))]
        return out

    def publish_state(self, key: ChannelKey) -> tuple:
        """What identifies the channel's published state: (published generation, sha256 of the private and of
        the public repodata.json)."""
        gen = self.conn.execute(select(dirty.c.published_generation).where(self._where(dirty, key))
                                ).scalar_one_or_none()
        shas = dict(self.conn.execute(select(published.c.audience, published.c.sha256).where(
            self._where(published, key), published.c.filename == REPODATA)).all())
        return (gen, shas.get("private"), shas.get("public"))

    def shard_map(self, key: ChannelKey, audience: str) -> dict[str, str]:
        """name -> sha256 of the shards the channel's current index lists for ``audience``."""
        q = select(shards.c.name, shards.c.sha256).where(self._where(shards, key), shards.c.audience == audience)
        return dict(self.conn.execute(q).all())

    def write_shards(self, key: ChannelKey, by_audience: dict[str, dict[str, dict | None]], now_ms: int = 0,
                     grace_ms: int = 0) -> None:
        """Record the new shard of each name ({audience: {name: pointer, or None when the name is gone}}). With
        ``grace_ms``, a shard replaced by another stays readable until ``now_ms + grace_ms`` (``get_shard``);
        a name that leaves the audience's view loses its retired shards at once (a package made private is
        private on this path too). Retired shards past their grace are dropped here."""
        for audience, by_name in sorted(by_audience.items()):
            gone = sorted(n for n, p in by_name.items() if p is None)
            for chunk in chunks(gone):
                self.conn.execute(delete(shards).where(self._where(shards, key), shards.c.audience == audience,
                                                       shards.c.name.in_(chunk)))
                self.conn.execute(delete(retired_shards).where(
                    self._where(retired_shards, key), retired_shards.c.audience == audience,
                    retired_shards.c.name.in_(chunk)))
            rows = [{**key._asdict(), "audience": audience, "name": n, "key": p["key"], "sha256": p["sha256"],
                     "size": p["size"], "pack_offset": p.get("pack_offset")}
                    for n, p in sorted(by_name.items()) if p is not None]
            if rows and grace_ms > 0:
                self._retire(key, audience, {r["name"]: r["sha256"] for r in rows}, now_ms)
            bulk_insert(self.conn, shards, rows, conflict=("owner", "label", "subdir", "audience", "name"),
                        update=("key", "sha256", "size", "pack_offset"))
        if grace_ms > 0:
            self.conn.execute(delete(retired_shards).where(retired_shards.c.retired_at < now_ms - grace_ms))

    def _retire(self, key: ChannelKey, audience: str, new: dict[str, str], now_ms: int) -> None:
        """Copy the current shards of ``new``'s names that are about to be replaced into ``retired_shards``.
        Many names (a replay, a large burst) are looked up with one read of the channel's shards rather than
        in chunks of names."""
        cols = (shards.c.name, shards.c.key, shards.c.sha256, shards.c.size, shards.c.pack_offset)
        where = (self._where(shards, key), shards.c.audience == audience)
        if len(new) > RETIRE_BY_NAME:
            found = [r for r in self.conn.execute(select(*cols).where(*where)) if r.name in new]
        else:
            found = [r for chunk in chunks(sorted(new))
                     for r in self.conn.execute(select(*cols).where(*where, shards.c.name.in_(chunk)))]
        old = [r for r in found if r.sha256 != new[r.name]]
        bulk_insert(self.conn, retired_shards,
                    [{**key._asdict(), "audience": audience, "name": r.name, "key": r.key, "sha256": r.sha256,
                      "size": r.size, "retired_at": now_ms, "pack_offset": r.pack_offset} for r in old],
                    conflict=("owner", "label", "subdir", "audience", "sha256"), update=("retired_at",))

    def get_shard(self, key: ChannelKey, audience: str, sha256: str, retired_since_ms: int | None = None
                  ) -> dict | None:
        """The shard if the current index of ``audience`` lists it, or (with ``retired_since_ms``) if it was
        replaced at or after that time."""
        row = self.conn.execute(select(shards.c.key, shards.c.sha256, shards.c.size, shards.c.pack_offset).where(
            self._where(shards, key), shards.c.audience == audience, shards.c.sha256 == sha256).limit(1)).first()
        if row is None and retired_since_ms is not None:
            r = retired_shards.c
            row = self.conn.execute(select(r.key, r.sha256, r.size, r.pack_offset)
                                    .where(self._where(retired_shards, key), r.audience == audience,
                                           r.sha256 == sha256, r.retired_at >= retired_since_ms)).first()
        return None if row is None else shard_pointer(row)


RETIRE_BY_NAME = 2000     # more replaced names than this: read the channel's shards whole (see _retire)


def shard_pointer(row) -> dict:
    """``{key, sha256, size}`` of a shard row, with ``offset`` when the shard is a byte range of the pack
    ``key``."""
    out = {"key": row.key, "sha256": row.sha256, "size": int(row.size)}
    if row.pack_offset is not None:
        out["offset"] = int(row.pack_offset)
    return out
