"""Fixtures of the auth tests: the real facade (bootstrap) on SQLite and PostgreSQL, a clock we control, and a
cheap-but-real argon2 hasher (argon2id with small parameters) so the suite stays fast."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from services.auth.adapters.argon2_hasher import Argon2Hasher
from services.auth.bootstrap import bootstrap
from services.kernel.adapters.db import make_engine
from services.kernel.settings import Settings

SECRET = "test-secret-key"


class FakeClock:
    def __init__(self):
        self.now = datetime(2025, 1, 2, 3, 4, 5, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class CountingHasher:
    """Wraps the real argon2 hasher and counts verifications (for the timing-equality guarantee)."""

    def __init__(self, inner):
        self.inner = inner
        self.verified = 0

    def hash(self, password):
        return self.inner.hash(password)

    def verify(self, password_hash, password):
        self.verified += 1
        return self.inner.verify(password_hash, password)

    def needs_rehash(self, password_hash):
        return self.inner.needs_rehash(password_hash)


def fast_hasher() -> Argon2Hasher:
    return Argon2Hasher(time_cost=1, memory_cost=1024, parallelism=1)


@pytest.fixture
def settings(db_url, tmp_path):
    return Settings(mode="embedded", data_dir=str(tmp_path / "data"), secret_key=SECRET, auth_db_url=db_url)


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def hasher():
    return CountingHasher(fast_hasher())


@pytest.fixture
def auth(settings, clock, hasher):
    return bootstrap(settings, password_hasher=hasher, clock=clock)


@pytest.fixture
def db(settings, auth):
    """A separate engine on the same database, to look at what is really stored."""
    engine = make_engine(settings.auth_db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def alice(auth):
    auth.create_user("Alice", "alice-password", email="alice@example.org", name="Alice A.")
    return "alice"


@pytest.fixture
def bob(auth):
    auth.create_user("bob", "bob-password")
    return "bob"
