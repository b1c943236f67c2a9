"""transfer_package: one ``package_transferred`` event in the SOURCE stream; package, releases, files, labels,
collaborators and staged uploads move to the new owner; the old owner finds nothing; refusals append nothing;
replay gives the same tables."""
import pytest

from services.kernel.errors import BadRequest, Conflict, InvalidName, NotFound
from services.kernel.events import Event

from .conftest import blob_meta, dump, upload

A = "linux-64/demo-1.0-0.conda"
B = "noarch/demo-2.0-0.tar.bz2"


@pytest.fixture
def reg(registry):
    registry.create_package("alice", "demo", public=False, public_attrs={"summary": "Demo"}, actor="alice")
    registry.create_package("alice", "other", public=True, public_attrs={}, actor="alice")
    for v in ("1.0", "2.0"):
        registry.create_release("alice", "demo", v, {"v": v}, actor="alice")
    registry.create_release("alice", "other", "1", {}, actor="alice")
    upload(registry, "alice", "demo", "1.0", A, labels=["main", "dev"])
    upload(registry, "alice", "demo", "2.0", B)
    upload(registry, "alice", "other", "1", "other-1.tar.gz", dist_type="pypi")
    registry.add_collaborator("alice", "demo", "carol", actor="alice")
    registry.add_collaborator("alice", "other", "carol", actor="alice")
    return registry


def test_transfer_moves_everything(reg, engine, commits):
    st = reg.stage("alice", "demo", "2.0", "demo-2.0.tar.gz", "pypi", None, [], {}, None, None, "alice")
    original = reg.get_package("alice", "demo", True)
    n, woken = len(reg.read_stream("alice", 0)), commits.count
    pkg = reg.transfer_package("Alice", "demo", "ACME", actor="alice", correlation_id="t1")
    [ev] = reg.read_stream("alice", n)
    assert ev["type"] == "package_transferred" and ev["stream_id"] == "alice" and ev["correlation_id"] == "t1"
    assert ev["data"] == {"owner": "alice", "package": "demo", "to_owner": "acme", "received": True}
    Event.from_wire(ev)
    # the target stream gets the package with every file restated (labels, visibility, original upload time)
    [got] = reg.read_stream("acme", 0)
    assert got["type"] == "package_received" and got["correlation_id"] == "t1" and commits.count == woken + 1
    assert got["data"]["from_owner"] == "alice" and got["data"]["owner"] == "acme"
    assert [(f["basename"], f["labels"], f["public"]) for f in got["data"]["files"]] == [
        (f["basename"], f["labels"], False) for f in original["files"]]
    assert [f["uploaded_at"][:19] for f in got["data"]["files"]] == [f["upload_time"][:19] for f in original["files"]]
    Event.from_wire(got)
    assert pkg["full_name"] == "acme/demo" and pkg["owner"] == {"login": "acme"} and pkg["public"] is False
    assert pkg["versions"] == ["1.0", "2.0"] and pkg["summary"] == "Demo"
    assert [f["full_name"] for f in pkg["files"]] == [f"acme/demo/1.0/{A}", f"acme/demo/2.0/{B}"]
    assert pkg["id"] == original["id"] and pkg["created_at"] == original["created_at"]
    for f, was in zip(pkg["files"], original["files"]):
        assert f["id"] == was["id"] and f["labels"] == was["labels"] and f["owner"] == "acme"
    assert reg.get_release("acme", "demo", "1.0")["public_attrs"] == {"v": "1.0"}
    # the old owner's URLs find nothing
    for call in (lambda: reg.get_package("alice", "demo", True), lambda: reg.get_release("alice", "demo", "1.0"),
                 lambda: reg.get_file("alice", "demo", "1.0", A), lambda: reg.list_collaborators("alice", "demo")):
        with pytest.raises(NotFound):
            call()
    assert [p["name"] for p in reg.list_packages("alice", True)] == ["other"]
    assert reg.list_labels("alice", True) == {"main": {"is_locked": False, "num_files": 1}}
    assert reg.list_labels("acme", True) == {"dev": {"is_locked": False, "num_files": 1},
                                             "main": {"is_locked": False, "num_files": 2}}
    assert reg.list_collaborators("acme", "demo") == [{"login": "carol"}]
    assert reg.collaborator_packages("acme", "carol") == ["demo"]
    assert reg.collaborator_packages("alice", "carol") == ["other"]
    # the staged upload followed the package: it commits into the new owner's stream
    assert reg.get_staged(st["dist_id"])["owner"] == "acme"
    f = reg.commit(st["dist_id"], blob_meta(b"sdist", "demo-2.0.tar.gz"), "alice")
    assert f["full_name"] == "acme/demo/2.0/demo-2.0.tar.gz"
    assert [e["type"] for e in reg.read_stream("acme", 0)] == ["package_received", "file_uploaded"]
    # the old name is free again in the old namespace
    reg.create_package("alice", "demo", public=True, public_attrs={}, actor="alice")
    assert reg.get_package("alice", "demo", False)["files"] == []
    before = dump(engine)
    reg.rebuild_projections()
    assert dump(engine) == before


def test_transfer_and_back(reg, engine):
    reg.transfer_package("alice", "demo", "acme", actor="alice")
    pkg = reg.transfer_package("acme", "demo", "alice", actor="acme")
    assert pkg["full_name"] == "alice/demo" and len(pkg["files"]) == 2
    assert [e["type"] for e in reg.read_stream("acme", 0)] == ["package_received", "package_transferred"]
    assert [e["type"] for e in reg.read_stream("alice", 0)][-2:] == ["package_transferred", "package_received"]
    before = dump(engine)
    reg.rebuild_projections()
    assert dump(engine) == before


REFUSED = [
    ("missing package", NotFound, "alice/nope not found", ("alice", "nope", "acme")),
    ("target exists", Conflict, "bob/demo already exists", ("alice", "demo", "bob")),
    ("same owner", BadRequest, "already belongs", ("alice", "demo", "Alice")),
    ("reserved owner", InvalidName, "reserved", ("alice", "demo", "conda")),
]


@pytest.mark.parametrize("name,error,message,args", REFUSED, ids=[r[0] for r in REFUSED])
def test_refused_transfer_appends_nothing(reg, engine, commits, name, error, message, args):
    reg.create_package("bob", "demo", public=True, public_attrs={}, actor="bob")
    before, woken = dump(engine), commits.count
    with pytest.raises(error, match=message):
        reg.transfer_package(*args, actor="alice")
    assert dump(engine) == before and commits.count == woken


def test_commit_racing_a_transfer_lands_at_the_new_owner(reg):
    """The package is transferred between commit's first read of the staged row and its stream lock."""
    st = reg.stage("alice", "demo", "2.0", "demo-2.0.tar.gz", "pypi", None, [], {}, None, None, "alice")
    real, calls = reg.get_staged, []

    def get_staged_then_transfer(dist_id):
        row = real(dist_id)
        if not calls:
            calls.append(row["owner"])
            reg.transfer_package("alice", "demo", "acme", actor="alice")
        return row
    reg.get_staged = get_staged_then_transfer
    f = reg.commit(st["dist_id"], blob_meta(b"sdist", "demo-2.0.tar.gz"), "alice")
    assert calls == ["alice"] and f["full_name"] == "acme/demo/2.0/demo-2.0.tar.gz"
    assert [e["type"] for e in reg.read_stream("acme", 0)] == ["package_received", "file_uploaded"]


def test_a_commit_retried_after_a_transfer_finds_its_file_under_the_new_owner(reg):
    st = reg.stage("alice", "other", "1", "other-1-py3-none-any.whl", "pypi", None, [], {}, None, None, "alice")
    first = reg.commit(st["dist_id"], blob_meta(b"wheel", "other-1-py3-none-any.whl"), "alice")
    reg.transfer_package("alice", "other", "acme", actor="alice")
    again = reg.commit(st["dist_id"], blob_meta(b"wheel", "other-1-py3-none-any.whl"), "alice")
    assert again["id"] == first["id"] and again["full_name"] == "acme/other/1/other-1-py3-none-any.whl"
