"""Every command of RegistryService: the events it appends (schema, stream, sequence, order) and the read
model it leaves behind, in the JSON shapes anaconda-client reads. Runs on SQLite and PostgreSQL."""
from datetime import datetime

import pytest

from services.kernel.errors import ChecksumMismatch, Conflict, InvalidName, NotFound
from services.kernel.events import Event

from .conftest import blob_meta, dump, upload

CONDA = "linux-64/demo-1.0-0.conda"
ATTRS = {"summary": "Demo package", "license": {"name": "MIT"}, "home": "https://example.com",
         "description": "A demo", "package_types": ["conda"]}


def types(reg, owner="alice", after=0):
    return [e["type"] for e in reg.read_stream(owner, after)]


def setup_release(reg, public=True):
    reg.create_package("alice", "demo", public=public, public_attrs=ATTRS, actor="alice")
    reg.create_release("alice", "demo", "1.0", {"description": "first", "requirements": []}, actor="alice")


def test_create_package_event_and_detail(registry, commits):
    pkg = registry.create_package("Alice", "demo", public=True, public_attrs=ATTRS, actor="alice",
                                  correlation_id="req-9")
    [ev] = registry.read_stream("alice", 0)
    assert ev["type"] == "package_created" and ev["stream_id"] == "alice" and ev["sequence"] == 1
    assert ev["actor"] == "alice" and ev["correlation_id"] == "req-9" and ev["version"] == 1
    assert ev["data"] == {"owner": "alice", "package": "demo", "public": True, "summary": "Demo package",
                          "package_types": ["conda"], "public_attrs": ATTRS}
    Event.from_wire(ev)  # valid against the kernel schema
    assert commits.count == 1
    assert pkg["name"] == "demo" and pkg["full_name"] == "alice/demo" and pkg["owner"] == {"login": "alice"}
    assert pkg["public"] is True and pkg["summary"] == "Demo package" and pkg["package_types"] == ["conda"]
    assert pkg["releases"] == [] and pkg["files"] == [] and pkg["versions"] == []
    assert pkg["latest_version"] is None and pkg["public_attrs"] == ATTRS and pkg["id"] == ev["event_id"]
    assert datetime.fromisoformat(pkg["created_at"]).utcoffset() is not None
    assert registry.get_package("alice", "demo", private_ok=False) == pkg


def test_package_types_never_null_and_union_of_files(registry):
    registry.create_package("alice", "tool", public=True, public_attrs={"summary": "s"}, actor="alice")
    assert registry.get_package("alice", "tool", False)["package_types"] == []
    registry.create_release("alice", "tool", "2.0", {}, actor="alice")
    upload(registry, "alice", "tool", "2.0", "tool-2.0.tar.gz", dist_type="pypi")
    upload(registry, "alice", "tool", "2.0", "noarch/tool-2.0-0.tar.bz2", dist_type="conda")
    assert registry.get_package("alice", "tool", False)["package_types"] == ["pypi", "conda"]


def test_create_release_event_and_view(registry):
    setup_release(registry)
    ev = registry.read_stream("alice", 1)[0]
    assert ev["type"] == "release_created" and ev["sequence"] == 2
    assert ev["data"] == {"owner": "alice", "package": "demo", "version": "1.0",
                          "attrs": {"description": "first", "requirements": []}}
    rel = registry.get_release("alice", "demo", "1.0")
    assert rel["version"] == "1.0" and rel["full_name"] == "alice/demo/1.0" and rel["distributions"] == []
    assert rel["public_attrs"]["description"] == "first"
    pkg = registry.get_package("alice", "demo", False)
    assert pkg["releases"] == [{"version": "1.0", "full_name": "alice/demo/1.0", "distributions": []}]
    assert pkg["versions"] == ["1.0"] and pkg["latest_version"] == "1.0"


def test_stage_and_commit(registry, engine):
    setup_release(registry)
    st = registry.stage("alice", "demo", "1.0", CONDA, "conda", "A" * 64, [], {"build": "0", "subdir": "linux-64"},
                        {"depends": [{"name": "python", "specs": [[">=", "3.8"]]}]}, "desc", "alice")
    staged = registry.get_staged(st["dist_id"])
    assert staged["labels"] == [] and staged["sha256"] == "a" * 64 and staged["basename"] == CONDA
    assert types(registry) == ["package_created", "release_created"]  # staging is not an event
    meta = blob_meta(b"bytes", "demo-1.0-0.conda", "linux-64", {"name": "demo", "version": "1.0"})
    meta["sha256"] = "a" * 64
    f = registry.commit(st["dist_id"], meta, "alice", correlation_id="req-2")
    ev = registry.read_stream("alice", 2)[0]
    assert ev["type"] == "file_uploaded" and ev["sequence"] == 3 and ev["correlation_id"] == "req-2"
    d = ev["data"]
    assert d["labels"] == ["main"] and d["public"] is True and d["replaced"] is False
    assert d["subdir"] == "linux-64" and d["filename"] == "demo-1.0-0.conda" and d["record"]["name"] == "demo"
    assert d["blob_key"] == meta["blob_key"] and d["md5"] == meta["md5"] and d["size"] == 5
    for key in ("id", "basename", "version", "owner", "package", "full_name", "description", "attrs", "type",
                "distribution_type", "labels", "size", "md5", "sha256", "upload_time", "ndownloads",
                "dependencies", "blob_key"):
        assert key in f, key
    assert f["full_name"] == f"alice/demo/1.0/{CONDA}" and f["owner"] == "alice" and f["package"] == "demo"
    assert f["type"] == f["distribution_type"] == "conda" and f["labels"] == ["main"]
    assert f["description"] == "desc" and f["dependencies"]["depends"][0]["name"] == "python"
    assert datetime.fromisoformat(f["upload_time"]).utcoffset().total_seconds() == 0
    assert f["id"] == ev["event_id"]
    assert dump(engine)["staged"] == []
    assert registry.get_file("alice", "demo", "1.0", CONDA) == f
    assert registry.get_release("alice", "demo", "1.0")["distributions"] == [f]
    pkg = registry.get_package("alice", "demo", False)
    assert pkg["files"] == [f] and pkg["conda_platforms"] == ["linux-64"] and pkg["builds"] == ["0"]
    assert pkg["releases"][0]["distributions"] == [CONDA]
    assert pkg["modified_at"] == f["upload_time"]


def test_stage_labels_are_kept(registry):
    setup_release(registry)
    f = upload(registry, "alice", "demo", "1.0", CONDA, labels=["dev", "main", "dev"])
    assert f["labels"] == ["dev", "main"]
    assert registry.read_stream("alice", 2)[0]["data"]["labels"] == ["dev", "main"]


def test_stage_rules(registry):
    with pytest.raises(NotFound):
        registry.stage("alice", "demo", "1.0", CONDA, "conda", None, [], {}, None, None, "alice")
    registry.create_package("alice", "demo", public=True, public_attrs=ATTRS, actor="alice")
    with pytest.raises(NotFound):
        registry.stage("alice", "demo", "1.0", CONDA, "conda", None, [], {}, None, None, "alice")
    registry.create_release("alice", "demo", "1.0", {}, actor="alice")
    upload(registry, "alice", "demo", "1.0", CONDA)
    with pytest.raises(Conflict):
        registry.stage("alice", "demo", "1.0", CONDA, "conda", None, [], {}, None, None, "alice")
    for bad in (("../x", "1.0", "a.conda", []), ("demo", "1/0", "a.conda", []),
                ("demo", "1.0", "../../etc/passwd", []), ("demo", "1.0", "a.conda", ["bad label"])):
        with pytest.raises(InvalidName):
            registry.stage("alice", bad[0], bad[1], bad[2], "conda", None, bad[3], {}, None, None, "alice")


def test_commit_rules(registry, engine):
    setup_release(registry)
    with pytest.raises(NotFound):
        registry.commit("no-such-dist", blob_meta(b"x", "a"), "alice")
    st = registry.stage("alice", "demo", "1.0", "a-1.0.tar.gz", "pypi", "b" * 64, [], {}, None, None, "alice")
    with pytest.raises(ChecksumMismatch):
        registry.commit(st["dist_id"], blob_meta(b"x", "a-1.0.tar.gz"), "alice")
    # the file appeared meanwhile (another stage of the same basename was committed first)
    st1 = registry.stage("alice", "demo", "1.0", CONDA, "conda", None, [], {}, None, None, "alice")
    st2 = registry.stage("alice", "demo", "1.0", CONDA, "conda", None, [], {}, None, None, "alice")
    registry.commit(st1["dist_id"], blob_meta(b"one", "demo-1.0-0.conda", "linux-64"), "alice")
    with pytest.raises(Conflict):
        registry.commit(st2["dist_id"], blob_meta(b"two", "demo-1.0-0.conda", "linux-64"), "alice")
    with pytest.raises(NotFound):  # a refused commit stays refused: its dist_id names no committed file
        registry.committed_file(st2["dist_id"])
    assert types(registry).count("file_uploaded") == 1


def test_a_retried_commit_returns_the_committed_file(registry, engine):
    """A client whose commit's answer was lost commits the same dist_id again: it gets the file its first
    commit created, and nothing is recorded again (whatever blob_meta the retry carries)."""
    setup_release(registry)
    st = registry.stage("alice", "demo", "1.0", CONDA, "conda", None, [], {}, None, None, "alice")
    first = registry.commit(st["dist_id"], blob_meta(b"one", "demo-1.0-0.conda", "linux-64"), "alice")
    log = registry.read_log(0)
    assert registry.commit(st["dist_id"], blob_meta(b"one", "demo-1.0-0.conda", "linux-64"), "alice") == first
    assert registry.commit(st["dist_id"], {}, "bob") == first
    assert registry.committed_file(st["dist_id"]) == first
    assert registry.read_log(0) == log
    assert registry.verify_inventory()["staged"] == []      # the stage is closed: no upload can reopen it
    with pytest.raises(NotFound):
        registry.get_staged(st["dist_id"])
    registry.discard_staged(st["dist_id"])                 # a discard of the committed stage changes nothing
    assert registry.commit(st["dist_id"], {}, "alice") == first
    # once the file is removed, a late retry is told so, and commits nothing
    registry.remove_file("alice", "demo", "1.0", CONDA, actor="alice")
    with pytest.raises(NotFound, match="removed since"):
        registry.commit(st["dist_id"], blob_meta(b"one", "demo-1.0-0.conda", "linux-64"), "alice")
    assert types(registry).count("file_uploaded") == 1
    # and a new upload of the same name is a new file, which the old dist_id does not name
    upload(registry, "alice", "demo", "1.0", CONDA, content=b"two")
    with pytest.raises(NotFound, match="removed since"):
        registry.committed_file(st["dist_id"])


def test_committed_stages_are_forgotten_after_a_day(registry, engine):
    from services.registry.adapters.tables import committed_stages
    from services.registry.service_layer import service as registry_service

    setup_release(registry)
    old = upload(registry, "alice", "demo", "1.0", CONDA)
    with engine.begin() as conn:       # committed more than a day ago
        conn.execute(committed_stages.update().values(committed_at="2000-01-01T00:00:00.000Z"))
    upload(registry, "alice", "demo", "1.0", "linux-64/demo-1.0-1.conda")
    with engine.connect() as conn:
        kept = [r.file_id for r in conn.execute(committed_stages.select())]
    assert old["id"] not in kept and len(kept) == 1
    assert registry_service.COMMITTED_STAGE_RETENTION == 86400


def test_remove_file(registry, engine):
    setup_release(registry)
    f = upload(registry, "alice", "demo", "1.0", CONDA)
    removed = registry.remove_file("alice", "demo", "1.0", CONDA, actor="bob")
    assert removed == f
    ev = registry.read_stream("alice", 3)[0]
    assert ev["type"] == "file_removed" and ev["actor"] == "bob"
    assert ev["data"] == {"owner": "alice", "package": "demo", "version": "1.0", "basename": CONDA}
    with pytest.raises(NotFound):
        registry.get_file("alice", "demo", "1.0", CONDA)
    d = dump(engine)
    assert d["files"] == [] and d["file_labels"] == []
    with pytest.raises(NotFound):
        registry.remove_file("alice", "demo", "1.0", CONDA, actor="bob")


def test_remove_release_removes_its_files_first(registry, engine):
    setup_release(registry)
    registry.create_release("alice", "demo", "2.0", {}, actor="alice")
    upload(registry, "alice", "demo", "1.0", CONDA)
    upload(registry, "alice", "demo", "1.0", "linux-64/demo-1.0-1.conda")
    upload(registry, "alice", "demo", "2.0", "linux-64/demo-2.0-0.conda")
    before = len(registry.read_stream("alice", 0))
    registry.remove_release("alice", "demo", "1.0", actor="alice")
    new = registry.read_stream("alice", before)
    assert [e["type"] for e in new] == ["file_removed", "file_removed", "release_removed"]
    assert {e["data"]["basename"] for e in new[:2]} == {CONDA, "linux-64/demo-1.0-1.conda"}
    assert new[2]["data"] == {"owner": "alice", "package": "demo", "version": "1.0"}
    with pytest.raises(NotFound):
        registry.get_release("alice", "demo", "1.0")
    pkg = registry.get_package("alice", "demo", False)
    assert pkg["versions"] == ["2.0"] and [f["version"] for f in pkg["files"]] == ["2.0"]
    assert {r[2] for r in dump(engine)["files"]} == {"2.0"}


def test_remove_package_order(registry, engine):
    setup_release(registry)
    registry.create_release("alice", "demo", "2.0", {}, actor="alice")
    upload(registry, "alice", "demo", "1.0", CONDA)
    upload(registry, "alice", "demo", "2.0", "linux-64/demo-2.0-0.conda")
    registry.create_package("alice", "other", public=True, public_attrs={"summary": "o"}, actor="alice")
    registry.remove_package("alice", "demo", actor="alice")
    tail = types(registry, after=6)
    assert tail == ["file_removed", "file_removed", "release_removed", "release_removed", "package_removed"]
    with pytest.raises(NotFound):
        registry.get_package("alice", "demo", True)
    d = dump(engine)
    assert d["files"] == [] and d["releases"] == [] and [r[1] for r in d["packages"]] == ["other"]
    with pytest.raises(NotFound):
        registry.remove_package("alice", "demo", actor="alice")


def test_update_package(registry):
    registry.create_package("alice", "demo", public=True, public_attrs=ATTRS, actor="alice")
    pkg = registry.update_package("alice", "demo", {"public": False, "public_attrs": {"summary": "New"}},
                                  actor="alice")
    ev = registry.read_stream("alice", 1)[0]
    assert ev["type"] == "package_updated"
    assert ev["data"]["changes"] == {"public": False, "public_attrs": {"summary": "New"}, "summary": "New"}
    assert pkg["public"] is False and pkg["summary"] == "New"
    assert pkg["public_attrs"]["summary"] == "New" and pkg["public_attrs"]["home"] == "https://example.com"
    with pytest.raises(NotFound):
        registry.update_package("alice", "nope", {"public": True}, actor="alice")


def test_update_release(registry):
    setup_release(registry)
    rel = registry.update_release("alice", "demo", "1.0", {"description": "better"}, actor="alice")
    assert rel["public_attrs"] == {"description": "better", "requirements": []}
    assert types(registry)[-1] == "release_updated"


def test_private_packages_are_invisible_without_private_ok(registry):
    setup_release(registry, public=False)
    upload(registry, "alice", "demo", "1.0", CONDA)
    registry.create_package("alice", "open", public=True, public_attrs={"summary": "o"}, actor="alice")
    with pytest.raises(NotFound) as err:
        registry.get_package("alice", "demo", private_ok=False)
    assert "not found" in str(err.value)
    assert registry.get_package("alice", "demo", private_ok=True)["public"] is False
    with pytest.raises(NotFound):
        registry.get_release("alice", "demo", "1.0", private_ok=False)
    with pytest.raises(NotFound):
        registry.get_file("alice", "demo", "1.0", CONDA, private_ok=False)
    assert [p["name"] for p in registry.list_packages("alice", private_ok=False)] == ["open"]
    assert [p["name"] for p in registry.list_packages("alice", private_ok=True)] == ["demo", "open"]
    assert registry.read_stream("alice", 2)[0]["data"]["public"] is False  # file_uploaded carries visibility


def test_list_packages_summary_shape(registry):
    setup_release(registry)
    registry.create_release("alice", "demo", "1.10", {}, actor="alice")
    registry.create_release("alice", "demo", "1.9", {}, actor="alice")
    upload(registry, "alice", "demo", "1.0", CONDA, attrs={"build": "py_0"})
    [s] = registry.list_packages("alice", False)
    assert s["full_name"] == "alice/demo" and s["name"] == "demo" and s["public"] is True
    assert s["summary"] == "Demo package" and s["latest_version"] == "1.10"
    assert s["package_types"] == ["conda"] and s["conda_platforms"] == ["linux-64"] and s["builds"] == ["py_0"]
    assert registry.list_packages("bob", True) == []


def test_sequences_count_per_stream(registry):
    registry.create_package("alice", "a", public=True, public_attrs={}, actor="alice")
    registry.create_package("bob", "b", public=True, public_attrs={}, actor="bob")
    registry.create_package("alice", "c", public=True, public_attrs={}, actor="alice")
    assert [e["sequence"] for e in registry.read_stream("alice", 0)] == [1, 2]
    assert [e["sequence"] for e in registry.read_stream("bob", 0)] == [1]
    log = registry.read_log(0)
    assert [(e["stream_id"], e["position"]) for e in log] == [("alice", 1), ("bob", 2), ("alice", 3)]
    assert [e["data"]["package"] for e in registry.read_log(1, limit=1)] == ["b"]
    assert registry.read_stream("alice", 1, limit=5)[0]["data"]["package"] == "c"
