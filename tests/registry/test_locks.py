"""Label locks: every path that would change a locked label is refused with Conflict and appends nothing;
paths that only read a locked label work; unlocking is always allowed; unknown labels are NotFound."""
import pytest

from services.kernel.errors import Conflict, NotFound

from .conftest import blob_meta, dump, upload

A = "linux-64/demo-1.0-0.conda"
B = "linux-64/demo-2.0-0.conda"


@pytest.fixture
def reg(registry):
    registry.create_package("alice", "demo", public=True, public_attrs={}, actor="alice")
    for v in ("1.0", "2.0", "3.0"):
        registry.create_release("alice", "demo", v, {}, actor="alice")
    upload(registry, "alice", "demo", "1.0", A)
    upload(registry, "alice", "demo", "2.0", B, labels=["dev"])
    registry.create_package("alice", "devonly", public=True, public_attrs={}, actor="alice")
    registry.create_release("alice", "devonly", "1", {}, actor="alice")
    upload(registry, "alice", "devonly", "1", "devonly-1.tar.gz", dist_type="pypi", labels=["dev"])
    registry.create_package("bob", "demo", public=True, public_attrs={}, actor="bob")
    registry.create_release("bob", "demo", "1.0", {}, actor="bob")
    upload(registry, "bob", "demo", "1.0", A, actor="bob", labels=["prod"])
    registry.lock_label("alice", "main", True, actor="alice")
    registry.lock_label("bob", "prod", True, actor="bob")
    registry.lock_label("bob", "frozen", True, actor="bob")  # no file carries it
    return registry


def _commit_onto_main(r):
    st = r.stage("alice", "demo", "3.0", "demo-3.0.tar.gz", "pypi", None, ["dev"], {}, None, None, "alice")
    r.lock_label("alice", "dev", True, actor="alice")
    r.commit(st["dist_id"], blob_meta(b"x", "demo-3.0.tar.gz"), "alice")


LOCKED = [
    ("stage to default main", lambda r: r.stage("alice", "demo", "3.0", "x-3.tar.gz", "pypi", None, [], {}, None,
                                                None, "alice")),
    ("stage to main", lambda r: r.stage("alice", "demo", "3.0", "x-3.tar.gz", "pypi", None, ["dev", "main"], {},
                                        None, None, "alice")),
    ("label_files", lambda r: r.label_files("alice", "main", package="demo", version="2.0", actor="alice")),
    ("unlabel_files", lambda r: r.unlabel_files("alice", "main", package="demo", actor="alice")),
    ("copy_label into", lambda r: r.copy_label("alice", "dev", "main", actor="alice")),
    ("remove_label", lambda r: r.remove_label("bob", "prod", actor="bob")),     # main is never removed whole
    ("copy_files within", lambda r: r.copy_files("alice", "demo", "2.0", from_label="dev", to_label="main",
                                                 actor="alice")),
    ("copy_files across", lambda r: r.copy_files("alice", "demo", "2.0", to_owner="bob", from_label="dev",
                                                 to_label="prod", actor="bob")),
    ("copy_files across update", lambda r: r.copy_files("alice", "demo", "1.0", to_owner="bob",
                                                        to_label="frozen", mode="update", actor="bob")),
    ("copy_files across replace", lambda r: r.copy_files("alice", "demo", "1.0", to_owner="bob", to_label="beta",
                                                         mode="replace", actor="bob")),
    ("remove_file", lambda r: r.remove_file("alice", "demo", "1.0", A, actor="alice")),
    ("remove_release", lambda r: r.remove_release("alice", "demo", "1.0", actor="alice")),
    ("remove_package", lambda r: r.remove_package("alice", "demo", actor="alice")),
    ("transfer from", lambda r: r.transfer_package("alice", "demo", "acme", actor="alice")),
    ("transfer into", lambda r: r.transfer_package("alice", "devonly", "bob", actor="alice")
     if r.lock_label("bob", "dev", True, actor="bob") else None),
    ("commit after lock", _commit_onto_main),
]


@pytest.mark.parametrize("name,call", LOCKED, ids=[x[0] for x in LOCKED])
def test_changes_to_a_locked_label_are_refused(reg, engine, commits, name, call):
    if name in ("transfer into", "commit after lock"):
        before = None  # these lock one more label first (an event of their own)
    else:
        before, woken = dump(engine), commits.count
    with pytest.raises(Conflict, match=r"label \w+ is locked"):
        call(reg)
    if before is not None:
        assert dump(engine) == before and commits.count == woken
    assert [f["labels"] for f in reg.get_package("alice", "demo", True)["files"]] == [["main"], ["dev"]]


def test_commit_refused_keeps_the_stage_and_nothing_else(reg, engine):
    st = reg.stage("alice", "demo", "3.0", "demo-3.0.tar.gz", "pypi", None, ["dev"], {}, None, None, "alice")
    reg.lock_label("alice", "dev", True, actor="alice")
    before = dump(engine)
    with pytest.raises(Conflict, match="label dev is locked"):
        reg.commit(st["dist_id"], blob_meta(b"x", "demo-3.0.tar.gz"), "alice")
    assert dump(engine) == before and reg.get_staged(st["dist_id"])["labels"] == ["dev"]
    reg.lock_label("alice", "dev", False, actor="alice")
    assert reg.commit(st["dist_id"], blob_meta(b"x", "demo-3.0.tar.gz"), "alice")["labels"] == ["dev"]


def test_reading_a_locked_label_is_allowed(reg):
    assert [f["basename"] for f in reg.copy_label("alice", "main", "stable", actor="alice")] == [A]
    out = reg.copy_files("alice", "demo", "1.0", to_owner="carol", actor="carol")  # main of alice -> carol
    assert out[0]["labels"] == ["main"]
    n = len(reg.read_stream("bob", 0))  # bob's copy already carries the locked prod: a no-op, not a change
    assert reg.copy_files("alice", "demo", "1.0", to_owner="bob", to_label="prod", mode="update",
                          actor="bob")[0]["labels"] == ["prod"]
    assert len(reg.read_stream("bob", 0)) == n
    reg.label_files("alice", "beta", package="demo", version="1.0", actor="alice")  # A carries main too
    reg.unlabel_files("alice", "beta", package="demo", version="1.0", actor="alice")
    upload(reg, "alice", "demo", "3.0", "demo-3.0.tar.gz", dist_type="pypi", labels=["dev"])
    reg.remove_file("alice", "demo", "2.0", B, actor="alice")  # dev only
    reg.remove_package("alice", "devonly", actor="alice")
    assert reg.get_label("alice", "main")["is_locked"] is True


def test_unlocking_is_always_allowed(reg, engine):
    assert reg.lock_label("alice", "main", False, actor="alice") == {"name": "main", "is_locked": False}
    reg.remove_file("alice", "demo", "1.0", A, actor="alice")
    assert "main" not in reg.list_labels("alice")
    # a lock on a label no file carries stays, and can be lifted
    assert reg.lock_label("alice", "ghost", True, actor="alice")["is_locked"] is True
    with pytest.raises(Conflict, match="label ghost is locked"):
        reg.label_files("alice", "ghost", package="demo", actor="alice")
    assert reg.lock_label("alice", "ghost", False, actor="alice")["is_locked"] is False
    reg.label_files("alice", "ghost", package="demo", actor="alice")
    before = dump(engine)
    reg.rebuild_projections()
    assert dump(engine) == before


def test_unknown_labels_are_not_found_with_a_clear_message(reg):
    with pytest.raises(NotFound, match="label alice/nope not found"):
        reg.get_label("alice", "nope")
    with pytest.raises(NotFound, match="label nope not found"):
        reg.remove_label("alice", "nope", actor="alice")
    with pytest.raises(NotFound, match="label nope not found"):
        reg.copy_label("alice", "nope", "dev", actor="alice")
