"""One function per registry event that can change what a channel or a PyPI page shows. Each applies the event
to the repository (inside the caller's transaction) and returns the keys it touched: ``ShardChange`` (a package
name of a conda channel subdir, and whether the touched file is public, before or after the change) and
``ProjectKey`` (a PyPI project page). Event types without a handler change
nothing (the caller still advances the stream position).

Removals, labels, visibility and transfers act on both kinds of files (``repo.conda`` and ``repo.pypi``); only
``file_uploaded`` differs by distribution type."""
from __future__ import annotations

from typing import Callable

from services.kernel.events import Event

from ..domain.ports import FileTable, IndexRepository
from ..domain.records import canonical_json, record_json, section_of, subdir_of
from ..domain.shards import clean_run_exports
from ..domain.simple import is_distribution, project_name, upload_time

Handler = Callable[[IndexRepository, Event], set]


def _tables(repo: IndexRepository) -> tuple[FileTable, ...]:
    return (repo.conda, repo.pypi)


def _drop(table: FileTable, ids: list[int]) -> set:
    touched = table.touched(ids)
    table.delete_files(ids)
    return touched


def _conda_row(d: dict, occurred_at: str) -> dict:
    run_exports = clean_run_exports((d.get("metadata") or {}).get("run_exports"))
    return {"owner": d["owner"], "package": d["package"], "version": d["version"], "basename": d["basename"],
            "filename": d["filename"], "subdir": subdir_of(d), "public": bool(d["public"]), "sha256": d["sha256"],
            "size": d["size"], "blob_key": d["blob_key"], "record_json": record_json(d["record"], occurred_at),
            "name": str(d["record"].get("name") or d["package"]),
            "run_exports_json": None if run_exports is None else canonical_json(run_exports)}


def _text(value) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _pypi_row(d: dict, occurred_at: str) -> dict:
    meta = d.get("metadata") or {}
    core_sha = _text(meta.get("core_metadata_sha256"))
    core_key = _text(meta.get("core_metadata_key"))
    return {"owner": d["owner"], "package": d["package"], "version": d["version"], "basename": d["basename"],
            "filename": d["filename"], "project": project_name(meta, d["package"]), "public": bool(d["public"]),
            "sha256": d["sha256"], "size": d["size"], "requires_python": _text(meta.get("requires_python")),
            "core_metadata_sha256": core_sha if core_key else None, "core_metadata_key": core_key if core_sha else None,
            "blob_key": d["blob_key"], "upload_time": upload_time(occurred_at)}


def _row_of(d: dict, occurred_at: str) -> tuple[str, dict] | None:
    """Which table an upload goes to and its row, or None when no index lists it."""
    kind = d.get("distribution_type")
    if kind == "conda" and d.get("record") and section_of(d["filename"]):
        return "conda", _conda_row(d, occurred_at)
    if kind == "pypi" and is_distribution(d["filename"]):
        return "pypi", _pypi_row(d, occurred_at)
    return None


def file_uploaded(repo: IndexRepository, ev: Event) -> set:
    return _upload(repo, ev.data, ev.occurred_at)


def fresh_uploads(repo: IndexRepository, events: list[Event]) -> list[tuple[Event, set]]:
    """Apply the leading events of ``events`` that are uploads of files the indexer does not hold yet (and that
    no earlier event of the run uploads again), or events no handler acts on, with one bulk insert per table;
    returns (event, touched keys) of each event applied, in order. When the first event is anything else it is
    applied alone, by its handler. Same rows and keys as applying each event by itself."""
    run: list[Event] = []
    for ev in events:
        if ev.type != "file_uploaded" and ev.type in HANDLERS:
            break
        run.append(ev)
    refs = [(ev.data["owner"], ev.data["package"], ev.data["version"], ev.data["basename"])
            for ev in run if ev.type == "file_uploaded"]
    held = set().union(*(t.existing_refs(refs) for t in _tables(repo))) if refs else set()
    seen: set = set()
    for n, ev in enumerate(run):
        if ev.type == "file_uploaded":
            ref = (ev.data["owner"], ev.data["package"], ev.data["version"], ev.data["basename"])
            if ref in held or ref in seen:
                run = run[:n]
                break
            seen.add(ref)
    if not run:
        return [(events[0], apply(repo, events[0]))]
    targets = [_row_of(ev.data, ev.occurred_at) if ev.type == "file_uploaded" else None for ev in run]
    keys: list[set] = [set() for _ in run]
    for kind, table in (("conda", repo.conda), ("pypi", repo.pypi)):
        picked = [(i, t[1]) for i, t in enumerate(targets) if t is not None and t[0] == kind]
        if picked:
            touched = table.insert_files([(row, run[i].data["labels"]) for i, row in picked])
            for (i, _row), k in zip(picked, touched):
                keys[i] = k
    return list(zip(run, keys))


def file_removed(repo: IndexRepository, ev: Event) -> set:
    d = ev.data
    touched: set = set()
    for table in _tables(repo):
        fid = table.file_id(d["owner"], d["package"], d["version"], d["basename"])
        if fid is not None:
            touched |= _drop(table, [fid])
    return touched


def release_removed(repo: IndexRepository, ev: Event) -> set:
    d = ev.data
    return set().union(*(_drop(t, t.file_ids(d["owner"], d["package"], d["version"])) for t in _tables(repo)))


def package_removed(repo: IndexRepository, ev: Event) -> set:
    d = ev.data
    return set().union(*(_drop(t, t.file_ids(d["owner"], d["package"])) for t in _tables(repo)))


def package_updated(repo: IndexRepository, ev: Event) -> set:
    d = ev.data
    if "public" not in d["changes"]:
        return set()
    touched: set = set()
    for table in _tables(repo):
        ids = table.file_ids(d["owner"], d["package"])
        touched |= table.touched(ids)              # as the public audience saw them before, and after
        table.set_public(ids, bool(d["changes"]["public"]))
        touched |= table.touched(ids)
    return touched


def _add_label(repo: IndexRepository, owner: str, label: str, refs: list[dict]) -> set:
    touched: set = set()
    for table in _tables(repo):
        ids = table.refs_to_ids(owner, refs)
        table.add_label(ids, label)
        touched |= {k for k in table.touched(ids) if k.label == label}
    return touched


def _remove_label(repo: IndexRepository, owner: str, label: str, refs: list[dict]) -> set:
    touched: set = set()
    for table in _tables(repo):
        ids = table.refs_to_ids(owner, refs)
        touched |= {k for k in table.touched(ids) if k.label == label}
        table.remove_label(ids, label)
    return touched


def files_labeled(repo: IndexRepository, ev: Event) -> set:
    return _add_label(repo, ev.data["owner"], ev.data["label"], ev.data["files"])


def files_unlabeled(repo: IndexRepository, ev: Event) -> set:
    return _remove_label(repo, ev.data["owner"], ev.data["label"], ev.data["files"])


def label_copied(repo: IndexRepository, ev: Event) -> set:
    return _add_label(repo, ev.data["owner"], ev.data["to_label"], ev.data["files"])


def label_removed(repo: IndexRepository, ev: Event) -> set:
    return _remove_label(repo, ev.data["owner"], ev.data["label"], ev.data["files"])


def _upload(repo: IndexRepository, d: dict, occurred_at: str) -> set:
    """Index one uploaded file (``file_uploaded`` data): a file already there under that name is replaced."""
    touched: set = set()
    for table in _tables(repo):   # --force replaced the file: the new upload wins, with its own labels
        existing = table.file_id(d["owner"], d["package"], d["version"], d["basename"])
        if existing is not None:
            touched |= _drop(table, [existing])
    target = _row_of(d, occurred_at)
    if target is None:
        return touched
    table = repo.conda if target[0] == "conda" else repo.pypi
    return touched | table.touched([table.insert_file(target[1], d["labels"])])


def package_received(repo: IndexRepository, ev: Event) -> set:
    """The target half of a transfer: every file arrives with its labels and original upload time (so records
    are the same as before the move). Stale rows of that package name in the target are dropped first."""
    d = ev.data
    touched: set = set()
    for table in _tables(repo):
        touched |= _drop(table, table.file_ids(d["owner"], d["package"]))
    for f in d["files"]:
        touched |= _upload(repo, dict(f, owner=d["owner"], package=d["package"]), f["uploaded_at"])
    return touched


def package_transferred(repo: IndexRepository, ev: Event) -> set:
    """The source half of a transfer. ``received``: the target stream has ``package_received``, so only drop
    here; otherwise (version-1 events of older logs) move the files to the new owner."""
    d = ev.data
    if d["to_owner"] == d["owner"]:
        return set()
    if d.get("received"):
        return set().union(*(_drop(t, t.file_ids(d["owner"], d["package"])) for t in _tables(repo)))
    touched: set = set()
    for table in _tables(repo):
        ids = table.file_ids(d["owner"], d["package"])
        touched |= table.touched(ids)
        # the registry refuses a transfer onto an existing package; stale rows of that name would collide
        touched |= _drop(table, table.file_ids(d["to_owner"], d["package"]))
        table.set_owner(ids, d["to_owner"])
        touched |= table.touched(ids)
    return touched


HANDLERS: dict[str, Handler] = {
    "file_uploaded": file_uploaded,
    "file_removed": file_removed,
    "release_removed": release_removed,
    "package_removed": package_removed,
    "package_updated": package_updated,
    "files_labeled": files_labeled,
    "files_unlabeled": files_unlabeled,
    "label_copied": label_copied,
    "label_removed": label_removed,
    "package_transferred": package_transferred,
    "package_received": package_received,
}


def apply(repo: IndexRepository, ev: Event) -> set:
    handler = HANDLERS.get(ev.type)
    return handler(repo, ev) if handler is not None else set()
