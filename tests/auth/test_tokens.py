"""Tokens: charset and entropy, digest-only storage, expiry, revocation, the note rule, listing, info."""
import re
from datetime import datetime

import pytest
from sqlalchemy import text

from services.kernel import signing
from services.kernel.errors import BadRequest, NotFound, Unauthorized

from .conftest import SECRET

PW = "alice-password"


def rows(db, sql, **params):
    with db.connect() as conn:
        return conn.execute(text(sql), params).mappings().all()


def test_token_charset_and_length(auth, alice):
    seen = set()
    for i in range(20):
        token = auth.create_token("alice", PW, f"n{i}")["token"]
        assert re.fullmatch(r"[A-Za-z0-9-]+", token)
        assert len(token) >= 3 + 40  # >= 160 random bits in hex
        seen.add(token)
    assert len(seen) == 20


def test_only_the_digest_is_stored(auth, alice, db):
    created = auth.create_token("alice", PW, "laptop")
    token = created["token"]
    stored = rows(db, "SELECT * FROM tokens WHERE id = :i", i=created["id"])
    assert len(stored) == 1
    assert stored[0]["digest"] == signing.token_digest(SECRET, token)
    for row in rows(db, "SELECT * FROM tokens"):
        assert not any(isinstance(v, str) and token in v for v in row.values())
        assert not any(isinstance(v, str) and token[3:] in v for v in row.values())


def test_create_token_shape_and_defaults(auth, alice):
    created = auth.create_token("alice", PW, "laptop")
    assert set(created) >= {"token", "id", "note", "scopes", "expires", "user"}
    assert created["note"] == "laptop"
    assert created["user"] == "alice"
    assert created["org"] is None
    assert created["expires"] is None
    assert created["scopes"] == ["all"]          # created without scopes: full access, and it says so
    assert auth.authenticate(created["token"]) == {
        "login": "alice", "token_id": created["id"], "scopes": created["scopes"], "org": None, "expires": None}


def test_scopes_are_stored_as_given(auth, alice):
    assert auth.create_token("alice", PW, "a", scopes=["conda:download"])["scopes"] == ["conda:download"]
    t = auth.create_token("alice", PW, "b", scopes="conda:download api api")
    assert t["scopes"] == ["conda:download", "api"]
    assert auth.authenticate(t["token"])["scopes"] == ["conda:download", "api"]
    assert auth.create_token("alice", PW, "c", scopes=[])["scopes"] == ["all"]
    assert auth.create_token("alice", PW, "e", scopes="")["scopes"] == ["all"]
    for bad in (["has space"], [1], "x" * 70, {"a": 1}):
        with pytest.raises(BadRequest):
            auth.create_token("alice", PW, "d", scopes=bad)


def test_max_age_gives_an_aware_expiry_and_then_401(auth, alice, clock):
    created = auth.create_token("alice", PW, "short", max_age=3600)
    assert created["expires"] == "2025-01-02T04:04:05+00:00"
    assert datetime.fromisoformat(created["expires"]).utcoffset().total_seconds() == 0
    token = created["token"]
    assert auth.authenticate(token)["expires"] == created["expires"]
    clock.advance(3599)
    assert auth.authenticate(token)["login"] == "alice"
    clock.advance(1)
    with pytest.raises(Unauthorized):
        auth.authenticate(token)
    with pytest.raises(Unauthorized):
        auth.token_info(token)
    assert auth.list_tokens("alice") == []


@pytest.mark.parametrize("bad", [0, -5, True, "abc", 1.5, 10 ** 12])
def test_bad_max_age(auth, alice, bad):
    with pytest.raises(BadRequest):
        auth.create_token("alice", PW, "n", max_age=bad)


def test_bad_notes(auth, alice):
    for bad in ("", "   ", None, "x" * 256, "a\nb", 5):
        with pytest.raises(BadRequest):
            auth.create_token("alice", PW, bad)


def test_revoke(auth, alice):
    one = auth.create_token("alice", PW, "one")["token"]
    two = auth.create_token("alice", PW, "two")["token"]
    auth.revoke_token(one)
    with pytest.raises(Unauthorized):
        auth.authenticate(one)
    with pytest.raises(Unauthorized):
        auth.revoke_token(one)
    assert auth.authenticate(two)["login"] == "alice"
    assert [t["note"] for t in auth.list_tokens("alice")] == ["two"]


@pytest.mark.parametrize("garbage", ["", "nope", "wt-" + "0" * 48, "wt_abc", "a" * 300, None, 42, "tok en"])
def test_unknown_tokens_are_401(auth, alice, garbage):
    with pytest.raises(Unauthorized):
        auth.authenticate(garbage)


def test_a_token_from_another_secret_is_unknown(auth, alice, settings):
    from services.auth.bootstrap import bootstrap
    from .conftest import fast_hasher
    token = auth.create_token("alice", PW, "n")["token"]
    settings.secret_key = "another-secret"
    other = bootstrap(settings, password_hasher=fast_hasher())
    with pytest.raises(Unauthorized):
        other.authenticate(token)


def test_fail_if_exists_is_a_400(auth, alice):
    first = auth.create_token("alice", PW, "binstar_client:local:alice@vm", fail_if_exists=True)
    with pytest.raises(BadRequest) as info:
        auth.create_token("alice", PW, "binstar_client:local:alice@vm", fail_if_exists=True)
    assert info.value.status == 400
    assert "already exists" in info.value.message
    assert auth.authenticate(first["token"])["token_id"] == first["id"]


def test_same_note_replaces_the_old_token(auth, alice):
    first = auth.create_token("alice", PW, "laptop")
    second = auth.create_token("alice", PW, "laptop", fail_if_exists=False)
    with pytest.raises(Unauthorized):
        auth.authenticate(first["token"])
    assert auth.authenticate(second["token"])["token_id"] == second["id"]
    assert [t["id"] for t in auth.list_tokens("alice")] == [second["id"]]


def test_an_expired_token_does_not_block_its_note(auth, alice, clock):
    auth.create_token("alice", PW, "laptop", max_age=10)
    clock.advance(11)
    again = auth.create_token("alice", PW, "laptop", fail_if_exists=True)
    assert auth.authenticate(again["token"])["login"] == "alice"


def test_notes_are_per_user(auth, alice, bob):
    a = auth.create_token("alice", PW, "laptop", fail_if_exists=True)
    b = auth.create_token("bob", "bob-password", "laptop", fail_if_exists=True)
    assert auth.authenticate(a["token"])["login"] == "alice"
    assert auth.authenticate(b["token"])["login"] == "bob"


def test_list_tokens_shape(auth, alice, clock):
    auth.create_token("alice", PW, "laptop", scopes=["api"], max_age=60, hostname="vm", remote_addr="10.0.0.1",
                      application="anaconda-client/1.16")
    listed = auth.list_tokens("alice")
    assert listed == [{
        "id": listed[0]["id"], "note": "laptop", "scopes": ["api"], "expires": "2025-01-02T03:05:05+00:00",
        "created_at": "2025-01-02T03:04:05+00:00", "application": "anaconda-client/1.16", "hostname": "vm",
        "remote_addr": "10.0.0.1", "org": None}]
    assert "token" not in listed[0]
    with pytest.raises(NotFound):
        auth.list_tokens("nobody")


def test_long_metadata_is_cut_not_refused(auth, alice):
    auth.create_token("alice", PW, "n", application="UA/" + "x" * 1000)
    assert len(auth.list_tokens("alice")[0]["application"]) == 255


def test_token_info(auth, alice):
    created = auth.create_token("alice", PW, "laptop", application="anaconda-client")
    assert auth.token_info(created["token"]) == {
        "id": created["id"], "application": "anaconda-client", "note": "laptop", "scopes": created["scopes"],
        "expires": None, "user": "alice", "org": None}


def test_revoke_token_named(auth, alice, bob):
    one = auth.create_token("alice", PW, "laptop")["token"]
    bobs = auth.create_token("bob", "bob-password", "laptop")["token"]
    auth.revoke_token_named("alice", "laptop")
    with pytest.raises(Unauthorized):
        auth.authenticate(one)
    assert auth.authenticate(bobs)["login"] == "bob"
    with pytest.raises(NotFound):
        auth.revoke_token_named("alice", "laptop")
    with pytest.raises(NotFound):
        auth.revoke_token_named("alice", "never")


def test_concurrent_logins_with_one_note_leave_one_live_token(auth, alice):
    """Racing create_token calls (the CLI retrying a login) end with exactly one live token for the note."""
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(lambda _: auth.create_token("alice", PW, "laptop"), range(6)))
    live = []
    for created in results:
        try:
            live.append(auth.authenticate(created["token"])["token_id"])
        except Unauthorized:
            pass
    assert len(live) == 1
    assert [t["id"] for t in auth.list_tokens("alice")] == live


def test_a_token_without_scopes_is_stored_and_listed_as_all(auth, alice, db):
    """Issue 15 item 16: a token created without scopes (``anaconda auth --create`` without ``--scopes`` sends
    ``[]``) had full access but was stored and listed with none (anaconda-client printed ``NO_SCOPE``)."""
    created = auth.create_token("alice", PW, "no-scopes", scopes=[])
    stored = rows(db, "SELECT scopes FROM tokens WHERE id = :i", i=created["id"])[0]["scopes"]
    assert (stored if isinstance(stored, list) else __import__("json").loads(stored)) == ["all"]
    [listed] = [t for t in auth.list_tokens("alice") if t["id"] == created["id"]]
    assert listed["scopes"] == ["all"]
    assert auth.authenticate(created["token"])["scopes"] == ["all"]
    assert auth.token_info(created["token"])["scopes"] == ["all"]
    # a row written before this change holds []: it is shown as (and always meant) all
    with db.begin() as conn:
        conn.execute(text("UPDATE tokens SET scopes = :s WHERE id = :i"), {"s": "[]", "i": created["id"]})
    assert [t["scopes"] for t in auth.list_tokens("alice") if t["id"] == created["id"]] == [["all"]]
    assert auth.authenticate(created["token"])["scopes"] == ["all"]
