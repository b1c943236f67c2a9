"""One function per registry event that can change what a channel shows. Each applies the event to the
repository (inside the caller's transaction) and returns the channels it made dirty. Event types without a
handler change nothing (the caller still advances the stream position)."""
from __future__ import annotations

from typing import Callable

from services.kernel.events import Event

from ..domain.keys import ChannelKey
from ..domain.ports import IndexRepository
from ..domain.records import record_json, section_of, subdir_of

Handler = Callable[[IndexRepository, Event], set[ChannelKey]]


def _drop(repo: IndexRepository, ids: list[int]) -> set[ChannelKey]:
    affected = repo.channels_of(ids)
    repo.delete_files(ids)
    return affected


def file_uploaded(repo: IndexRepository, ev: Event) -> set[ChannelKey]:
    d = ev.data
    if d.get("distribution_type") != "conda" or not d.get("record"):
        return set()
    affected: set[ChannelKey] = set()
    existing = repo.file_id(d["owner"], d["package"], d["version"], d["basename"])
    if existing is not None:   # --force replaced the file: the new upload wins, with its own labels
        affected |= _drop(repo, [existing])
    if section_of(d["filename"]) is None:
        return affected
    fid = repo.insert_file({"owner": d["owner"], "package": d["package"], "version": d["version"],
                            "basename": d["basename"], "filename": d["filename"], "subdir": subdir_of(d),
                            "public": bool(d["public"]), "sha256": d["sha256"], "size": d["size"],
                            "blob_key": d["blob_key"], "record_json": record_json(d["record"], ev.occurred_at)},
                           d["labels"])
    return affected | repo.channels_of([fid])


def file_removed(repo: IndexRepository, ev: Event) -> set[ChannelKey]:
    d = ev.data
    fid = repo.file_id(d["owner"], d["package"], d["version"], d["basename"])
    return _drop(repo, [fid]) if fid is not None else set()


def release_removed(repo: IndexRepository, ev: Event) -> set[ChannelKey]:
    d = ev.data
    return _drop(repo, repo.file_ids(d["owner"], d["package"], d["version"]))


def package_removed(repo: IndexRepository, ev: Event) -> set[ChannelKey]:
    d = ev.data
    return _drop(repo, repo.file_ids(d["owner"], d["package"]))


def package_updated(repo: IndexRepository, ev: Event) -> set[ChannelKey]:
    d = ev.data
    if "public" not in d["changes"]:
        return set()
    ids = repo.file_ids(d["owner"], d["package"])
    repo.set_public(ids, bool(d["changes"]["public"]))
    return repo.channels_of(ids)


def _only(label: str, keys: set[ChannelKey]) -> set[ChannelKey]:
    return {k for k in keys if k.label == label}


def _add_label(repo: IndexRepository, owner: str, label: str, refs: list[dict]) -> set[ChannelKey]:
    ids = repo.refs_to_ids(owner, refs)
    repo.add_label(ids, label)
    return _only(label, repo.channels_of(ids))


def _remove_label(repo: IndexRepository, owner: str, label: str, refs: list[dict]) -> set[ChannelKey]:
    ids = repo.refs_to_ids(owner, refs)
    affected = _only(label, repo.channels_of(ids))
    repo.remove_label(ids, label)
    return affected


def files_labeled(repo: IndexRepository, ev: Event) -> set[ChannelKey]:
    return _add_label(repo, ev.data["owner"], ev.data["label"], ev.data["files"])


def files_unlabeled(repo: IndexRepository, ev: Event) -> set[ChannelKey]:
    return _remove_label(repo, ev.data["owner"], ev.data["label"], ev.data["files"])


def label_copied(repo: IndexRepository, ev: Event) -> set[ChannelKey]:
    return _add_label(repo, ev.data["owner"], ev.data["to_label"], ev.data["files"])


def label_removed(repo: IndexRepository, ev: Event) -> set[ChannelKey]:
    return _remove_label(repo, ev.data["owner"], ev.data["label"], ev.data["files"])


def package_transferred(repo: IndexRepository, ev: Event) -> set[ChannelKey]:
    d = ev.data
    if d["to_owner"] == d["owner"]:
        return set()
    ids = repo.file_ids(d["owner"], d["package"])
    affected = repo.channels_of(ids)
    # the registry refuses a transfer onto an existing package; stale rows of that name would collide
    affected |= _drop(repo, repo.file_ids(d["to_owner"], d["package"]))
    repo.set_owner(ids, d["to_owner"])
    return affected | repo.channels_of(ids)


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
}


def apply(repo: IndexRepository, ev: Event) -> set[ChannelKey]:
    handler = HANDLERS.get(ev.type)
    return handler(repo, ev) if handler is not None else set()
