"""finalize() on real wheels and sdists, and on plain files, on local disk and on S3."""
from __future__ import annotations

import io
import tarfile

import pytest

from services.kernel import signing
from services.kernel.errors import InvalidPackage
from tests.helpers.packages import DELETE, make_sdist, make_wheel

from .conftest import sha256, stage


def _read(blob_store, key) -> bytes:
    with blob_store.open(key) as f:
        return f.read()


def _refused(storage, blob_store, dist_id, data, *args, match=None):
    stage(storage, dist_id, data)
    with pytest.raises(InvalidPackage, match=match):
        storage.finalize(dist_id, "alice", *args)
    assert list(blob_store.keys("")) == [], "a refused upload must leave nothing behind"


def test_wheel_metadata_and_core_metadata_blob(storage, blob_store, pkgdir):
    path = make_wheel(pkgdir, "My-Pkg", "1.0.post1", requires_python=">=3.9", requires=["requests>=2"])
    data = stage(storage, "w1", path)
    # URL names compare canonicalized, versions normalized
    meta = storage.finalize("w1", "alice", "my.pkg", "1.0-post1", path.name, "pypi", sha256(data))
    assert meta["filename"] == path.name and meta["subdir"] is None and meta["record"] is None
    assert meta["size"] == len(data) and meta["blob_key"] == signing.blob_key_for(sha256(data))
    md = meta["metadata"]
    assert (md["name"], md["version"], md["summary"], md["requires_python"]) == \
        ("My-Pkg", "1.0.post1", "A test package", ">=3.9")
    core = _read(blob_store, md["core_metadata_key"])
    assert core.startswith(b"Metadata-Version: 2.1\nName: My-Pkg\n")
    assert sha256(core) == md["core_metadata_sha256"] and md["core_metadata_key"] == signing.blob_key_for(
        md["core_metadata_sha256"])
    assert _read(blob_store, meta["blob_key"]) == data
    assert sorted(blob_store.keys("blobs/")) == sorted([meta["blob_key"], md["core_metadata_key"]])


@pytest.mark.parametrize("fmt", [".tar.gz", ".zip"])
def test_sdist_metadata(storage, blob_store, pkgdir, fmt):
    path = make_sdist(pkgdir, "my_pkg", "2.0.0", fmt=fmt, summary="Source", requires_python=">=3.10")
    data = stage(storage, "s1", path)
    meta = storage.finalize("s1", "alice", "My-Pkg", "2.0", path.name, "pypi")
    assert meta["metadata"] == {"metadata_version": "2.1", "name": "my_pkg", "version": "2.0.0",
                                "summary": "Source", "description": "my_pkg 2.0.0 long description\n",
                                "description_content_type": None, "license": None, "license_expression": None,
                                "classifiers": None, "home_page": None, "project_urls": None,
                                "requires_dist": None, "requires_python": ">=3.10"}
    assert meta["record"] is None and meta["filename"] == path.name
    assert list(blob_store.keys("blobs/")) == [meta["blob_key"]]
    assert _read(blob_store, meta["blob_key"]) == data


@pytest.mark.parametrize("maker", [make_wheel, make_sdist])
def test_url_package_and_version_must_match(storage, blob_store, pkgdir, maker):
    path = maker(pkgdir, "foo", "1.0")
    _refused(storage, blob_store, "a", path, "bar", "1.0", path.name, "pypi", match="not for the package 'bar'")
    _refused(storage, blob_store, "b", path, "foo", "1.1", path.name, "pypi", match="not the version '1.1'")


def test_wheel_metadata_must_agree_with_file_name(storage, blob_store, pkgdir):
    path = make_wheel(pkgdir, "foo", "1.0", metadata_overrides={"Name": "evil"})
    _refused(storage, blob_store, "a", path, "foo", "1.0", path.name, "pypi", match="METADATA says Name 'evil'")
    path = make_wheel(pkgdir, "foo", "1.0", metadata_overrides={"Version": "6.6"})
    _refused(storage, blob_store, "b", path, "foo", "1.0", path.name, "pypi", match="METADATA says Version '6.6'")
    path = make_wheel(pkgdir, "foo", "1.0", metadata_overrides={"Version": DELETE})
    _refused(storage, blob_store, "c", path, "foo", "1.0", path.name, "pypi", match="lacks a Version")


def test_sdist_pkg_info_must_agree_and_exist(storage, blob_store, pkgdir):
    path = make_sdist(pkgdir, "foo", "1.0", pkg_info_overrides={"Version": "1.0.1"})
    _refused(storage, blob_store, "a", path, "foo", "1.0", path.name, "pypi", match="PKG-INFO says Version")
    # an sdist without PKG-INFO
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        ti = tarfile.TarInfo("foo-1.0/setup.py")
        ti.size = len(b"setup()")
        tf.addfile(ti, io.BytesIO(b"setup()"))
    _refused(storage, blob_store, "b", buf.getvalue(), "foo", "1.0", "foo-1.0.tar.gz", "pypi",
             match="exactly one <name>-<version>/PKG-INFO")


@pytest.mark.parametrize("member", ["../evil.py", "/etc/evil", "foo/../../evil", "C:/evil"])
def test_wheel_members_must_stay_inside(storage, blob_store, pkgdir, member):
    path = make_wheel(pkgdir, "foo", "1.0", extra_members={member: b"boom"})
    _refused(storage, blob_store, "a", path, "foo", "1.0", path.name, "pypi", match="absolute or parent-relative")


@pytest.mark.parametrize("fmt", [".tar.gz", ".zip"])
def test_sdist_members_must_stay_inside(storage, blob_store, pkgdir, fmt):
    path = make_sdist(pkgdir, "foo", "1.0", fmt=fmt, extra_members={"foo-1.0/../../evil": b"boom"})
    _refused(storage, blob_store, "a", path, "foo", "1.0", path.name, "pypi", match="absolute or parent-relative")


def test_sdist_symlink_out_of_tree_is_refused(storage, blob_store):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        pkg_info = b"Metadata-Version: 2.1\nName: foo\nVersion: 1.0\n"
        ti = tarfile.TarInfo("foo-1.0/PKG-INFO")
        ti.size = len(pkg_info)
        tf.addfile(ti, io.BytesIO(pkg_info))
        link = tarfile.TarInfo("foo-1.0/passwd")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tf.addfile(link)
    _refused(storage, blob_store, "a", buf.getvalue(), "foo", "1.0", "foo-1.0.tar.gz", "pypi",
             match="'/etc/passwd' has an absolute")


@pytest.mark.parametrize("maker", [make_wheel, make_sdist])
def test_truncated_distribution(storage, blob_store, pkgdir, maker):
    path = maker(pkgdir, "foo", "1.0", extra_members={"foo/data.bin": bytes(range(256)) * 200})
    data = path.read_bytes()
    _refused(storage, blob_store, "a", data[: len(data) * 2 // 3], "foo", "1.0", path.name, "pypi",
             match="corrupt or truncated")


@pytest.mark.parametrize("basename,match", [("foo-1.0.egg", "neither a wheel"), ("foo-1.0-py3.whl", "invalid"),
                                            ("linux-64/foo-1.0.tar.gz", "file name alone")])
def test_unsupported_pypi_file_names(storage, blob_store, pkgdir, basename, match):
    path = make_sdist(pkgdir, "foo", "1.0")
    _refused(storage, blob_store, "a", path, "foo", "1.0", basename, "pypi", match=match)


def test_plain_file_is_stored_uninspected(storage, blob_store):
    data = stage(storage, "f1", b"just some bytes\n")
    meta = storage.finalize("f1", "alice", "docs", "1.0", "notes-1.0.txt", "file")
    assert meta == {"blob_key": signing.blob_key_for(sha256(data)), "sha256": sha256(data),
                    "md5": meta["md5"], "size": len(data), "filename": "notes-1.0.txt", "subdir": None,
                    "record": None, "metadata": {}}
    assert _read(blob_store, meta["blob_key"]) == data and list(blob_store.keys("staging/")) == ["staging/f1"]


@pytest.mark.parametrize("cut", [4, 8, 40])
def test_sdist_cut_after_its_tar_ends_is_truncated(storage, blob_store, pkgdir, cut):
    """The tar inside is whole, the gzip stream is not (its trailer or the tar's zero padding is cut): still
    refused, since the sdist is read to gzip's end-of-stream marker."""
    data = make_sdist(pkgdir, "foo", "1.0").read_bytes()
    _refused(storage, blob_store, "a", data[:-cut], "foo", "1.0", "foo-1.0.tar.gz", "pypi",
             match="corrupt or truncated")
