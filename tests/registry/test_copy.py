"""copy_files (``anaconda copy``): within one owner (a label) and across owners (package, release and files
created in the target's stream with ``copied_from``), modes add / replace / update, conflicts, errors that
append nothing, and replay."""
import pytest

from services.kernel.errors import BadRequest, Conflict, InvalidName, NotFound
from services.kernel.events import Event

from .conftest import dump, upload

A = "linux-64/demo-1.0-0.conda"
N = "noarch/demo-1.0-1.tar.bz2"
S = "demo-1.0.tar.gz"
ATTRS = {"summary": "Demo", "license": {"name": "MIT"}, "package_types": ["conda"]}
SAME = ("basename", "filename", "version", "package", "description", "attrs", "type", "distribution_type",
        "subdir", "size", "md5", "sha256", "dependencies", "blob_key", "record")


@pytest.fixture
def reg(registry):
    registry.create_package("alice", "demo", public=True, public_attrs=ATTRS, actor="alice")
    registry.create_release("alice", "demo", "1.0", {"description": "one"}, actor="alice")
    upload(registry, "alice", "demo", "1.0", A, attrs={"build": "0"}, dependencies={"depends": ["python"]},
           description="the conda one")
    upload(registry, "alice", "demo", "1.0", N, labels=["main", "dev"])
    upload(registry, "alice", "demo", "1.0", S, dist_type="pypi", labels=["dev"])
    return registry


def events(reg, owner, after=0):
    return reg.read_stream(owner, after)


def test_within_owner_adds_the_label(reg, commits):
    n, woken = len(events(reg, "alice")), commits.count
    out = reg.copy_files("alice", "demo", "1.0", to_label="stable", actor="bob", correlation_id="c1")
    assert [f["basename"] for f in out] == [A, N]
    assert [f["labels"] for f in out] == [["main", "stable"], ["dev", "main", "stable"]]
    [ev] = events(reg, "alice", n)
    assert ev["type"] == "files_labeled" and ev["actor"] == "bob" and ev["correlation_id"] == "c1"
    assert ev["data"] == {"owner": "alice", "label": "stable", "files": [
        {"package": "demo", "version": "1.0", "basename": A}, {"package": "demo", "version": "1.0", "basename": N}]}
    assert commits.count == woken + 1
    # one basename, from another label; to_owner equal to the owner is the same as None
    out = reg.copy_files("alice", "demo", "1.0", S, to_owner="Alice", from_label="dev", to_label="main",
                         actor="alice")
    assert [(f["basename"], f["labels"]) for f in out] == [(S, ["dev", "main"])]


def test_within_owner_conflict_and_modes(reg, engine, commits):
    reg.copy_files("alice", "demo", "1.0", N, from_label="dev", to_label="stable", actor="alice")
    before, woken = dump(engine), commits.count
    with pytest.raises(Conflict, match="--replace or --update"):
        reg.copy_files("alice", "demo", "1.0", to_label="stable", actor="alice")  # N already has it
    with pytest.raises(Conflict):
        reg.copy_files("alice", "demo", "1.0", actor="alice")  # main onto main
    assert dump(engine) == before and commits.count == woken
    out = reg.copy_files("alice", "demo", "1.0", to_label="stable", mode="update", actor="alice")
    assert [f["basename"] for f in out] == [A, N] and all("stable" in f["labels"] for f in out)
    [ev] = events(reg, "alice", len(before["events"]))
    assert ev["data"]["files"] == [{"package": "demo", "version": "1.0", "basename": A}]  # only the one missing it
    n = len(events(reg, "alice"))
    out = reg.copy_files("alice", "demo", "1.0", to_label="stable", mode="replace", actor="alice")
    assert [f["basename"] for f in out] == [A, N] and len(events(reg, "alice")) == n  # a no-op per file


def test_across_owners_creates_package_release_and_files(reg, engine):
    src = {f["basename"]: f for f in reg.get_release("alice", "demo", "1.0")["distributions"]}
    alice_before = events(reg, "alice")
    out = reg.copy_files("alice", "demo", "1.0", to_owner="bob", to_label="stable", actor="bob",
                         correlation_id="c2")
    assert [f["basename"] for f in out] == [A, N]
    evs = events(reg, "bob")
    assert [e["type"] for e in evs] == ["package_created", "release_created", "file_uploaded", "file_uploaded"]
    assert [e["sequence"] for e in evs] == [1, 2, 3, 4] and {e["correlation_id"] for e in evs} == {"c2"}
    for e in evs:
        Event.from_wire(e)
    assert evs[0]["data"] == {"owner": "bob", "package": "demo", "public": True, "summary": "Demo",
                              "package_types": ["conda"], "public_attrs": ATTRS}
    assert evs[1]["data"] == {"owner": "bob", "package": "demo", "version": "1.0", "attrs": {"description": "one"}}
    up = evs[2]["data"]
    assert up["copied_from"] == {"owner": "alice", "package": "demo", "version": "1.0", "basename": A}
    assert up["labels"] == ["stable"] and up["public"] is True and up["replaced"] is False
    assert up["dependencies"] == {"depends": ["python"]} and up["record"]["name"] == "demo"
    assert events(reg, "alice") == alice_before  # the source stream is untouched
    for f in out:
        assert f["owner"] == "bob" and f["labels"] == ["stable"] and f["uploader"] == "bob"
        assert f["full_name"] == f"bob/demo/1.0/{f['basename']}"
        assert {k: f[k] for k in SAME} == {k: src[f["basename"]][k] for k in SAME}
    pkg = reg.get_package("bob", "demo", False)
    assert pkg["summary"] == "Demo" and pkg["public_attrs"] == ATTRS and pkg["versions"] == ["1.0"]
    assert reg.list_labels("bob") == {"stable": {"is_locked": False, "num_files": 2}}
    assert reg.get_file("bob", "demo", "1.0", A) == out[0]
    before = dump(engine)
    reg.rebuild_projections()
    assert dump(engine) == before


def test_across_owners_add_replace_update(reg, engine, commits):
    reg.copy_files("alice", "demo", "1.0", N, to_owner="bob", actor="bob")
    reg.label_files("bob", "extra", package="demo", actor="bob")
    kept = reg.get_file("bob", "demo", "1.0", N)
    before, woken = dump(engine), commits.count
    with pytest.raises(Conflict, match="--replace or --update"):
        reg.copy_files("alice", "demo", "1.0", to_owner="bob", actor="bob")  # N exists in bob/demo
    assert dump(engine) == before and commits.count == woken
    # update: N is kept as it is (it has main); A is new
    n = len(events(reg, "bob"))
    out = reg.copy_files("alice", "demo", "1.0", to_owner="bob", mode="update", actor="bob")
    assert [e["type"] for e in events(reg, "bob", n)] == ["file_uploaded"]
    assert out[1] == kept and out[0]["basename"] == A
    # update onto another label: the existing files only get the label
    n = len(events(reg, "bob"))
    out = reg.copy_files("alice", "demo", "1.0", to_owner="bob", to_label="beta", mode="update", actor="bob")
    [ev] = events(reg, "bob", n)
    assert ev["type"] == "files_labeled" and ev["data"]["label"] == "beta" and len(ev["data"]["files"]) == 2
    assert out[1]["id"] == kept["id"] and out[1]["labels"] == ["beta", "extra", "main"]
    # replace: uploaded again with only the target label, as ONE event that supersedes the old file (no removal
    # that an indexer could publish on its own, leaving a moment without the file)
    n = len(events(reg, "bob"))
    out = reg.copy_files("alice", "demo", "1.0", N, to_owner="bob", to_label="main", mode="replace", actor="bob")
    [ev] = events(reg, "bob", n)
    assert ev["type"] == "file_uploaded" and ev["data"]["replaced"] is True and ev["data"]["labels"] == ["main"]
    assert out[0]["labels"] == ["main"] and out[0]["id"] != kept["id"]
    assert reg.get_package("bob", "demo", False)["versions"] == ["1.0"]  # no second package/release event
    assert [e["type"] for e in events(reg, "bob")].count("package_created") == 1
    before = dump(engine)
    reg.rebuild_projections()
    assert dump(engine) == before


def test_across_into_existing_package_keeps_its_visibility(reg):
    reg.create_package("bob", "demo", public=False, public_attrs={"summary": "mine"}, actor="bob")
    out = reg.copy_files("alice", "demo", "1.0", A, to_owner="bob", actor="bob")
    evs = events(reg, "bob")
    assert [e["type"] for e in evs] == ["package_created", "release_created", "file_uploaded"]
    assert evs[2]["data"]["public"] is False and out[0]["public"] is False
    assert reg.get_package("bob", "demo", True)["summary"] == "mine"


def test_private_source_gives_private_copy(reg):
    reg.update_package("alice", "demo", {"public": False}, actor="alice")
    reg.copy_files("alice", "demo", "1.0", to_owner="carol", actor="carol")
    with pytest.raises(NotFound):
        reg.get_package("carol", "demo", False)
    assert reg.get_package("carol", "demo", True)["public"] is False


REFUSED = [
    ("unknown package", NotFound, "package alice/nope not found", dict(package="nope")),
    ("unknown release", NotFound, "release alice/demo/9 not found", dict(version="9")),
    ("unknown file", NotFound, "not found", dict(basename="linux-64/x-1-0.conda")),
    ("unknown label", NotFound, "label nope not found", dict(from_label="nope")),
    ("label not on that file", NotFound, "label dev not found", dict(basename=A, from_label="dev")),
    ("unknown label across", NotFound, "label nope not found", dict(from_label="nope", to_owner="bob")),
    ("bad mode", BadRequest, "mode", dict(mode="merge")),
    ("bad label", InvalidName, "label", dict(to_label="1bad")),
    ("bad owner", InvalidName, "reserved", dict(to_owner="api")),
    ("conflict within", Conflict, "--replace", dict(from_label="dev", to_label="main")),
]


@pytest.mark.parametrize("name,error,message,kw", REFUSED, ids=[r[0] for r in REFUSED])
def test_refused_copy_appends_nothing(reg, engine, commits, name, error, message, kw):
    before, woken = dump(engine), commits.count
    args = dict(owner="alice", package="demo", version="1.0", actor="alice")
    args.update(kw)
    with pytest.raises(error, match=message):
        reg.copy_files(**args)
    assert dump(engine) == before and commits.count == woken


def test_refused_copy_across_midway_appends_nothing(reg, engine, commits):
    """A (new in bob) comes before N (already in bob): the conflict on N must roll back A's upload, the
    release and the stream locks' sequences."""
    reg.create_package("bob", "demo", public=True, public_attrs={}, actor="bob")
    reg.create_release("bob", "demo", "1.0", {}, actor="bob")
    upload(reg, "bob", "demo", "1.0", N, actor="bob")
    before, woken = dump(engine), commits.count
    with pytest.raises(Conflict):
        reg.copy_files("alice", "demo", "1.0", to_owner="bob", actor="bob")
    assert dump(engine) == before and commits.count == woken
    assert [e["sequence"] for e in events(reg, "bob")] == [1, 2, 3]
