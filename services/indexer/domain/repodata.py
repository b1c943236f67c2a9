"""``repodata.json`` built by splicing stored record fragments.

The bytes are exactly those of ``json.dumps({"info": {"subdir": s}, "packages": {...}, "packages.conda": {...},
"removed": [], "repodata_version": 1}, sort_keys=True, separators=(",", ":"))`` for the same records: top-level
keys are written in sorted order, file names are sorted by code point like ``sort_keys`` does, and every record
fragment already is its own compact, key-sorted, ASCII-escaped JSON.
"""
from __future__ import annotations

from json.encoder import encode_basestring_ascii as _quote     # what json.dumps(str) returns, in C
from typing import Iterable


def build_repodata(subdir: str, entries: Iterable[tuple[str, str]]) -> bytes:
    """``entries``: (filename, record_json) pairs; a later duplicate file name wins (callers pass a stable
    order). Files that are neither ``.tar.bz2`` nor ``.conda`` are ignored.

    This runs once per publish over every record of the subdir, so it stays lean: the file name is quoted by
    the C function ``json.dumps`` itself uses for a str with ``ensure_ascii`` (same bytes, none of the
    per-call overhead), and ``section_of`` is inlined."""
    bz2: dict[str, str] = {}
    conda: dict[str, str] = {}
    for filename, fragment in entries:
        if filename.endswith(".tar.bz2"):
            bz2[filename] = fragment
        elif filename.endswith(".conda"):
            conda[filename] = fragment
    parts = ['{"info":{"subdir":', _quote(subdir), "}"]
    for section, records in (("packages", bz2), ("packages.conda", conda)):
        body = ",".join([f"{_quote(fn)}:{records[fn]}" for fn in sorted(records)])
        parts.append(f',{_quote(section)}:{{{body}}}')
    parts.append(',"removed":[],"repodata_version":1}')
    return "".join(parts).encode("ascii")
