"""``IndexRepository`` on SQLAlchemy Core, bound to one connection inside one transaction (see uow.py).

Portable between SQLite and PostgreSQL: upserts use each dialect's ``INSERT ... ON CONFLICT``; ``FOR UPDATE``
locks rows on PostgreSQL (SQLite already serialises writers with ``BEGIN IMMEDIATE`` and ignores it).
"""
from __future__ import annotations

from typing import Iterable

from sqlalchemy import and_, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from ..domain.keys import NOARCH, ChannelKey
from .tables import ALL_TABLES, dirty, file_labels, files, published, stream_positions

_CHUNK = 500   # ids per IN (...) list, far below every driver's parameter limit


def _chunks(ids: list[int]):
    for i in range(0, len(ids), _CHUNK):
        yield ids[i:i + _CHUNK]


class SqlIndexRepository:
    def __init__(self, conn: Connection):
        self.conn = conn
        self._dialect = postgresql if conn.dialect.name == "postgresql" else sqlite

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

    # ------------------------------------------------------------------------------------------------ files
    def file_id(self, owner: str, package: str, version: str, basename: str) -> int | None:
        return self.conn.execute(select(files.c.id).where(
            files.c.owner == owner, files.c.package == package, files.c.version == version,
            files.c.basename == basename)).scalar_one_or_none()

    def file_ids(self, owner: str, package: str, version: str | None = None) -> list[int]:
        q = select(files.c.id).where(files.c.owner == owner, files.c.package == package)
        if version is not None:
            q = q.where(files.c.version == version)
        return list(self.conn.execute(q.order_by(files.c.id)).scalars())

    def refs_to_ids(self, owner: str, refs: Iterable[dict]) -> list[int]:
        """Ids of the referenced files that exist, in reference order; one query per package."""
        refs = [r for r in refs if isinstance(r, dict)]
        by_ref: dict[tuple, int] = {}
        for package in sorted({str(r.get("package")) for r in refs}):
            q = select(files.c.id, files.c.version, files.c.basename).where(files.c.owner == owner,
                                                                           files.c.package == package)
            by_ref.update({(package, v, b): i for i, v, b in self.conn.execute(q)})
        ids = [by_ref.get((str(r.get("package")), r.get("version"), r.get("basename"))) for r in refs]
        return list(dict.fromkeys(i for i in ids if i is not None))

    def insert_file(self, row: dict, labels: Iterable[str]) -> int:
        fid = self.conn.execute(files.insert().values(**row)).inserted_primary_key[0]
        rows = [{"file_id": fid, "label": label} for label in sorted(set(labels))]
        if rows:
            self.conn.execute(file_labels.insert(), rows)
        return fid

    def delete_files(self, ids: list[int]) -> None:
        for chunk in _chunks(ids):
            self.conn.execute(delete(file_labels).where(file_labels.c.file_id.in_(chunk)))
            self.conn.execute(delete(files).where(files.c.id.in_(chunk)))

    def add_label(self, ids: list[int], label: str) -> None:
        if ids:
            self.conn.execute(self._insert(file_labels).on_conflict_do_nothing(
                index_elements=["file_id", "label"]), [{"file_id": i, "label": label} for i in ids])

    def remove_label(self, ids: list[int], label: str) -> None:
        for chunk in _chunks(ids):
            self.conn.execute(delete(file_labels).where(file_labels.c.file_id.in_(chunk),
                                                        file_labels.c.label == label))

    def set_public(self, ids: list[int], public: bool) -> None:
        for chunk in _chunks(ids):
            self.conn.execute(update(files).where(files.c.id.in_(chunk)).values(public=public))

    def set_owner(self, ids: list[int], owner: str) -> None:
        for chunk in _chunks(ids):
            self.conn.execute(update(files).where(files.c.id.in_(chunk)).values(owner=owner))

    def _channels(self, where=None) -> set[ChannelKey]:
        q = select(files.c.owner, file_labels.c.label, files.c.subdir).distinct().select_from(
            files.join(file_labels, file_labels.c.file_id == files.c.id))
        if where is not None:
            q = q.where(where)
        return {ChannelKey(*row) for row in self.conn.execute(q)}

    def channels_of(self, ids: list[int]) -> set[ChannelKey]:
        out: set[ChannelKey] = set()
        for chunk in _chunks(ids):
            out |= self._channels(files.c.id.in_(chunk))
        return out

    def channels_with_files(self) -> set[ChannelKey]:
        return self._channels()

    def index_entries(self, key: ChannelKey) -> list[tuple[str, str, bool]]:
        q = (select(files.c.filename, files.c.record_json, files.c.public)
             .select_from(files.join(file_labels, file_labels.c.file_id == files.c.id))
             .where(files.c.owner == key.owner, files.c.subdir == key.subdir, file_labels.c.label == key.label)
             .order_by(files.c.filename, files.c.package, files.c.version, files.c.basename))
        return [(fn, js, bool(pub)) for fn, js, pub in self.conn.execute(q)]

    def lookup_file(self, key: ChannelKey, filename: str, public_only: bool) -> dict | None:
        q = (select(files.c.package, files.c.version, files.c.basename, files.c.sha256, files.c.size,
                    files.c.blob_key)
             .select_from(files.join(file_labels, file_labels.c.file_id == files.c.id))
             .where(files.c.owner == key.owner, files.c.subdir == key.subdir, files.c.filename == filename,
                    file_labels.c.label == key.label)
             .order_by(files.c.package.desc(), files.c.version.desc(), files.c.basename.desc()))
        if public_only:
            q = q.where(files.c.public.is_(True))
        row = self.conn.execute(q.limit(1)).first()
        return None if row is None else {**row._asdict(), "size": int(row.size)}

    # ------------------------------------------------------------------------------------ dirty and pointers
    def mark_dirty(self, keys: Iterable[ChannelKey]) -> None:
        keys = set(keys)
        for key in sorted(keys):   # fixed lock order
            stmt = self._insert(dirty).values(**key._asdict(), generation=1, published_generation=0)
            self.conn.execute(stmt.on_conflict_do_update(
                index_elements=["owner", "label", "subdir"], set_={"generation": dirty.c.generation + 1}))
        # every channel with files has a noarch index: make sure it is published once, not on every change
        for owner, label in sorted({(k.owner, k.label) for k in keys}):
            self.conn.execute(self._insert(dirty).values(owner=owner, label=label, subdir=NOARCH, generation=1,
                                                         published_generation=0)
                              .on_conflict_do_nothing(index_elements=["owner", "label", "subdir"]))

    def dirty(self) -> list[tuple[ChannelKey, int]]:
        q = (select(dirty.c.owner, dirty.c.label, dirty.c.subdir, dirty.c.generation)
             .where(dirty.c.generation > dirty.c.published_generation)
             .order_by(dirty.c.owner, dirty.c.label, dirty.c.subdir))
        return [(ChannelKey(o, lb, s), g) for o, lb, s, g in self.conn.execute(q)]

    def flip(self, key: ChannelKey, generation: int, pointers: dict[str, dict[str, dict]]) -> bool:
        where = and_(dirty.c.owner == key.owner, dirty.c.label == key.label, dirty.c.subdir == key.subdir)
        done = self.conn.execute(select(dirty.c.published_generation).where(where).with_for_update()
                                 ).scalar_one_or_none()
        if done is None or done >= generation:
            return False      # reset meanwhile, or another replica already published this state or a newer one
        for audience, by_name in sorted(pointers.items()):
            for filename, p in sorted(by_name.items()):
                stmt = self._insert(published).values(**key._asdict(), audience=audience, filename=filename,
                                                      key=p["key"], sha256=p["sha256"], size=p["size"])
                self.conn.execute(stmt.on_conflict_do_update(
                    index_elements=["owner", "label", "subdir", "audience", "filename"],
                    set_={"key": p["key"], "sha256": p["sha256"], "size": p["size"]}))
        self.conn.execute(update(dirty).where(where).values(published_generation=generation))
        return True

    def get_index(self, key: ChannelKey, audience: str) -> dict[str, dict] | None:
        rows = self.conn.execute(select(published.c.filename, published.c.key, published.c.sha256,
                                        published.c.size).where(
            published.c.owner == key.owner, published.c.label == key.label, published.c.subdir == key.subdir,
            published.c.audience == audience).order_by(published.c.filename)).all()
        return {fn: {"key": k, "sha256": sha, "size": int(size)} for fn, k, sha, size in rows} or None

    def subdirs(self, owner: str, label: str) -> list[str]:
        return list(self.conn.execute(select(published.c.subdir).distinct().where(
            published.c.owner == owner, published.c.label == label).order_by(published.c.subdir)).scalars())

    def reset(self) -> None:
        for table in ALL_TABLES:
            self.conn.execute(delete(table))
