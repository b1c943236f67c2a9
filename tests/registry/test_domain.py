"""Pure domain rules (no database): decisions return events or raise, version ordering, JSON views; and
``bootstrap`` wiring on both databases."""
import pytest

from services.kernel.errors import BadRequest, Conflict, InvalidName, NotFound
from services.kernel.settings import Settings
from services.registry.bootstrap import bootstrap
from services.registry.domain import commands, labels
from services.registry.domain.versions import latest
from services.registry.domain.views import file_view, iso

from .conftest import ListPublisher

PKG = {"owner": "alice", "name": "demo", "public": False}
REL = {"version": "1.0"}


def test_version_ordering():
    assert latest([]) is None
    assert latest(["1.9", "1.10", "1.2"]) == "1.10"
    assert latest(["1.0rc1", "1.0", "0.9"]) == "1.0"
    assert latest(["2.0a1", "1.9.9"]) == "2.0a1"
    assert latest(["1.0", "1.0.post1"]) == "1.0.post1"


def test_iso_offsets():
    assert iso("2025-01-02T03:04:05.000Z") == "2025-01-02T03:04:05.000+00:00"
    assert iso(None) is None


def test_decisions_raise_before_any_event():
    with pytest.raises(Conflict):
        commands.create_package(PKG, "alice", "demo", True, {}, "a", None)
    with pytest.raises(NotFound):
        commands.create_release(None, None, "1.0", {}, "a", None)
    with pytest.raises(BadRequest):
        commands.create_release(PKG, None, "1.0", ["not", "a", "dict"], "a", None)
    with pytest.raises(BadRequest):
        commands.stage(PKG, REL, None, "x.tar.gz", "py pi", None, [], {}, None, None, "a")
    with pytest.raises(InvalidName):
        commands.stage(PKG, REL, None, "x.tar.gz", "pypi", None, ["1bad"], {}, None, None, "a")
    with pytest.raises(BadRequest):
        labels.lock_label("alice", "dev", "yes", False, "a", None)


def test_commit_decision_builds_file_uploaded():
    staged = {"owner": "alice", "package": "demo", "version": "1.0", "basename": "noarch/demo-1.0-0.conda",
              "distribution_type": "conda", "sha256": None, "labels": [], "attrs": {"a": 1},
              "dependencies": {"depends": []}, "description": None}
    meta = {"blob_key": "k", "sha256": "0" * 64, "md5": "1" * 32, "size": 1, "record": None, "metadata": {}}
    [ev] = commands.commit(staged, PKG, REL, None, meta, "alice", "cid")
    assert ev.type == "file_uploaded" and ev.stream_id == "alice" and ev.correlation_id == "cid"
    assert ev.data["labels"] == ["main"] and ev.data["public"] is False and ev.data["subdir"] == "noarch"
    assert ev.data["filename"] == "demo-1.0-0.conda" and ev.data["metadata"]["dependencies"] == {"depends": []}
    with pytest.raises(Conflict):
        commands.commit(staged, PKG, REL, {"basename": "x"}, meta, "alice", None)


def test_file_view_shape():
    f = {"file_id": "i", "basename": "b", "filename": "b", "version": "1", "description": None, "attrs": {},
         "distribution_type": "file", "subdir": None, "labels": ["main"], "size": 1, "md5": "m", "sha256": "s",
         "upload_time": "2025-01-01T00:00:00.000Z", "uploader": "alice", "metadata": {}, "blob_key": "k",
         "record": None}
    v = file_view(PKG, f)
    assert v["full_name"] == "alice/demo/1/b" and v["type"] == "file" and "description" in v
    assert v["dependencies"] is None and v["upload_time"].endswith("+00:00") and v["public"] is False


def test_bootstrap_creates_tables_and_relays(db_url, tmp_path):
    pub = ListPublisher()
    woken = []
    reg = bootstrap(Settings(data_dir=str(tmp_path), registry_db_url=db_url), publisher=pub,
                    on_commit=lambda: woken.append(1))
    reg.create_package("alice", "demo", public=True, public_attrs={}, actor="alice")
    assert woken == [1] and reg.relay_pending() == 1 and pub.published[0].type == "package_created"
    again = bootstrap(Settings(data_dir=str(tmp_path), registry_db_url=db_url))  # tables exist: no error
    assert again.get_package("alice", "demo", False)["name"] == "demo"
    with pytest.raises(RuntimeError):
        again.relay_pending()
