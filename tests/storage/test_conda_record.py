"""Repodata records (issue 15 item 5): a field of a type conda or rattler cannot read is refused at upload
(one such record made the whole repodata.json of its channel unreadable to rattler, pixi and mamba), unknown keys
are dropped, and every record that is accepted is read by rattler's own repodata reader."""
from __future__ import annotations

import json

import pytest
from rattler import Channel, RepoData

from services.kernel.errors import InvalidPackage
from tests.helpers.packages import make_conda_package

from .conftest import stage

FORMATS = [".conda", ".tar.bz2"]
BAD = [("timestamp", "yesterday"), ("timestamp", 1.5e12), ("timestamp", 2 ** 63), ("noarch", 123),
       ("noarch", "foo"), ("license", {"name": "MIT"}), ("license_family", 1), ("track_features", 1),
       ("features", ["x"]), ("build_number", 2 ** 64), ("constrains", [1]), ("extra_depends", []),
       ("purls", ["not-a-purl"]), ("python_site_packages_path", 1), ("run_exports", {"weak": "x"}),
       ("subdir", 5), ("depends", "python")]


def _refused(storage, blob_store, path, basename, match):
    stage(storage, "d", path)
    with pytest.raises(InvalidPackage, match=match):
        storage.finalize("d", "alice", "foo", basename.split("-")[1], basename, "conda")
    assert list(blob_store.keys("")) == [], "a refused upload must leave nothing behind"


def _rattler_reads(record: dict, tmp_path) -> None:
    """The record as the indexer publishes it, read by rattler (what pixi and mamba use)."""
    path = tmp_path / "repodata.json"
    path.write_text(json.dumps({"info": {"subdir": record["subdir"]},
                                "packages.conda": {"foo-1.0-0.conda": dict(record, indexed_timestamp=1)}}))
    [read] = RepoData.from_path(path).into_repo_data(Channel("test"))
    assert read.name.normalized == record["name"]


@pytest.mark.parametrize("field,value", BAD, ids=[f"{f}={json.dumps(v)}" for f, v in BAD])
def test_field_of_the_wrong_type_is_refused(storage, blob_store, pkgdir, field, value):
    path = make_conda_package(pkgdir, "foo", "1.0", index_overrides={field: value})
    _refused(storage, blob_store, path, f"noarch/{path.name}", match=f"'{field}' must be")


@pytest.mark.parametrize("fmt", FORMATS)
def test_version_rattler_cannot_parse_is_refused(storage, blob_store, pkgdir, fmt):
    """``1.0+`` passes the URL's name rules but not conda's version grammar: rattler refuses the whole index."""
    path = make_conda_package(pkgdir, "foo", "1.0+", fmt=fmt)
    _refused(storage, blob_store, path, f"noarch/{path.name}", match="'version' must be a conda version")


@pytest.mark.parametrize("fmt", FORMATS)
def test_unknown_keys_are_dropped_and_the_record_reads_in_rattler(storage, pkgdir, tmp_path, fmt):
    odd = {"binstar": {"channel": "x"}, "app_entry": 1, "url": "https://elsewhere.example/foo.conda",
           "channel": "elsewhere", "fn": "other.conda", "legacy_bz2_md5": "zz", "preferred_env": 1,
           "package_type": "nonsense", "date": 5, "arch": 64, "platform": ["linux"], "mtime": "x",
           "noarch": "python", "track_features": "feat1 feat2", "purls": ["pkg:pypi/foo@1.0"],
           "extra_depends": {"cli": ["click >=8"]}, "python_site_packages_path": "lib/python3.12/site-packages",
           "license_family": "MIT", "features": "", "timestamp": None, "md5": "forged", "size": -1}
    path = make_conda_package(pkgdir, "foo", "1.0", fmt=fmt, subdir="noarch", index_overrides=odd,
                              info_files={"info/run_exports.json": {"weak": ["foo >=1.0"], "extra": 3}})
    data = stage(storage, "d", path)
    meta = storage.finalize("d", "alice", "foo", "1.0", f"noarch/{path.name}", "conda")
    record = meta["record"]
    assert set(record) == {"name", "version", "build", "build_number", "depends", "license", "license_family",
                           "subdir", "noarch", "track_features", "purls", "extra_depends", "features",
                           "python_site_packages_path", "md5", "sha256", "size"}
    assert record["size"] == len(data) and record["md5"] == meta["md5"]
    _rattler_reads(record, tmp_path)


def test_run_exports_json_of_the_wrong_shape_is_refused(storage, blob_store, pkgdir):
    """run_exports.json reaches the CEP-16 shards, which rattler reads whole too."""
    path = make_conda_package(pkgdir, "foo", "1.0", info_files={"info/run_exports.json": {"weak": "foo"}})
    _refused(storage, blob_store, path, f"noarch/{path.name}", match="run_exports.json")


def test_noarch_false_is_no_noarch(storage, pkgdir, tmp_path):
    path = make_conda_package(pkgdir, "foo", "1.0", subdir="linux-64", noarch=None,
                              index_overrides={"noarch": False})
    stage(storage, "d", path)
    record = storage.finalize("d", "alice", "foo", "1.0", f"linux-64/{path.name}", "conda")["record"]
    assert "noarch" not in record and record["subdir"] == "linux-64"
    _rattler_reads(record, tmp_path)
