"""``repodata.json`` built by splicing stored record fragments.

The bytes are exactly those of ``json.dumps({"info": {"subdir": s}, "packages": {...}, "packages.conda": {...},
"removed": [], "repodata_version": 1}, sort_keys=True, separators=(",", ":"))`` for the same records: top-level
keys are written in sorted order, file names are sorted by code point like ``sort_keys`` does, and every record
fragment already is its own compact, key-sorted, ASCII-escaped JSON.
"""
from __future__ import annotations

import bisect
from json.encoder import encode_basestring_ascii as _quote     # what json.dumps(str) returns, in C
from typing import Iterable

from .records import section_of


def build_repodata(subdir: str, entries: Iterable[tuple[str, str]]) -> bytes:
    """``entries``: (filename, record_json) pairs; a later duplicate file name wins (callers pass a stable
    order). Files that are neither ``.tar.bz2`` nor ``.conda`` are ignored. The definition ``RepodataSplice``
    (what publishing uses) is held to; file names are quoted by the C function ``json.dumps`` itself uses for a
    str with ``ensure_ascii``."""
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


SECTIONS = ("packages", "packages.conda")


def _piece(filename: str, fragment: str) -> bytes:
    """A record as it stands in its section: ``"<file name>":<record JSON>``."""
    return f"{_quote(filename)}:{fragment}".encode("ascii")


class RepodataSplice:
    """The ``repodata.json`` of one subdir, kept up to date row by row, so that a publish costs the change plus
    one join of stored pieces, instead of regrouping, sorting and quoting every record of the subdir.

    A row is ``(filename, order, fragment, public)``; ``order`` ranks rows sharing a file name (the greatest
    wins, like the later duplicate in ``build_repodata``'s stable order): the private audience sees each file
    name's greatest row, the public audience its greatest public row. Per section the file names are kept
    sorted by code point, with two parallel lists of their pieces (``"<quoted name>":<fragment>`` as ASCII
    bytes), one per audience, ready to be joined. ``build`` returns the very bytes ``build_repodata`` makes of
    the same rows (tests/indexer/test_repodata.py holds it to that after every change)."""

    BULK = 64     # a change adding or dropping more file names than this re-sorts instead of inserting

    def __init__(self, subdir: str, rows=()):
        self.subdir = subdir
        self._rows: dict[str, dict[tuple, tuple[bytes, bool]]] = {}    # filename -> order -> (piece, public)
        self._names: dict[str, list[str]] = {s: [] for s in SECTIONS}   # sorted file names, per section
        self._private_pieces: dict[str, list[bytes]] = {s: [] for s in SECTIONS}
        self._public_pieces: dict[str, list[bytes | None]] = {s: [] for s in SECTIONS}   # None: no public row
        self._private = 0                                                # rows that are not public
        for row in rows:      # a first load: straight in, then sorted once
            self._put(*row)
        self._resort()

    @property
    def all_public(self) -> bool:
        return self._private == 0

    def update(self, removed, added) -> None:
        """Take the ``removed`` rows out, then put the ``added`` rows in (rows of other file types are
        ignored)."""
        touched: dict[str, bool] = {}         # file name -> listed before this change
        rows = self._rows
        for fn, order, _fragment, _public in removed:
            by_order = rows.get(fn)
            gone = by_order.pop(order, None) if by_order is not None else None
            if gone is not None:
                touched.setdefault(fn, True)
                self._private -= not gone[1]
                if not by_order:
                    del rows[fn]
        for row in added:
            listed = self._put(*row)
            if listed is not None:
                touched.setdefault(row[0], listed)
        if sum(1 for fn, listed in touched.items() if listed != (fn in rows)) > self.BULK:
            self._resort()
            return
        for fn, listed in touched.items():
            section = section_of(fn)
            names = self._names[section]
            i = bisect.bisect_left(names, fn)
            if fn not in rows:
                if listed:
                    del names[i], self._private_pieces[section][i], self._public_pieces[section][i]
                continue
            private, public = self._pieces(fn)
            if listed:
                self._private_pieces[section][i], self._public_pieces[section][i] = private, public
            else:
                names.insert(i, fn)
                self._private_pieces[section].insert(i, private)
                self._public_pieces[section].insert(i, public)

    def _put(self, fn: str, order: tuple, fragment: str, public: bool) -> bool | None:
        """Store a row; whether its file name was listed already (None: a file type repodata does not list)."""
        by_order = self._rows.get(fn)
        if by_order is None:
            if section_of(fn) is None:
                return None
            by_order = self._rows[fn] = {}
            listed = False
        else:
            listed = True
        old = by_order.get(order)
        self._private += (not public) - (old is not None and not old[1])
        by_order[order] = (_piece(fn, fragment), public)
        return listed

    def _resort(self) -> None:
        by_section: dict[str, list[str]] = {section: [] for section in SECTIONS}
        for fn in self._rows:
            by_section[section_of(fn)].append(fn)
        for section, names in by_section.items():
            names.sort()
            pieces = [self._pieces(fn) for fn in names]
            self._names[section] = names
            self._private_pieces[section] = [p[0] for p in pieces]
            self._public_pieces[section] = [p[1] for p in pieces]

    def _pieces(self, fn: str) -> tuple[bytes, bytes | None]:
        """(private piece, public piece or None) of a listed file name."""
        by_order = self._rows[fn]
        if len(by_order) == 1:       # the common case
            ((piece, public),) = by_order.values()
            return piece, piece if public else None
        private, public = by_order[max(by_order)]
        if public:
            return private, private
        shown = [order for order, (_piece, public) in by_order.items() if public]
        return private, by_order[max(shown)][0] if shown else None

    def build(self, public_only: bool) -> bytes:
        parts = [b'{"info":{"subdir":', _quote(self.subdir).encode("ascii"), b"}"]
        for section in SECTIONS:
            if public_only and self._private:
                body = b",".join([p for p in self._public_pieces[section] if p is not None])
            else:
                body = b",".join(self._private_pieces[section])
            parts += [b",", _quote(section).encode("ascii"), b":{", body, b"}"]
        parts.append(b',"removed":[],"repodata_version":1}')
        return b"".join(parts)
