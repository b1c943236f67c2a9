"""Queries of the read tables and the staging table, returning plain dicts (JSON columns parsed)."""
from __future__ import annotations

import json

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Connection

from .tables import collaborators, file_labels, files, label_locks, packages, releases, staged

_JSON = {"public_attrs", "package_types", "attrs", "metadata", "record", "labels", "dependencies"}


def _row(row) -> dict:
    out = dict(row._mapping)
    for k in _JSON & out.keys():
        if out[k] is not None:
            out[k] = json.loads(out[k])
    for k in ("public", "locked"):
        if k in out:
            out[k] = bool(out[k])
    return out


class ReadRepository:
    def __init__(self, conn: Connection):
        self.conn = conn

    # -------------------------------------------------------------------------------------------- packages
    def package(self, owner: str, name: str) -> dict | None:
        row = self.conn.execute(select(packages).where(packages.c.owner == owner,
                                                       packages.c.name == name)).first()
        return _row(row) if row else None

    def packages(self, owner: str) -> list[dict]:
        return [_row(r) for r in self.conn.execute(
            select(packages).where(packages.c.owner == owner).order_by(packages.c.name))]

    def find_packages(self, query: str = "") -> list[dict]:
        """Packages of every owner whose name contains ``query`` (case-insensitive), by owner and name."""
        q = select(packages)
        if query:
            q = q.where(func.lower(packages.c.name).contains(query.lower(), autoescape=True))
        return [_row(r) for r in self.conn.execute(q.order_by(packages.c.owner, packages.c.name))]

    # -------------------------------------------------------------------------------------------- releases
    def release(self, owner: str, package: str, version: str) -> dict | None:
        row = self.conn.execute(select(releases).where(
            releases.c.owner == owner, releases.c.package == package, releases.c.version == version)).first()
        return _row(row) if row else None

    def releases(self, owner: str, package: str | None = None) -> list[dict]:
        q = select(releases).where(releases.c.owner == owner)
        if package is not None:
            q = q.where(releases.c.package == package)
        return [_row(r) for r in self.conn.execute(q.order_by(releases.c.created_pos))]

    # -------------------------------------------------------------------------------------------- files
    def files(self, owner: str, package: str | None = None, version: str | None = None,
              basename: str | None = None) -> list[dict]:
        """Files (with their ``labels``) in upload order, filtered by package/version/basename."""
        q, lq = select(files).where(files.c.owner == owner), select(file_labels).where(file_labels.c.owner == owner)
        for col, value in (("package", package), ("version", version), ("basename", basename)):
            if value is not None:
                q = q.where(files.c[col] == value)
                lq = lq.where(file_labels.c[col] == value)
        labels: dict[tuple, list[str]] = {}
        for r in self.conn.execute(lq.order_by(file_labels.c.label)):
            labels.setdefault((r.package, r.version, r.basename), []).append(r.label)
        out = []
        for r in self.conn.execute(q.order_by(files.c.created_pos)):
            f = _row(r)
            f["labels"] = labels.get((r.package, r.version, r.basename), [])
            out.append(f)
        return out

    def file(self, owner: str, package: str, version: str, basename: str) -> dict | None:
        found = self.files(owner, package, version, basename)
        return found[0] if found else None

    # -------------------------------------------------------------------------------------------- labels
    def labels(self, owner: str) -> dict[str, int]:
        """label -> number of files carrying it."""
        out: dict[str, int] = {}
        for r in self.conn.execute(select(file_labels.c.label).where(file_labels.c.owner == owner)
                                   .order_by(file_labels.c.label)):
            out[r.label] = out.get(r.label, 0) + 1
        return out

    def locked_labels(self, owner: str) -> set[str]:
        return {r.label for r in self.conn.execute(
            select(label_locks.c.label).where(label_locks.c.owner == owner, label_locks.c.locked.is_(True)))}

    # -------------------------------------------------------------------------------------------- collaborators
    def collaborators(self, owner: str, package: str) -> list[str]:
        return [r.login for r in self.conn.execute(
            select(collaborators.c.login).where(collaborators.c.owner == owner, collaborators.c.package == package)
            .order_by(collaborators.c.login))]

    def collaborations(self, login: str, owner: str | None = None) -> list[tuple[str, str]]:
        """(owner, package) pairs where ``login`` is a collaborator, optionally of one owner."""
        q = select(collaborators.c.owner, collaborators.c.package).where(collaborators.c.login == login)
        if owner is not None:
            q = q.where(collaborators.c.owner == owner)
        return [(r.owner, r.package) for r in self.conn.execute(
            q.order_by(collaborators.c.owner, collaborators.c.package))]

    # -------------------------------------------------------------------------------------------- staging
    def add_staged(self, row: dict) -> None:
        values = dict(row)
        for k in ("labels", "attrs", "dependencies"):
            values[k] = json.dumps(values[k], sort_keys=True)
        self.conn.execute(insert(staged).values(**values))

    def staged(self, dist_id: str) -> dict | None:
        row = self.conn.execute(select(staged).where(staged.c.dist_id == dist_id)).first()
        return _row(row) if row else None

    def delete_staged(self, dist_id: str) -> None:
        self.conn.execute(delete(staged).where(staged.c.dist_id == dist_id))

    def move_staged(self, owner: str, package: str, to_owner: str) -> None:
        """Staged uploads follow their package when it is transferred."""
        self.conn.execute(update(staged).where(staged.c.owner == owner, staged.c.package == package)
                          .values(owner=to_owner))
