"""Labels (anaconda ``label`` / ``move``): events, read model, visibility, and replay of label events."""
import pytest

from services.kernel.errors import BadRequest, Conflict, InvalidName, NotFound

from .conftest import dump, upload

A = "linux-64/demo-1.0-0.conda"
B = "linux-64/demo-2.0-0.conda"


@pytest.fixture
def reg(registry):
    registry.create_package("alice", "demo", public=True, public_attrs={}, actor="alice")
    registry.create_package("alice", "secret", public=False, public_attrs={}, actor="alice")
    for v in ("1.0", "2.0"):
        registry.create_release("alice", "demo", v, {}, actor="alice")
    registry.create_release("alice", "secret", "1.0", {}, actor="alice")
    upload(registry, "alice", "demo", "1.0", A)
    upload(registry, "alice", "demo", "2.0", B, labels=["dev"])
    upload(registry, "alice", "secret", "1.0", "secret-1.0.tar.gz", dist_type="pypi", labels=["hidden"])
    return registry


def last(reg, n=1):
    return reg.read_stream("alice", 0)[-n:]


def test_list_and_show_respect_visibility(reg):
    assert reg.list_labels("alice", private_ok=False) == {"dev": {"is_locked": False, "num_files": 1},
                                                          "main": {"is_locked": False, "num_files": 1}}
    assert set(reg.list_labels("alice", private_ok=True)) == {"dev", "hidden", "main"}
    shown = reg.get_label("alice", "main")
    assert shown["is_locked"] is False and [f["full_name"] for f in shown["files"]] == [f"alice/demo/1.0/{A}"]
    with pytest.raises(NotFound):
        reg.get_label("alice", "hidden", private_ok=False)
    assert reg.get_label("alice", "hidden", private_ok=True)["files"][0]["package"] == "secret"
    with pytest.raises(NotFound):
        reg.get_label("alice", "nope", private_ok=True)


def test_move_is_label_then_unlabel(reg):
    moved = reg.label_files("alice", "stable", package="demo", version="1.0", actor="alice")
    [ev] = last(reg)
    assert ev["type"] == "files_labeled"
    assert ev["data"] == {"owner": "alice", "label": "stable",
                          "files": [{"package": "demo", "version": "1.0", "basename": A}]}
    assert [f["labels"] for f in moved] == [["main", "stable"]]
    reg.unlabel_files("alice", "main", package="demo", version="1.0", actor="alice")
    [ev] = last(reg)
    assert ev["type"] == "files_unlabeled" and ev["data"]["label"] == "main"
    assert reg.get_file("alice", "demo", "1.0", A)["labels"] == ["stable"]
    n = len(reg.read_stream("alice", 0))
    assert reg.label_files("alice", "stable", package="demo", version="1.0", actor="alice")  # no-op
    assert len(reg.read_stream("alice", 0)) == n
    with pytest.raises(NotFound):
        reg.label_files("alice", "x", package="nope", actor="alice")
    with pytest.raises(NotFound):
        reg.unlabel_files("alice", "main", package="demo", version="1.0", actor="alice")


def test_copy_remove_and_lock(reg, engine):
    copied = reg.copy_label("alice", "dev", "main", actor="alice")
    assert [f["basename"] for f in copied] == [B]
    [ev] = last(reg)
    assert ev["type"] == "label_copied" and ev["data"]["from_label"] == "dev" and ev["data"]["to_label"] == "main"
    assert ev["data"]["files"] == [{"package": "demo", "version": "2.0", "basename": B}]
    assert reg.get_file("alice", "demo", "2.0", B)["labels"] == ["dev", "main"]
    with pytest.raises(BadRequest):
        reg.copy_label("alice", "dev", "dev", actor="alice")
    with pytest.raises(NotFound):
        reg.copy_label("alice", "nope", "main", actor="alice")
    reg.copy_label("alice", "main", "stable", actor="alice")
    reg.remove_label("alice", "stable", actor="alice")
    [ev] = last(reg)
    assert ev["type"] == "label_removed" and len(ev["data"]["files"]) == 2
    assert "stable" not in reg.list_labels("alice", True)
    with pytest.raises(NotFound):
        reg.remove_label("alice", "stable", actor="alice")
    assert reg.lock_label("alice", "dev", True, actor="alice") == {"name": "dev", "is_locked": True}
    [ev] = last(reg)
    assert ev["type"] == "label_lock_changed" and ev["data"] == {"owner": "alice", "label": "dev", "locked": True}
    assert reg.list_labels("alice")["dev"]["is_locked"] is True
    n = len(reg.read_stream("alice", 0))
    reg.lock_label("alice", "dev", True, actor="alice")
    assert len(reg.read_stream("alice", 0)) == n
    reg.lock_label("alice", "dev", False, actor="alice")
    assert reg.get_label("alice", "dev")["is_locked"] is False
    with pytest.raises(InvalidName):
        reg.lock_label("alice", "bad/label", True, actor="alice")
    before = dump(engine)
    reg.rebuild_projections()
    assert dump(engine) == before


def test_main_cannot_be_removed_as_a_whole(reg):
    """``main`` is the default channel: removing the label from every file at once is refused (it would empty
    ``/conda/<owner>`` in one step); taking it off chosen files stays allowed."""
    n = len(reg.read_stream("alice", 0))
    with pytest.raises(Conflict, match="default channel"):
        reg.remove_label("alice", "main", actor="alice")
    assert len(reg.read_stream("alice", 0)) == n
    assert reg.list_labels("alice", True)["main"]["num_files"] == 1
    reg.unlabel_files("alice", "main", package="demo", version="1.0", actor="alice")
    assert "main" not in reg.list_labels("alice", True)
