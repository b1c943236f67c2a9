"""`wharf gc` and what `wharf verify` says about garbage, in both run modes (embedded: local blobs and SQLite;
distributed: moto S3 and PostgreSQL): a removed file's blob is garbage awaiting collection, not a problem; gc
keeps it through the grace period and reclaims it after, leaving verify clean; a blob two records share, the
bytes of an open stage and the current indexes survive; an expired stage is refused at commit and collected;
a deleted private package's bytes are reclaimed; one user cannot stage without bound."""
from __future__ import annotations

import hashlib
import json
import uuid

import pytest
import requests
from sqlalchemy import text

from services.kernel.adapters.db import make_engine
from services.kernel.settings import Settings
from services.kernel.signing import blob_key_for, staging_key_for
from services.kernel.adapters.blob_store import make_blob_store
from tests.helpers.packages import make_conda_package

from .api_upload import Uploader, login
from .clients import wait_for_repodata

pytestmark = pytest.mark.system
MAX_STAGED = 3


@pytest.fixture(scope="module")
def wharf_extra_env() -> dict:
    # replaced shards go at once, so superseded index blobs are garbage as soon as the gc grace allows
    return {"WHARF_MAX_STAGED_UPLOADS": str(MAX_STAGED), "WHARF_SHARD_GRACE": "0"}


@pytest.fixture(scope="module")
def settings(wharf):
    return Settings.from_env(dict(wharf.env))


@pytest.fixture(scope="module")
def blobs(settings):
    return make_blob_store(settings)


def verify(wharf) -> tuple[int, dict]:
    """`wharf verify --json` (it first waits until every event is applied and every index published, so a
    `gc --grace 0` right after it cannot meet an index blob stored but not yet pointed at)."""
    r = wharf.cli("verify", "--json", "--wait", "60", check=False)
    assert r.returncode in (0, 1), r.stdout + r.stderr
    return r.returncode, json.loads(r.stdout)


def gc(wharf, *args) -> dict:
    return json.loads(wharf.cli("gc", "--json", *args).stdout)


def user(wharf, name: str) -> Uploader:
    password = f"{name}-password-123"     # at least WHARF_MIN_PASSWORD_LENGTH (10) whatever the name
    wharf.cli("user", "create", name, "--password", password)
    return Uploader(wharf.base_url, login(wharf.base_url, name, password))


def conda(tmp_path, name: str, version: str = "1.0"):
    path = make_conda_package(tmp_path / uuid.uuid4().hex[:8], name, version, subdir="noarch")
    return path, blob_key_for(hashlib.sha256(path.read_bytes()).hexdigest())


def test_a_removed_file_is_garbage_until_gc_reclaims_it_after_the_grace_period(wharf, blobs, tmp_path):
    up = user(wharf, "gina")
    path, key = conda(tmp_path, "gone")
    keep, _ = conda(tmp_path, "stays")
    assert up.upload("gina", "gone", "1.0", path, subdir="noarch").status_code == 200
    assert up.upload("gina", "stays", "1.0", keep, subdir="noarch").status_code == 200
    wait_for_repodata(wharf.conda("gina") + "/noarch/repodata.json", keep.name)
    r = up.s.delete(f"{wharf.api}/dist/gina/gone/1.0/noarch/{path.name}", timeout=30)
    assert r.status_code == 200, r.text
    wait_for_repodata(wharf.conda("gina") + "/noarch/repodata.json", path.name, present=False)

    code, report = verify(wharf)
    assert code == 0, report["problems"]                  # a normal delete is not a problem
    c = report["counts"]
    assert c["garbage_blobs"] >= 1 and c["garbage_bytes"] >= path.stat().st_size
    assert c["superseded_index_blobs"] >= 1               # the indexes before the removal
    assert blobs.stat(key) == path.stat().st_size         # verify deletes nothing

    within = gc(wharf)                                    # WHARF_GC_GRACE: a day
    assert within["reclaimed"]["package_blobs"]["count"] == 0 and key not in within["deleted"]
    assert within["reclaimed"]["index_blobs"]["count"] == 0
    assert within["kept"]["package_blobs_in_grace"] >= 1 and within["kept"]["index_blobs_in_grace"] >= 1
    assert blobs.stat(key) == path.stat().st_size

    dry = gc(wharf, "--grace", "0", "--dry-run")
    assert key in dry["deleted"] and blobs.stat(key) == path.stat().st_size
    done = gc(wharf, "--grace", "0")
    assert key in done["deleted"] and blobs.stat(key) is None
    assert done["reclaimed"]["package_blobs"]["count"] >= 1
    assert done["reclaimed"]["package_blobs"]["bytes"] >= path.stat().st_size
    assert done["reclaimed"]["index_blobs"]["count"] >= 1       # superseded indexes, never the current ones

    code, report = verify(wharf)
    assert code == 0, report["problems"]                  # every live record and index still has its bytes
    assert report["counts"]["garbage_blobs"] == 0 and report["counts"]["superseded_index_blobs"] == 0
    r = requests.get(f"{wharf.api}/download/gina/stays/1.0/noarch/{keep.name}", timeout=30)
    assert r.status_code == 200 and r.content == keep.read_bytes()
    # the text report says what was reclaimed
    out = wharf.cli("gc", "--grace", "0").stdout
    assert out.startswith("gc: reclaimed 0 objects, 0 bytes") and "package blobs" in out


def test_a_blob_shared_by_two_records_survives_the_removal_of_one(wharf, blobs, tmp_path):
    path, key = conda(tmp_path, "shared")
    hank, ivy = user(wharf, "hank"), user(wharf, "ivy")
    for owner, up in (("hank", hank), ("ivy", ivy)):     # the same bytes in two namespaces: one blob
        assert up.upload(owner, "shared", "1.0", path, subdir="noarch").status_code == 200
    assert hank.s.delete(f"{wharf.api}/dist/hank/shared/1.0/noarch/{path.name}", timeout=30).status_code == 200
    assert verify(wharf)[0] == 0
    done = gc(wharf, "--grace", "0")
    assert key not in done["deleted"] and blobs.stat(key) == path.stat().st_size
    r = requests.get(f"{wharf.api}/download/ivy/shared/1.0/noarch/{path.name}", timeout=30)
    assert r.status_code == 200 and r.content == path.read_bytes()
    assert verify(wharf)[0] == 0


def stage_with_bytes(up: Uploader, owner: str, package: str, path) -> dict:
    up.ensure_package(owner, package)
    up.ensure_release(owner, package, "1.0")
    data = path.read_bytes()
    r = up.stage(owner, package, "1.0", f"noarch/{path.name}", data)
    assert r.status_code == 200, r.text
    staged = r.json()
    assert up.post_form(staged, data).status_code == 201
    return staged


def test_an_open_stage_keeps_its_bytes_through_gc(wharf, blobs, tmp_path):
    up = user(wharf, "jo")
    path, key = conda(tmp_path, "pending")
    staged = stage_with_bytes(up, "jo", "pending", path)
    done = gc(wharf, "--grace", "0")
    assert staging_key_for(staged["dist_id"]) not in done["deleted"]
    assert blobs.stat(staging_key_for(staged["dist_id"])) == path.stat().st_size
    r = up.commit("jo", "pending", "1.0", f"noarch/{path.name}", staged["dist_id"])
    assert r.status_code == 200, r.text
    assert blobs.stat(key) == path.stat().st_size


def test_an_expired_stage_is_refused_at_commit_and_collected(wharf, blobs, settings, tmp_path):
    up = user(wharf, "kay")
    path, key = conda(tmp_path, "late")
    staged = stage_with_bytes(up, "kay", "late", path)
    dist_id, staging = staged["dist_id"], staging_key_for(staged["dist_id"])
    engine = make_engine(settings.registry_db_url)
    try:        # staged longer ago than WHARF_STAGE_TTL (six hours)
        with engine.begin() as c:
            assert c.execute(text("UPDATE staged SET created_at = '2000-01-01T00:00:00.000Z' WHERE dist_id = :d"),
                             {"d": dist_id}).rowcount == 1
    finally:
        engine.dispose()
    r = up.commit("kay", "late", "1.0", f"noarch/{path.name}", dist_id)
    assert r.status_code == 410 and r.json()["code"] == "StageExpired", r.text
    assert "expired" in r.json()["error"]
    code, report = verify(wharf)
    assert code == 0 and report["counts"]["expired_stages"] == 1, report   # garbage, not a problem

    done = gc(wharf)                      # expiry needs no --grace: the TTL is the stage's grace
    assert done["reclaimed"]["expired_stages"] == {"count": 1, "bytes": path.stat().st_size}
    assert blobs.stat(staging) is None and blobs.stat(key) is None
    r = up.commit("kay", "late", "1.0", f"noarch/{path.name}", dist_id)
    assert r.status_code == 404, r.text                   # gone for good
    code, report = verify(wharf)
    assert code == 0 and report["counts"]["expired_stages"] == 0


def test_a_deleted_private_package_has_its_bytes_reclaimed(wharf, blobs, tmp_path):
    up = user(wharf, "liv")
    path, key = conda(tmp_path, "secret")
    assert up.upload("liv", "secret", "1.0", path, subdir="noarch", public=False).status_code == 200
    assert verify(wharf)[0] == 0
    assert blobs.stat(key) == path.stat().st_size
    assert up.s.delete(f"{wharf.api}/package/liv/secret", timeout=30).status_code == 201
    code, report = verify(wharf)
    assert code == 0 and report["counts"]["garbage_blobs"] >= 1, report
    done = gc(wharf, "--grace", "0")
    assert key in done["deleted"] and blobs.stat(key) is None
    assert verify(wharf)[0] == 0


def test_one_user_cannot_stage_without_bound(wharf, tmp_path):
    up = user(wharf, "max")
    up.ensure_package("max", "many")
    up.ensure_release("max", "many", "1.0")
    open_ = []
    for i in range(MAX_STAGED):
        r = up.stage("max", "many", "1.0", f"many-{i}.tar.gz", b"%d" % i, dtype="pypi")
        assert r.status_code == 200, r.text
        open_.append(r.json())
    r = up.stage("max", "many", "1.0", "many-x.tar.gz", b"x", dtype="pypi")
    assert r.status_code == 429 and r.json()["code"] == "TooManyRequests", r.text
    assert f"at most {MAX_STAGED}" in r.json()["error"] and int(r.headers["Retry-After"]) > 0
    # another user is not affected
    other = user(wharf, "nia")
    other.ensure_package("nia", "few")
    other.ensure_release("nia", "few", "1.0")
    assert other.stage("nia", "few", "1.0", "few-1.tar.gz", b"1", dtype="pypi").status_code == 200
