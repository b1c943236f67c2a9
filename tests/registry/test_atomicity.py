"""A failed command appends nothing and changes nothing (events, read tables, staged uploads), and does not
wake the relay; a failure in the middle of a multi-event command rolls back the events already appended."""
import pytest

from services.kernel.errors import BadRequest, Conflict, InvalidName, NotFound, WharfError
from services.registry.adapters import projector

from .conftest import blob_meta, dump, upload

CONDA = "linux-64/demo-1.0-0.conda"


@pytest.fixture
def populated(registry):
    registry.create_package("alice", "demo", public=True, public_attrs={"summary": "s"}, actor="alice")
    registry.create_release("alice", "demo", "1.0", {}, actor="alice")
    upload(registry, "alice", "demo", "1.0", CONDA)
    st = registry.stage("alice", "demo", "1.0", "linux-64/demo-1.0-1.conda", "conda", None, ["dev"], {}, None,
                        None, "alice")
    return registry, st["dist_id"]


FAILING = [
    ("create existing package", Conflict,
     lambda r, d: r.create_package("alice", "demo", public=True, public_attrs={}, actor="alice")),
    ("create package bad public", BadRequest,
     lambda r, d: r.create_package("alice", "new", public="yes", public_attrs={}, actor="alice")),
    ("create package bad attrs", BadRequest,
     lambda r, d: r.create_package("alice", "new", public=True, public_attrs={"summary": 5}, actor="alice")),
    ("create package reserved owner", InvalidName,
     lambda r, d: r.create_package("api", "new", public=True, public_attrs={}, actor="alice")),
    ("release of missing package", NotFound, lambda r, d: r.create_release("alice", "nope", "1.0", {}, actor="a")),
    ("existing release", Conflict, lambda r, d: r.create_release("alice", "demo", "1.0", {}, actor="a")),
    ("bad version", InvalidName, lambda r, d: r.create_release("alice", "demo", "../1", {}, actor="a")),
    ("update unknown field", BadRequest, lambda r, d: r.update_package("alice", "demo", {"owner": "x"}, "a")),
    ("stage existing file", Conflict,
     lambda r, d: r.stage("alice", "demo", "1.0", CONDA, "conda", None, [], {}, None, None, "a")),
    ("stage bad sha", BadRequest,
     lambda r, d: r.stage("alice", "demo", "1.0", "x-1.tar.gz", "pypi", "zz", [], {}, None, None, "a")),
    ("commit unknown", NotFound, lambda r, d: r.commit("nope", blob_meta(b"x", "x"), "alice")),
    ("commit invalid blob_meta", BadRequest,
     lambda r, d: r.commit(d, dict(blob_meta(b"x", "demo-1.0-1.conda"), md5="not-md5"), "alice")),
    ("commit missing blob_key", BadRequest,
     lambda r, d: r.commit(d, {k: v for k, v in blob_meta(b"x", "f").items() if k != "blob_key"}, "alice")),
    ("remove missing file", NotFound, lambda r, d: r.remove_file("alice", "demo", "1.0", "x-1.tar.gz", "a")),
    ("remove missing release", NotFound, lambda r, d: r.remove_release("alice", "demo", "9", "a")),
    ("remove missing package", NotFound, lambda r, d: r.remove_package("alice", "nope", "a")),
]


@pytest.mark.parametrize("name,error,call", FAILING, ids=[f[0] for f in FAILING])
def test_failed_command_changes_nothing(populated, engine, commits, name, error, call):
    registry, dist_id = populated
    before, woken = dump(engine), commits.count
    with pytest.raises(error):
        call(registry, dist_id)
    assert dump(engine) == before
    assert commits.count == woken


def test_failure_midway_rolls_back_appended_events(populated, engine, commits, monkeypatch):
    """remove_package appends file_removed and release_removed before package_removed: if projecting the last
    one fails, none of them stays."""
    registry, _ = populated
    before, woken = dump(engine), commits.count

    def boom(conn, ev, pos):
        raise WharfError("projection failed")
    monkeypatch.setitem(projector.HANDLERS, "package_removed", boom)
    with pytest.raises(WharfError, match="projection failed"):
        registry.remove_package("alice", "demo", actor="alice")
    assert dump(engine) == before
    assert commits.count == woken
    monkeypatch.undo()
    registry.remove_package("alice", "demo", actor="alice")
    assert [e["sequence"] for e in registry.read_stream("alice", 0)] == list(range(1, 7))


def test_commit_failure_keeps_the_stage(populated, engine):
    registry, dist_id = populated
    with pytest.raises(BadRequest):
        registry.commit(dist_id, dict(blob_meta(b"x", "demo-1.0-1.conda"), size=-1), "alice")
    assert registry.get_staged(dist_id)["labels"] == ["dev"]
    f = registry.commit(dist_id, blob_meta(b"x", "demo-1.0-1.conda", "linux-64"), "alice")
    assert f["labels"] == ["dev"]
    with pytest.raises(NotFound):
        registry.get_staged(dist_id)


def test_stage_does_not_wake_relay(populated, commits):
    registry, _ = populated
    woken = commits.count
    registry.stage("alice", "demo", "1.0", "demo-1.0.tar.gz", "pypi", None, [], {}, None, None, "alice")
    assert commits.count == woken
