"""Label decisions (anaconda.org "channels" of an owner): a label exists while at least one file carries it.

Inputs are file rows (dicts with ``package``, ``version``, ``basename``, ``labels``) already filtered to the
owner; outputs are events listing exactly the files whose labels change (none: no event).
"""
from __future__ import annotations

from services.kernel.errors import BadRequest, Conflict, NotFound
from services.kernel.events import Event, file_ref


def _refs(files: list[dict]) -> list[dict]:
    return [file_ref(f) for f in files]


def _carrying(files: list[dict], label: str) -> list[dict]:
    return [f for f in files if label in f["labels"]]


def label_files(owner: str, label: str, matched: list[dict], actor: str, cid) -> list[Event]:
    """Add ``label`` to every matched file (``anaconda move``'s POST). NotFound when the filter matched none."""
    if not matched:
        raise NotFound("no file matches")
    todo = [f for f in matched if label not in f["labels"]]
    if not todo:
        return []
    return [Event.new("files_labeled", owner, {"owner": owner, "label": label, "files": _refs(todo)},
                      actor=actor, correlation_id=cid)]


def unlabel_files(owner: str, label: str, matched: list[dict], actor: str, cid) -> list[Event]:
    """Take ``label`` off every matched file that carries it (``anaconda move``'s DELETE)."""
    todo = _carrying(matched, label)
    if not todo:
        raise NotFound(f"no matching file has label {label}")
    return [Event.new("files_unlabeled", owner, {"owner": owner, "label": label, "files": _refs(todo)},
                      actor=actor, correlation_id=cid)]


def copy_label(owner: str, from_label: str, to_label: str, files: list[dict], actor: str, cid) -> list[Event]:
    if from_label == to_label:
        raise BadRequest("cannot copy a label onto itself")
    source = _carrying(files, from_label)
    if not source:
        raise NotFound(f"label {from_label} not found")
    todo = [f for f in source if to_label not in f["labels"]]
    if not todo:
        return []
    return [Event.new("label_copied", owner, {"owner": owner, "from_label": from_label, "to_label": to_label,
                                              "files": _refs(todo)}, actor=actor, correlation_id=cid)]


DEFAULT_LABEL = "main"


def remove_label(owner: str, label: str, files: list[dict], actor: str, cid) -> list[Event]:
    """Take ``label`` off every file of the owner. ``main`` is the default channel (``/conda/<owner>``, the
    plain PyPI index): removing it as a whole would empty it in one step, so it is refused (Conflict); taking
    ``main`` off chosen files (``unlabel_files``, ``anaconda move``) stays allowed."""
    if label == DEFAULT_LABEL:
        raise Conflict(f"label {DEFAULT_LABEL} is the default channel and cannot be removed; take it off chosen "
                       f"files instead (anaconda move, or a package/version/file filter)")
    todo = _carrying(files, label)
    if not todo:
        raise NotFound(f"label {label} not found")
    return [Event.new("label_removed", owner, {"owner": owner, "label": label, "files": _refs(todo)},
                      actor=actor, correlation_id=cid)]


def lock_label(owner: str, label: str, locked, currently_locked: bool, actor: str, cid) -> list[Event]:
    if not isinstance(locked, bool):
        raise BadRequest("locked must be a boolean")
    if locked == currently_locked:
        return []
    return [Event.new("label_lock_changed", owner, {"owner": owner, "label": label, "locked": locked},
                      actor=actor, correlation_id=cid)]
