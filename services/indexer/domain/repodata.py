"""``repodata.json`` built by splicing stored record fragments.

The bytes are exactly those of ``json.dumps({"info": {"subdir": s}, "packages": {...}, "packages.conda": {...},
"removed": [], "repodata_version": 1}, sort_keys=True, separators=(",", ":"))`` for the same records: top-level
keys are written in sorted order, file names are sorted by code point like ``sort_keys`` does, and every record
fragment already is its own compact, key-sorted, ASCII-escaped JSON.
"""
from __future__ import annotations

import json
from typing import Iterable

from .records import section_of


def build_repodata(subdir: str, entries: Iterable[tuple[str, str]]) -> bytes:
    """``entries``: (filename, record_json) pairs; a later duplicate file name wins (callers pass a stable
    order). Files that are neither ``.tar.bz2`` nor ``.conda`` are ignored."""
    sections: dict[str, dict[str, str]] = {"packages": {}, "packages.conda": {}}
    for filename, fragment in entries:
        section = section_of(filename)
        if section is not None:
            sections[section][filename] = fragment
    parts = ['{"info":{"subdir":', json.dumps(subdir), "}"]
    for section in ("packages", "packages.conda"):
        records = sections[section]
        body = ",".join(json.dumps(fn) + ":" + records[fn] for fn in sorted(records))
        parts.append(f',{json.dumps(section)}:{{{body}}}')
    parts.append(',"removed":[],"repodata_version":1}')
    return "".join(parts).encode("ascii")
