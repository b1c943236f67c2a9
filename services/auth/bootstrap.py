"""Composition root of the auth service: the only place its backends are chosen."""
from __future__ import annotations

from services.kernel.adapters.db import make_engine
from services.kernel.adapters.migrations import prepare
from services.kernel.settings import Settings

from .adapters.argon2_hasher import Argon2Hasher
from .adapters.sql_repository import SqlUnitOfWork
from .adapters.schema import SCHEMA
from .domain.ports import PasswordHasher
from .domain.throttle import RateLimits
from .service_layer.service import AuthService, Clock


def bootstrap(settings: Settings, *, password_hasher: PasswordHasher | None = None,
              clock: Clock | None = None) -> AuthService:
    """An AuthService on ``settings.auth_db_url`` (SQLite or PostgreSQL; schema migrated to head
    at start unless ``settings.auto_migrate`` is off, then it must already be at head).
    ``password_hasher`` defaults to argon2id with argon2-cffi's default (RFC 9106) parameters; ``clock``
    (returning an aware datetime) defaults to the system clock."""
    if not settings.secret_key:
        raise RuntimeError("WHARF_SECRET_KEY is required by the auth service (token digests)")
    engine = make_engine(settings.auth_db_url)
    prepare(engine, SCHEMA, settings.auto_migrate)
    limits = RateLimits(per_account=settings.login_rate_account, per_address=settings.login_rate_address,
                        window=settings.login_rate_window, backoff_after=settings.login_backoff_after,
                        backoff_max=settings.login_backoff_max)
    return AuthService(SqlUnitOfWork(engine), password_hasher or Argon2Hasher(), settings.secret_key,
                       clock=clock, limits=limits, min_password_length=settings.min_password_length)
