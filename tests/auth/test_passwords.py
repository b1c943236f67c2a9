"""Passwords: argon2id hashes at rest (never plaintext), one verification per attempt even for unknown logins,
one message for every bad login, rehash when the parameters change."""
import pytest
from sqlalchemy import text

from services.auth.adapters.argon2_hasher import Argon2Hasher
from services.auth.bootstrap import bootstrap
from services.kernel.errors import Unauthorized

from .conftest import CountingHasher, fast_hasher


def stored_hash(db, login):
    with db.connect() as conn:
        return conn.execute(text("SELECT password_hash FROM accounts WHERE login = :l"), {"l": login}).scalar_one()


def test_only_an_argon2_hash_is_stored(auth, db):
    auth.create_user("alice", "correct horse battery staple")
    value = stored_hash(db, "alice")
    assert value.startswith("$argon2id$")
    assert "correct horse" not in value
    with db.connect() as conn:
        row = conn.execute(text("SELECT * FROM accounts WHERE login = 'alice'")).one()
    assert not any(isinstance(v, str) and "correct horse" in v for v in row)
    assert Argon2Hasher().verify(value, "correct horse battery staple")
    assert not Argon2Hasher().verify(value, "wrong")


def test_default_hasher_uses_rfc9106_parameters(settings, db):
    auth = bootstrap(settings)  # the production hasher
    auth.create_user("alice", "pw-alice-12345")
    assert "$m=65536,t=3,p=4$" in stored_hash(db, "alice")
    assert auth.create_token("alice", "pw-alice-12345", "n")["token"]


def test_organizations_have_no_password(auth, alice, db):
    auth.create_org("team", "alice")
    assert stored_hash(db, "team") is None
    with pytest.raises(Unauthorized):
        auth.create_token("team", "", "n")


@pytest.mark.parametrize("login,password", [
    ("alice", "wrong"), ("alice", ""), ("alice", None), ("ALICE", "Alice-password"), ("nobody", "x"),
    ("api", "x"), ("../etc", "x"), (None, "x"), ("alice", "x" * 10000),
])
def test_every_bad_login_gets_the_same_answer(auth, alice, login, password):
    with pytest.raises(Unauthorized) as info:
        auth.create_token(login, password, "note")
    assert info.value.message == "invalid username or password"
    assert info.value.status == 401


def test_unknown_logins_still_spend_a_verification(auth, alice, bob, hasher):
    auth.create_org("team", "alice")
    for login, password in (("alice", "alice-password"), ("alice", "bad"), ("nobody", "bad"),
                            ("team", "bad"), ("api", "bad"), ("bob", None)):
        before = hasher.verified
        try:
            auth.create_token(login, password, "note")
        except Unauthorized:
            pass
        assert hasher.verified - before == 1, login


def test_login_is_case_insensitive_password_is_not(auth, alice):
    assert auth.create_token("ALICE", "alice-password", "n")["user"] == "alice"
    with pytest.raises(Unauthorized):
        auth.create_token("alice", "ALICE-PASSWORD", "n2")


def test_outdated_hash_is_upgraded_on_login(settings, db):
    weak = Argon2Hasher(time_cost=1, memory_cost=1024, parallelism=1)
    bootstrap(settings, password_hasher=weak).create_user("alice", "pw-alice-12345")
    old = stored_hash(db, "alice")
    stronger = CountingHasher(Argon2Hasher(time_cost=2, memory_cost=2048, parallelism=1))
    auth = bootstrap(settings, password_hasher=stronger)
    auth.create_token("alice", "pw-alice-12345", "n")
    new = stored_hash(db, "alice")
    assert new != old and "$m=2048,t=2,p=1$" in new
    assert auth.create_token("alice", "pw-alice-12345", "n2")["token"]
    assert fast_hasher().verify(old, "pw-alice-12345")


def test_authenticate_password_gives_a_token_less_principal(auth, alice):
    p = auth.authenticate_password("alice", "alice-password")
    assert p["login"] == "alice" and p["token_id"] is None and p["scopes"] is None
    for login, pw in (("alice", "wrong"), ("nobody", "x"), ("alice", "")):
        with pytest.raises(Unauthorized):
            auth.authenticate_password(login, pw)
