"""Groups of organizations: creation, reading, members and packages, and who may do each (owner, group member,
member of an org-wide admin group, outsider, anonymous); unknown orgs, groups and users."""
from concurrent.futures import ThreadPoolExecutor

import pytest

from services.kernel.errors import BadRequest, Conflict, Forbidden, InvalidName, NotFound


@pytest.fixture
def team(auth, alice, bob):
    """team: owned by alice; bob is a plain user; carol an outsider; dave in an org-wide admin group."""
    auth.create_user("carol", "carol-password", name="Carol C.")
    auth.create_user("dave", "dave-password")
    auth.create_org("team", "alice")
    auth.create_group("team", "admins", "admin", "alice")
    auth.add_group_member("team", "admins", "dave", "alice")
    return "team"


def test_owner_creates_a_group(auth, team):
    created = auth.create_group("Team", "Devs", "write", "alice")
    assert created == {"name": "devs", "org": "team", "perms": "write", "members_count": 0, "packages": [],
                       "full_name": "team/devs"}
    assert auth.get_group("team", "DEVS", "alice") == created
    assert [g["name"] for g in auth.list_groups("team", "alice")] == ["admins", "devs"]
    assert auth.list_groups("team", "alice")[0]["members_count"] == 1


def test_group_names_and_perms_are_validated(auth, team):
    for bad in ("", "1abc", "_x", "a/b", "a..b", "a b", "x" * 65, None, 5, "dévs"):
        with pytest.raises(InvalidName) as info:
            auth.create_group("team", bad, "read", "alice")
        assert info.value.status == 400
    assert auth.create_group("team", "x" * 64, "read", "alice")["name"] == "x" * 64
    assert auth.create_group("team", "Q.a_b-1", "read", "alice")["name"] == "q.a_b-1"
    for bad in ("owner", "READ", "", None, "all", ["read"]):
        with pytest.raises(BadRequest) as info:
            auth.create_group("team", "g", bad, "alice")
        assert info.value.status == 400
    with pytest.raises(NotFound):
        auth.get_group("team", "g", "alice")  # nothing half-created


def test_duplicate_group_conflicts_case_insensitively(auth, team):
    auth.create_group("team", "devs", "read", "alice")
    with pytest.raises(Conflict):
        auth.create_group("team", "DEVS", "admin", "alice")
    assert auth.get_group("team", "devs", "alice")["perms"] == "read"
    auth.create_org("other", "alice")
    assert auth.create_group("other", "devs", "admin", "alice")["full_name"] == "other/devs"


def test_unknown_org_or_a_user_namespace_is_not_found(auth, team):
    for org in ("nothing", "bob", "alice", "api", "../x"):
        with pytest.raises(NotFound):
            auth.create_group(org, "devs", "read", "alice")
        with pytest.raises(NotFound):
            auth.list_groups(org, "alice")
        with pytest.raises(NotFound):
            auth.org_members(org)


def test_who_may_create_groups(auth, team):
    auth.create_group("team", "readers", "read", "alice")
    auth.create_group("team", "writers", "write", "alice")
    auth.create_group("team", "pkg-admins", "admin", "alice")
    auth.add_group_package("team", "pkg-admins", "numpy", "alice")
    for login, group in (("bob", "readers"), ("bob", "writers"), ("carol", "pkg-admins")):
        auth.add_group_member("team", group, login, "alice")
    for actor in ("bob", "carol", "nobody", None, "../x"):  # read/write/package-admin members, strangers
        with pytest.raises(Forbidden) as info:
            auth.create_group("team", "mine", "admin", actor)
        assert info.value.status == 403
    assert auth.create_group("team", "by-dave", "read", "dave")["name"] == "by-dave"  # org-wide admin group


def test_who_may_read_groups(auth, team):
    auth.create_group("team", "pkg-readers", "read", "alice")
    auth.add_group_package("team", "pkg-readers", "numpy", "alice")
    auth.add_group_member("team", "pkg-readers", "bob", "alice")
    for reader in ("alice", "dave", "bob"):  # owner, admin group, member of a package-scoped read group
        assert [g["name"] for g in auth.list_groups("team", reader)] == ["admins", "pkg-readers"]
        assert auth.get_group("team", "admins", reader)["members_count"] == 1
        assert auth.group_members("team", "admins", reader) == [{"login": "dave", "name": None}]
        assert auth.group_packages("team", "pkg-readers", reader) == [{"full_name": "team/numpy", "name": "numpy"}]
        with pytest.raises(NotFound):
            auth.get_group("team", "missing", reader)
    for outsider in ("carol", "nobody", None):
        with pytest.raises(Forbidden):
            auth.list_groups("team", outsider)
        for call in (auth.get_group, auth.group_members, auth.group_packages):
            with pytest.raises(Forbidden):
                call("team", "admins", outsider)
            with pytest.raises(Forbidden):  # an outsider cannot tell which groups exist
                call("team", "missing", outsider)


def test_members(auth, team):
    auth.create_group("team", "devs", "write", "alice")
    auth.add_group_member("team", "devs", "Carol", "alice")
    auth.add_group_member("team", "devs", "carol", "dave")  # idempotent, and an admin-group member may
    auth.add_group_member("team", "devs", "bob", "alice")
    assert auth.group_members("team", "devs", "alice") == [{"login": "bob", "name": None},
                                                            {"login": "carol", "name": "Carol C."}]
    assert auth.get_group("team", "devs", "carol")["members_count"] == 2
    assert auth.is_group_member("team", "devs", "CAROL") is True
    assert auth.is_group_member("team", "devs", "alice") is False  # owners are not group members
    assert auth.is_group_member("team", "devs", "nobody") is False
    assert auth.is_group_member("team", "devs", "../x") is False
    auth.remove_group_member("team", "devs", "carol", "alice")
    auth.remove_group_member("team", "devs", "carol", "alice")  # not a member any more: nothing to do
    assert auth.is_group_member("team", "devs", "carol") is False
    assert auth.group_members("team", "devs", "bob") == [{"login": "bob", "name": None}]


def test_member_changes_need_an_org_admin(auth, team):
    auth.create_group("team", "devs", "write", "alice")
    auth.add_group_member("team", "devs", "bob", "alice")
    for actor in ("bob", "carol", None):
        with pytest.raises(Forbidden):
            auth.add_group_member("team", "devs", "carol", actor)
        with pytest.raises(Forbidden):
            auth.remove_group_member("team", "devs", "bob", actor)
    assert [m["login"] for m in auth.group_members("team", "devs", "alice")] == ["bob"]


def test_unknown_users_groups_and_orgs(auth, team):
    auth.create_group("team", "devs", "write", "alice")
    with pytest.raises(NotFound):
        auth.add_group_member("team", "devs", "nobody", "alice")
    with pytest.raises(NotFound):
        auth.remove_group_member("team", "devs", "nobody", "alice")
    with pytest.raises(BadRequest):
        auth.add_group_member("team", "devs", "team", "alice")  # an organization cannot be a member
    for group in ("missing", "a/b", None):
        with pytest.raises(NotFound):
            auth.add_group_member("team", group, "bob", "alice")
        with pytest.raises(NotFound):
            auth.is_group_member("team", group, "bob")
        with pytest.raises(NotFound):
            auth.add_group_package("team", group, "numpy", "alice")
    with pytest.raises(NotFound):
        auth.is_group_member("nothing", "devs", "bob")
    with pytest.raises(NotFound):
        auth.add_group_member("nothing", "devs", "bob", "alice")


def test_packages(auth, team):
    auth.create_group("team", "devs", "write", "alice")
    auth.add_group_package("team", "devs", "SciPy", "alice")
    auth.add_group_package("team", "devs", "numpy", "dave")
    auth.add_group_package("team", "devs", "numpy", "alice")  # idempotent
    assert auth.group_packages("team", "devs", "alice") == [
        {"full_name": "team/SciPy", "name": "SciPy"}, {"full_name": "team/numpy", "name": "numpy"}]
    assert auth.get_group("team", "devs", "alice")["packages"] == ["SciPy", "numpy"]
    auth.remove_group_package("team", "devs", "SciPy", "alice")
    auth.remove_group_package("team", "devs", "SciPy", "alice")  # already gone
    assert auth.get_group("team", "devs", "alice")["packages"] == ["numpy"]
    for bad in ("", "a/b", "..", "x" * 200, None):
        with pytest.raises(InvalidName):
            auth.add_group_package("team", "devs", bad, "alice")
    for actor in ("bob", "carol", None):
        with pytest.raises(Forbidden):
            auth.add_group_package("team", "devs", "pandas", actor)
        with pytest.raises(Forbidden):
            auth.remove_group_package("team", "devs", "numpy", actor)
    assert auth.get_group("team", "devs", "alice")["packages"] == ["numpy"]


def test_org_members_and_user_orgs(auth, team):
    auth.create_group("team", "devs", "read", "alice")
    auth.add_group_member("team", "devs", "bob", "alice")
    auth.add_group_member("team", "admins", "bob", "alice")
    assert auth.org_members("TEAM") == ["alice", "bob", "dave"]
    assert [o["login"] for o in auth.user_orgs("bob")] == ["team"]
    assert auth.user_orgs("carol") == []
    auth.remove_group_member("team", "devs", "bob", "alice")
    auth.remove_group_member("team", "admins", "bob", "alice")
    assert auth.org_members("team") == ["alice", "dave"]
    assert auth.user_orgs("bob") == []


def test_concurrent_adds_of_one_member_leave_one_membership(auth, team):
    auth.create_group("team", "devs", "write", "alice")
    with ThreadPoolExecutor(6) as pool:
        list(pool.map(lambda _: auth.add_group_member("team", "devs", "bob", "alice"), range(6)))
        list(pool.map(lambda _: auth.add_group_package("team", "devs", "numpy", "alice"), range(6)))
    group = auth.get_group("team", "devs", "alice")
    assert group["members_count"] == 1 and group["packages"] == ["numpy"]
