"""Login and token creation are rate limited per account and per address (fixed windows in the auth database,
so every gateway worker and auth replica shares them); over the limit is TooManyRequests (429) with the seconds
left in the window, decided before any password is checked. Secrets are stored only as hashes and compared in
constant time."""
from __future__ import annotations

import inspect

import pytest
from sqlalchemy import text

from services.auth.bootstrap import bootstrap
from services.auth.service_layer.service import AuthService
from services.kernel import signing
from services.kernel.errors import TooManyRequests, Unauthorized

from .conftest import SECRET


@pytest.fixture
def limited(settings, clock, hasher):
    settings.login_rate_account, settings.login_rate_address, settings.login_rate_window = 3, 5, 60
    auth = bootstrap(settings, password_hasher=hasher, clock=clock)
    for login in ("ann", "ben", "cid"):
        auth.create_user(login, f"{login}-password")
    return auth


def test_token_creation_is_limited_per_account(limited, clock, hasher):
    for _ in range(2):
        limited.create_token("ann", "ann-password", note="n", remote_addr="10.0.0.1")
    with pytest.raises(Unauthorized):
        limited.create_token("ann", "wrong", note="n", remote_addr="10.0.0.2")
    spent = hasher.verified
    with pytest.raises(TooManyRequests) as err:
        limited.create_token("ann", "ann-password", note="n", remote_addr="10.0.0.3")
    assert err.value.status == 429 and err.value.retry_after == 60
    assert hasher.verified == spent            # refused before any password work
    # another account from another address is not affected
    limited.create_token("ben", "ben-password", note="n", remote_addr="10.0.0.9")
    clock.advance(45)
    with pytest.raises(TooManyRequests) as err:
        limited.create_token("ANN", "ann-password", note="n", remote_addr="10.0.0.4")
    assert err.value.retry_after == 15
    clock.advance(15)                           # a new window
    assert limited.create_token("ann", "ann-password", note="n", remote_addr="10.0.0.5")["token"]


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


def test_basic_password_counts_only_failures(limited):
    for _ in range(10):                          # a working pip/twine is never slowed down
        assert limited.authenticate_password("ann", "ann-password", "10.2.0.1")["login"] == "ann"
    for _ in range(3):
        with pytest.raises(Unauthorized):
            limited.authenticate_password("ann", "guess", "10.2.0.2")
    with pytest.raises(TooManyRequests):        # now even the right password waits for the window
        limited.authenticate_password("ann", "ann-password", "10.2.0.3")
    with pytest.raises(TooManyRequests):
        limited.create_token("ann", "ann-password", note="n", remote_addr="10.2.0.4")


def test_unknown_logins_are_limited_like_known_ones(limited):
    for _ in range(3):
        with pytest.raises(Unauthorized):
            limited.create_token("ghost", "x", note="n", remote_addr=f"10.3.0.{_}")
    with pytest.raises(TooManyRequests):
        limited.create_token("ghost", "x", note="n", remote_addr="10.3.0.9")


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
    assert "==" not in inspect.getsource(AuthService._check_password)
