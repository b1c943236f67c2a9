"""One bounded walker for every archive an upload holds: the tar streams of a ``.tar.bz2``, of a ``.conda``'s
components and of a ``.tar.gz`` sdist, and the zips of a ``.conda``, a wheel and a ``.zip`` sdist.

Hostile archives are cheap to make and costly to read, so one upload's walk (all its archives together) is
bounded three ways, each checked while the bytes stream, never after:

- **bytes**: every decompressed byte read counts against ``expansion_budget(size)``: tar headers and skipped
  payload too, not only ``member.size`` (which is 0 for directories and links);
- **entries**: members are counted as they stream against ``entry_limit(size)``; tarfile's list of members is
  emptied after each one (``tarfile`` keeps every member it read, ~340 bytes each), so memory stays flat;
- **metadata**: the headers of one tar member (its 512-byte block plus any pax or GNU long-name records) may
  take ``MEMBER_HEADER_LIMIT`` bytes; tarfile reads such a record into memory whole, so the limit is enforced on
  the stream while tarfile reads it.

Member names must stay inside the package, and so must links: a symlink's target is resolved through the links
earlier members made (``LinkTable``), as an extraction would follow them, and every link is checked once more
against the whole table when the walk ends (a later link can redirect an earlier one).
"""
from __future__ import annotations

import re
import tarfile
import zipfile
from collections.abc import Iterator
from typing import BinaryIO

from services.kernel.errors import InvalidPackage

from .inspection import check_member_name, cooperate

MIN_EXPANSION = 256 * 1024 * 1024
"""Bytes any upload may expand to, however small: real packages compress up to ~10x, text-heavy ones more."""
EXPANSION_RATIO = 64
"""Above ``MIN_EXPANSION``, decompressed bytes allowed per uploaded byte (bz2/zstd of real payloads stay far
below; zeros reach 1,000,000x, which is what a decompression bomb is)."""

MAX_ENTRIES = 200_000
"""Most archive members one upload may hold, whatever its size. Big real packages hold tens of thousands of
files (compilers, TeX, icon themes, SDKs); 200,000 leaves several times that. A walk costs ~25-35 us of one
core per tar member on the 2-core development machine, so this also caps one upload's walk at about 6 s."""

FREE_ENTRIES = 10_000
"""Members any upload may hold however small it is (walked in about a third of a second). Any real archive has
more than one byte per member (see ``BYTES_PER_ENTRY``), so this is only a margin for tiny packages."""

BYTES_PER_ENTRY = 1
"""Above ``FREE_ENTRIES``, each further member needs this many bytes of the uploaded file. A tar of 50,000 empty
files with systematic names and one mtime (the most compressible thing a real package can be) compresses to
1.5-1.8 bytes per member (bz2 -9, zstd -19 and -22, measured), so real packages never meet this, while an
entry-count bomb (hundreds of thousands of identical empty directories in 3-20 KB, ~0.02 bytes per member) is
refused at 13,000-30,000 members (under a second of one core) instead of being walked for 20-90 s."""

MEMBER_HEADER_LIMIT = 1024 * 1024
"""Most bytes the headers of one tar member may take (ustar block, pax records, GNU long names). A path is at
most 4 KiB (PATH_MAX); a pax header with a path, a link path and some extended attributes takes a few KiB.
tarfile holds such a record in memory whole, so without this a few KB of bz2 could make it allocate gigabytes."""

MAX_LINK_HOPS = 40
"""Symbolic links followed while resolving one path (Linux's MAXSYMLINKS); more is a loop."""

LINK_TABLE_LIMIT = 16 * 1024 * 1024
"""Bytes of link paths and targets one upload's link table may hold. The link-heaviest real packages (icon
themes) have thousands of links of ~100 bytes, a few hundred KB; this bounds the table's memory (~3x)."""

_STREAM_SLACK = 4 * tarfile.RECORDSIZE   # what tarfile's stream reader may have read ahead of where it is
_CHUNK = 1024 * 1024


def expansion_budget(size: int) -> int:
    """How many decompressed bytes we are willing to walk through for a file of ``size`` bytes (bombs)."""
    return max(MIN_EXPANSION, EXPANSION_RATIO * size)


def entry_limit(size: int) -> int:
    """How many archive members a file of ``size`` bytes may hold (entry-count bombs)."""
    return min(MAX_ENTRIES, FREE_ENTRIES + size // BYTES_PER_ENTRY)


class Walk:
    """The limits of one upload's archives and what has been spent of them; walks its tars and zips."""

    def __init__(self, size: int):
        self.size = size
        self.byte_limit, self.entry_limit = expansion_budget(size), entry_limit(size)
        self.bytes = self.entries = 0
        self.links = LinkTable()

    def spend(self, n: int) -> None:
        self.bytes += n
        if self.bytes > self.byte_limit:
            raise InvalidPackage(f"archive expands to more than {self.byte_limit} bytes, more than a file of "
                                 f"{self.size} bytes may (decompression bomb)")

    def count(self, n: int = 1) -> None:
        self.entries += n
        if self.entries > self.entry_limit:
            raise InvalidPackage(f"archive holds more than {self.entry_limit} entries, the entry limit of a file "
                                 f"of {self.size} bytes ({FREE_ENTRIES} + {self.size} // {BYTES_PER_ENTRY}, at "
                                 f"most {MAX_ENTRIES})")

    # -------------------------------------------------------------------------------------------------- tar
    def tar(self, stream: BinaryIO) -> Iterator[tuple[tarfile.TarFile, tarfile.TarInfo]]:
        """``(tar, member)`` for each member of the tar that ``stream`` (decompressed bytes) holds, checked and
        counted; afterwards ``stream`` is read to its end (truncation shows there; the bytes count). Read a
        member's bytes, if at all, with ``tar.extractfile(member)`` before asking for the next one."""
        meter = _Meter(stream, self)
        meter.window = MEMBER_HEADER_LIMIT + _STREAM_SLACK
        with tarfile.open(fileobj=meter, mode="r|") as tar:
            while True:
                member = tar.next()
                tar.members.clear()      # tarfile keeps every member it read; we need only this one
                if member is None:
                    break
                self.count()
                self._check(member)
                # what may be read until the next member is out: this one's data, then the next one's headers
                meter.window = -(-member.size // tarfile.BLOCKSIZE) * tarfile.BLOCKSIZE + MEMBER_HEADER_LIMIT \
                    + _STREAM_SLACK
                yield tar, member
        meter.window = None
        while meter.read(_CHUNK):
            pass

    def _check(self, member: tarfile.TarInfo) -> None:
        check_member_name(member.name)
        if member.issym():
            self.links.add_symlink(member.name, member.linkname or "")
        elif member.islnk():
            check_member_name(member.linkname)
            self.links.check_hardlink(member.name, member.linkname)
        else:
            self.links.check_placed(member.name)

    # -------------------------------------------------------------------------------------------------- zip
    def zip(self, fileobj: BinaryIO) -> zipfile.ZipFile:
        """The zip in ``fileobj``, its members counted and their names checked, each read to its end (which
        verifies its CRC). zipfile reads the whole central directory into memory at once (~600 bytes and ~7 us
        per entry, measured; an entry takes ~90 bytes of the file), so the count the zip's end record declares is
        checked first: a 2 GiB upload of 24 million empty entries is refused before it costs 14 GB."""
        declared = _declared_zip_entries(fileobj)
        if declared is not None and self.entries + declared > self.entry_limit:
            self.count(declared)
        fileobj.seek(0)
        zf = zipfile.ZipFile(fileobj)
        infos = zf.infolist()
        self.count(len(infos))
        for info in infos:
            check_member_name(info.filename)
        for info in infos:
            with zf.open(info) as f:
                while data := f.read(_CHUNK):
                    self.spend(len(data))
                    cooperate()
        return zf

    def finish(self) -> None:
        """Checks that need the whole walk: every link once more, against all the links of the upload."""
        self.links.check_all()


def _declared_zip_entries(fileobj: BinaryIO) -> int | None:
    """The number of entries a zip's end-of-central-directory record (zip64 too) declares, read by zipfile's own
    reader of that record (``_EndRecData``, the one ``ZipFile`` uses; not public API, hence the fallback), or
    None when it cannot be read (``ZipFile`` then says why)."""
    try:
        record = zipfile._EndRecData(fileobj)
        return None if record is None else int(record[zipfile._ECD_ENTRIES_TOTAL])
    except Exception:  # noqa: BLE001 - hostile bytes, or a future zipfile without this helper
        return None


class _Meter:
    """A read-only stream that charges every byte read from ``raw`` to the walk; while ``window`` is set, at
    most that many bytes more may be read (the walker sets it per tar member)."""

    def __init__(self, raw: BinaryIO, walk: Walk):
        self.raw, self.walk, self.window = raw, walk, None

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size if size is not None and size >= 0 else _CHUNK)
        self.walk.spend(len(data))
        if self.window is not None:
            self.window -= len(data)
            if self.window < 0:
                raise InvalidPackage(f"an archive member's headers take more than {MEMBER_HEADER_LIMIT} bytes")
        cooperate()
        return data


def _parts(path: str) -> list[str]:
    return [p for p in re.split(r"[\\/]", path) if p not in ("", ".")]


class LinkTable:
    """The symbolic links that the members walked so far would create, by the path they are created at (with
    the links of its directories already followed). Paths are resolved through them as an extraction would."""

    def __init__(self):
        self._links: dict[str, str] = {}
        self._bytes = 0

    def add_symlink(self, name: str, target: str) -> None:
        if target.startswith(("/", "\\")) or "\x00" in target:
            check_member_name(target)                       # refuses: absolute
        parent = self._placed(name)
        if self.resolve(parent + _parts(target)) is None:
            raise InvalidPackage(f"archive member {name[:200]!r} links outside the package")
        if not _parts(name):
            return                                          # a link named "." creates nothing
        key = "/".join(parent + _parts(name)[-1:])
        self._bytes += len(key) + len(target)
        if self._bytes > LINK_TABLE_LIMIT:
            raise InvalidPackage(f"the archive's symbolic links take more than {LINK_TABLE_LIMIT} bytes")
        self._links[key] = target

    def check_hardlink(self, name: str, target: str) -> None:
        self._placed(name)
        if self._links and self.resolve(_parts(target)) is None:
            raise InvalidPackage(f"archive member {name[:200]!r} links outside the package")

    def check_placed(self, name: str) -> None:
        if self._links:
            self._placed(name)

    def _placed(self, name: str) -> list[str]:
        """The resolved directory a member named ``name`` is created in; refused when that is outside."""
        parent = _parts(name)[:-1]
        if not self._links:
            return parent                                   # no links: the name check is enough
        resolved = self.resolve(parent)
        if resolved is None:
            raise InvalidPackage(f"archive member {name[:200]!r} lies outside the package through a link")
        return resolved

    def resolve(self, parts: list[str]) -> list[str] | None:
        """``parts`` (relative to the package root) with each known link followed from its own directory; None
        when the path climbs above the root. A loop of links is refused."""
        out: list[str] = []
        pending = parts[::-1]
        hops = 0
        while pending:
            part = pending.pop()
            if part == "..":
                if not out:
                    return None
                out.pop()
                continue
            out.append(part)
            target = self._links.get("/".join(out)) if self._links else None
            if target is not None:
                hops += 1
                if hops > MAX_LINK_HOPS:
                    raise InvalidPackage(f"the archive's symbolic links loop (more than {MAX_LINK_HOPS} in a row)")
                out.pop()
                if target.startswith(("/", "\\")):
                    return None
                pending.extend(_parts(target)[::-1])
        return out

    def check_all(self) -> None:
        for where, target in self._links.items():
            if self.resolve(where.split("/")[:-1] + _parts(target)) is None:
                raise InvalidPackage(f"archive member {where[:200]!r} links outside the package through a "
                                     f"link made after it")
