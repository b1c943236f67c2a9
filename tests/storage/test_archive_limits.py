"""The bounded archive walker (issue 15 items 2 and 10): entry-count bombs, oversized tar headers and symlink
chains are refused in every archive format, through ``finalize`` (local disk and S3) and, to see where the walk
stopped, through the walker itself. None of these tests is timed: an entry-count bomb is shown to be refused at
the entry limit (``walk.entries``), which is what bounds its time."""
from __future__ import annotations

import bz2
import io
import struct
import tarfile
import zipfile

import pytest

from services.kernel.errors import InvalidPackage
from services.storage.domain import archive
from services.storage.domain.archive import FREE_ENTRIES, MEMBER_HEADER_LIMIT, Walk, entry_limit
from services.storage.domain.conda import read_info
from tests.helpers.hostile_archives import (conda_with_links, conda_zip, entry_bomb_conda, entry_bomb_tar_bz2,
                                            index_json, pax_bomb_tar_bz2, sdist_with_members, tar_bytes)
from tests.helpers.packages import make_sdist, make_wheel

from .conftest import stage

BOMB_ENTRIES = 400_000


def _refused(storage, blob_store, data, basename, dtype="conda", package="hostile", match=None):
    stage(storage, "d", data)
    with pytest.raises(InvalidPackage, match=match):
        storage.finalize("d", "alice", package, "1.0", basename, dtype)
    assert list(blob_store.keys("")) == [], "a refused upload must leave nothing behind"


# ------------------------------------------------------------------------------------------------ entry counts
@pytest.mark.parametrize("fmt,build", [(".tar.bz2", entry_bomb_tar_bz2), (".conda", entry_bomb_conda)])
def test_entry_count_bomb_is_refused_at_the_entry_limit(fmt, build):
    data = build(BOMB_ENTRIES)
    assert len(data) < 20_000                         # 400,000 entries in a few KB
    walk = Walk(len(data))
    with pytest.raises(InvalidPackage, match="entry limit"):
        read_info(io.BytesIO(data), f"hostile-1.0-0{fmt}", walk)
    # the walk stopped at the limit: one member past it, a small part of the 400,000 (and of their bytes)
    assert walk.entries == walk.entry_limit + 1 == entry_limit(len(data)) + 1
    assert walk.entry_limit < FREE_ENTRIES + 20_000 < BOMB_ENTRIES
    assert walk.bytes < (walk.entry_limit + 100) * tarfile.BLOCKSIZE + 2 * MEMBER_HEADER_LIMIT


@pytest.mark.parametrize("fmt,build", [(".tar.bz2", entry_bomb_tar_bz2), (".conda", entry_bomb_conda)])
def test_entry_count_bomb_upload_is_refused(storage, blob_store, fmt, build):
    _refused(storage, blob_store, build(BOMB_ENTRIES), f"noarch/hostile-1.0-0{fmt}", match="entry limit")


def test_tarfile_does_not_keep_the_members_it_walked():
    data = bz2.compress(tar_bytes({f"share/f{i}": b"x" for i in range(500)}))
    seen = 0
    for tar, _member in Walk(len(data)).tar(bz2.open(io.BytesIO(data))):
        assert len(tar.members) <= 1
        seen += 1
    assert seen == 500


def test_real_package_shape_under_the_limits_is_accepted(storage, pkgdir):
    """50,000 empty files with systematic names and one mtime: as compressible as a real package gets (~1.5
    bytes per member), and more members than ``FREE_ENTRIES``; the size-relative limit lets it through."""
    files = {f"lib/python3.11/site-packages/pkg/sub{i // 100:03d}/module_{i % 100:02d}.py": b"" for i in range(50_000)}
    data = conda_zip("hostile-1.0-0", {"info/index.json": index_json()}, files)
    assert len(data) < 50_000 * 3 and entry_limit(len(data)) > 50_000 + 3
    stage(storage, "d", data)
    meta = storage.finalize("d", "alice", "hostile", "1.0", "noarch/hostile-1.0-0.conda", "conda")
    assert meta["record"]["name"] == "hostile"


@pytest.mark.parametrize("maker", [make_wheel, make_sdist])
def test_wheels_and_sdists_count_their_entries(storage, blob_store, pkgdir, monkeypatch, maker):
    path = maker(pkgdir, "hostile", "1.0", extra_members={f"hostile/m{i}.py": b"" for i in range(60)})
    monkeypatch.setattr(archive, "MAX_ENTRIES", 50)     # the mechanism, without building 200,001 members
    _refused(storage, blob_store, path.read_bytes(), path.name, dtype="pypi", match="entry limit")


def test_zip_sdist_counts_its_entries(storage, blob_store, pkgdir, monkeypatch):
    path = make_sdist(pkgdir, "hostile", "1.0", fmt=".zip", extra_members={f"hostile-1.0/m{i}": b"" for i in range(60)})
    monkeypatch.setattr(archive, "MAX_ENTRIES", 50)
    _refused(storage, blob_store, path.read_bytes(), path.name, dtype="pypi", match="entry limit")


def test_zip_declaring_too_many_entries_is_refused_before_its_directory_is_read(storage, blob_store, pkgdir):
    """A wheel whose end record declares 60,000 entries over a central directory of zeros: refused for its entry
    count (not as corrupt), so the count is checked before zipfile reads the directory into memory."""
    data = bytearray(make_wheel(pkgdir, "hostile", "1.0").read_bytes())
    end = data.rfind(b"PK\x05\x06")
    cd_size, cd_offset = struct.unpack("<II", data[end + 12:end + 20])
    data[cd_offset:cd_offset + cd_size] = bytes(cd_size)                   # the directory itself: zeros
    data[end + 8:end + 12] = struct.pack("<HH", 60_000, 60_000)            # entries on this disk, in all
    _refused(storage, blob_store, bytes(data), "hostile-1.0-py3-none-any.whl", dtype="pypi", match="entry limit")


# ------------------------------------------------------------------------------------------------ headers
def test_oversized_pax_header_is_refused_before_it_is_read_whole(storage, blob_store):
    data = pax_bomb_tar_bz2(16 * 1024 * 1024)
    walk = Walk(len(data))
    with pytest.raises(InvalidPackage, match="headers take more than"):
        read_info(io.BytesIO(data), "hostile-1.0-0.tar.bz2", walk)
    assert walk.bytes < MEMBER_HEADER_LIMIT + 8 * tarfile.RECORDSIZE
    _refused(storage, blob_store, data, "noarch/hostile-1.0-0.tar.bz2", match="headers take more than")


def test_directory_and_link_headers_count_as_bytes():
    """Members of size 0 still cost their header blocks: the byte budget sees them."""
    data = bz2.compress(tar_bytes({f"d{i}/": ("dir",) for i in range(100)}))
    walk = Walk(len(data))
    assert sum(1 for _ in walk.tar(bz2.open(io.BytesIO(data)))) == 100
    assert walk.bytes >= 100 * tarfile.BLOCKSIZE


# ------------------------------------------------------------------------------------------------ links
CHAIN = {"lib/root": ("symlink", ".."), "lib/root/up": ("symlink", "..")}            # item 10 as filed
LATER = {"l1": ("symlink", "b/.."), "b": ("symlink", ".")}                            # l1 escapes once b exists
THROUGH = {"lib/dir": ("symlink", "../share"), "lib/dir/x": ("symlink", "../../..")}  # placed through a link
LOOP = {"a": ("symlink", "b"), "b": ("symlink", "a"), "c": ("symlink", "a/x")}
ESCAPES = [(CHAIN, "links outside"), (LATER, "made after it"), (THROUGH, "links outside"), (LOOP, "loop")]


@pytest.mark.parametrize("fmt", [".tar.bz2", ".conda"])
@pytest.mark.parametrize("links,match", ESCAPES, ids=["chain", "later", "through", "loop"])
def test_symlink_chains_escaping_the_prefix_are_refused(storage, blob_store, fmt, links, match):
    _refused(storage, blob_store, conda_with_links(fmt, links), f"noarch/hostile-1.0-0{fmt}", match=match)


@pytest.mark.parametrize("links,match", ESCAPES[:3], ids=["chain", "later", "through"])
def test_symlink_chains_in_sdists_are_refused(storage, blob_store, links, match):
    _refused(storage, blob_store, sdist_with_members(links), "hostile-1.0.tar.gz", dtype="pypi", match=match)


@pytest.mark.parametrize("fmt", [".tar.bz2", ".conda"])
def test_links_that_stay_inside_are_accepted(storage, fmt):
    links = {"lib/libz.so.1": b"elf", "lib/libz.so": ("symlink", "libz.so.1"), "bin/z": ("symlink", "../lib/libz.so"),
             "lib/dir": ("symlink", "sub"), "lib/sub/f": b"x", "lib/dir/g": b"y", "share/here": ("symlink", "."),
             "share/here/here/deep": ("symlink", "../lib/dir/f"), "lib/h": ("hardlink", "lib/dir/f")}
    stage(storage, "d", conda_with_links(fmt, links))
    meta = storage.finalize("d", "alice", "hostile", "1.0", f"noarch/hostile-1.0-0{fmt}", "conda")
    assert meta["record"]["version"] == "1.0"


def test_wheel_symlink_modes_are_plain_members(storage, pkgdir):
    """Zip members are never links to pip (it writes their bytes), so a wheel is only name-checked."""
    path = make_wheel(pkgdir, "hostile", "1.0")
    buf = io.BytesIO(path.read_bytes())
    with zipfile.ZipFile(buf, "a") as zf:
        info = zipfile.ZipInfo("hostile/link")
        info.external_attr = (0o120777 << 16)
        zf.writestr(info, "../../..")
    stage(storage, "d", buf.getvalue())
    assert storage.finalize("d", "alice", "hostile", "1.0", path.name, "pypi")["filename"] == path.name
