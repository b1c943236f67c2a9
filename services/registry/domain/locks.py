"""Label locks: while a label of an owner is locked, nothing may change which files carry it. Unlocking (and
locking) is always allowed.

``touched_labels`` says which (owner, label) pairs a batch of events would change, judged against the state
BEFORE the batch; the service layer refuses the whole command with ``Conflict`` when one of them is locked.
Checking the events rather than each command keeps every path covered: uploads, label/unlabel, copy_label,
remove_label, copy_files, file/release/package removal (their ``file_removed`` events) and transfers.
"""
from __future__ import annotations

from typing import Callable, Iterable

from services.kernel.errors import Conflict
from services.kernel.events import Event

FileLabels = Callable[[str, str, str, str], list]   # (owner, package, version, basename) -> labels ([] if none)
PackageFiles = Callable[[str, str], list]           # (owner, package) -> file rows with "labels"


def touched_labels(events: Iterable[Event], file_labels: FileLabels, package_files: PackageFiles) -> set:
    out: set[tuple[str, str]] = set()
    for ev in events:
        d, t = ev.data, ev.type
        if t in ("file_uploaded", "file_removed"):
            # a removal takes the file off its labels; an upload over an existing file replaces its labels
            out |= {(d["owner"], lb) for lb in file_labels(d["owner"], d["package"], d["version"], d["basename"])}
            if t == "file_uploaded":
                out |= {(d["owner"], lb) for lb in d["labels"]}
        elif t in ("files_labeled", "files_unlabeled", "label_removed") and d["files"]:
            out.add((d["owner"], d["label"]))
        elif t == "label_copied" and d["files"]:
            out.add((d["owner"], d["to_label"]))
        elif t == "package_transferred":
            for f in package_files(d["owner"], d["package"]):
                out |= {(d["owner"], lb) for lb in f["labels"]} | {(d["to_owner"], lb) for lb in f["labels"]}
    return out


def check(events: list[Event], locked: Callable[[str], set], file_labels: FileLabels,
          package_files: PackageFiles) -> None:
    """Raise ``Conflict("label X is locked")`` when the events would change a locked label."""
    cache: dict[str, set] = {}
    for owner, label in sorted(touched_labels(events, file_labels, package_files)):
        if owner not in cache:
            cache[owner] = locked(owner)
        if label in cache[owner]:
            raise Conflict(f"label {label} is locked", owner=owner, label=label)


def check_new_labels(owner: str, labels: list[str], locked: set) -> None:
    """Refuse early (at ``stage``) an upload that would land on a locked label."""
    for label in labels:
        if label in locked:
            raise Conflict(f"label {label} is locked", owner=owner, label=label)
