"""The rows of a channel subdir kept in memory between publishes, so a publish reads from the database only
the rows of the package names that changed (the dirty names) instead of every row of the subdir; with them the
channel's repodata (``RepodataSplice``, updated row by row) and the shard maps its current index lists. Once
the repodata holds them, cached rows drop their record JSON (``slim``); the cache is bounded in rows
(``WHARF_INDEX_CACHE_ROWS``).

Why that is exact: every event that changes a file of a channel marks the file's package name dirty at a
generation newer than any publish already under way, and a publish of generation G clears only names marked at
G or before. So the rows of a name that is not dirty are still those read when it was last read. The cache of
a channel is only used while the channel's published state is the one this process published itself
(``publish_state``: published generation and both repodata.json hashes); after another replica published, a
failed flip or a reset, the next publish reads every row (and the shard maps) again. A publish takes the
channel's entry out of the cache and puts it back only after its flip, so a publish that fails half-way never
leaves a half-updated entry behind.

A row: (name, filename, package, version, basename, record_json, run_exports_json, public). Rows sharing a
file name are ranked by (package, version, basename), code point order, on both paths, so the bytes never
depend on which path built them.
"""
from __future__ import annotations

import threading
from collections import OrderedDict

from ..domain.repodata import RepodataSplice

MAX_CACHED_ROWS = 300_000      # across channels (WHARF_INDEX_CACHE_ROWS); the least recently published go first


def _order(row: tuple) -> tuple:
    return row[1], row[2], row[3], row[4]


def _splice_row(row: tuple) -> tuple:
    return row[1], (row[2], row[3], row[4]), row[5], row[7]


class ChannelRows:
    def __init__(self, by_name: dict[str, list[tuple]]):
        self.by_name = by_name
        self.shards: dict[str, dict[str, str]] | None = None   # audience -> name -> sha256, as last flipped
        self._splice: RepodataSplice | None = None
        self._full: set[str] | None = None      # names whose rows still hold their JSON (None: every name)

    @classmethod
    def group(cls, rows: list[tuple]) -> "ChannelRows":
        by_name: dict[str, list[tuple]] = {}
        for r in rows:
            by_name.setdefault(r[0], []).append(r)
        return cls(by_name)

    def replace(self, names: list[str], rows: list[tuple]) -> None:
        """The current rows of ``names`` (all of their rows; a name without rows is gone)."""
        old = [r for n in set(names) for r in self.by_name.pop(n, ())]
        for r in rows:
            self.by_name.setdefault(r[0], []).append(r)
        if self._full is not None:
            self._full.update(names)
        if self._splice is not None:
            self._splice.update(map(_splice_row, old), map(_splice_row, rows))

    def repodata(self, subdir: str) -> RepodataSplice:
        """The channel's repodata, kept up to date by ``replace`` once made."""
        if self._splice is None or self._splice.subdir != subdir:
            assert self._full is None, "the rows were slimmed before the repodata was made"
            self._splice = RepodataSplice(subdir, (_splice_row(r) for rs in self.by_name.values() for r in rs))
        return self._splice

    def slim(self) -> None:
        """Drop the record and run_exports JSON from the rows once the repodata holds them (what keeps a cached
        channel small): only the rows of names read again (``replace``) need it, for their shards, and those
        come back whole from the database."""
        if self._splice is None:
            return
        names = self.by_name.keys() if self._full is None else self._full & self.by_name.keys()
        for n in list(names):
            self.by_name[n] = [(*r[:5], None, None, r[7]) for r in self.by_name[n]]
        self._full = set()

    def rows(self, names: list[str]) -> list[tuple]:
        """The rows of ``names``, in a stable order (whole for names read since the last ``slim``)."""
        return sorted((r for n in set(names) for r in self.by_name.get(n, ())), key=_order)

    def __len__(self) -> int:
        return sum(len(rs) for rs in self.by_name.values())


class RowsCache:
    def __init__(self, max_rows: int = MAX_CACHED_ROWS):
        self.max_rows = max_rows
        self._by_key: "OrderedDict[tuple, tuple[tuple, ChannelRows, int]]" = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key, state: tuple) -> ChannelRows | None:
        """The cached rows of ``key`` if they are those of the published ``state`` (taken out of the cache:
        the caller owns them until it ``put``s them back)."""
        with self._lock:
            hit = self._by_key.pop(key, None)
        if hit is None or hit[0] != state or state[0] is None:
            return None
        return hit[1]

    def put(self, key, state: tuple, rows: ChannelRows, replace: bool = True) -> None:
        """Keep ``rows`` (slimmed: ``ChannelRows.slim``) as those of the published ``state``, unless they are
        more than the cache holds."""
        size = len(rows)
        if size > self.max_rows:
            return
        rows.slim()
        with self._lock:
            if not replace and key in self._by_key:
                return
            self._by_key[key] = (state, rows, size)
            total = sum(v[2] for v in self._by_key.values())
            while total > self.max_rows and self._by_key:
                _k, (_s, _r, n) = self._by_key.popitem(last=False)
                total -= n

    def room(self) -> int:
        """How many more rows the cache holds before it drops channels."""
        with self._lock:
            return self.max_rows - sum(v[2] for v in self._by_key.values())

    def offer(self, key, state: tuple, rows: ChannelRows) -> None:
        """``put`` unless the cache holds ``key`` already (a publish put it there: it is newer)."""
        self.put(key, state, rows, replace=False)

    def drop(self, key) -> None:
        with self._lock:
            self._by_key.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._by_key.clear()
