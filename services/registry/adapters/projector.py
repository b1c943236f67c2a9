"""The projector: applies one event to the read tables. Used for every append (inside the command's
transaction) and by ``rebuild_projections`` (replay of the whole log), so both give the same tables.

It depends only on the event, its log position and the tables' current contents; timestamps and ids come from
the events, never from the clock. Deleting file rows also records their blobs as released at the event's time
(``released.release_files``, for ``wharf gc``).
"""
from __future__ import annotations

import json

from sqlalchemy import and_, delete, insert, select, text, update
from sqlalchemy.engine import Connection

from services.kernel.adapters.db import bulk_insert
from services.kernel.events import Event

from .released import release_files
from .tables import collaborators, file_labels, files, label_locks, packages, releases


def _j(value) -> str:
    """A JSON column's text: ``json.dumps`` with its defaults, so that for a value taken from an event this is
    the very text the value has inside the event's ``data`` in the log (``json.dumps`` of the whole data keeps
    key order and spacing), which a replay on PostgreSQL copies from the log instead (``_FILES_FROM_LOG``)."""
    return json.dumps(value)


def _pkg_where(t, owner, package):
    return and_(t.c.owner == owner, t.c.package == package)


def _rel_where(t, owner, package, version):
    return and_(t.c.owner == owner, t.c.package == package, t.c.version == version)


def _file_where(t, owner, package, version, basename):
    return and_(t.c.owner == owner, t.c.package == package, t.c.version == version, t.c.basename == basename)


def _touch(conn: Connection, ev: Event, version: str | None = None) -> None:
    d = ev.data
    conn.execute(update(packages).where(packages.c.owner == d["owner"], packages.c.name == d["package"])
                 .values(modified_at=ev.occurred_at))
    if version is not None:
        conn.execute(update(releases).where(_rel_where(releases, d["owner"], d["package"], version))
                     .values(modified_at=ev.occurred_at))


def _add_label(conn: Connection, owner: str, ref: dict, label: str) -> None:
    key = (owner, ref.get("package"), ref.get("version"), ref.get("basename"))
    if conn.execute(select(files.c.file_id).where(_file_where(files, *key))).first() is None:
        return
    if conn.execute(select(file_labels.c.label).where(_file_where(file_labels, *key),
                                                      file_labels.c.label == label)).first() is None:
        conn.execute(insert(file_labels).values(owner=owner, package=key[1], version=key[2], basename=key[3],
                                                label=label))


def _drop_label(conn: Connection, owner: str, ref: dict, label: str) -> None:
    conn.execute(delete(file_labels).where(
        _file_where(file_labels, owner, ref.get("package"), ref.get("version"), ref.get("basename")),
        file_labels.c.label == label))


def package_created(conn, ev, pos):
    d = ev.data
    conn.execute(insert(packages).values(
        owner=d["owner"], name=d["package"], package_id=ev.event_id, public=d["public"], summary=d["summary"],
        public_attrs=_j(d["public_attrs"]), package_types=_j(d["package_types"]), created_at=ev.occurred_at,
        modified_at=ev.occurred_at, created_pos=pos))


def package_updated(conn, ev, pos):
    d, changes = ev.data, ev.data["changes"]
    where = and_(packages.c.owner == d["owner"], packages.c.name == d["package"])
    values = {"modified_at": ev.occurred_at}
    if "public" in changes:
        values["public"] = bool(changes["public"])
    if "summary" in changes:
        values["summary"] = changes["summary"]
    if "package_types" in changes:
        values["package_types"] = _j(list(changes["package_types"] or []))
    if "public_attrs" in changes:
        current = conn.execute(select(packages.c.public_attrs).where(where)).scalar()
        merged = dict(json.loads(current) if current else {}, **(changes["public_attrs"] or {}))
        values["public_attrs"] = _j(merged)
    conn.execute(update(packages).where(where).values(**values))


def package_removed(conn, ev, pos):
    d = ev.data
    release_files(conn, _pkg_where(files, d["owner"], d["package"]), ev.occurred_at)
    for t in (file_labels, files, releases, collaborators):
        conn.execute(delete(t).where(_pkg_where(t, d["owner"], d["package"])))
    conn.execute(delete(packages).where(packages.c.owner == d["owner"], packages.c.name == d["package"]))


def release_created(conn, ev, pos):
    d = ev.data
    conn.execute(insert(releases).values(owner=d["owner"], package=d["package"], version=d["version"],
                                         attrs=_j(d["attrs"]), created_at=ev.occurred_at,
                                         modified_at=ev.occurred_at, created_pos=pos))
    _touch(conn, ev)


def release_updated(conn, ev, pos):
    d = ev.data
    where = _rel_where(releases, d["owner"], d["package"], d["version"])
    current = conn.execute(select(releases.c.attrs).where(where)).scalar()
    merged = dict(json.loads(current) if current else {}, **d["attrs"])
    conn.execute(update(releases).where(where).values(attrs=_j(merged)))
    _touch(conn, ev, d["version"])


def release_removed(conn, ev, pos):
    d = ev.data
    release_files(conn, _rel_where(files, d["owner"], d["package"], d["version"]), ev.occurred_at)
    for t in (file_labels, files, releases):
        conn.execute(delete(t).where(_rel_where(t, d["owner"], d["package"], d["version"])))
    _touch(conn, ev)


def file_uploaded(conn, ev, pos):
    d = ev.data
    key = (d["owner"], d["package"], d["version"], d["basename"])
    release_files(conn, _file_where(files, *key), ev.occurred_at)     # a replaced file's blob (--force)
    for t in (file_labels, files):  # a replacement (--force) supersedes the old row
        conn.execute(delete(t).where(_file_where(t, *key)))
    conn.execute(insert(files).values(
        owner=key[0], package=key[1], version=key[2], basename=key[3], file_id=ev.event_id,
        filename=d["filename"], distribution_type=d["distribution_type"], subdir=d["subdir"],
        blob_key=d["blob_key"], sha256=d["sha256"], md5=d["md5"], size=d["size"],
        record=None if d["record"] is None else _j(d["record"]), attrs=_j(d["attrs"]),
        metadata=_j(d["metadata"]), description=d["description"], upload_time=ev.occurred_at,
        uploader=ev.actor, created_pos=pos))
    for label in dict.fromkeys(d["labels"]):
        conn.execute(insert(file_labels).values(owner=key[0], package=key[1], version=key[2],
                                                basename=key[3], label=label))
    _touch(conn, ev, d["version"])


def file_removed(conn, ev, pos):
    d = ev.data
    release_files(conn, _file_where(files, d["owner"], d["package"], d["version"], d["basename"]),
                  ev.occurred_at)
    for t in (file_labels, files):
        conn.execute(delete(t).where(_file_where(t, d["owner"], d["package"], d["version"], d["basename"])))
    _touch(conn, ev, d["version"])


def files_labeled(conn, ev, pos):
    for ref in ev.data["files"]:
        _add_label(conn, ev.data["owner"], ref, ev.data["label"])


def files_unlabeled(conn, ev, pos):
    for ref in ev.data["files"]:
        _drop_label(conn, ev.data["owner"], ref, ev.data["label"])


def label_copied(conn, ev, pos):
    for ref in ev.data["files"]:
        _add_label(conn, ev.data["owner"], ref, ev.data["to_label"])


def label_removed(conn, ev, pos):
    files_unlabeled(conn, ev, pos)


def label_lock_changed(conn, ev, pos):
    d = ev.data
    where = and_(label_locks.c.owner == d["owner"], label_locks.c.label == d["label"])
    conn.execute(delete(label_locks).where(where))
    if d["locked"]:
        conn.execute(insert(label_locks).values(owner=d["owner"], label=d["label"], locked=True))


def package_transferred(conn, ev, pos):
    """The package and everything under it (releases, files, labels, collaborators) changes owner. Label locks
    belong to owners and stay; staged uploads are moved by the command (they are not a projection). The
    ``package_received`` event of the same command (target stream) restates the files for stream-by-stream
    consumers and changes nothing more here."""
    d = ev.data
    for t in (file_labels, files, releases, collaborators):
        conn.execute(update(t).where(_pkg_where(t, d["owner"], d["package"])).values(owner=d["to_owner"]))
    conn.execute(update(packages).where(packages.c.owner == d["owner"], packages.c.name == d["package"])
                 .values(owner=d["to_owner"], modified_at=ev.occurred_at))


def collaborator_added(conn, ev, pos):
    d = ev.data
    where = and_(_pkg_where(collaborators, d["owner"], d["package"]), collaborators.c.login == d["login"])
    if conn.execute(select(collaborators.c.login).where(where)).first() is None:
        conn.execute(insert(collaborators).values(owner=d["owner"], package=d["package"], login=d["login"],
                                                  created_pos=pos))


def collaborator_removed(conn, ev, pos):
    d = ev.data
    conn.execute(delete(collaborators).where(
        _pkg_where(collaborators, d["owner"], d["package"]), collaborators.c.login == d["login"]))


HANDLERS = {name: fn for name, fn in globals().items() if callable(fn) and name in (
    "package_created", "package_updated", "package_removed", "release_created", "release_updated",
    "release_removed", "file_uploaded", "file_removed", "files_labeled", "files_unlabeled", "label_copied",
    "label_removed", "label_lock_changed", "package_transferred", "collaborator_added", "collaborator_removed")}


def apply(conn: Connection, event: Event, position: int) -> None:
    """Apply one event (already upcast to its current version) to the read tables."""
    handler = HANDLERS.get(event.type)
    if handler is not None:
        handler(conn, event, position)


# ---------------------------------------------------------------------------------------------- bulk (replay)
_BULK = ("package_created", "release_created", "file_uploaded")
_CHUNK = 500


def _pkey(d: dict) -> tuple:
    return d["owner"], d["package"]


def _rkey(d: dict) -> tuple:
    return d["owner"], d["package"], d["version"]


def _fkey(d: dict) -> tuple:
    return d["owner"], d["package"], d["version"], d["basename"]


class Known:
    """What a rebuild has created so far, while that is all the read tables hold: a rebuild starts from empty
    tables and, as long as only creations (``_BULK``) have been applied, these sets are exactly their keys, so
    ``_bulk_run`` asks them instead of the database. The first other event (a removal, a transfer...) makes them
    inexact for good (``exact`` False), and the database is asked again."""

    def __init__(self):
        self.exact = True
        self.packages: set = set()
        self.releases: set = set()
        self.files: set = set()

    def applied(self, ev: Event) -> None:
        """``ev`` was applied by its handler. A creation keeps the sets exact (a file uploaded again replaces
        the row of the same key); anything else may remove or move rows."""
        if ev.type == "package_created":
            self.packages.add(_pkey(ev.data))
        elif ev.type == "release_created":
            self.releases.add(_rkey(ev.data))
        elif ev.type == "file_uploaded":
            self.files.add(_fkey(ev.data))
        else:
            self.exact = False


def _existing(conn: Connection, table, cols: tuple, keys: set) -> set:
    """Those of ``keys`` (tuples over ``cols``, the first two being owner and package) present in ``table``."""
    out: set = set()
    by_owner: dict = {}
    for k in keys:
        by_owner.setdefault(k[0], set()).add(k[1])
    for owner, pkgs in sorted(by_owner.items()):
        pkgs = sorted(pkgs)
        for i in range(0, len(pkgs), _CHUNK):
            q = select(*(table.c[c] for c in cols)).where(table.c[cols[0]] == owner,
                                                          table.c[cols[1]].in_(pkgs[i:i + _CHUNK]))
            out |= {tuple(r) for r in conn.execute(q)} & keys
    return out


# The rows ``_bulk_run`` would build for file_uploaded events, built by PostgreSQL from the events' rows in the
# log: the JSON columns are the values' own text inside ``data`` (a ``json`` value keeps its text), which is
# what ``_j`` gives for them, and the data never travels to Python and back.
_FILES_FROM_LOG = text(
    "INSERT INTO files (owner, package, version, basename, file_id, filename, distribution_type, subdir, "
    "blob_key, sha256, md5, size, record, attrs, metadata, description, upload_time, uploader, created_pos) "
    "SELECT d.owner, d.package, d.version, d.basename, e.event_id, d.filename, d.distribution_type, d.subdir, "
    "d.blob_key, d.sha256, d.md5, d.size, d.record::text, COALESCE(d.attrs::text, 'null'), "
    "COALESCE(d.metadata::text, 'null'), d.description, e.occurred_at, e.actor, e.position "
    "FROM events e CROSS JOIN LATERAL json_to_record(CAST(e.data AS json)) AS d(owner text, package text, "
    "version text, basename text, filename text, distribution_type text, subdir text, blob_key text, "
    "sha256 text, md5 text, size bigint, record json, attrs json, metadata json, description text) "
    "WHERE e.position = ANY(CAST(:positions AS bigint[])) AND e.type = 'file_uploaded' ORDER BY e.position")


def _bulk_run(conn: Connection, items: list[tuple[Event, int]], known: Known | None = None,
              verbatim: frozenset | set = frozenset()) -> int:
    """Apply the leading events of ``items`` that only create packages, releases and files that do not exist
    yet, with one multi-row insert per table; returns how many were applied (0: the first one needs
    ``apply``). The tables end up exactly as if each event had been applied by its handler, in order.
    ``known``: a rebuild's ``Known`` (kept up to date here). ``verbatim``: log positions of file_uploaded
    events whose data is exactly their text in the log (what ``Event.from_log`` took as it is), whose rows
    PostgreSQL builds from the log (``_FILES_FROM_LOG``)."""
    run = []
    for ev, pos in items:
        if ev.type not in _BULK:
            break
        run.append((ev, pos))
    if known is not None and known.exact:
        pk_db, rel_db, file_db = known.packages, known.releases, known.files
    else:
        pk_db = _existing(conn, packages, ("owner", "name"), {_pkey(ev.data) for ev, _ in run})
        rel_db = _existing(conn, releases, ("owner", "package", "version"),
                           {_rkey(ev.data) for ev, _ in run if ev.type != "package_created"})
        file_db = _existing(conn, files, ("owner", "package", "version", "basename"),
                            {_fkey(ev.data) for ev, _ in run if ev.type == "file_uploaded"})
    pk_now, rel_now, files_seen = set(), set(), set()      # created by this run (beside what the tables hold)
    new_pk, new_rel, new_files, new_labels, from_log = {}, {}, [], [], []
    pk_mod, rel_mod = {}, {}
    done = 0
    for ev, pos in run:
        d = ev.data
        if ev.type == "package_created":
            k = _pkey(d)
            if k in pk_now or k in pk_db:
                break
            pk_now.add(k)
            new_pk[k] = dict(owner=d["owner"], name=d["package"], package_id=ev.event_id, public=d["public"],
                             summary=d["summary"], public_attrs=_j(d["public_attrs"]),
                             package_types=_j(d["package_types"]), created_at=ev.occurred_at,
                             modified_at=ev.occurred_at, created_pos=pos)
            pk_mod[k] = ev.occurred_at
        elif ev.type == "release_created":
            k = _rkey(d)
            if k in rel_now or k in rel_db:
                break
            rel_now.add(k)
            new_rel[k] = dict(owner=d["owner"], package=d["package"], version=d["version"],
                              attrs=_j(d["attrs"]), created_at=ev.occurred_at, modified_at=ev.occurred_at,
                              created_pos=pos)
            rel_mod[k] = ev.occurred_at
            if k[:2] in pk_now or k[:2] in pk_db:
                pk_mod[k[:2]] = ev.occurred_at
        else:
            k = _fkey(d)
            if k in files_seen or k in file_db:
                break
            files_seen.add(k)
            if pos in verbatim:
                from_log.append(pos)
            else:
                new_files.append(dict(
                    owner=d["owner"], package=d["package"], version=d["version"], basename=d["basename"],
                    file_id=ev.event_id, filename=d["filename"], distribution_type=d["distribution_type"],
                    subdir=d["subdir"], blob_key=d["blob_key"], sha256=d["sha256"], md5=d["md5"],
                    size=d["size"], record=None if d["record"] is None else _j(d["record"]),
                    attrs=_j(d["attrs"]), metadata=_j(d["metadata"]), description=d["description"],
                    upload_time=ev.occurred_at, uploader=ev.actor, created_pos=pos))
            new_labels += [dict(owner=d["owner"], package=d["package"], version=d["version"],
                                basename=d["basename"], label=label) for label in dict.fromkeys(d["labels"])]
            if k[:2] in pk_now or k[:2] in pk_db:
                pk_mod[k[:2]] = ev.occurred_at
            if k[:3] in rel_now or k[:3] in rel_db:
                rel_mod[k[:3]] = ev.occurred_at
        done += 1
    if done == 0:
        return 0
    for key, when in pk_mod.items():
        if key in new_pk:
            new_pk[key]["modified_at"] = when
        else:
            conn.execute(update(packages).where(packages.c.owner == key[0], packages.c.name == key[1])
                         .values(modified_at=when))
    for key, when in rel_mod.items():
        if key in new_rel:
            new_rel[key]["modified_at"] = when
        else:
            conn.execute(update(releases).where(_rel_where(releases, *key)).values(modified_at=when))
    for table, rows in ((packages, list(new_pk.values())), (releases, list(new_rel.values())),
                        (files, new_files)):
        bulk_insert(conn, table, rows)
    if from_log:
        conn.execute(_FILES_FROM_LOG, {"positions": "{" + ",".join(map(str, from_log)) + "}"})
    bulk_insert(conn, file_labels, new_labels)
    if known is not None and known.exact:
        known.packages |= pk_now
        known.releases |= rel_now
        known.files |= files_seen
    return done


def apply_many(conn: Connection, items: list[tuple[Event, int]], known: Known | None = None,
               verbatim: frozenset | set = frozenset()) -> None:
    """``apply`` of each (event, position) in order; runs of creations of what does not exist yet (what a
    replay of uploads mostly is) go through multi-row inserts (``_bulk_run``, which takes ``known`` and
    ``verbatim`` from a rebuild)."""
    i = 0
    while i < len(items):
        n = _bulk_run(conn, items[i:], known, verbatim) if items[i][0].type in _BULK else 0
        if n == 0:
            apply(conn, *items[i])
            if known is not None:
                known.applied(items[i][0])
            n = 1
        i += n
