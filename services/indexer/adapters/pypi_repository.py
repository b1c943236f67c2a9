"""PyPI pages of ``SqlIndexRepository`` (a mixin: it uses the repository's ``conn`` and ``_insert``): dirty
marks per (owner, label, project), the files a page lists, pointers to the published pages, downloads."""
from __future__ import annotations

from typing import Iterable

from sqlalchemy import and_, delete, select, update

from ..domain.keys import AUDIENCES, ROOT, ProjectKey
from .pypi_tables import pypi_dirty, pypi_file_labels, pypi_files, pypi_published

_F = pypi_files.c
_LISTED = (_F.filename, _F.version, _F.sha256, _F.size, _F.upload_time, _F.requires_python,
           _F.core_metadata_sha256, _F.public)
_ORDER = (_F.filename, _F.package, _F.version, _F.basename)   # a later duplicate file name wins


def _key_where(table, key: ProjectKey):
    return and_(table.c.owner == key.owner, table.c.label == key.label, table.c.project == key.project)


class PypiIndexMixin:
    def mark_projects_dirty(self, keys: Iterable[ProjectKey]) -> None:
        """Bump the generation of each page and of its label's project list."""
        keys = set(keys)
        keys |= {ProjectKey(k.owner, k.label, ROOT) for k in keys}
        for key in sorted(keys):   # fixed lock order
            stmt = self._insert(pypi_dirty).values(**key._asdict(), generation=1, published_generation=0)
            self.conn.execute(stmt.on_conflict_do_update(index_elements=["owner", "label", "project"],
                                                         set_={"generation": pypi_dirty.c.generation + 1}))

    def pypi_dirty(self) -> list[tuple[ProjectKey, int]]:
        d = pypi_dirty.c
        q = (select(d.owner, d.label, d.project, d.generation).where(d.generation > d.published_generation)
             .order_by(d.owner, d.label, d.project))
        return [(ProjectKey(o, lb, p), g) for o, lb, p, g in self.conn.execute(q)]

    def _labelled(self, *cols):
        return select(*cols).select_from(pypi_files.join(pypi_file_labels, pypi_file_labels.c.file_id == _F.id))

    def pypi_page_files(self, key: ProjectKey) -> list[dict]:
        q = self._labelled(*_LISTED).where(_F.owner == key.owner, _F.project == key.project,
                                           pypi_file_labels.c.label == key.label).order_by(*_ORDER)
        return [{**row._asdict(), "size": int(row.size), "public": bool(row.public)} for row in self.conn.execute(q)]

    def pypi_projects(self, owner: str, label: str) -> list[tuple[str, bool]]:
        """(project, public) pairs of the label's files (a project appears once per visibility it has)."""
        q = self._labelled(_F.project, _F.public).distinct().where(
            _F.owner == owner, pypi_file_labels.c.label == label).order_by(_F.project, _F.public)
        return [(p, bool(pub)) for p, pub in self.conn.execute(q)]

    def pypi_flip(self, key: ProjectKey, generation: int, pointers: dict[str, dict[str, dict]]) -> bool:
        """Point the page at new blobs for the audiences in ``pointers`` and drop it for the others (nothing
        visible), unless this generation or a newer one is published already."""
        where = _key_where(pypi_dirty, key)
        done = self.conn.execute(select(pypi_dirty.c.published_generation).where(where).with_for_update()
                                 ).scalar_one_or_none()
        if done is None or done >= generation:
            return False
        for audience in AUDIENCES:
            self.conn.execute(delete(pypi_published).where(_key_where(pypi_published, key),
                                                           pypi_published.c.audience == audience))
            rows = [{**key._asdict(), "audience": audience, "filename": fn, **p}
                    for fn, p in sorted(pointers.get(audience, {}).items())]
            if rows:
                self.conn.execute(pypi_published.insert(), rows)
        self.conn.execute(update(pypi_dirty).where(where).values(published_generation=generation))
        return True

    def get_pypi_page(self, key: ProjectKey, audience: str) -> dict[str, dict] | None:
        p = pypi_published.c
        rows = self.conn.execute(select(p.filename, p.key, p.sha256, p.size).where(
            _key_where(pypi_published, key), p.audience == audience).order_by(p.filename)).all()
        return {fn: {"key": k, "sha256": sha, "size": int(size)} for fn, k, sha, size in rows} or None

    def lookup_pypi_file(self, owner: str, label: str, filename: str, public_only: bool) -> dict | None:
        q = self._labelled(_F.package, _F.version, _F.basename, _F.project, _F.sha256, _F.size, _F.blob_key,
                           _F.core_metadata_key, _F.core_metadata_sha256, _F.public).where(
            _F.owner == owner, _F.filename == filename, pypi_file_labels.c.label == label)
        if public_only:
            q = q.where(_F.public.is_(True))
        row = self.conn.execute(q.order_by(*(c.desc() for c in _ORDER[1:])).limit(1)).first()
        return None if row is None else {**row._asdict(), "size": int(row.size), "public": bool(row.public)}

    def pypi_keys_with_files(self) -> set[ProjectKey]:
        return self.pypi.all_touched()
