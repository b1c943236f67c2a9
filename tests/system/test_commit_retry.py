"""A retried commit (both modes): a client whose commit's answer was lost (the gateway crashed, the connection
broke) sends the same commit again. After a commit that succeeded, the retry answers 200 with the same body and
records nothing more; after a crash between storing the bytes and the registry's commit, the retry commits; a
retry of a commit that was refused is refused again, and never returns another upload's file."""
from __future__ import annotations

import hashlib

import pytest

from services.kernel.settings import Settings
from services.kernel.signing import staging_key_for
from services.registry.bootstrap import bootstrap as registry_bootstrap
from services.storage.bootstrap import bootstrap as storage_bootstrap
from services.kernel.adapters.blob_store import make_blob_store
from tests.helpers.packages import make_conda_package

from .api_upload import Uploader, login
from .clients import wait_for_repodata

pytestmark = pytest.mark.system
OWNER = "rita"


@pytest.fixture(scope="module")
def up(wharf):
    wharf.cli("user", "create", OWNER, "--password", "rita-pw-123")
    return Uploader(wharf.base_url, login(wharf.base_url, OWNER, "rita-pw-123"))


@pytest.fixture(scope="module")
def settings(wharf):
    return Settings.from_env(dict(wharf.env))


def uploads_of(settings, basename: str) -> list[dict]:
    """The ``file_uploaded`` events of ``basename`` in the owner's stream (read from the registry's log)."""
    registry = registry_bootstrap(settings)
    return [e for e in registry.read_stream(OWNER, 0, 10_000)
            if e["type"] == "file_uploaded" and e["data"]["basename"] == basename]


def staged_upload(up, tmp_path, package: str, version: str = "1.0"):
    pkg = make_conda_package(tmp_path, package, version, subdir="noarch", fmt=".conda")
    data, basename = pkg.read_bytes(), f"noarch/{pkg.name}"
    up.ensure_package(OWNER, package)
    up.ensure_release(OWNER, package, version)
    r = up.stage(OWNER, package, version, basename, data)
    assert r.status_code == 200, r.text
    staged = r.json()
    assert up.post_form(staged, data).status_code == 201
    return pkg, basename, staged


def test_a_retried_commit_returns_the_committed_file(wharf, up, settings, tmp_path):
    pkg, basename, staged = staged_upload(up, tmp_path, "retried")
    first = up.commit(OWNER, "retried", "1.0", basename, staged["dist_id"])
    assert first.status_code == 200, first.text
    for _ in range(2):     # the answer was lost: the client sends the same commit again
        again = up.commit(OWNER, "retried", "1.0", basename, staged["dist_id"])
        assert again.status_code == 200, again.text
        assert again.json() == first.json()
    assert [e["event_id"] for e in uploads_of(settings, basename)] == [first.json()["id"]]
    pkg_doc = up.s.get(f"{wharf.api}/package/{OWNER}/retried", timeout=30).json()
    assert [f["basename"] for f in pkg_doc["files"]] == [basename]
    wait_for_repodata(wharf.conda(OWNER) + "/noarch/repodata.json", pkg.name)
    assert make_blob_store(settings).stat(staging_key_for(staged["dist_id"])) is None   # no staged bytes left


def test_a_commit_retried_after_the_bytes_were_stored_commits(wharf, up, settings, tmp_path):
    """The gateway crashed after storage had stored the upload's bytes (finalize) and before the registry's
    commit: here the test does that finalize itself, as the crashed gateway did, then the client retries."""
    pkg, basename, staged = staged_upload(up, tmp_path, "halfway")
    storage = storage_bootstrap(settings)
    meta = storage.finalize(staged["dist_id"], OWNER, "halfway", "1.0", basename, "conda",
                            hashlib.sha256(pkg.read_bytes()).hexdigest())
    r = up.commit(OWNER, "halfway", "1.0", basename, staged["dist_id"])
    assert r.status_code == 200, r.text
    assert r.json()["sha256"] == meta["sha256"]
    assert len(uploads_of(settings, basename)) == 1
    wait_for_repodata(wharf.conda(OWNER) + "/noarch/repodata.json", pkg.name)
    assert storage.blobs.stat(staging_key_for(staged["dist_id"])) is None


def test_a_retried_refused_commit_is_refused_again(wharf, up, settings, tmp_path):
    # two stages of one file; the first commit wins, the second is refused (409), and so is its retry: a retry
    # is recognised by its dist_id, never by the file it names
    pkg, basename, first = staged_upload(up, tmp_path / "a", "contested")
    r = up.stage(OWNER, "contested", "1.0", basename)
    assert r.status_code == 200, r.text
    second = r.json()
    assert up.post_form(second, pkg.read_bytes()).status_code == 201
    won = up.commit(OWNER, "contested", "1.0", basename, first["dist_id"])
    assert won.status_code == 200, won.text
    lost = up.commit(OWNER, "contested", "1.0", basename, second["dist_id"])
    assert lost.status_code == 409, lost.text
    retry = up.commit(OWNER, "contested", "1.0", basename, second["dist_id"])   # open until it expires
    assert retry.status_code == 409, retry.text
    # a commit storage refused (the bytes are not what the stage announced): refused, then gone
    other = make_conda_package(tmp_path / "b", "contested", "1.0", build="1", subdir="noarch", fmt=".conda")
    wrong = up.stage(OWNER, "contested", "1.0", f"noarch/{other.name}", sha256="ab" * 32).json()
    assert up.post_form(wrong, other.read_bytes()).status_code == 201
    refused = up.commit(OWNER, "contested", "1.0", f"noarch/{other.name}", wrong["dist_id"])
    assert refused.status_code == 400, refused.text
    retry = up.commit(OWNER, "contested", "1.0", f"noarch/{other.name}", wrong["dist_id"])
    assert retry.status_code == 404, retry.text
    assert [e["event_id"] for e in uploads_of(settings, basename)] == [won.json()["id"]]
    assert uploads_of(settings, f"noarch/{other.name}") == []
    blobs = make_blob_store(settings)
    assert [blobs.stat(staging_key_for(s["dist_id"])) is None for s in (first, second, wrong)] == [True, False, True]


def test_a_commit_under_another_name_is_refused(wharf, up, tmp_path):
    """A retry names the file it committed: the same dist_id under another basename is a bad request."""
    pkg, basename, staged = staged_upload(up, tmp_path, "named")
    assert up.commit(OWNER, "named", "1.0", basename, staged["dist_id"]).status_code == 200
    r = up.commit(OWNER, "named", "1.0", "noarch/named-1.0-9.conda", staged["dist_id"])
    assert r.status_code == 400, r.text
