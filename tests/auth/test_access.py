"""access(login, owner): the role model (own namespace, organization owners), NotFound for unknown owners."""
import pytest

from services.auth.domain import roles
from services.kernel.errors import NotFound


def test_own_namespace_is_admin(auth, alice, bob):
    assert auth.access("alice", "alice") == "admin"
    assert auth.access("ALICE", "alice") == "admin"
    assert auth.access("bob", "alice") is None
    assert auth.access(None, "alice") is None


def test_org_owners_are_admin(auth, alice, bob):
    auth.create_org("team", "alice")
    assert auth.access("alice", "team") == "admin"
    assert auth.access("bob", "team") is None
    assert auth.access(None, "team") is None
    auth.add_org_owner("team", "bob")
    assert auth.access("bob", "team") == "admin"


def test_unknown_owner_is_not_found_for_everyone(auth, alice):
    for reader in (None, "alice", "nobody"):
        with pytest.raises(NotFound):
            auth.access(reader, "nobody")
    with pytest.raises(NotFound):
        auth.access("alice", "api")


def test_unknown_or_malformed_reader_has_no_role(auth, alice):
    assert auth.access("ghost", "alice") is None
    assert auth.access("../x", "alice") is None


def test_role_rules():
    assert roles.strongest([]) is None
    assert roles.strongest(["read", None, "admin", "write"]) == "admin"
    assert roles.strongest(["read", "write"]) == "write"
    assert roles.strongest(["bogus"]) is None
    assert roles.role_of(None, "x", ["owner"]) is None
    assert roles.role_of("x", "x", []) == "admin"
    assert roles.role_of("a", "org", ["owner"]) == "admin"
    assert roles.role_of("a", "org", ["unknown-kind"]) is None
