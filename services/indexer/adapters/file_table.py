"""``SqlFileTable``: the files of one kind (conda or PyPI) and their labels, bound to one connection.

Both kinds react to the same registry events (removals, labels, visibility, transfers); what differs is the
key of what a change touches: ``ShardChange(owner, label, subdir, name, public)`` for conda files,
``ProjectKey(owner, label, project)`` for PyPI files. ``touched(ids)`` returns those keys for the given files
(every label each file carries).
"""
from __future__ import annotations

from typing import Callable, Iterable

from sqlalchemy import Table, delete, select, update
from sqlalchemy.engine import Connection

from services.kernel.adapters.db import bulk_insert

CHUNK = 500   # ids per IN (...) list, far below every driver's parameter limit
BULK = 5000   # new files per bulk insert


def chunks(ids: list[int]):
    for i in range(0, len(ids), CHUNK):
        yield ids[i:i + CHUNK]


class SqlFileTable:
    def __init__(self, conn: Connection, insert: Callable, files: Table, labels: Table,
                 key_columns: tuple[str, ...], key_type: Callable):
        self.conn = conn
        self._insert = insert
        self.files = files
        self.labels = labels
        self._key_columns = key_columns      # columns of `files` before the label, then the label, then the rest
        self._key_type = key_type

    def file_id(self, owner: str, package: str, version: str, basename: str) -> int | None:
        f = self.files.c
        return self.conn.execute(select(f.id).where(f.owner == owner, f.package == package, f.version == version,
                                                    f.basename == basename)).scalar_one_or_none()

    def file_ids(self, owner: str, package: str, version: str | None = None) -> list[int]:
        f = self.files.c
        q = select(f.id).where(f.owner == owner, f.package == package)
        if version is not None:
            q = q.where(f.version == version)
        return list(self.conn.execute(q.order_by(f.id)).scalars())

    def refs_to_ids(self, owner: str, refs: Iterable[dict]) -> list[int]:
        """Ids of the referenced files that exist, in reference order; one query per package."""
        f = self.files.c
        refs = [r for r in refs if isinstance(r, dict)]
        by_ref: dict[tuple, int] = {}
        for package in sorted({str(r.get("package")) for r in refs}):
            q = select(f.id, f.version, f.basename).where(f.owner == owner, f.package == package)
            by_ref.update({(package, v, b): i for i, v, b in self.conn.execute(q)})
        ids = [by_ref.get((str(r.get("package")), r.get("version"), r.get("basename"))) for r in refs]
        return list(dict.fromkeys(i for i in ids if i is not None))

    def insert_file(self, row: dict, labels: Iterable[str]) -> int:
        fid = self.conn.execute(self.files.insert().values(**row)).inserted_primary_key[0]
        rows = [{"file_id": fid, "label": label} for label in sorted(set(labels))]
        if rows:
            self.conn.execute(self.labels.insert(), rows)
        return fid

    def existing_refs(self, refs: list[tuple[str, str, str, str]]) -> set[tuple[str, str, str, str]]:
        """Those of the (owner, package, version, basename) refs that name a file of this table."""
        f = self.files.c
        wanted = set(refs)
        out: set = set()
        by_owner: dict[str, set[str]] = {}
        for owner, package, _v, _b in wanted:
            by_owner.setdefault(owner, set()).add(package)
        for owner, packages in sorted(by_owner.items()):
            for chunk in chunks(sorted(packages)):
                q = select(f.owner, f.package, f.version, f.basename).where(f.owner == owner, f.package.in_(chunk))
                out |= {tuple(r) for r in self.conn.execute(q)} & wanted
        return out

    def insert_files(self, items: list[tuple[dict, Iterable[str]]]) -> list[set]:
        """Insert new files with their labels in bulk; returns the keys each one touches (like ``touched``)."""
        out: list[set] = []
        for start in range(0, len(items), BULK):
            part = items[start:start + BULK]
            ids = bulk_insert(self.conn, self.files, [row for row, _labels in part], return_ids=True)
            label_rows = []
            for fid, (row, labels) in zip(ids, part):
                mine = sorted(set(labels))
                label_rows += [{"file_id": fid, "label": label} for label in mine]
                out.append({self._key_type(row["owner"], label, *(row[c] for c in self._key_columns))
                            for label in mine})
            bulk_insert(self.conn, self.labels, label_rows)
        return out

    def delete_files(self, ids: list[int]) -> None:
        for chunk in chunks(ids):
            self.conn.execute(delete(self.labels).where(self.labels.c.file_id.in_(chunk)))
            self.conn.execute(delete(self.files).where(self.files.c.id.in_(chunk)))

    def add_label(self, ids: list[int], label: str) -> None:
        if ids:
            self.conn.execute(self._insert(self.labels).on_conflict_do_nothing(
                index_elements=["file_id", "label"]), [{"file_id": i, "label": label} for i in ids])

    def remove_label(self, ids: list[int], label: str) -> None:
        for chunk in chunks(ids):
            self.conn.execute(delete(self.labels).where(self.labels.c.file_id.in_(chunk),
                                                        self.labels.c.label == label))

    def set_public(self, ids: list[int], public: bool) -> None:
        for chunk in chunks(ids):
            self.conn.execute(update(self.files).where(self.files.c.id.in_(chunk)).values(public=public))

    def set_owner(self, ids: list[int], owner: str) -> None:
        for chunk in chunks(ids):
            self.conn.execute(update(self.files).where(self.files.c.id.in_(chunk)).values(owner=owner))

    def _touched(self, where=None) -> set:
        f = self.files.c
        cols = [f.owner, self.labels.c.label] + [getattr(f, c) for c in self._key_columns]
        q = select(*cols).distinct().select_from(self.files.join(self.labels, self.labels.c.file_id == f.id))
        if where is not None:
            q = q.where(where)
        return {self._key_type(*row) for row in self.conn.execute(q)}

    def touched(self, ids: list[int]) -> set:
        out: set = set()
        for chunk in chunks(ids):
            out |= self._touched(self.files.c.id.in_(chunk))
        return out

    def all_touched(self) -> set:
        return self._touched()
