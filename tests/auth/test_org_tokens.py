"""Organization tokens: only owners may make them; their principal carries the org; notes unique per org."""
import pytest
from sqlalchemy import text

from services.auth.adapters.sql_repository import SqlUnitOfWork
from services.auth.domain.model import Token
from services.kernel.errors import BadRequest, Conflict, Forbidden, NotFound, Unauthorized

PW = {"alice": "alice-password", "bob": "bob-password"}


@pytest.fixture
def team(auth, alice, bob):
    auth.create_org("team", "alice")
    return "team"


def test_owner_makes_an_org_token(auth, team):
    created = auth.create_token("alice", PW["alice"], "ci", org="Team", scopes=["conda:download"])
    assert created["user"] == "alice" and created["org"] == "team"
    principal = auth.authenticate(created["token"])
    assert principal["login"] == "alice"
    assert principal["org"] == "team"
    assert principal["scopes"] == ["conda:download"]
    assert auth.token_info(created["token"])["org"] == "team"
    assert [t["org"] for t in auth.list_tokens("alice")] == ["team"]


def test_non_owner_is_forbidden(auth, team):
    with pytest.raises(Forbidden) as info:
        auth.create_token("bob", PW["bob"], "ci", org="team")
    assert info.value.status == 403
    auth.add_org_owner("team", "bob")
    assert auth.create_token("bob", PW["bob"], "ci", org="team")["org"] == "team"


def test_password_is_checked_before_org_rights(auth, team):
    with pytest.raises(Unauthorized):
        auth.create_token("bob", "wrong", "ci", org="team")


def test_unknown_or_non_org_target(auth, team):
    with pytest.raises(NotFound):
        auth.create_token("alice", PW["alice"], "ci", org="nothing")
    with pytest.raises(BadRequest):
        auth.create_token("alice", PW["alice"], "ci", org="bob")
    own = auth.create_token("alice", PW["alice"], "ci", org="alice")  # own namespace = personal token
    assert own["org"] is None and auth.authenticate(own["token"])["org"] is None


def test_notes_are_unique_per_org_across_owners(auth, team):
    auth.add_org_owner("team", "bob")
    first = auth.create_token("alice", PW["alice"], "ci", org="team")
    personal = auth.create_token("alice", PW["alice"], "ci")  # personal namespace: no clash
    with pytest.raises(BadRequest):
        auth.create_token("bob", PW["bob"], "ci", org="team", fail_if_exists=True)
    second = auth.create_token("bob", PW["bob"], "ci", org="team")
    with pytest.raises(Unauthorized):
        auth.authenticate(first["token"])
    assert auth.authenticate(second["token"])["login"] == "bob"
    assert auth.authenticate(personal["token"])["org"] is None


def test_revoke_named_org_token(auth, team):
    org_token = auth.create_token("alice", PW["alice"], "ci", org="team")["token"]
    personal = auth.create_token("alice", PW["alice"], "ci")["token"]
    with pytest.raises(Forbidden):
        auth.revoke_token_named("bob", "ci", org="team")
    with pytest.raises(NotFound):
        auth.revoke_token_named("alice", "ci", org="nothing")
    auth.revoke_token_named("alice", "ci", org="team")
    with pytest.raises(Unauthorized):
        auth.authenticate(org_token)
    assert auth.authenticate(personal)["org"] is None
    with pytest.raises(NotFound):
        auth.revoke_token_named("alice", "ci", org="team")


def test_the_database_refuses_two_live_tokens_with_one_note(auth, team, db, clock):
    """The partial unique index is what makes the note rule hold under concurrent logins."""
    auth.create_token("alice", PW["alice"], "ci", org="team")
    clash = Token(id="f" * 32, digest="0" * 64, login="alice", org="team", note="ci", scopes=[],
                  created_at=clock())
    with pytest.raises(Conflict):
        with SqlUnitOfWork(db)() as repo:
            repo.add_token(clash)
    with db.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM tokens WHERE note = 'ci'")).scalar_one() == 1
