"""``SqlIndexRepository`` on SQLAlchemy Core, bound to one connection inside one transaction (see uow.py).

Portable between SQLite and PostgreSQL: upserts use each dialect's ``INSERT ... ON CONFLICT``; ``FOR UPDATE``
locks rows on PostgreSQL (SQLite already serialises writers with ``BEGIN IMMEDIATE`` and ignores it).
``conda`` and ``pypi`` are the two kinds of files (file_table.py); this class holds the stream positions and
the conda channels' dirty marks and pointers; shard_repository.py and pypi_repository.py add the shards and the
PyPI pages.
"""
from __future__ import annotations

import time
from typing import Iterable, Mapping

from sqlalchemy import and_, case, delete, func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from ..domain.keys import NOARCH, ChannelKey, ProjectKey, ShardChange
from .dead_letter_repository import DeadLetterMixin
from .file_table import SqlFileTable
from .pypi_repository import PypiIndexMixin
from .pypi_tables import PYPI_TABLES, pypi_file_labels, pypi_files
from .shard_repository import ShardMixin, shard_pointer
from .tables import (CONDA_TABLES, PUBLICATIONS_KEPT, dirty, file_labels, files, publications, published,
                     stream_positions)


def index_pointer(key: str, sha256: str, size, encoding: str | None) -> dict:
    """A published file's pointer: ``{key, sha256, size}`` of the bytes served, and ``encoding`` when ``key``
    holds them compressed."""
    out = {"key": key, "sha256": sha256, "size": int(size)}
    if encoding:
        out["encoding"] = encoding
    return out


class SqlIndexRepository(ShardMixin, PypiIndexMixin, DeadLetterMixin):
    def __init__(self, conn: Connection):
        self.conn = conn
        self._dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        self.conda = SqlFileTable(conn, self._insert, files, file_labels, ("subdir", "name", "public"),
                                  ShardChange)
        self.pypi = SqlFileTable(conn, self._insert, pypi_files, pypi_file_labels, ("project",), ProjectKey)

    def _insert(self, table):
        return self._dialect.insert(table)

    # ------------------------------------------------------------------------------------ stream positions
    def lock_stream(self, stream_id: str) -> int:
        self.conn.execute(self._insert(stream_positions).values(stream_id=stream_id, last_sequence=0)
                          .on_conflict_do_nothing(index_elements=["stream_id"]))
        return self.conn.execute(select(stream_positions.c.last_sequence)
                                 .where(stream_positions.c.stream_id == stream_id).with_for_update()).scalar_one()

    def set_stream(self, stream_id: str, sequence: int) -> None:
        self.conn.execute(update(stream_positions).where(stream_positions.c.stream_id == stream_id)
                          .values(last_sequence=sequence))

    def stream_positions(self) -> dict[str, int]:
        """stream_id -> last applied sequence, of every stream (one query; no lock)."""
        return {sid: int(seq) for sid, seq in self.conn.execute(
            select(stream_positions.c.stream_id, stream_positions.c.last_sequence))}

    # ------------------------------------------------------------------------------------- conda channels
    def channels_with_files(self) -> set[ChannelKey]:
        return {k.channel for k in self.conda.all_touched()}

    def known_channels(self) -> set[ChannelKey]:
        """Every channel ever marked (published or not), including empty ones such as noarch placeholders."""
        return {ChannelKey(*row) for row in self.conn.execute(select(dirty.c.owner, dirty.c.label, dirty.c.subdir))}

    def index_entries(self, key: ChannelKey) -> list[tuple[str, str, bool]]:
        q = (select(files.c.filename, files.c.record_json, files.c.public)
             .select_from(files.join(file_labels, file_labels.c.file_id == files.c.id))
             .where(files.c.owner == key.owner, files.c.subdir == key.subdir, file_labels.c.label == key.label)
             .order_by(files.c.filename, files.c.package, files.c.version, files.c.basename))
        return [(fn, js, bool(pub)) for fn, js, pub in self.conn.execute(q)]

    def lookup_file(self, key: ChannelKey, filename: str, public_only: bool) -> dict | None:
        q = (select(files.c.package, files.c.version, files.c.basename, files.c.sha256, files.c.size,
                    files.c.blob_key, files.c.public)
             .select_from(files.join(file_labels, file_labels.c.file_id == files.c.id))
             .where(files.c.owner == key.owner, files.c.subdir == key.subdir, files.c.filename == filename,
                    file_labels.c.label == key.label)
             .order_by(files.c.package.desc(), files.c.version.desc(), files.c.basename.desc()))
        if public_only:
            q = q.where(files.c.public.is_(True))
        row = self.conn.execute(q.limit(1)).first()
        return None if row is None else {**row._asdict(), "size": int(row.size), "public": bool(row.public)}

    # ------------------------------------------------------------------------------------ dirty and pointers
    def mark_dirty(self, keys: Iterable[ChannelKey] | Mapping[ChannelKey, tuple[int, int]]) -> None:
        """Bump each channel's generation; a mapping also carries the ``occurred_at`` (epoch ms) of the newest
        event that touched it and of the newest that touched a public file of it, kept as the channel's
        ``changed_at`` / ``public_changed_at`` when newer."""
        stamps = dict(keys) if isinstance(keys, Mapping) else dict.fromkeys(keys, (0, 0))
        for key in sorted(stamps):   # fixed lock order
            stmt = self._insert(dirty).values(**key._asdict(), generation=1, published_generation=0,
                                              changed_at=stamps[key][0], public_changed_at=stamps[key][1])
            self.conn.execute(stmt.on_conflict_do_update(
                index_elements=["owner", "label", "subdir"],
                set_={"generation": dirty.c.generation + 1,
                      **{c: case((stmt.excluded[c] > dirty.c[c], stmt.excluded[c]), else_=dirty.c[c])
                         for c in ("changed_at", "public_changed_at")}}))
        # every channel with files has a noarch index: make sure it is published once, not on every change
        for owner, label in sorted({(k.owner, k.label) for k in stamps}):
            self.conn.execute(self._insert(dirty).values(owner=owner, label=label, subdir=NOARCH, generation=1,
                                                         published_generation=0, changed_at=0,
                                                         public_changed_at=0)
                              .on_conflict_do_nothing(index_elements=["owner", "label", "subdir"]))

    def dirty(self) -> list[tuple[ChannelKey, int]]:
        q = (select(dirty.c.owner, dirty.c.label, dirty.c.subdir, dirty.c.generation)
             .where(dirty.c.generation > dirty.c.published_generation)
             .order_by(dirty.c.owner, dirty.c.label, dirty.c.subdir))
        return [(ChannelKey(o, lb, s), g) for o, lb, s, g in self.conn.execute(q)]

    def generations(self, key: ChannelKey) -> tuple[int, int]:
        """(generation, published_generation) of the channel; (0, 0) when unknown."""
        row = self.conn.execute(select(dirty.c.generation, dirty.c.published_generation)
                                .where(self._where(dirty, key))).first()
        return (0, 0) if row is None else (int(row[0]), int(row[1]))

    def publication_log(self, key: ChannelKey | None = None) -> list[dict]:
        q = select(publications).order_by(publications.c.id)
        if key is not None:
            q = q.where(self._where(publications, key))
        return [dict(r._mapping) for r in self.conn.execute(q)]

    def _log_publication(self, key: ChannelKey, generation: int, replica: str, now_ms: int,
                         latency_ms: int | None) -> None:
        where = self._where(publications, key)
        self.conn.execute(self._insert(publications).values(**key._asdict(), generation=generation,
                                                            replica=replica, published_at=now_ms,
                                                            latency_ms=latency_ms))
        oldest_kept = (select(publications.c.id).where(where).order_by(publications.c.id.desc())
                       .offset(PUBLICATIONS_KEPT - 1).limit(1).scalar_subquery())
        self.conn.execute(delete(publications).where(where, publications.c.id < oldest_kept))

    def _where(self, table, key: ChannelKey):
        return and_(table.c.owner == key.owner, table.c.label == key.label, table.c.subdir == key.subdir)

    def changed_at(self, key: ChannelKey) -> dict[str, int]:
        """{audience: epoch ms of the newest event that changed what the audience sees (0: none)}."""
        row = self.conn.execute(select(dirty.c.changed_at, dirty.c.public_changed_at)
                                .where(self._where(dirty, key))).first()
        return {"private": int(row[0] or 0) if row else 0, "public": int(row[1] or 0) if row else 0}

    def flip(self, key: ChannelKey, generation: int, pointers: dict[str, dict[str, dict]],
             shards: dict[str, dict[str, dict | None]] | None = None, replica: str = "-",
             changed_at: int = 0, shard_grace_ms: int = 0, now_ms: int | None = None) -> bool:
        """Point the channel at new index files (and, when given, record its new shards: {audience: {name:
        pointer or None when the name is gone}}), unless this generation or a newer one is published already.
        Logs the publication (``replica``; ``changed_at``: epoch ms of the newest change included, 0 unknown).
        Replaced shards stay readable for ``shard_grace_ms`` (``ShardMixin.write_shards``)."""
        where = self._where(dirty, key)
        done = self.conn.execute(select(dirty.c.published_generation).where(where).with_for_update()
                                 ).scalar_one_or_none()
        if done is None or done >= generation:
            return False      # reset meanwhile, or another replica already published this state or a newer one
        for audience, by_name in sorted(pointers.items()):
            for filename, p in sorted(by_name.items()):
                stmt = self._insert(published).values(**key._asdict(), audience=audience, filename=filename,
                                                      key=p["key"], sha256=p["sha256"], size=p["size"],
                                                      encoding=p.get("encoding"))
                self.conn.execute(stmt.on_conflict_do_update(
                    index_elements=["owner", "label", "subdir", "audience", "filename"],
                    set_={"key": p["key"], "sha256": p["sha256"], "size": p["size"],
                          "encoding": p.get("encoding")}))
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms     # the caller's clock, epoch ms
        self.write_shards(key, shards or {}, now_ms, shard_grace_ms)
        self.clear_dirty_names(key, generation)
        self.conn.execute(update(dirty).where(where).values(published_generation=generation))
        self._log_publication(key, generation, replica, now_ms, now_ms - changed_at if changed_at else None)
        return True

    def get_index(self, key: ChannelKey, audience: str) -> dict[str, dict] | None:
        rows = self.conn.execute(select(published.c.filename, published.c.key, published.c.sha256,
                                        published.c.size, published.c.encoding).where(
            self._where(published, key), published.c.audience == audience).order_by(published.c.filename)).all()
        return {fn: index_pointer(k, sha, size, enc) for fn, k, sha, size, enc in rows} or None

    def published_channels(self) -> list[ChannelKey]:
        """Every channel published at least once, the most recently changed first."""
        q = (select(dirty.c.owner, dirty.c.label, dirty.c.subdir).where(dirty.c.published_generation > 0)
             .order_by(dirty.c.changed_at.desc(), dirty.c.owner, dirty.c.label, dirty.c.subdir))
        return [ChannelKey(*row) for row in self.conn.execute(q)]

    def subdirs(self, owner: str, label: str) -> list[str]:
        return list(self.conn.execute(select(published.c.subdir).distinct().where(
            published.c.owner == owner, published.c.label == label).order_by(published.c.subdir)).scalars())

    def reset(self) -> None:
        """Empty every table (what ``wharf replay`` starts from). On PostgreSQL one TRUNCATE: a DELETE left the
        old rows dead in the tables and their indexes, which the replay's inserts of the same keys then walked
        through again (a quarter of PostgreSQL's time in a replay of 100,000 files). The tables are locked for
        the moment the reset takes (a read meanwhile waits for it)."""
        if self.conn.dialect.name == "postgresql":
            prep = self.conn.dialect.identifier_preparer
            self.conn.execute(text("TRUNCATE " + ", ".join(prep.format_table(t)
                                                            for t in CONDA_TABLES + PYPI_TABLES)))
            return
        for table in CONDA_TABLES + PYPI_TABLES:
            self.conn.execute(delete(table))

    # ------------------------------------------------------------------------------------ verify
    def inventory(self) -> dict:
        """Every published pointer (conda indexes, shards, PyPI pages), the stream positions and how many
        channels/pages are still dirty: read-only facts for ``wharf verify``."""
        from .pypi_tables import pypi_dirty, pypi_published
        from .tables import shards
        pointers = []
        for kind, table, place in (("conda", published, "subdir"), ("pypi", pypi_published, "project")):
            for r in self.conn.execute(select(table).order_by(*table.primary_key.columns)):
                pointers.append({"kind": kind, "owner": r.owner, "label": r.label, "place": r._mapping[place],
                                 "audience": r.audience, "filename": r.filename,
                                 **index_pointer(r.key, r.sha256, r.size, r._mapping.get("encoding"))})
        for r in self.conn.execute(select(shards).order_by(*shards.primary_key.columns)):
            pointers.append({"kind": "shard", "owner": r.owner, "label": r.label, "place": r.subdir,
                             "audience": r.audience, "filename": r.name, **shard_pointer(r)})
        streams = {sid: int(seq) for sid, seq in self.conn.execute(
            select(stream_positions.c.stream_id, stream_positions.c.last_sequence))}
        pending = len(self.dirty()) + self.conn.execute(
            select(func.count()).select_from(pypi_dirty)
            .where(pypi_dirty.c.generation > pypi_dirty.c.published_generation)).scalar_one()
        return {"pointers": pointers, "streams": streams, "pending": int(pending)}

    def blob_references(self, keys: list[str] | None = None, retired_since_ms: int | None = None) -> set[str]:
        """Every blob key the indexer still needs (``wharf gc``): package blobs (and wheels' core metadata) of
        the files it lists, index blobs its pointers and shards name, and shards retired at or after
        ``retired_since_ms`` (a client may still ask for them). With ``keys``: only those of ``keys``."""
        from .pypi_tables import pypi_published
        from .tables import retired_shards, shards
        columns = [files.c.blob_key, pypi_files.c.blob_key, pypi_files.c.core_metadata_key, published.c.key,
                   pypi_published.c.key, shards.c.key]
        queries = [select(c).distinct().where(c.isnot(None)) for c in columns]
        queries.append(select(retired_shards.c.key).distinct().where(
            retired_shards.c.retired_at >= (retired_since_ms if retired_since_ms is not None else 0)))
        found: set[str] = set()
        wanted = None if keys is None else sorted(set(keys))
        for q in queries:
            column = q.selected_columns[0]
            if wanted is None:
                found.update(self.conn.execute(q).scalars())
                continue
            for i in range(0, len(wanted), 500):
                found.update(self.conn.execute(q.where(column.in_(wanted[i:i + 500]))).scalars())
        return found
