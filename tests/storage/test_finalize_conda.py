"""finalize() on real conda packages (.conda and .tar.bz2), on local disk and on S3."""
from __future__ import annotations

import hashlib
import io
import json
import struct
import zipfile

import pytest

from services.kernel import signing
from services.kernel.errors import ChecksumMismatch, InvalidName, InvalidPackage, NotFound
from tests.helpers.packages import DELETE, make_conda_package

from .conftest import sha256, stage

FORMATS = [".conda", ".tar.bz2"]


def _read(blob_store, key) -> bytes:
    with blob_store.open(key) as f:
        return f.read()


@pytest.mark.parametrize("fmt", FORMATS)
def test_conda_package_is_inspected_and_stored(storage, blob_store, pkgdir, fmt):
    path = make_conda_package(pkgdir, "foo", "1.2.3", build="py_0", build_number=0, subdir="linux-64", fmt=fmt,
                              depends=["python >=3.8", "numpy"], constrains=["bar <2"], summary="Foo it",
                              info_files={"info/run_exports.json": {"weak": ["foo >=1.2"]},
                                          "info/has_prefix": "placeholder text share/x\n"})
    data = stage(storage, "d1", path)
    meta = storage.finalize("d1", "alice", "foo", "1.2.3", f"linux-64/{path.name}", "conda", sha256(data))

    assert meta["sha256"] == sha256(data)
    assert meta["md5"] == hashlib.md5(data).hexdigest()
    assert meta["size"] == len(data)
    assert meta["blob_key"] == signing.blob_key_for(meta["sha256"])
    assert meta["filename"] == path.name and meta["subdir"] == "linux-64"
    record = meta["record"]
    assert record["name"] == "foo" and record["version"] == "1.2.3" and record["build"] == "py_0"
    assert record["build_number"] == 0 and record["subdir"] == "linux-64"
    assert record["depends"] == ["python >=3.8", "numpy"] and record["constrains"] == ["bar <2"]
    assert record["license"] == "MIT" and isinstance(record["timestamp"], int)
    assert (record["md5"], record["sha256"], record["size"]) == (meta["md5"], meta["sha256"], meta["size"])
    assert "arch" not in record and "platform" not in record and "noarch" not in record
    assert meta["metadata"]["about"]["summary"] == "Foo it"
    assert meta["metadata"]["about"]["home"] == "https://example.org/foo"
    assert meta["metadata"]["run_exports"] == {"weak": ["foo >=1.2"]}
    assert "run_exports" not in record
    json.dumps(meta)  # crosses RPC

    assert _read(blob_store, meta["blob_key"]) == data
    assert list(blob_store.keys("staging/")) == ["staging/d1"]    # kept until the upload is committed
    storage.drop_stage("d1")
    assert list(blob_store.keys("staging/")) == []


@pytest.mark.parametrize("fmt", FORMATS)
def test_noarch_record_keeps_noarch_and_drops_platform_keys(storage, pkgdir, fmt):
    path = make_conda_package(pkgdir, "bar", "0.1", subdir="noarch", fmt=fmt, noarch="python",
                              index_overrides={"platform": "linux", "arch": "x86_64", "mtime": 1, "ucs": 4,
                                               "binstar": {"x": 1}, "track_features": "feat"})
    stage(storage, "d2", path)
    meta = storage.finalize("d2", "alice", "bar", "0.1", f"noarch/{path.name}", "conda")
    record = meta["record"]
    assert record["noarch"] == "python" and record["subdir"] == "noarch" and record["track_features"] == "feat"
    for key in ("platform", "arch", "mtime", "ucs", "binstar"):
        assert key not in record
    assert "run_exports" not in meta["metadata"]


def test_same_bytes_twice_share_one_blob(storage, blob_store, pkgdir):
    path = make_conda_package(pkgdir, "foo", "1.0")
    stage(storage, "first", path)
    a = storage.finalize("first", "alice", "foo", "1.0", f"noarch/{path.name}", "conda")
    stage(storage, "second", path)
    b = storage.finalize("second", "bob", "foo", "1.0", f"noarch/{path.name}", "conda")
    assert a["blob_key"] == b["blob_key"]
    storage.drop_stage("first")
    storage.drop_stage("second")
    # one blob; the second upload re-used it and marked it as used (so a `wharf gc` running now keeps it)
    assert list(blob_store.keys("")) == [a["blob_key"], f"gc/used/{a['blob_key']}"]


def _refused(storage, blob_store, dist_id, data, *args, exc=InvalidPackage, match=None):
    stage(storage, dist_id, data)
    with pytest.raises(exc, match=match):
        storage.finalize(dist_id, "alice", *args)
    assert list(blob_store.keys("")) == [], "a refused upload must leave nothing behind"


@pytest.mark.parametrize("fmt", FORMATS)
def test_name_in_url_must_match(storage, blob_store, pkgdir, fmt):
    path = make_conda_package(pkgdir, "foo", "1.0", fmt=fmt)
    _refused(storage, blob_store, "d", path, "other", "1.0", f"noarch/{path.name}", "conda",
             match="package 'other' in the URL")


@pytest.mark.parametrize("fmt", FORMATS)
def test_version_in_url_must_match(storage, blob_store, pkgdir, fmt):
    path = make_conda_package(pkgdir, "foo", "1.0", fmt=fmt)
    _refused(storage, blob_store, "d", path, "foo", "2.0", f"noarch/{path.name}", "conda",
             match="version '2.0' in the URL")


@pytest.mark.parametrize("fmt", FORMATS)
def test_subdir_of_basename_must_match_index(storage, blob_store, pkgdir, fmt):
    path = make_conda_package(pkgdir, "foo", "1.0", fmt=fmt, subdir="noarch")
    _refused(storage, blob_store, "d", path, "foo", "1.0", f"linux-64/{path.name}", "conda",
             match="subdir 'noarch' but the file was uploaded to 'linux-64'")


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("field,value", [("name", "bar"), ("version", "9.9"), ("build", "h123_1")])
def test_index_json_must_agree_with_file_name(storage, blob_store, pkgdir, fmt, field, value):
    path = make_conda_package(pkgdir, "foo", "1.0", fmt=fmt, index_overrides={field: value})
    assert path.name == f"foo-1.0-0{fmt}"
    _refused(storage, blob_store, "d", path, "foo", "1.0", f"noarch/{path.name}", "conda",
             match=f"index.json says {field} '{value}'")


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("index,match", [(None, "index.json is missing"), (b"{not json", "not valid JSON"),
                                         (b"[1, 2]", "JSON object"),
                                         # Python reads these, no client does: one would break repodata.json
                                         (b'{"name": "foo", "version": "1.0", "build": "0", "build_number": 0, '
                                          b'"subdir": "noarch", "size_hint": NaN}', "not valid JSON"),
                                         (b'{"name": "foo", "version": "1.0", "build": "0", "build_number": 0, '
                                          b'"subdir": "noarch", "x": [-Infinity]}', "not valid JSON")])
def test_index_json_missing_or_invalid(storage, blob_store, pkgdir, fmt, index, match):
    path = make_conda_package(pkgdir, "foo", "1.0", fmt=fmt, info_files={"info/index.json": index})
    _refused(storage, blob_store, "d", path, "foo", "1.0", f"noarch/{path.name}", "conda", match=match)


@pytest.mark.parametrize("override,match", [({"build_number": DELETE}, "build_number"),
                                            ({"build_number": "1"}, "build_number"),
                                            ({"depends": "python"}, "depends"),
                                            ({"version": 1.0}, "version")])
def test_index_json_with_bad_fields(storage, blob_store, pkgdir, override, match):
    path = make_conda_package(pkgdir, "foo", "1.0", index_overrides=override)
    _refused(storage, blob_store, "d", path, "foo", "1.0", f"noarch/{path.name}", "conda", match=match)


@pytest.mark.parametrize("fmt", FORMATS)
def test_truncated_package(storage, blob_store, pkgdir, fmt):
    data = make_conda_package(pkgdir, "foo", "1.0", fmt=fmt, files={"share/big.bin": bytes(range(256)) * 400}
                              ).read_bytes()
    _refused(storage, blob_store, "d", data[: len(data) // 2], "foo", "1.0", f"noarch/foo-1.0-0{fmt}", "conda",
             match="corrupt or truncated")


@pytest.mark.parametrize("fmt", FORMATS)
def test_garbage_bytes(storage, blob_store, fmt):
    _refused(storage, blob_store, "d", b"this is not a package at all" * 10, "foo", "1.0",
             f"noarch/foo-1.0-0{fmt}", "conda", match="corrupt or truncated")


def test_flipped_byte_in_conda_payload_is_detected(storage, blob_store, pkgdir):
    data = bytearray(make_conda_package(pkgdir, "foo", "1.0", files={"share/a.txt": "x" * 5000}).read_bytes())
    info = zipfile.ZipFile(io.BytesIO(bytes(data))).getinfo("pkg-foo-1.0-0.tar.zst")
    name_len, extra_len = struct.unpack("<HH", data[info.header_offset + 26: info.header_offset + 30])
    start = info.header_offset + 30 + name_len + extra_len      # first byte of the pkg member's data
    data[start + info.compress_size // 2] ^= 0xFF
    _refused(storage, blob_store, "d", bytes(data), "foo", "1.0", "noarch/foo-1.0-0.conda", "conda",
             match="corrupt or truncated")


def test_conda_renamed_file_is_refused(storage, blob_store, pkgdir):
    # a .conda renamed on disk: its inner components no longer carry the file's name
    path = make_conda_package(pkgdir, "foo", "1.0", filename="foo-1.1-0.conda")
    _refused(storage, blob_store, "d", path, "foo", "1.1", "noarch/foo-1.1-0.conda", "conda")


def test_basename_needs_subdir_and_conda_name(storage, blob_store, pkgdir):
    path = make_conda_package(pkgdir, "foo", "1.0")
    _refused(storage, blob_store, "a", path, "foo", "1.0", path.name, "conda", match="<subdir>/<file>")
    _refused(storage, blob_store, "b", path, "foo", "1.0", "noarch/foo.zip", "conda",
             match="not a conda package file name")
    _refused(storage, blob_store, "c", path, "foo", "1.0", "../etc/passwd", "conda", exc=InvalidName)


def test_checksum_mismatch(storage, blob_store, pkgdir):
    path = make_conda_package(pkgdir, "foo", "1.0")
    _refused(storage, blob_store, "d", path, "foo", "1.0", f"noarch/{path.name}", "conda", "0" * 64,
             exc=ChecksumMismatch)


def test_checksum_is_case_insensitive(storage, pkgdir):
    path = make_conda_package(pkgdir, "foo", "1.0")
    data = stage(storage, "d", path)
    meta = storage.finalize("d", "alice", "foo", "1.0", f"noarch/{path.name}", "conda", sha256(data).upper())
    assert meta["sha256"] == sha256(data)


def test_nothing_staged(storage):
    with pytest.raises(NotFound, match="nothing was uploaded for this stage") as info:
        storage.finalize("never-staged", "alice", "foo", "1.0", "noarch/foo-1.0-0.conda", "conda")
    assert type(info.value) is NotFound


def test_finalize_again_until_the_stage_is_dropped(storage, blob_store, pkgdir):
    """A commit retried after a crash between finalize and the registry's commit finalizes the same bytes
    again: the same answer, one blob. Once the upload is committed the stage is dropped; then
    there is nothing to finalize, and dropping again changes nothing."""
    path = make_conda_package(pkgdir, "foo", "1.0")
    stage(storage, "d", path)
    first = storage.finalize("d", "alice", "foo", "1.0", f"noarch/{path.name}", "conda")
    assert storage.finalize("d", "alice", "foo", "1.0", f"noarch/{path.name}", "conda") == first
    storage.drop_stage("d")
    storage.drop_stage("d")
    with pytest.raises(NotFound):
        storage.finalize("d", "alice", "foo", "1.0", f"noarch/{path.name}", "conda")
    assert list(blob_store.keys("blobs/")) == [first["blob_key"]] and list(blob_store.keys("staging/")) == []
