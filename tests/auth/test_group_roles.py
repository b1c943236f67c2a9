"""The role rules with groups: org-wide groups, package groups, max of grants (read < write < admin), access()
with and without a package, grants(), visible_scope(), and the pure rules behind them."""
import pytest

from services.auth.domain import groups, roles
from services.kernel.errors import BadRequest, Conflict, Forbidden, InvalidName, NotFound

PW = {"bob": "bob-password"}


@pytest.fixture
def team(auth, alice, bob):
    auth.create_org("team", "alice")
    return "team"


def group(auth, name, perms, members=(), packages=(), org="team"):
    auth.create_group(org, name, perms, "alice")
    for login in members:
        auth.add_group_member(org, name, login, "alice")
    for package in packages:
        auth.add_group_package(org, name, package, "alice")


@pytest.mark.parametrize("perms", ["read", "write", "admin"])
def test_a_group_without_packages_covers_the_whole_org(auth, team, perms):
    group(auth, "g", perms, members=["bob"])
    assert auth.access("bob", "team") == perms
    assert auth.access("bob", "team", "numpy") == perms
    assert auth.access("bob", "team", "not-created-yet") == perms
    assert auth.access("bob", "bob") == "admin"
    assert auth.access("alice", "team", "numpy") == "admin"  # owners: admin on everything


@pytest.mark.parametrize("perms", ["read", "write", "admin"])
def test_a_group_with_packages_covers_only_them(auth, team, perms):
    group(auth, "g", perms, members=["bob"], packages=["numpy", "SciPy"])
    assert auth.access("bob", "team") is None
    assert auth.access("bob", "team", "numpy") == perms
    assert auth.access("bob", "team", "SciPy") == perms
    assert auth.access("bob", "team", "scipy") is None  # package names keep their case
    assert auth.access("bob", "team", "pandas") is None


def test_the_strongest_grant_wins(auth, team):
    group(auth, "readers", "read", members=["bob"])
    group(auth, "numpy-admins", "admin", members=["bob"], packages=["numpy"])
    group(auth, "scipy-readers", "read", members=["bob"], packages=["scipy"])
    group(auth, "scipy-writers", "write", members=["bob"], packages=["scipy"])
    assert auth.access("bob", "team") == "read"
    assert auth.access("bob", "team", "numpy") == "admin"
    assert auth.access("bob", "team", "scipy") == "write"
    assert auth.access("bob", "team", "pandas") == "read"
    group(auth, "writers", "write", members=["bob"])
    assert auth.access("bob", "team") == "write"
    assert auth.access("bob", "team", "pandas") == "write"
    assert auth.access("bob", "team", "scipy") == "write"
    assert auth.grants("bob", "team") == {"all": "write", "packages": {"numpy": "admin", "scipy": "write"}}


def test_membership_is_what_grants(auth, team):
    group(auth, "writers", "write", packages=["numpy"])
    assert auth.access("bob", "team", "numpy") is None  # a group grants nothing to non-members
    auth.add_group_member("team", "writers", "bob", "alice")
    assert auth.access("bob", "team", "numpy") == "write"
    auth.remove_group_member("team", "writers", "bob", "alice")
    assert auth.access("bob", "team", "numpy") is None


def test_removing_the_last_package_is_refused_so_the_group_never_widens(auth, team):
    group(auth, "g", "write", members=["bob"], packages=["numpy", "scipy"])
    auth.remove_group_package("team", "g", "scipy", "alice")
    assert auth.access("bob", "team", "scipy") is None
    with pytest.raises(Conflict):
        auth.remove_group_package("team", "g", "numpy", "alice")
    assert auth.access("bob", "team", "numpy") == "write"
    assert auth.access("bob", "team", "pandas") is None
    assert auth.access("bob", "team") is None


def test_groups_of_one_org_grant_nothing_elsewhere(auth, team):
    auth.create_org("other", "alice")
    group(auth, "g", "admin", members=["bob"], packages=["numpy"])
    group(auth, "h", "admin", members=["bob"])
    assert auth.access("bob", "other") is None
    assert auth.access("bob", "other", "numpy") is None
    assert auth.access("bob", "alice", "numpy") is None
    assert auth.grants("bob", "other") == {"all": None, "packages": {}}


def test_access_edge_cases(auth, team):
    group(auth, "g", "read", members=["bob"], packages=["numpy"])
    assert auth.access(None, "team", "numpy") is None
    assert auth.access("nobody", "team", "numpy") is None
    with pytest.raises(NotFound):
        auth.access("bob", "nothing", "numpy")
    with pytest.raises(InvalidName):
        auth.access("bob", "team", "a/b")
    assert auth.access("alice", "alice", "numpy") == "admin"  # own namespace, any package


def test_grants(auth, team):
    assert auth.grants("alice", "team") == {"all": "admin", "packages": {}}
    assert auth.grants("bob", "bob") == {"all": "admin", "packages": {}}
    assert auth.grants("bob", "team") == {"all": None, "packages": {}}
    assert auth.grants(None, "team") == {"all": None, "packages": {}}
    group(auth, "numpy-w", "write", members=["bob"], packages=["numpy"])
    group(auth, "two-r", "read", members=["bob"], packages=["numpy", "scipy"])
    held = auth.grants("bob", "team")
    assert held == {"all": None, "packages": {"numpy": "write", "scipy": "read"}}
    for package in ("numpy", "scipy", "pandas"):  # the invariant the gateway relies on
        assert auth.access("bob", "team", package) == held["packages"].get(package, held["all"])
    with pytest.raises(NotFound):
        auth.grants("bob", "nothing")


def test_visible_scope(auth, team):
    auth.create_user("carol", "carol-password")
    auth.create_org("zoo", "bob")
    auth.create_org("lab", "alice")
    group(auth, "numpy-readers", "read", members=["bob", "carol"], packages=["numpy", "Ab"])
    group(auth, "everything", "read", members=["carol"], org="lab")
    assert auth.visible_scope("alice") == {"owners": ["alice", "lab", "team"], "packages": []}
    assert auth.visible_scope("BOB") == {"owners": ["bob", "zoo"], "packages": [["team", "Ab"], ["team", "numpy"]]}
    assert auth.visible_scope("carol") == {"owners": ["carol", "lab"],
                                           "packages": [["team", "Ab"], ["team", "numpy"]]}
    group(auth, "all-readers", "read", members=["carol"])  # now carol sees all of team: no package list
    assert auth.visible_scope("carol") == {"owners": ["carol", "lab", "team"], "packages": []}
    for nobody in (None, "nobody", "../x"):
        assert auth.visible_scope(nobody) == {"owners": [], "packages": []}


def test_org_wide_admin_group_members_are_org_admins(auth, team):
    group(auth, "pkg-admins", "admin", members=["bob"], packages=["numpy"])
    with pytest.raises(Forbidden):
        auth.create_token("bob", PW["bob"], "ci", org="team")
    with pytest.raises(Forbidden):
        auth.create_group("team", "x", "read", "bob")
    group(auth, "admins", "admin", members=["bob"])
    token = auth.create_token("bob", PW["bob"], "ci", org="team")["token"]
    assert auth.authenticate(token)["org"] == "team"  # the principal keeps its org
    assert auth.create_group("team", "x", "read", "bob")["name"] == "x"


def test_pure_role_rules():
    assert roles.grants(None, "team", ["owner"], [("admin", [])]) == {"all": None, "packages": {}}
    assert roles.grants("a", "a", [], []) == {"all": "admin", "packages": {}}
    held = roles.grants("a", "team", [], [("read", []), ("admin", ["p"]), ("write", ["q"]), ("read", ["q"])])
    assert held == {"all": "read", "packages": {"p": "admin", "q": "write"}}
    assert roles.role_on(held) == "read"
    assert roles.role_on(held, "p") == "admin"
    assert roles.role_on(held, "other") == "read"
    held = roles.grants("a", "team", ["owner"], [("read", ["p"])])
    assert held == {"all": "admin", "packages": {"p": "admin"}}  # never weaker than the namespace role
    assert roles.grants("a", "team", [], [("bogus", []), ("bogus", ["p"])]) == {"all": None, "packages": {}}


def test_pure_group_rules():
    assert groups.group_name("Devs") == "devs"
    assert groups.known_group_name("a/b") is None
    with pytest.raises(InvalidName):
        groups.group_name("a" * 65)
    assert [groups.perms(p) for p in ("read", "write", "admin")] == ["read", "write", "admin"]
    with pytest.raises(BadRequest):
        groups.perms("owner")
    g = groups.Group(org="team", name="devs", perms="read")
    assert g.whole_org and g.to_dict()["full_name"] == "team/devs"
    g.packages.append("numpy")
    assert not g.whole_org
