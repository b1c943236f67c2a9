"""The auth database schema (SQLAlchemy Core; SQLite and PostgreSQL).

- ``accounts``: users and organizations in one namespace (``login`` is the lower-cased owner name).
- ``org_memberships``: (org, login, kind); today every kind is ``owner``.
- ``org_groups``: (org, group_name) with ``perms`` (read|write|admin); ``org_group_members`` (who is in it) and
  ``org_group_packages`` (the packages it covers; none = the whole organization). Both cascade with the group
  and the accounts they name.
- ``tokens``: keyed sha256 digest only; ``holder`` (org, else user) scopes the uniqueness of a live ``note``,
  enforced by a partial unique index over unrevoked tokens. ``kind`` is ``api`` (a token for any client) or
  ``session`` (a browser's sign-in: accepted only as the web UI's session, never as an API token).
- ``accounts.disabled_at`` / ``deleted_at``: a disabled user may not log in and every token of theirs is refused;
  a deleted one is a tombstone (no password, no tokens, no memberships) that keeps the name reserved.
"""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (JSON, CheckConstraint, Column, DateTime, Float, ForeignKey, ForeignKeyConstraint, Index,
                        Integer, MetaData, String, Table, Text, text)
from sqlalchemy.engine import Engine
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on both backends (stored naive UTC; SQLite keeps no offset)."""
    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


metadata = MetaData()
_LOGIN = String(63)

accounts = Table(
    "accounts", metadata,
    Column("login", _LOGIN, primary_key=True),
    Column("user_type", String(8), nullable=False),
    Column("name", String(255)),
    Column("email", String(255)),
    Column("description", Text),
    Column("location", String(255)),
    Column("company", String(255)),
    Column("url", String(255)),
    Column("password_hash", String(255)),
    Column("created_at", UTCDateTime, nullable=False),
    Column("disabled_at", UTCDateTime),          # set: may not log in, every token refused (401)
    Column("deleted_at", UTCDateTime),           # set: a tombstone keeping the name reserved (see model.Account)
    CheckConstraint("user_type IN ('user', 'org')", name="ck_accounts_user_type"),
)

org_memberships = Table(
    "org_memberships", metadata,
    Column("org", _LOGIN, ForeignKey("accounts.login", ondelete="CASCADE"), primary_key=True),
    Column("login", _LOGIN, ForeignKey("accounts.login", ondelete="CASCADE"), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_org_memberships_login", "login"),
)

_GROUP = String(64)
_PACKAGE = String(128)

org_groups = Table(
    "org_groups", metadata,
    Column("org", _LOGIN, ForeignKey("accounts.login", ondelete="CASCADE"), primary_key=True),
    Column("group_name", _GROUP, primary_key=True),
    Column("perms", String(8), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    CheckConstraint("perms IN ('read', 'write', 'admin')", name="ck_org_groups_perms"),
)

_IN_GROUP = dict(refcolumns=["org_groups.org", "org_groups.group_name"], ondelete="CASCADE")

org_group_members = Table(
    "org_group_members", metadata,
    Column("org", _LOGIN, primary_key=True),
    Column("group_name", _GROUP, primary_key=True),
    Column("login", _LOGIN, ForeignKey("accounts.login", ondelete="CASCADE"), primary_key=True),
    Column("created_at", UTCDateTime, nullable=False),
    ForeignKeyConstraint(["org", "group_name"], **_IN_GROUP),
    Index("ix_org_group_members_login", "login"),
)

org_group_packages = Table(
    "org_group_packages", metadata,
    Column("org", _LOGIN, primary_key=True),
    Column("group_name", _GROUP, primary_key=True),
    Column("package", _PACKAGE, primary_key=True),
    Column("created_at", UTCDateTime, nullable=False),
    ForeignKeyConstraint(["org", "group_name"], **_IN_GROUP),
)

_LIVE = text("revoked_at IS NULL")

tokens = Table(
    "tokens", metadata,
    Column("id", String(32), primary_key=True),
    Column("digest", String(64), nullable=False, unique=True),
    Column("login", _LOGIN, ForeignKey("accounts.login", ondelete="CASCADE"), nullable=False),
    Column("org", _LOGIN, ForeignKey("accounts.login", ondelete="CASCADE")),
    Column("holder", _LOGIN, nullable=False),
    Column("note", String(255), nullable=False),
    Column("scopes", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime),
    Column("revoked_at", UTCDateTime),
    Column("application", String(255)),
    Column("hostname", String(255)),
    Column("remote_addr", String(255)),
    Column("kind", String(8), nullable=False, server_default="api"),   # api | session (a web sign-in)
    Index("ix_tokens_login", "login"),
    Index("uq_tokens_live_note", "holder", "note", unique=True, sqlite_where=_LIVE, postgresql_where=_LIVE),
)


# counters of password logins and token creations (shared by every gateway worker and auth replica, so the
# limits hold across processes): fixed windows per client address and per (address, account) pair
# (``window_start``, ``count``), and the failure backoff per pair (``window_start`` = the last failure,
# ``count`` = failures since the last success); see domain/throttle.py
rate_limits = Table(
    "rate_limits", metadata,
    Column("key", String(300), primary_key=True),
    Column("window_start", Float, nullable=False),
    Column("count", Integer, nullable=False),
)


def create_tables(engine: Engine) -> None:
    """The tables straight from the metadata, without Alembic's version table (the service migrates instead:
    schema.py); tests/deploy/test_migrations.py shows the two give the same schema."""
    metadata.create_all(engine, checkfirst=True)
