"""Canonical repodata records.

A record is stored once, as the exact JSON fragment it will have inside ``repodata.json``
(``json.dumps(record, sort_keys=True, separators=(",", ":"))``, ASCII-escaped), so publishing splices stored
fragments instead of re-serialising every record of a subdir.
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MS = timedelta(milliseconds=1)


def canonical_json(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def epoch_millis(iso: str) -> int:
    """ISO 8601 timestamp (``...Z`` or with an offset; naive means UTC) -> integer milliseconds since epoch."""
    dt = datetime.fromisoformat(iso.replace("Z", "+00:00") if iso.endswith("Z") else iso)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return (dt - _EPOCH) // _MS


def record_json(record: dict, occurred_at: str) -> str:
    """The stored fragment: the record plus ``indexed_timestamp`` (when the upload event occurred, in ms)."""
    return canonical_json(dict(record, indexed_timestamp=epoch_millis(occurred_at)))


def section_of(filename: str) -> str | None:
    """Which repodata section lists a file: ``packages`` (.tar.bz2), ``packages.conda`` (.conda) or None."""
    if filename.endswith(".tar.bz2"):
        return "packages"
    if filename.endswith(".conda"):
        return "packages.conda"
    return None


def subdir_of(data: dict) -> str:
    """Subdir of an uploaded conda file: the event's, else the record's, else the basename prefix, else noarch."""
    record = data.get("record") or {}
    if data.get("subdir"):
        return data["subdir"]
    if isinstance(record.get("subdir"), str) and record["subdir"]:
        return record["subdir"]
    basename = data.get("basename") or ""
    return basename.split("/", 1)[0] if "/" in basename else "noarch"
