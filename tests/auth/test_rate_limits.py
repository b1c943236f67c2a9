"""Login and token creation are rate limited per (address, account) pair, with an exponential backoff after
repeated failures, and per address (counters in the auth database, so every gateway worker and auth replica
shares them); over a limit is TooManyRequests (429) with the seconds to wait, decided before any password is
checked. Secrets are stored only as hashes and compared in constant time."""
from __future__ import annotations

import inspect

import pytest
from sqlalchemy import text

from services.auth.bootstrap import bootstrap
from services.auth.service_layer.passwords import Passwords
from services.auth.service_layer.service import AuthService
from services.kernel import signing
from services.kernel.errors import TooManyRequests, Unauthorized

from .conftest import SECRET


@pytest.fixture
def limited(settings, clock, hasher):
    settings.login_rate_account, settings.login_rate_address, settings.login_rate_window = 3, 5, 60
    settings.login_backoff_after, settings.login_backoff_max = 3, 600
    auth = bootstrap(settings, password_hasher=hasher, clock=clock)
    for login in ("ann", "ben", "cid"):
        auth.create_user(login, f"{login}-password")
    return auth


def test_token_creation_is_limited_per_account_and_address(limited, clock, hasher):
    for _ in range(2):
        limited.create_token("ann", "ann-password", note="n", remote_addr="10.0.0.1")
    with pytest.raises(Unauthorized):
        limited.create_token("ann", "wrong", note="n", remote_addr="10.0.0.1")
    spent = hasher.verified
    with pytest.raises(TooManyRequests) as err:
        limited.create_token("ann", "ann-password", note="n", remote_addr="10.0.0.1")
    assert err.value.status == 429 and err.value.retry_after == 60
    assert hasher.verified == spent            # refused before any password work
    # the same account from another address is not affected (it was, when the limit was per account alone)
    limited.create_token("ann", "ann-password", note="n", remote_addr="10.0.0.2")
    limited.create_token("ben", "ben-password", note="n", remote_addr="10.0.0.9")
    clock.advance(45)
    with pytest.raises(TooManyRequests) as err:
        limited.create_token("ANN", "ann-password", note="n", remote_addr="10.0.0.1")
    assert err.value.retry_after == 15
    clock.advance(15)                           # a new window
    assert limited.create_token("ann", "ann-password", note="n", remote_addr="10.0.0.1")["token"]


def test_limited_per_address_across_accounts(limited):
    limited.create_token("ann", "ann-password", note="n", remote_addr="10.1.1.1")
    limited.create_token("ben", "ben-password", note="n", remote_addr="10.1.1.1")
    for login in ("cid", "nobody-here"):
        with pytest.raises(Unauthorized):
            limited.create_token(login, "wrong", note="n", remote_addr="10.1.1.1")
    limited.create_token("cid", "cid-password", note="n", remote_addr="10.1.1.1")     # the 5th
    with pytest.raises(TooManyRequests) as err:
        limited.create_token("ben", "ben-password", note="n", remote_addr="10.1.1.1")
    assert "address" in err.value.message
    limited.create_token("ben", "ben-password", note="n", remote_addr="10.1.1.2")


def test_an_attacker_elsewhere_does_not_lock_the_owner_out(limited, clock):
    """Issue 15 item 13: 20 wrong passwords a minute from one address locked the owner out everywhere, pip and
    twine included. Now the guessing address backs off; the owner's own address is not slowed at all."""
    refused = 0
    for _ in range(20):
        try:
            limited.authenticate_password("ann", "guess", "10.6.6.6")
        except TooManyRequests:
            refused += 1
        except Unauthorized:
            pass
        clock.advance(1)
    assert refused > 0
    with pytest.raises(TooManyRequests):                  # the guessing pair waits, even with the right password
        limited.authenticate_password("ann", "ann-password", "10.6.6.6")
    assert limited.authenticate_password("ann", "ann-password", "10.0.0.7")["login"] == "ann"
    token = limited.create_token("ann", "ann-password", note="owner", remote_addr="10.0.0.7")["token"]
    assert limited.authenticate(token)["login"] == "ann"       # tokens never meet the password counters
    assert limited.create_session("ann", "ann-password", 3600, remote_addr="10.0.0.7")["session"]


def test_failures_back_off_exponentially_up_to_the_maximum(settings, clock, hasher):
    settings.login_rate_account, settings.login_rate_address = 10_000, 10_000
    settings.login_backoff_after, settings.login_backoff_max = 2, 10
    auth = bootstrap(settings, password_hasher=hasher, clock=clock)
    auth.create_user("ann", "ann-password")
    for wait in (0, 1, 2, 4, 8, 10, 10):         # after the 1st, 2nd, ... failure in a row
        with pytest.raises(Unauthorized):
            auth.authenticate_password("ann", "guess", "10.4.0.1")
        if wait:
            with pytest.raises(TooManyRequests) as err:   # the right password too, before any check
                auth.authenticate_password("ann", "ann-password", "10.4.0.1")
            assert err.value.retry_after == wait
            clock.advance(wait)
    # a right password (once allowed) resets the pair: the next failure starts from nothing again
    assert auth.authenticate_password("ann", "ann-password", "10.4.0.1")["login"] == "ann"
    with pytest.raises(Unauthorized):
        auth.authenticate_password("ann", "guess", "10.4.0.1")
    with pytest.raises(Unauthorized):
        auth.authenticate_password("ann", "guess", "10.4.0.1")


def test_basic_password_counts_only_failures(limited):
    for _ in range(10):                          # a working pip/twine is never slowed down
        assert limited.authenticate_password("ann", "ann-password", "10.2.0.1")["login"] == "ann"
    for _ in range(3):
        with pytest.raises(Unauthorized):
            limited.authenticate_password("ann", "guess", "10.2.0.2")
    with pytest.raises(TooManyRequests):        # this address now waits, even with the right password
        limited.authenticate_password("ann", "ann-password", "10.2.0.2")
    with pytest.raises(TooManyRequests):
        limited.create_token("ann", "ann-password", note="n", remote_addr="10.2.0.2")
    assert limited.authenticate_password("ann", "ann-password", "10.2.0.3")["login"] == "ann"


def test_unknown_logins_are_limited_like_known_ones(limited):
    for _ in range(3):
        with pytest.raises(Unauthorized):
            limited.create_token("ghost", "x", note="n", remote_addr="10.3.0.1")
    with pytest.raises(TooManyRequests):
        limited.create_token("ghost", "x", note="n", remote_addr="10.3.0.1")


def test_old_counters_are_pruned(limited, clock, db):
    for i in range(40):
        with pytest.raises(Unauthorized):
            limited.authenticate_password(f"ghost{i}", "x", f"10.5.{i}.1")
    clock.advance(2 * 600 + 1)
    service = limited._passwords
    with service._uow() as repo:
        repo.prune_counters(clock().timestamp() - service._limits.horizon)
    with db.connect() as c:
        assert c.execute(text("SELECT count(*) FROM rate_limits")).scalar_one() == 0


def test_secrets_are_stored_as_hashes_only(auth, alice, db):
    token = auth.create_token("alice", "alice-password", note="ci")["token"]
    with db.connect() as c:
        pw_hash = c.execute(text("SELECT password_hash FROM accounts WHERE login='alice'")).scalar_one()
        rows = [tuple(str(v) for v in r) for r in c.execute(text("SELECT * FROM tokens"))]
    assert pw_hash.startswith("$argon2id$") and "alice-password" not in pw_hash
    assert rows and all(token not in v and token[3:] not in v for r in rows for v in r)
    assert any(signing.token_digest(SECRET, token) in r for r in rows)


def test_secret_comparisons_are_constant_time():
    src = inspect.getsource(AuthService._live_token)
    assert "hmac.compare_digest(found.digest, digest)" in src
    assert "hmac.compare_digest(expected, signature)" in inspect.getsource(signing.verify_policy)
    # passwords: argon2's verify compares in constant time; the service never compares hashes itself
    assert "==" not in inspect.getsource(Passwords.check)
