"""Collaborators: events, read table, idempotence, errors, what package removal does to them, the viewer
argument of list_packages, and replay."""
import pytest

from services.kernel.errors import InvalidName, NotFound
from services.kernel.events import Event

from .conftest import dump, upload


@pytest.fixture
def reg(registry):
    registry.create_package("alice", "demo", public=True, public_attrs={}, actor="alice")
    registry.create_package("alice", "secret", public=False, public_attrs={}, actor="alice")
    registry.create_package("alice", "hush", public=False, public_attrs={}, actor="alice")
    registry.create_release("alice", "secret", "1.0", {}, actor="alice")
    upload(registry, "alice", "secret", "1.0", "secret-1.0.tar.gz", dist_type="pypi")
    return registry


def stream(reg, owner="alice"):
    return reg.read_stream(owner, 0)


def test_add_list_check_remove(reg, engine, commits):
    n, woken = len(stream(reg)), commits.count
    assert reg.add_collaborator("alice", "secret", "Carol", actor="alice", correlation_id="r1") is None
    [ev] = stream(reg)[n:]
    assert ev["type"] == "collaborator_added" and ev["stream_id"] == "alice" and ev["correlation_id"] == "r1"
    assert ev["data"] == {"owner": "alice", "package": "secret", "login": "carol"}
    Event.from_wire(ev)
    assert commits.count == woken + 1
    reg.add_collaborator("alice", "secret", "bob", actor="alice")
    reg.add_collaborator("alice", "demo", "carol", actor="alice")
    assert reg.list_collaborators("alice", "secret") == [{"login": "bob"}, {"login": "carol"}]
    assert reg.is_collaborator("alice", "secret", "CAROL") is True
    assert reg.is_collaborator("alice", "hush", "carol") is False
    assert reg.is_collaborator("alice", "secret", None) is False
    assert reg.collaborator_packages("alice", "carol") == ["demo", "secret"]
    assert reg.collaborator_packages("bob", "carol") == [] and reg.collaborator_packages("alice", None) == []
    assert [r[:3] for r in dump(engine)["collaborators"]] == [("alice", "demo", "carol"), ("alice", "secret", "bob"),
                                                             ("alice", "secret", "carol")]
    # idempotent add: nothing appended, the relay is not woken
    n, woken = len(stream(reg)), commits.count
    reg.add_collaborator("alice", "secret", "carol", actor="alice")
    assert len(stream(reg)) == n and commits.count == woken
    reg.remove_collaborator("alice", "secret", "carol", actor="alice")
    [ev] = stream(reg)[n:]
    assert ev["type"] == "collaborator_removed"
    assert ev["data"] == {"owner": "alice", "package": "secret", "login": "carol"}
    assert reg.list_collaborators("alice", "secret") == [{"login": "bob"}]
    assert reg.collaborator_packages("alice", "carol") == ["demo"]


def test_errors_append_nothing(reg, engine, commits):
    reg.add_collaborator("alice", "secret", "carol", actor="alice")
    before, woken = dump(engine), commits.count
    for call in (lambda: reg.remove_collaborator("alice", "secret", "dave", actor="alice"),
                 lambda: reg.add_collaborator("alice", "nope", "carol", actor="alice"),
                 lambda: reg.remove_collaborator("alice", "nope", "carol", actor="alice"),
                 lambda: reg.list_collaborators("alice", "nope"),
                 lambda: reg.is_collaborator("alice", "nope", "carol"),
                 lambda: reg.add_collaborator("bob", "secret", "carol", actor="bob")):
        with pytest.raises(NotFound):
            call()
    with pytest.raises(NotFound, match="dave is not a collaborator"):
        reg.remove_collaborator("alice", "secret", "dave", actor="alice")
    with pytest.raises(InvalidName):
        reg.add_collaborator("alice", "secret", "../x", actor="alice")
    assert dump(engine) == before and commits.count == woken


def test_package_removal_drops_them_release_removal_does_not(reg, engine):
    reg.add_collaborator("alice", "secret", "carol", actor="alice")
    reg.add_collaborator("alice", "demo", "carol", actor="alice")
    reg.remove_release("alice", "secret", "1.0", actor="alice")
    assert reg.is_collaborator("alice", "secret", "carol")
    reg.remove_package("alice", "secret", actor="alice")
    assert reg.collaborator_packages("alice", "carol") == ["demo"]
    # a new package of the same name starts without collaborators
    reg.create_package("alice", "secret", public=False, public_attrs={}, actor="alice")
    assert reg.list_collaborators("alice", "secret") == []
    before = dump(engine)
    reg.rebuild_projections()
    assert dump(engine) == before


def test_list_packages_for_viewers_and_extra_packages(reg):
    def names(**kw):
        return [p["name"] for p in reg.list_packages("alice", **kw)]
    assert names() == ["demo"]
    assert names(private_ok=True) == ["demo", "hush", "secret"]
    reg.add_collaborator("alice", "secret", "carol", actor="alice")
    assert names(viewer="carol") == ["demo", "secret"]
    assert names(viewer="Carol") == ["demo", "secret"]
    assert names(viewer="bob") == ["demo"]
    assert names(extra_packages=["hush"]) == ["demo", "hush"]
    assert names(viewer="carol", extra_packages=("hush", "nope")) == ["demo", "hush", "secret"]
    [s] = [p for p in reg.list_packages("alice", viewer="carol") if p["name"] == "secret"]
    assert s == [p for p in reg.list_packages("alice", private_ok=True) if p["name"] == "secret"][0]
    assert s["latest_version"] == "1.0" and s["package_types"] == ["pypi"]


def test_rebuild_restores_collaborators(reg, engine):
    reg.add_collaborator("alice", "secret", "carol", actor="alice")
    reg.add_collaborator("alice", "demo", "bob", actor="alice")
    reg.remove_collaborator("alice", "demo", "bob", actor="alice")
    reg.add_collaborator("alice", "demo", "dave", actor="alice")
    before = dump(engine)
    assert before["collaborators"]
    reg.rebuild_projections()
    assert dump(engine) == before
    assert reg.list_collaborators("alice", "demo") == [{"login": "dave"}]
