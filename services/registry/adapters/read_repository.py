"""Queries of the read tables and the staging tables, returning plain dicts (JSON columns parsed)."""
from __future__ import annotations

import json

from sqlalchemy import and_, delete, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from . import released
from .tables import (collaborators, committed_stages, downloads, file_labels, files, label_locks, packages,
                     released_blobs, releases, staged)

_JSON = {"public_attrs", "package_types", "attrs", "metadata", "record", "labels", "dependencies"}


def _row(row, keys=None) -> dict:
    out = dict(zip(keys, row)) if keys is not None else dict(row._mapping)
    for k in _JSON & out.keys():
        if out[k] is not None:
            out[k] = json.loads(out[k])
    for k in ("public", "locked"):
        if k in out:
            out[k] = bool(out[k])
    return out


def _carries(table, label: str):
    """``table``'s row (files or file_labels) belongs to a file that carries ``label``."""
    fl = file_labels.alias("carrying")
    return select(fl.c.owner).where(fl.c.owner == table.c.owner, fl.c.package == table.c.package,
                                    fl.c.version == table.c.version, fl.c.basename == table.c.basename,
                                    fl.c.label == label).exists()


def _rows(result) -> list[dict]:
    """Every row of a result as a dict; the column names are read once (``row._mapping`` rebuilds them per
    row, which dominated listing a namespace with hundreds of packages)."""
    keys = tuple(result.keys())
    return [_row(r, keys) for r in result]


class ReadRepository:
    def __init__(self, conn: Connection):
        self.conn = conn

    # -------------------------------------------------------------------------------------------- packages
    def package(self, owner: str, name: str) -> dict | None:
        row = self.conn.execute(select(packages).where(packages.c.owner == owner,
                                                       packages.c.name == name)).first()
        return _row(row) if row else None

    def packages(self, owner: str, names=None) -> list[dict]:
        """The owner's packages by name; only those in ``names`` when given."""
        q = select(packages).where(packages.c.owner == owner)
        if names is not None:
            q = q.where(packages.c.name.in_(sorted(set(names))))
        return _rows(self.conn.execute(q.order_by(packages.c.name)))

    def find_packages(self, query: str = "") -> list[dict]:
        """Packages of every owner whose name contains ``query`` (case-insensitive), by owner and name."""
        q = select(packages)
        if query:
            q = q.where(func.lower(packages.c.name).contains(query.lower(), autoescape=True))
        return _rows(self.conn.execute(q.order_by(packages.c.owner, packages.c.name)))

    def _visible(self, private_owners, private_packages, viewer):
        """Packages a reader may see: public ones, every package of ``private_owners``, the (owner, name) pairs
        of ``private_packages``, and those ``viewer`` collaborates on."""
        terms = [packages.c.public.is_(True)]
        if private_owners:
            terms.append(packages.c.owner.in_(sorted(private_owners)))
        terms += [and_(packages.c.owner == o, packages.c.name == n) for o, n in sorted(private_packages or ())]
        if viewer:
            terms.append(select(collaborators.c.login).where(
                collaborators.c.owner == packages.c.owner, collaborators.c.package == packages.c.name,
                collaborators.c.login == viewer).exists())
        return or_(*terms)

    def recent_packages(self, limit: int, private_owners=(), private_packages=(), viewer=None) -> list[dict]:
        """The most recently changed packages a reader may see (see ``_visible``), newest first."""
        q = select(packages).where(self._visible(private_owners, private_packages, viewer))
        return _rows(self.conn.execute(q.order_by(packages.c.modified_at.desc(), packages.c.owner,
                                                  packages.c.name).limit(limit)))

    def recent_owners(self, limit: int, private_owners=(), private_packages=(), viewer=None) -> list[dict]:
        """``{owner, modified_at, packages}`` of the owners whose visible packages changed last, newest first,
        counting only the packages the reader may see."""
        last = func.max(packages.c.modified_at)
        q = (select(packages.c.owner, last.label("modified_at"), func.count().label("packages"))
             .where(self._visible(private_owners, private_packages, viewer)).group_by(packages.c.owner)
             .order_by(last.desc(), packages.c.owner).limit(limit))
        return [dict(r._mapping) for r in self.conn.execute(q)]

    # -------------------------------------------------------------------------------------------- releases
    def release(self, owner: str, package: str, version: str) -> dict | None:
        row = self.conn.execute(select(releases).where(
            releases.c.owner == owner, releases.c.package == package, releases.c.version == version)).first()
        return _row(row) if row else None

    def releases(self, owner: str, package: str | None = None) -> list[dict]:
        q = select(releases).where(releases.c.owner == owner)
        if package is not None:
            q = q.where(releases.c.package == package)
        return _rows(self.conn.execute(q.order_by(releases.c.created_pos)))

    # -------------------------------------------------------------------------------------------- files
    def files(self, owner: str, package: str | None = None, version: str | None = None,
              basename: str | None = None, label: str | None = None) -> list[dict]:
        """Files (with their ``labels``) in upload order, filtered by package/version/basename and by a label
        they carry."""
        q, lq = select(files).where(files.c.owner == owner), select(file_labels).where(file_labels.c.owner == owner)
        for col, value in (("package", package), ("version", version), ("basename", basename)):
            if value is not None:
                q = q.where(files.c[col] == value)
                lq = lq.where(file_labels.c[col] == value)
        if label is not None:
            q = q.where(_carries(files, label))
            lq = lq.where(_carries(file_labels, label))
        labels: dict[tuple, list[str]] = {}
        for r in self.conn.execute(lq.order_by(file_labels.c.label)):
            labels.setdefault((r.package, r.version, r.basename), []).append(r.label)
        out = _rows(self.conn.execute(q.order_by(files.c.created_pos)))
        for f in out:
            f["labels"] = labels.get((f["package"], f["version"], f["basename"]), [])
        return out

    def label_counts(self, owner: str, private_ok: bool) -> dict[str, int]:
        """``{label: number of files carrying it}`` over the owner's packages (public ones unless
        ``private_ok``), counted in the database."""
        joined = file_labels.join(packages, and_(packages.c.owner == file_labels.c.owner,
                                                 packages.c.name == file_labels.c.package))
        q = select(file_labels.c.label, func.count()).select_from(joined).where(file_labels.c.owner == owner)
        if not private_ok:
            q = q.where(packages.c.public.is_(True))
        return {r[0]: r[1] for r in self.conn.execute(q.group_by(file_labels.c.label))}

    def file_facets(self, owner: str, package: str | None = None) -> list[dict]:
        """Per file only what package summaries need (package, distribution_type, subdir, attrs), in upload
        order: listing a namespace or searching reads no records, metadata or labels."""
        q = select(files.c.package, files.c.distribution_type, files.c.subdir, files.c.attrs).where(
            files.c.owner == owner)
        if package is not None:
            q = q.where(files.c.package == package)
        return _rows(self.conn.execute(q.order_by(files.c.created_pos)))

    def file(self, owner: str, package: str, version: str, basename: str) -> dict | None:
        found = self.files(owner, package, version, basename)
        return found[0] if found else None

    # -------------------------------------------------------------------------------------------- downloads
    def download_counts(self, file_ids: list[str]) -> dict[str, int]:
        if not file_ids:
            return {}
        return {r.file_id: r.count for r in self.conn.execute(
            select(downloads).where(downloads.c.file_id.in_(list(file_ids))))}

    def count_download(self, file_id: str) -> None:
        """+1 (an UPDATE, or the first INSERT; two first INSERTs at once: the second one adds to the first's row,
        ``ON CONFLICT DO UPDATE``, since a unique violation would not be retried: only the log's races are)."""
        done = self.conn.execute(update(downloads).where(downloads.c.file_id == file_id)
                                 .values(count=downloads.c.count + 1))
        if not done.rowcount:
            ins = (postgresql if self.conn.dialect.name == "postgresql" else sqlite).insert(downloads)
            self.conn.execute(ins.values(file_id=file_id, count=1).on_conflict_do_update(
                index_elements=["file_id"], set_={"count": downloads.c.count + 1}))

    # -------------------------------------------------------------------------------------------- labels
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

    def commit_staged(self, dist_id: str, file_id: str, committed_at: str, forget_before: str) -> None:
        """The stage ``dist_id`` became the file ``file_id``: the stage is closed and its outcome remembered
        (``committed_stage``); outcomes committed before ``forget_before`` are forgotten (ISO 8601 UTC)."""
        row = self.staged(dist_id)
        self.conn.execute(delete(committed_stages).where(committed_stages.c.committed_at < forget_before))
        self.conn.execute(insert(committed_stages).values(
            dist_id=dist_id, file_id=file_id, owner=row["owner"], package=row["package"], version=row["version"],
            basename=row["basename"], committed_at=committed_at))
        self.delete_staged(dist_id)

    def committed_stage(self, dist_id: str) -> dict | None:
        """``{dist_id, file_id, owner, package, version, basename, committed_at}`` of a committed stage."""
        row = self.conn.execute(select(committed_stages).where(committed_stages.c.dist_id == dist_id)).first()
        return _row(row) if row else None

    def move_staged(self, owner: str, package: str, to_owner: str) -> None:
        """Staged uploads (and committed stages' outcomes) follow their package when it is transferred."""
        for t in (staged, committed_stages):
            self.conn.execute(update(t).where(t.c.owner == owner, t.c.package == package).values(owner=to_owner))

    # -------------------------------------------------------------------------------------------- verify
    def file_refs(self) -> list[dict]:
        """Every file record's blob references, for ``wharf verify``."""
        q = select(files.c.owner, files.c.package, files.c.version, files.c.basename, files.c.blob_key,
                   files.c.sha256, files.c.size, files.c.metadata).order_by(files.c.owner, files.c.created_pos)
        out = []
        for r in self.conn.execute(q):
            meta = json.loads(r.metadata) if r.metadata else {}
            meta = meta if isinstance(meta, dict) else {}
            out.append({"owner": r.owner, "package": r.package, "version": r.version, "basename": r.basename,
                        "blob_key": r.blob_key, "sha256": r.sha256, "size": int(r.size),
                        "core_metadata_key": meta.get("core_metadata_key"),
                        "core_metadata_sha256": meta.get("core_metadata_sha256")})
        return out

    def staged_ids(self) -> list[str]:
        return list(self.conn.execute(select(staged.c.dist_id).order_by(staged.c.dist_id)).scalars())

    # -------------------------------------------------------------------------------------------- gc
    def stage_times(self, actor: str, since: str) -> list[str]:
        """``created_at`` of ``actor``'s stages created at or after ``since`` (the open ones), oldest first."""
        return list(self.conn.execute(select(staged.c.created_at).where(
            staged.c.actor == actor, staged.c.created_at >= since).order_by(staged.c.created_at)).scalars())

    def stages(self) -> list[dict]:
        """Every staged row: ``{dist_id, owner, package, version, basename, actor, sha256, created_at}``."""
        cols = (staged.c.dist_id, staged.c.owner, staged.c.package, staged.c.version, staged.c.basename,
                staged.c.actor, staged.c.sha256, staged.c.created_at)
        return [dict(r._mapping) for r in self.conn.execute(select(*cols).order_by(staged.c.created_at))]

    def delete_staged_many(self, dist_ids: list[str]) -> None:
        for i in range(0, len(dist_ids), 500):
            self.conn.execute(delete(staged).where(staged.c.dist_id.in_(dist_ids[i:i + 500])))

    def release_blobs(self, keys, at: str) -> None:
        released.release(self.conn, keys, at)

    def released_blobs(self) -> dict[str, str]:
        """``{blob key: when it was last released}``."""
        return dict(self.conn.execute(select(released_blobs.c.blob_key, released_blobs.c.released_at)).all())

    def staged_shas(self, shas: list[str]) -> set[str]:
        """Those of ``shas`` that a staged upload declared (its bytes are that blob once finalized)."""
        found: set[str] = set()
        for i in range(0, len(shas), 500):
            found.update(self.conn.execute(select(staged.c.sha256).where(
                staged.c.sha256.in_(shas[i:i + 500]))).scalars())
        return found

    def files_naming(self, keys: list[str]) -> set[str]:
        """Those of ``keys`` a file record names, as its blob or (wheels) as its core metadata. Core metadata keys
        live inside the ``metadata`` JSON: rows whose metadata mentions a key's sha256 are read and checked."""
        found: set[str] = set()
        wanted = set(keys)
        for i in range(0, len(keys), 500):
            found.update(self.conn.execute(select(files.c.blob_key).where(
                files.c.blob_key.in_(keys[i:i + 500]))).scalars())
        rest = sorted(wanted - found)
        for i in range(0, len(rest), 50):
            shas = [k.rsplit("/", 1)[-1] for k in rest[i:i + 50]]
            q = select(files.c.blob_key, files.c.metadata).where(
                or_(*(files.c.metadata.contains(sha, autoescape=True) for sha in shas)))
            for r in self.conn.execute(q):
                found.update(k for k in released.file_blob_keys(r.blob_key, r.metadata) if k in wanted)
        return found

