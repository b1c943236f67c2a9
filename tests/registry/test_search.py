"""search across owners: name matching (case-insensitive, LIKE wildcards taken literally), package type aliases,
conda platforms, and visibility (public, private_owners, private_packages, collaborators)."""
import pytest

from services.kernel.errors import BadRequest

from .conftest import upload


@pytest.fixture
def reg(registry):
    def pkg(owner, name, public=True, types=()):
        registry.create_package(owner, name, public=public, public_attrs={"package_types": list(types)},
                                actor=owner)
    pkg("alice", "demo")
    registry.create_release("alice", "demo", "1.0", {}, actor="alice")
    upload(registry, "alice", "demo", "1.0", "linux-64/demo-1.0-0.conda")
    upload(registry, "alice", "demo", "1.0", "noarch/demo-1.0-1.tar.bz2")
    pkg("alice", "secret", public=False)
    registry.create_release("alice", "secret", "0.1", {}, actor="alice")
    upload(registry, "alice", "secret", "0.1", "secret-0.1.tar.gz", dist_type="pypi")
    pkg("bob", "DemoTool")
    registry.create_release("bob", "DemoTool", "2.0", {}, actor="bob")
    upload(registry, "bob", "DemoTool", "2.0", "DemoTool-2.0-py3-none-any.whl", dist_type="pypi")
    pkg("bob", "r_thing", types=["r"])
    pkg("carol", "hidden", public=False)
    registry.create_release("carol", "hidden", "1", {}, actor="carol")
    upload(registry, "carol", "hidden", "1", "osx-arm64/hidden-1-0.conda", actor="carol")
    return registry


def names(results):
    return [r["full_name"] for r in results]


def test_query_matching_and_order(reg):
    assert names(reg.search("")) == ["alice/demo", "bob/DemoTool", "bob/r_thing"]
    assert names(reg.search(None)) == names(reg.search(""))
    assert names(reg.search("DEMO")) == ["alice/demo", "bob/DemoTool"]
    assert names(reg.search("tool")) == ["bob/DemoTool"]
    assert names(reg.search("_")) == ["bob/r_thing"]  # not a LIKE wildcard
    assert reg.search("%") == [] and reg.search("nothing") == []
    assert names(reg.search("  demo ")) == ["alice/demo", "bob/DemoTool"]
    with pytest.raises(BadRequest):
        reg.search(5)


def test_summaries_are_list_packages_summaries(reg):
    [s] = reg.search("demo", platform="linux-64")
    assert s == reg.list_packages("alice", False)[0]
    assert s["conda_platforms"] == ["linux-64", "noarch"] and s["latest_version"] == "1.0"


def test_type_and_platform_filters(reg):
    assert names(reg.search("", package_type="conda")) == ["alice/demo"]
    for alias in ("pypi", "PyPI", "standard_python", "python"):
        assert names(reg.search("", package_type=alias)) == ["bob/DemoTool"], alias
    for alias in ("r", "cran", "standard_r", "R"):
        assert names(reg.search("", package_type=alias)) == ["bob/r_thing"], alias
    assert reg.search("", package_type="installer") == []
    assert names(reg.search("", platform="noarch")) == ["alice/demo"]
    assert names(reg.search("", platform="Linux-64")) == ["alice/demo"]
    assert reg.search("", platform="osx-arm64") == []
    assert reg.search("tool", package_type="conda") == []


def test_visibility(reg):
    assert names(reg.search("", private_owners=["Alice"])) == ["alice/demo", "alice/secret", "bob/DemoTool",
                                                              "bob/r_thing"]
    assert names(reg.search("hid", private_packages=[["carol", "hidden"]])) == ["carol/hidden"]
    assert reg.search("hid", private_packages=[("carol", "other")]) == []
    assert reg.search("hid", viewer="dave") == []
    reg.add_collaborator("carol", "hidden", "dave", actor="carol")
    assert names(reg.search("hid", viewer="Dave")) == ["carol/hidden"]
    assert names(reg.search("", platform="osx-arm64", viewer="dave")) == ["carol/hidden"]
    assert names(reg.search("", package_type="pypi", private_owners=["alice"])) == ["alice/secret",
                                                                                   "bob/DemoTool"]
    with pytest.raises(BadRequest):
        reg.search("", private_packages=["carol/hidden"])


def test_recent_shows_only_what_the_reader_may_see(reg):
    """The home page's lists (issue 15 item 20): what changed last, newest first; a private package (and an
    owner whose only packages are private) appears only for a reader granted it."""
    reg.update_package("bob", "r_thing", {"summary": "changed last"}, actor="bob")
    anon = reg.recent(10)
    assert [p["full_name"] for p in anon["packages"]][0] == "bob/r_thing"
    assert set(names(anon["packages"])) == {"alice/demo", "bob/DemoTool", "bob/r_thing"}
    assert anon["packages"][0] == reg.list_packages("bob", False)[1]      # the same summaries as listings
    assert {o["owner"]: o["packages"] for o in anon["owners"]} == {"alice": 1, "bob": 2}
    assert anon["owners"][0]["owner"] == "bob"
    assert [p["full_name"] for p in reg.recent(1)["packages"]] == ["bob/r_thing"]
    assert len(reg.recent(1)["owners"]) == 1
    whole = reg.recent(10, private_owners=["carol"])
    assert "carol/hidden" in names(whole["packages"]) and "alice/secret" not in names(whole["packages"])
    assert {o["owner"] for o in whole["owners"]} == {"alice", "bob", "carol"}
    one = reg.recent(10, private_packages=[["alice", "secret"]])
    assert "alice/secret" in names(one["packages"]) and "carol/hidden" not in names(one["packages"])
    assert {o["owner"]: o["packages"] for o in one["owners"]}["alice"] == 2
    reg.add_collaborator("carol", "hidden", "dave", actor="carol")
    assert "carol/hidden" in names(reg.recent(10, viewer="dave")["packages"])
    assert "carol/hidden" not in names(reg.recent(10, viewer="erin")["packages"])
    for bad in (0, 101, "5", True):
        with pytest.raises(BadRequest):
            reg.recent(bad)
