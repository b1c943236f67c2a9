"""Pure domain rules (no database): decisions return events or raise, version ordering, JSON views; and
``bootstrap`` wiring on both databases."""
import pytest

from services.kernel.errors import BadRequest, Conflict, InvalidName, NotFound
from services.kernel.events import Event
from services.kernel.settings import Settings
from services.registry.bootstrap import bootstrap
from services.registry.domain import collaborators, commands, copying, labels, locks, search
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


# ---------------------------------------------------------------------------------- anaconda.org surface

F1 = {"owner": "alice", "package": "demo", "version": "1.0", "basename": "a.tar.gz", "labels": ["main", "dev"]}


def _labels_of(files):
    def lookup(owner, package, version, basename):
        for f in files:
            if (f["owner"], f["package"], f["version"], f["basename"]) == (owner, package, version, basename):
                return f["labels"]
        return []
    return lookup


def _files_of(files):
    return lambda owner, package: [f for f in files if (f["owner"], f["package"]) == (owner, package)]


def test_touched_labels_per_event_type():
    state = [F1]

    def touched(*events):
        return locks.touched_labels(events, _labels_of(state), _files_of(state))
    ref = {"owner": "alice", "package": "demo", "version": "1.0", "basename": "a.tar.gz"}
    assert touched(Event.new("file_removed", "alice", ref)) == {("alice", "main"), ("alice", "dev")}
    assert touched(Event.new("files_labeled", "alice", {"owner": "alice", "label": "x", "files": [ref]})) == {
        ("alice", "x")}
    assert touched(Event.new("files_labeled", "alice", {"owner": "alice", "label": "x", "files": []})) == set()
    assert touched(Event.new("label_copied", "alice", {"owner": "alice", "from_label": "main", "to_label": "b",
                                                      "files": [ref]})) == {("alice", "b")}
    assert touched(Event.new("package_transferred", "alice", {"owner": "alice", "package": "demo",
                                                             "to_owner": "acme"})) == {
        ("alice", "main"), ("alice", "dev"), ("acme", "main"), ("acme", "dev")}
    assert touched(Event.new("label_lock_changed", "alice", {"owner": "alice", "label": "main",
                                                            "locked": False})) == set()
    assert touched(Event.new("collaborator_added", "alice", {"owner": "alice", "package": "demo",
                                                            "login": "c"})) == set()
    with pytest.raises(Conflict, match="label dev is locked"):
        locks.check([Event.new("file_removed", "alice", ref)], lambda owner: {"dev"}, _labels_of(state),
                    _files_of(state))
    locks.check([Event.new("file_removed", "alice", ref)], lambda owner: {"beta"}, _labels_of(state),
                _files_of(state))


def test_package_type_aliases_and_matching():
    assert [search.package_type(t) for t in ("PyPI", "standard_python", "cran", "standard_r", " Conda ",
                                             "weird")] == ["pypi", "pypi", "r", "r", "conda", "weird"]
    summary = {"package_types": ["standard_python", None], "conda_platforms": ["noarch"]}
    assert search.matches(summary, "pypi", None) and search.matches(summary, None, "NOARCH")
    assert not search.matches(summary, "conda", None) and not search.matches(summary, None, "linux-64")
    pkg = {"owner": "a", "name": "p", "public": False}
    assert not search.visible(pkg, set(), set(), set())
    assert search.visible(pkg, {"a"}, set(), set()) and search.visible(pkg, set(), {("a", "p")}, set())
    assert search.visible(pkg, set(), set(), {("a", "p")})


def test_copy_and_transfer_decisions():
    with pytest.raises(BadRequest):
        copying.check_mode("merge")
    with pytest.raises(NotFound, match="label beta not found"):
        copying.sources(PKG, REL, [F1], "alice", "demo", "1.0", None, "beta")
    assert copying.copy_within("alice", "main", [F1], "update", "a", None) == []
    with pytest.raises(Conflict, match="--replace or --update"):
        copying.copy_within("alice", "main", [F1], "add", "a", None)
    src = dict(F1, filename="a.tar.gz", distribution_type="pypi", subdir=None, blob_key="k", sha256="0" * 64,
               md5="1" * 32, size=3, record=None, attrs={}, metadata={}, description=None)
    spkg = dict(PKG, summary="s", package_types=[], public_attrs={})
    evs = copying.copy_across(spkg, {"version": "1.0", "attrs": {}}, [src], "bob", None, None, {}, "main", "add",
                              "bob", None)
    assert [e.type for e in evs] == ["package_created", "release_created", "file_uploaded"]
    assert {e.stream_id for e in evs} == {"bob"} and evs[2].data["public"] is False
    with pytest.raises(BadRequest):
        copying.transfer(PKG, None, [], "alice", "demo", "alice", "a", None)
    with pytest.raises(Conflict):
        copying.transfer(PKG, PKG, [], "alice", "demo", "acme", "a", None)
    row = dict(src, labels=["main", "dev"], upload_time="2026-01-02T03:04:05.000006+00:00")
    out, into = copying.transfer(PKG, None, [row], "alice", "demo", "acme", "a", None)
    assert out.stream_id == "alice" and out.type == "package_transferred"
    assert out.data == {"owner": "alice", "package": "demo", "to_owner": "acme", "received": True}
    # the target stream restates every file with its labels, visibility and original upload time
    assert into.stream_id == "acme" and into.type == "package_received"
    assert into.data["owner"] == "acme" and into.data["from_owner"] == "alice"
    [f] = into.data["files"]
    assert f["labels"] == ["main", "dev"] and f["public"] is False and f["uploaded_at"] == row["upload_time"]
    assert f["sha256"] == "0" * 64 and f["basename"] == src["basename"]
    assert collaborators.add(PKG, ["c"], "c", "a", None) == []
    with pytest.raises(NotFound):
        collaborators.remove(PKG, [], "c", "a", None)
