"""Users and organizations: one namespace, validated lower-cased names, the wire shape of a user."""
from datetime import datetime

import pytest

from services.kernel.errors import BadRequest, Conflict, InvalidName, NotFound

USER_KEYS = {"login", "name", "user_type", "created_at", "email", "description", "location", "company", "url"}


def test_create_user_returns_the_user_shape(auth, clock):
    user = auth.create_user("Alice", "pw-alice-12345", email="alice@example.org", name="Alice A.")
    assert set(user) == USER_KEYS
    assert user["login"] == "alice"
    assert user["user_type"] == "user"
    assert user["email"] == "alice@example.org"
    assert user["name"] == "Alice A."
    assert user["created_at"] == "2025-01-02T03:04:05+00:00"
    assert datetime.fromisoformat(user["created_at"]).utcoffset() is not None
    assert auth.get_user("ALICE") == user


def test_reserved_and_invalid_names_are_refused(auth):
    for bad in ("api", "Conda", "t", "_upload", "a/b", "..", "", "x" * 64, "-dash"):
        with pytest.raises(InvalidName) as info:
            auth.create_user(bad, "pw-12345678")
        assert info.value.status == 400


def test_duplicate_names_conflict_case_insensitively(auth, alice):
    with pytest.raises(Conflict):
        auth.create_user("ALICE", "other-password")
    with pytest.raises(Conflict):
        auth.create_org("alice", "alice")


def test_orgs_share_the_namespace(auth, alice):
    org = auth.create_org("Team", "alice")
    assert org["login"] == "team"
    assert org["user_type"] == "org"
    assert "email" not in org
    assert set(org) == USER_KEYS - {"email"}
    with pytest.raises(Conflict):
        auth.create_user("team", "pw-12345678")
    with pytest.raises(Conflict):
        auth.create_org("team", "alice")


def test_create_org_needs_an_existing_user_as_owner(auth, alice):
    with pytest.raises(NotFound):
        auth.create_org("team", "nobody")
    auth.create_org("team", "alice")
    with pytest.raises(BadRequest):
        auth.create_org("subteam", "team")  # an organization cannot own one
    with pytest.raises(NotFound):
        auth.get_user("subteam")


def test_get_user_not_found(auth):
    with pytest.raises(NotFound):
        auth.get_user("nobody")
    with pytest.raises(NotFound):
        auth.get_user("api")  # reserved: can name nobody
    with pytest.raises(NotFound):
        auth.get_user(None)


def test_user_orgs(auth, alice, bob):
    auth.create_org("zeta", "alice")
    auth.create_org("beta", "alice")
    auth.create_org("bobs", "bob")
    assert [o["login"] for o in auth.user_orgs("alice")] == ["beta", "zeta"]
    assert [o["login"] for o in auth.user_orgs("bob")] == ["bobs"]
    auth.add_org_owner("zeta", "bob")
    auth.add_org_owner("zeta", "bob")  # idempotent
    assert [o["login"] for o in auth.user_orgs("bob")] == ["bobs", "zeta"]
    assert auth.user_orgs("zeta") == []
    with pytest.raises(NotFound):
        auth.user_orgs("nobody")


def test_add_org_owner_checks_both_sides(auth, alice, bob):
    auth.create_org("team", "alice")
    with pytest.raises(NotFound):
        auth.add_org_owner("team", "nobody")
    with pytest.raises(NotFound):
        auth.add_org_owner("nothing", "bob")
    with pytest.raises(BadRequest):
        auth.add_org_owner("bob", "alice")  # bob is a user
    auth.create_org("other", "bob")
    with pytest.raises(BadRequest):
        auth.add_org_owner("team", "other")  # an org cannot be an owner


def test_input_validation(auth):
    with pytest.raises(BadRequest):
        auth.create_user("carol", "")
    with pytest.raises(BadRequest):
        auth.create_user("carol", None)
    with pytest.raises(BadRequest):
        auth.create_user("carol", "pw-12345678", email="not-an-email")
    with pytest.raises(BadRequest):
        auth.create_user("carol", "pw-12345678", name="n" * 300)
    with pytest.raises(NotFound):
        auth.get_user("carol")  # nothing half-created
    assert auth.create_user("carol", "pw-12345678", email="")["email"] is None
