"""Decisions of ``anaconda copy`` (copy files of one release to a label, possibly of another owner) and of
package transfers. Inputs are read-model rows (dicts; file rows carry ``labels``); outputs are events.

Copy modes, as the CLI sends them: ``add`` (POST; a file already there is a conflict), ``replace`` (PUT; the
target file is superseded by one ``file_uploaded`` with ``replaced`` set: no moment without it) and ``update`` (PATCH; an existing target file is
kept and only gets the label).
"""
from __future__ import annotations

from services.kernel.errors import BadRequest, Conflict, NotFound
from services.kernel.events import Event, file_ref

MODES = ("add", "replace", "update")
_COPIED = ("filename", "distribution_type", "subdir", "blob_key", "sha256", "md5", "size", "record", "attrs",
           "metadata", "description")


def check_mode(mode) -> str:
    if mode not in MODES:
        raise BadRequest(f"copy mode must be one of {', '.join(MODES)}")
    return mode


def sources(pkg, release, files: list[dict], owner: str, package: str, version: str, basename,
            from_label: str) -> list[dict]:
    """The files to copy: those of the release (or the one ``basename``) that carry ``from_label``."""
    if pkg is None:
        raise NotFound(f"package {owner}/{package} not found")
    if release is None:
        raise NotFound(f"release {owner}/{package}/{version} not found")
    if basename is not None and not files:
        raise NotFound(f"file {owner}/{package}/{version}/{basename} not found")
    carrying = [f for f in files if from_label in f["labels"]]
    if not carrying:
        raise NotFound(f"label {from_label} not found")
    return carrying


def _conflict(owner: str, f: dict, why: str) -> Conflict:
    return Conflict(f"file {owner}/{f['package']}/{f['version']}/{f['basename']} {why}; "
                    f"use --replace or --update")


def copy_within(owner: str, to_label: str, source: list[dict], mode: str, actor: str, cid) -> list[Event]:
    """Copy onto a label of the same owner: add ``to_label`` to the source files."""
    if mode == "add":
        for f in source:
            if to_label in f["labels"]:
                raise _conflict(owner, f, f"already has label {to_label}")
    todo = [file_ref(f) for f in source if to_label not in f["labels"]]
    if not todo:
        return []
    return [Event.new("files_labeled", owner, {"owner": owner, "label": to_label, "files": todo},
                      actor=actor, correlation_id=cid)]


def copy_across(src_pkg: dict, src_release: dict, source: list[dict], to_owner: str, target_pkg,
                target_release, existing: dict, to_label: str, mode: str, actor: str, cid) -> list[Event]:
    """Copy into ``to_owner``'s stream: create the package and release when missing, then upload each file
    again (same blob, checksums, record, metadata) with ``copied_from`` set. ``existing`` maps basename to
    the target's current file row."""
    name, version = src_pkg["name"], src_release["version"]
    ref = {"owner": to_owner, "package": name}

    def new(kind: str, data: dict) -> Event:
        return Event.new(kind, to_owner, dict(ref, **data), actor=actor, correlation_id=cid)

    out = []
    public = src_pkg["public"] if target_pkg is None else target_pkg["public"]
    if target_pkg is None:
        out.append(new("package_created", {"public": src_pkg["public"], "summary": src_pkg["summary"],
                                           "package_types": src_pkg["package_types"],
                                           "public_attrs": src_pkg["public_attrs"]}))
    if target_release is None:
        out.append(new("release_created", {"version": version, "attrs": src_release["attrs"]}))
    relabel = []
    for f in source:
        old = existing.get(f["basename"])
        if old is not None:
            if mode == "add":
                raise _conflict(to_owner, old, "already exists")
            if mode == "update":
                if to_label not in old["labels"]:
                    relabel.append(file_ref(old))
                continue
        # replace: ONE file_uploaded that supersedes the old row (replaced=True), so every reader sees the old
        # file or the new one, never a moment without it (a removal then an upload could be indexed apart)
        data = {k: f[k] for k in _COPIED}
        data.update(version=version, basename=f["basename"], labels=[to_label], public=public,
                    dependencies=f["metadata"].get("dependencies"), replaced=old is not None,
                    copied_from={"owner": f["owner"], "package": name, "version": version,
                                 "basename": f["basename"]})
        out.append(new("file_uploaded", data))
    if relabel:
        out.append(Event.new("files_labeled", to_owner, {"owner": to_owner, "label": to_label, "files": relabel},
                             actor=actor, correlation_id=cid))
    return out


_RECEIVED = ("version", "basename", "filename", "distribution_type", "subdir", "labels", "blob_key", "sha256",
             "md5", "size", "record", "metadata")


def transfer(pkg, target, files: list[dict], owner: str, package: str, to_owner: str, actor: str,
             cid) -> list[Event]:
    """Two events, one per stream, so each stream is self-contained: ``package_transferred`` (received=True) in
    the SOURCE owner's stream (the package leaves it) and ``package_received`` in the TARGET owner's stream,
    restating every file (``files``: the package's file rows with labels) with its labels and upload time. A
    consumer that applies streams independently (the indexer) never depends on their relative order."""
    if to_owner == owner:
        raise BadRequest(f"package {owner}/{package} already belongs to {owner}")
    if pkg is None:
        raise NotFound(f"package {owner}/{package} not found")
    if target is not None:
        raise Conflict(f"package {to_owner}/{package} already exists")
    moved = [dict({k: f[k] for k in _RECEIVED}, public=pkg["public"], uploaded_at=f["upload_time"])
             for f in files]
    return [Event.new("package_transferred", owner,
                      {"owner": owner, "package": package, "to_owner": to_owner, "received": True},
                      actor=actor, correlation_id=cid),
            Event.new("package_received", to_owner,
                      {"owner": to_owner, "package": package, "from_owner": owner, "files": moved},
                      actor=actor, correlation_id=cid)]
