"""Shard bookkeeping of ``SqlIndexRepository`` (a mixin: it uses the repository's ``conn``, ``_insert`` and
``_where``): which package names of a channel are dirty, and which shard each name of each audience has."""
from __future__ import annotations

from collections import defaultdict
from typing import Iterable

from sqlalchemy import delete, select

from ..domain.keys import ChannelKey, ShardKey
from .file_table import chunks
from .tables import dirty, dirty_names, file_labels, files, shards


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
            stmt = self._insert(dirty_names)
            self.conn.execute(stmt.on_conflict_do_update(
                index_elements=["owner", "label", "subdir", "name"], set_={"generation": stmt.excluded.generation}),
                [{**channel._asdict(), "name": n, "generation": generation} for n in sorted(by_channel[channel])])

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

    def shard_map(self, key: ChannelKey, audience: str) -> dict[str, str]:
        """name -> sha256 of the shards the channel's current index lists for ``audience``."""
        q = select(shards.c.name, shards.c.sha256).where(self._where(shards, key), shards.c.audience == audience)
        return dict(self.conn.execute(q).all())

    def write_shards(self, key: ChannelKey, by_audience: dict[str, dict[str, dict | None]]) -> None:
        for audience, by_name in sorted(by_audience.items()):
            gone = sorted(n for n, p in by_name.items() if p is None)
            for chunk in chunks(gone):
                self.conn.execute(delete(shards).where(self._where(shards, key), shards.c.audience == audience,
                                                       shards.c.name.in_(chunk)))
            rows = [{**key._asdict(), "audience": audience, "name": n, **p}
                    for n, p in sorted(by_name.items()) if p is not None]
            if rows:
                stmt = self._insert(shards)
                self.conn.execute(stmt.on_conflict_do_update(
                    index_elements=["owner", "label", "subdir", "audience", "name"],
                    set_={"key": stmt.excluded.key, "sha256": stmt.excluded.sha256, "size": stmt.excluded.size}),
                    rows)

    def get_shard(self, key: ChannelKey, audience: str, sha256: str) -> dict | None:
        row = self.conn.execute(select(shards.c.key, shards.c.sha256, shards.c.size).where(
            self._where(shards, key), shards.c.audience == audience, shards.c.sha256 == sha256).limit(1)).first()
        return None if row is None else {"key": row.key, "sha256": row.sha256, "size": int(row.size)}
