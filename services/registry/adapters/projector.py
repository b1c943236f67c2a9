"""The projector: applies one event to the read tables. Used for every append (inside the command's
transaction) and by ``rebuild_projections`` (replay of the whole log), so both give the same tables.

It depends only on the event, its log position and the tables' current contents; timestamps and ids come from
the events, never from the clock.
"""
from __future__ import annotations

import json

from sqlalchemy import and_, delete, insert, select, update
from sqlalchemy.engine import Connection

from services.kernel.adapters.db import bulk_insert
from services.kernel.events import Event

from .tables import collaborators, file_labels, files, label_locks, packages, releases


def _j(value) -> str:
    return json.dumps(value, sort_keys=True)


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
    for t in (file_labels, files, releases):
        conn.execute(delete(t).where(_rel_where(t, d["owner"], d["package"], d["version"])))
    _touch(conn, ev)


def file_uploaded(conn, ev, pos):
    d = ev.data
    key = (d["owner"], d["package"], d["version"], d["basename"])
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


def _bulk_run(conn: Connection, items: list[tuple[Event, int]]) -> int:
    """Apply the leading events of ``items`` that only create packages, releases and files that do not exist
    yet, with one multi-row insert per table; returns how many were applied (0: the first one needs
    ``apply``). The tables end up exactly as if each event had been applied by its handler, in order."""
    run = []
    for ev, pos in items:
        if ev.type not in _BULK:
            break
        run.append((ev, pos))
    pkey = lambda d: (d["owner"], d["package"])  # noqa: E731
    rkey = lambda d: (d["owner"], d["package"], d["version"])  # noqa: E731
    fkey = lambda d: (d["owner"], d["package"], d["version"], d["basename"])  # noqa: E731
    pk_db = _existing(conn, packages, ("owner", "name"), {pkey(ev.data) for ev, _ in run})
    rel_db = _existing(conn, releases, ("owner", "package", "version"),
                       {rkey(ev.data) for ev, _ in run if ev.type != "package_created"})
    file_db = _existing(conn, files, ("owner", "package", "version", "basename"),
                        {fkey(ev.data) for ev, _ in run if ev.type == "file_uploaded"})
    pk_now, rel_now, files_seen = set(pk_db), set(rel_db), set(file_db)
    new_pk, new_rel, new_files, new_labels = {}, {}, [], []
    pk_mod, rel_mod = {}, {}
    done = 0
    for ev, pos in run:
        d = ev.data
        if ev.type == "package_created":
            if pkey(d) in pk_now:
                break
            pk_now.add(pkey(d))
            new_pk[pkey(d)] = dict(owner=d["owner"], name=d["package"], package_id=ev.event_id, public=d["public"],
                                   summary=d["summary"], public_attrs=_j(d["public_attrs"]),
                                   package_types=_j(d["package_types"]), created_at=ev.occurred_at,
                                   modified_at=ev.occurred_at, created_pos=pos)
            pk_mod[pkey(d)] = ev.occurred_at
        elif ev.type == "release_created":
            if rkey(d) in rel_now:
                break
            rel_now.add(rkey(d))
            new_rel[rkey(d)] = dict(owner=d["owner"], package=d["package"], version=d["version"],
                                    attrs=_j(d["attrs"]), created_at=ev.occurred_at, modified_at=ev.occurred_at,
                                    created_pos=pos)
            rel_mod[rkey(d)] = ev.occurred_at
            if pkey(d) in pk_now:
                pk_mod[pkey(d)] = ev.occurred_at
        else:
            if fkey(d) in files_seen:
                break
            files_seen.add(fkey(d))
            new_files.append(dict(
                owner=d["owner"], package=d["package"], version=d["version"], basename=d["basename"],
                file_id=ev.event_id, filename=d["filename"], distribution_type=d["distribution_type"],
                subdir=d["subdir"], blob_key=d["blob_key"], sha256=d["sha256"], md5=d["md5"], size=d["size"],
                record=None if d["record"] is None else _j(d["record"]), attrs=_j(d["attrs"]),
                metadata=_j(d["metadata"]), description=d["description"], upload_time=ev.occurred_at,
                uploader=ev.actor, created_pos=pos))
            new_labels += [dict(owner=d["owner"], package=d["package"], version=d["version"],
                                basename=d["basename"], label=label) for label in dict.fromkeys(d["labels"])]
            if pkey(d) in pk_now:
                pk_mod[pkey(d)] = ev.occurred_at
            if rkey(d) in rel_now:
                rel_mod[rkey(d)] = ev.occurred_at
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
                        (files, new_files), (file_labels, new_labels)):
        bulk_insert(conn, table, rows)
    return done


def apply_many(conn: Connection, items: list[tuple[Event, int]]) -> None:
    """``apply`` of each (event, position) in order; runs of creations of what does not exist yet (what a
    replay of uploads mostly is) go through multi-row inserts."""
    i = 0
    while i < len(items):
        n = _bulk_run(conn, items[i:]) if items[i][0].type in _BULK else 0
        if n == 0:
            apply(conn, *items[i])
            n = 1
        i += n
