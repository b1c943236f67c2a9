"""Build hostile archives for refusal tests (storage and system): entry-count bombs, oversized tar headers and
link chains, as ``.tar.bz2`` and ``.conda`` conda packages and ``.tar.gz`` sdists, made in memory and fast.

The entry-count bombs are what issue 15 item 2 describes: a few KB holding hundreds of thousands of empty
directory entries. bz2 cannot be told to repeat a block, but a ``.tar.bz2`` may be several bz2 streams one after
another (Python's bz2 reader, like bzip2, reads on across them), so one compressed run of directory blocks is
made once and repeated.
"""
from __future__ import annotations

import bz2
import gzip
import io
import json
import tarfile
import zipfile

import zstandard

__all__ = ["index_json", "tar_bytes", "conda_zip", "entry_bomb_tar_bz2", "entry_bomb_conda", "pax_bomb_tar_bz2",
           "conda_with_links", "sdist_with_members"]

_RUN = 10_000         # directory entries per repeated compressed run


def index_json(name="hostile", version="1.0", subdir="noarch", **extra) -> bytes:
    doc = {"name": name, "version": version, "build": "0", "build_number": 0, "depends": [], "subdir": subdir,
           "license": "MIT", "noarch": "generic", "timestamp": 1700000000000}
    doc.update(extra)
    return json.dumps(doc).encode()


def tar_bytes(members: dict, end: bool = True) -> bytes:
    """An uncompressed tar; a value is bytes (a file), ``("symlink"|"hardlink", target)`` or ``("dir",)``.
    ``end=False`` leaves out the end-of-archive blocks (for a tar continued by more blocks)."""
    buf = io.BytesIO()
    tar = tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT)
    for name, value in members.items():
        info = tarfile.TarInfo(name)
        info.mtime = 1700000000
        if isinstance(value, tuple):
            info.type = {"symlink": tarfile.SYMTYPE, "hardlink": tarfile.LNKTYPE, "dir": tarfile.DIRTYPE}[value[0]]
            info.linkname = value[1] if len(value) > 1 else ""
            tar.addfile(info)
        else:
            info.size = len(value)
            tar.addfile(info, io.BytesIO(value))
    if not end:
        return buf.getvalue()[: tar.offset]     # the members only: no end-of-archive blocks yet
    tar.close()
    return buf.getvalue()


def _dir_run(n: int) -> bytes:
    block = tarfile.TarInfo("d/")
    block.type, block.mtime = tarfile.DIRTYPE, 0
    return block.tobuf(format=tarfile.USTAR_FORMAT) * n


def entry_bomb_tar_bz2(entries: int, name: str = "hostile", version: str = "1.0") -> bytes:
    """A ``.tar.bz2`` conda package: a valid ``info/index.json``, then ``entries`` empty directory entries."""
    head = bz2.compress(tar_bytes({"info/index.json": index_json(name, version)}, end=False))
    run = bz2.compress(_dir_run(_RUN))
    tail = bz2.compress(_dir_run(entries % _RUN) + bytes(2 * tarfile.BLOCKSIZE))
    return head + run * (entries // _RUN) + tail


def _zst_dir_bomb(entries: int) -> bytes:
    out = io.BytesIO()
    with zstandard.ZstdCompressor(level=3).stream_writer(out, closefd=False) as w:
        run = _dir_run(_RUN)
        for _ in range(entries // _RUN):
            w.write(run)
        w.write(_dir_run(entries % _RUN) + bytes(2 * tarfile.BLOCKSIZE))
    return out.getvalue()


def conda_zip(stem: str, info: dict | bytes, pkg: dict | bytes) -> bytes:
    """A ``.conda`` (zip of metadata.json and two zstd tars) built by hand, so its members can be anything; a
    component given as bytes is used as the compressed tar as it is."""
    def zst_tar(members):
        return members if isinstance(members, bytes) else zstandard.ZstdCompressor().compress(tar_bytes(members))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr("metadata.json", json.dumps({"conda_pkg_format_version": 2}))
        zf.writestr(f"pkg-{stem}.tar.zst", zst_tar(pkg))
        zf.writestr(f"info-{stem}.tar.zst", zst_tar(info))
    return buf.getvalue()


def entry_bomb_conda(entries: int, name: str = "hostile", version: str = "1.0") -> bytes:
    """A ``.conda`` whose info component is valid and whose payload holds ``entries`` empty directories."""
    return conda_zip(f"{name}-{version}-0", {"info/index.json": index_json(name, version)}, _zst_dir_bomb(entries))


def pax_bomb_tar_bz2(size: int, name: str = "hostile", version: str = "1.0") -> bytes:
    """A ``.tar.bz2`` conda package whose second member has a pax header of ``size`` bytes (of zeros): tarfile
    reads a pax header into memory whole before parsing it."""
    head = tar_bytes({"info/index.json": index_json(name, version)}, end=False)
    pax = tarfile.TarInfo("././@PaxHeader")
    pax.type, pax.size = tarfile.XHDTYPE, size
    member = tarfile.TarInfo("share/x")
    comp = bz2.BZ2Compressor(9)
    out = [comp.compress(head + pax.tobuf(format=tarfile.USTAR_FORMAT))]
    zeros, left = bytes(1024 * 1024), -(-size // tarfile.BLOCKSIZE) * tarfile.BLOCKSIZE
    while left:
        n = min(left, len(zeros))
        out.append(comp.compress(zeros[:n]))
        left -= n
    out.append(comp.compress(member.tobuf(format=tarfile.USTAR_FORMAT) + bytes(2 * tarfile.BLOCKSIZE)))
    out.append(comp.flush())
    return b"".join(out)


def conda_with_links(fmt: str, links: dict, name: str = "hostile", version: str = "1.0") -> bytes:
    """A conda package (``.tar.bz2`` or ``.conda``) with a valid info/ and ``links`` (as ``tar_bytes`` takes
    them) as its payload, in that order."""
    info = {"info/index.json": index_json(name, version)}
    if fmt == ".conda":
        return conda_zip(f"{name}-{version}-0", info, links)
    return bz2.compress(tar_bytes({**info, **links}))


def sdist_with_members(members: dict, name: str = "hostile", version: str = "1.0") -> bytes:
    """A ``.tar.gz`` sdist with ``<name>-<version>/PKG-INFO`` followed by ``members``."""
    pkg_info = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode()
    return gzip.compress(tar_bytes({f"{name}-{version}/PKG-INFO": pkg_info, **members}))
