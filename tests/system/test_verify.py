"""`wharf verify` in both run modes: clean after real uploads, and each corruption made on purpose (a deleted
blob, altered bytes, a moved index pointer, an orphan blob) is reported with a non-zero exit code, then clean
again once repaired. Garbage (removed files' blobs, expired stages) is counted, not reported: test_gc.py."""
from __future__ import annotations

import hashlib
import io
import json
import os

import pytest
from sqlalchemy import text

from services.kernel.adapters.db import make_engine
from services.kernel.settings import Settings
from services.kernel.signing import blob_key_for
from services.kernel.adapters.blob_store import make_blob_store
from tests.helpers.packages import make_conda_package, make_wheel

from .api_upload import Uploader, login
from .clients import wait_for_repodata

pytestmark = pytest.mark.system


def verify(wharf, *extra) -> tuple[int, dict]:
    r = wharf.cli("verify", "--json", "--wait", "60", *extra, check=False)
    assert r.returncode in (0, 1), r.stdout + r.stderr
    report = json.loads(r.stdout)
    assert report["ok"] == (r.returncode == 0)
    return r.returncode, report


def kinds(report) -> list[str]:
    return sorted(p["kind"] for p in report["problems"])


@pytest.fixture(scope="module")
def settings(wharf):
    return Settings.from_env(dict(wharf.env))


@pytest.fixture(scope="module")
def blobs(settings):
    return make_blob_store(settings)


@pytest.fixture(scope="module")
def uploaded(wharf, tmp_path_factory):
    wharf.cli("user", "create", "vera", "--password", "vera-pw-123")
    up = Uploader(wharf.base_url, login(wharf.base_url, "vera", "vera-pw-123"))
    d = tmp_path_factory.mktemp("verify-pkgs")
    conda = make_conda_package(d, "verifyme", "1.0", subdir="noarch", fmt=".conda")
    bz2 = make_conda_package(d, "verifyme", "1.1", subdir="linux-64", fmt=".tar.bz2", noarch=None)
    whl = make_wheel(d, "verifywheel", "0.1")
    assert up.upload("vera", "verifyme", "1.0", conda, subdir="noarch").status_code == 200
    assert up.upload("vera", "verifyme", "1.1", bz2, subdir="linux-64").status_code == 200
    assert up.upload("vera", "verifywheel", "0.1", whl, dtype="pypi").status_code == 200
    wait_for_repodata(wharf.conda("vera") + "/noarch/repodata.json", conda.name)
    wait_for_repodata(wharf.conda("vera") + "/linux-64/repodata.json", bz2.name)
    return {"conda": conda, "bz2": bz2, "wheel": whl}


def test_clean_after_uploads(wharf, uploaded):
    code, report = verify(wharf)
    assert code == 0, report["problems"]
    c = report["counts"]
    assert c["files"] == 3 and c["package_blobs"] == 4        # 3 packages + the wheel's core metadata
    assert c["pointers"] == c["replayed_pointers"] > 0


def test_missing_blob_is_reported(wharf, uploaded, blobs):
    key = blob_key_for(hashlib.sha256(uploaded["conda"].read_bytes()).hexdigest())
    blobs.delete(key)
    try:
        code, report = verify(wharf)
        assert code == 1
        assert [p for p in report["problems"] if p["kind"] == "missing_blob" and p["key"] == key
                and p["file"].endswith(uploaded["conda"].name)]
    finally:
        blobs.put(key, io.BytesIO(uploaded["conda"].read_bytes()))
    assert verify(wharf)[0] == 0


def test_altered_bytes_are_reported(wharf, uploaded, blobs):
    data = uploaded["bz2"].read_bytes()
    key = blob_key_for(hashlib.sha256(data).hexdigest())
    flipped = bytes([data[0] ^ 0xFF]) + data[1:]
    try:
        blobs.put(key, io.BytesIO(flipped))
        code, report = verify(wharf)
        assert code == 1 and kinds(report) == ["sha256_mismatch"]
        # --quick reads sizes only: same size, so it cannot see this one
        assert verify(wharf, "--quick")[0] == 0
        blobs.put(key, io.BytesIO(data[:-10]))
        code, report = verify(wharf, "--quick")
        assert code == 1 and kinds(report) == ["size_mismatch"]
    finally:
        blobs.put(key, io.BytesIO(data))
    assert verify(wharf)[0] == 0


def test_moved_index_pointer_is_reported(wharf, uploaded, settings):
    engine = make_engine(settings.indexer_db_url)
    where = "owner='vera' AND label='main' AND subdir='noarch' AND audience='public' AND filename='repodata.json'"
    try:
        with engine.begin() as c:
            row = c.execute(text(f"SELECT key, sha256, size FROM indexer_published WHERE {where}")).one()
            # point the channel at another real index blob (the linux-64 one): it exists, but it is not what
            # the log says this channel holds
            other = c.execute(text("SELECT key, sha256, size FROM indexer_published WHERE owner='vera' AND "
                                   "subdir='linux-64' AND audience='public' AND filename='repodata.json'")).one()
            c.execute(text(f"UPDATE indexer_published SET key=:k, sha256=:s, size=:z WHERE {where}"),
                      {"k": other.key, "s": other.sha256, "z": other.size})
        code, report = verify(wharf)
        assert code == 1
        assert kinds(report) == ["index_mismatch"]
        assert report["problems"][0]["pointer"] == "conda:vera/main/noarch/public/repodata.json"
        assert report["problems"][0]["expected"] == row.sha256
        # a pointer whose blob is gone is also a missing blob
        with engine.begin() as c:
            c.execute(text(f"UPDATE indexer_published SET key=:k, sha256=:s WHERE {where}"),
                      {"k": "indexes/sha256/00/" + "0" * 64, "s": "0" * 64})
        code, report = verify(wharf)
        assert code == 1 and kinds(report) == ["index_mismatch", "missing_blob"]
    finally:
        with engine.begin() as c:
            c.execute(text(f"UPDATE indexer_published SET key=:k, sha256=:s, size=:z WHERE {where}"),
                      {"k": row.key, "s": row.sha256, "z": row.size})
        engine.dispose()
    assert verify(wharf)[0] == 0


def test_orphan_blob_is_reported_not_deleted(wharf, uploaded, blobs):
    """A blob nothing names and nothing released (no removal, refused commit or expired stage) is an orphan
    once older than the grace period; younger, it is taken for an upload in flight."""
    data = os.urandom(1000)
    key = blob_key_for(hashlib.sha256(data).hexdigest())
    blobs.put(key, io.BytesIO(data))
    try:
        code, report = verify(wharf)
        assert code == 0 and report["counts"]["uploads_in_flight"] == 1       # just written
        code, report = verify(wharf, "--grace", "0")
        assert code == 1 and kinds(report) == ["orphan_blob"] and report["problems"][0]["key"] == key
        assert blobs.stat(key) == 1000          # reported, never deleted
        r = wharf.cli("verify", "--wait", "60", "--grace", "0", check=False)   # the readable report names it too
        assert r.returncode == 1 and f"PROBLEM orphan_blob: key={key}" in r.stdout
        # gc keeps what nothing explains (it may be a lost record's bytes) unless told otherwise
        kept = json.loads(wharf.cli("gc", "--json", "--grace", "0").stdout)
        assert kept["kept"]["orphans"] == 1 and key not in kept["deleted"] and blobs.stat(key) == 1000
        gone = json.loads(wharf.cli("gc", "--json", "--grace", "0", "--orphans").stdout)
        assert key in gone["deleted"] and blobs.stat(key) is None
    finally:
        blobs.delete(key)
    assert verify(wharf, "--grace", "0")[0] == 0


def test_packed_shards_are_checked_by_their_byte_range(wharf, uploaded, settings, tmp_path):
    """After `wharf replay` the many shards of a subdir live in pack objects: verify reads each shard's range
    (clean), and a pointer moved within its pack is a sha256 mismatch."""
    from services.indexer.service_layer.shard_publishing import PACK_MIN
    up = Uploader(wharf.base_url, login(wharf.base_url, "vera", "vera-pw-123"))
    names = [f"packed{i:02d}" for i in range(PACK_MIN + 1)]
    for name in names:
        path = make_conda_package(tmp_path / name, name, "1.0", subdir="linux-64", noarch=None)
        assert up.upload("vera", name, "1.0", path, subdir="linux-64").status_code == 200
    wait_for_repodata(wharf.conda("vera") + "/linux-64/repodata.json", f"{names[-1]}-1.0-0.conda")
    if wharf.mode == "embedded":
        wharf.stop("serve")
    wharf.cli("replay")
    wharf.restart()
    engine = make_engine(settings.indexer_db_url)
    with engine.connect() as c:
        packed = c.execute(text("SELECT count(*) FROM indexer_shards WHERE owner='vera' AND "
                                "pack_offset IS NOT NULL")).scalar_one()
        # the first shard of its pack: moved by one byte, its range still lies inside the pack (other shards
        # follow), so what verify reads is the right size with the wrong bytes
        first = c.execute(text("SELECT name FROM indexer_shards WHERE owner='vera' AND subdir='linux-64' AND "
                               "audience='public' AND pack_offset = 0 ORDER BY name LIMIT 1")).scalar_one()
    where = f"owner='vera' AND subdir='linux-64' AND audience='public' AND name='{first}'"
    try:
        with engine.connect() as c:
            row = c.execute(text(f"SELECT key, pack_offset FROM indexer_shards WHERE {where}")).one()
        assert packed >= len(names) and row.pack_offset == 0
        code, report = verify(wharf)
        assert code == 0, report["problems"]
        with engine.begin() as c:
            c.execute(text(f"UPDATE indexer_shards SET pack_offset = pack_offset + 1 WHERE {where}"))
        code, report = verify(wharf)
        assert code == 1 and "sha256_mismatch" in kinds(report)
        assert [p["pointer"] for p in report["problems"]] == [f"shard:vera/main/linux-64/public/{first}"]
    finally:
        with engine.begin() as c:
            c.execute(text(f"UPDATE indexer_shards SET pack_offset = :o WHERE {where}"), {"o": row.pack_offset})
        engine.dispose()
    assert verify(wharf)[0] == 0
