"""The auth repository on SQLAlchemy Core, one transaction per unit of work.

Vendor errors are translated here: a unique-constraint violation becomes ``Conflict``, an unreachable or
failing database ``Unavailable``.
"""
from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime
from typing import Iterator

from sqlalchemy import and_, delete, exc, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from services.kernel.adapters.db import database_unavailable
from services.kernel.errors import Conflict, Unavailable

from ..domain.model import Account, Token
from .rows import ACCOUNT_COLUMNS, TOKEN_COLUMNS
from .rows import account as _account
from .rows import token as _token
from .sql_groups import SqlGroupQueries
from .tables import accounts, org_memberships, rate_limits, tokens


class SqlAuthRepository(SqlGroupQueries):
    """Accounts, memberships and tokens here; groups in ``SqlGroupQueries``."""

    def __init__(self, conn: Connection):
        self.conn = conn

    # ------------------------------------------------------------------------------------------- accounts
    def get_account(self, login: str) -> Account | None:
        found = self.get_any_account(login)
        return None if found is None or found.deleted_at is not None else found

    def get_any_account(self, login: str) -> Account | None:
        row = self.conn.execute(select(accounts).where(accounts.c.login == login)).first()
        return _account(row) if row else None

    def list_accounts(self, user_type: str) -> list[Account]:
        rows = self.conn.execute(select(accounts).where(accounts.c.user_type == user_type,
                                                        accounts.c.deleted_at.is_(None))
                                 .order_by(accounts.c.login))
        return [_account(r) for r in rows]

    def set_account_state(self, login: str, disabled_at: datetime | None, deleted_at: datetime | None) -> None:
        self.conn.execute(update(accounts).where(accounts.c.login == login)
                          .values(disabled_at=disabled_at, deleted_at=deleted_at))

    def forget_account(self, login: str) -> None:
        self.conn.execute(update(accounts).where(accounts.c.login == login).values(
            password_hash=None, email=None, name=None, description=None, location=None, company=None, url=None))

    def lock_account(self, login: str) -> None:
        self.conn.execute(select(accounts.c.login).where(accounts.c.login == login).with_for_update())

    def add_account(self, account: Account) -> None:
        try:
            with self.conn.begin_nested():
                self.conn.execute(insert(accounts).values(**{c: getattr(account, c) for c in ACCOUNT_COLUMNS}))
        except exc.IntegrityError:
            raise Conflict(f"the name {account.login!r} is already taken")

    def set_password_hash(self, login: str, password_hash: str) -> None:
        self.conn.execute(update(accounts).where(accounts.c.login == login).values(password_hash=password_hash))

    # ---------------------------------------------------------------------------------------- memberships
    def add_membership(self, org: str, login: str, kind: str, at: datetime) -> None:
        where = and_(org_memberships.c.org == org, org_memberships.c.login == login)
        if self.conn.execute(select(org_memberships.c.kind).where(where)).first():
            self.conn.execute(update(org_memberships).where(where).values(kind=kind))
        else:
            self.conn.execute(insert(org_memberships).values(org=org, login=login, kind=kind, created_at=at))

    def memberships(self, org: str, login: str) -> list[str]:
        rows = self.conn.execute(select(org_memberships.c.kind).where(
            org_memberships.c.org == org, org_memberships.c.login == login))
        return [r.kind for r in rows]

    # --------------------------------------------------------------------------------------------- tokens
    def add_token(self, token: Token) -> None:
        values = {c: getattr(token, c) for c in TOKEN_COLUMNS}
        values["holder"] = token.holder
        try:
            with self.conn.begin_nested():
                self.conn.execute(insert(tokens).values(**values))
        except exc.IntegrityError:
            raise Conflict(f"a token named {token.note!r} already exists")

    def token_by_digest(self, digest: str) -> Token | None:
        row = self.conn.execute(select(tokens).where(tokens.c.digest == digest)).first()
        return _token(row) if row else None

    def tokens_named(self, holder: str, note: str) -> list[Token]:
        rows = self.conn.execute(select(tokens).where(
            tokens.c.holder == holder, tokens.c.note == note, tokens.c.revoked_at.is_(None))
            .order_by(tokens.c.created_at, tokens.c.id))
        return [_token(r) for r in rows]

    def tokens_of(self, login: str) -> list[Token]:
        rows = self.conn.execute(select(tokens).where(tokens.c.login == login, tokens.c.revoked_at.is_(None))
                                 .order_by(tokens.c.created_at, tokens.c.id))
        return [_token(r) for r in rows]

    def revoke(self, token_id: str, at: datetime) -> None:
        self.conn.execute(update(tokens).where(tokens.c.id == token_id, tokens.c.revoked_at.is_(None))
                          .values(revoked_at=at))

    def revoke_all(self, login: str, at: datetime, kind: str | None = None, keep: str | None = None) -> int:
        stmt = update(tokens).where(tokens.c.login == login, tokens.c.revoked_at.is_(None))
        if kind is not None:
            stmt = stmt.where(tokens.c.kind == kind)
        if keep is not None:
            stmt = stmt.where(tokens.c.id != keep)
        return self.conn.execute(stmt.values(revoked_at=at)).rowcount

    # ---------------------------------------------------------------------------------------- rate limits
    def attempts(self, key: str, now: float, window: int, add: int = 0) -> tuple[int, float]:
        """(count, window_start) of ``key``'s current fixed window after adding ``add`` (row-locked)."""
        ins = postgresql.insert if self.conn.dialect.name == "postgresql" else sqlite.insert
        self.conn.execute(ins(rate_limits).values(key=key, window_start=now, count=0)
                          .on_conflict_do_nothing(index_elements=["key"]))
        row = self.conn.execute(select(rate_limits.c.window_start, rate_limits.c.count)
                                .where(rate_limits.c.key == key).with_for_update()).one()
        start, count = float(row.window_start), int(row.count)
        if now - start >= window:
            start, count = now, 0
        if add or start != float(row.window_start):
            count += add
            self.conn.execute(update(rate_limits).where(rate_limits.c.key == key)
                              .values(window_start=start, count=count))
        return count, start

    def failures(self, key: str, now: float, change: str = "look") -> tuple[int, float]:
        where = rate_limits.c.key == key
        row = self.conn.execute(select(rate_limits.c.window_start, rate_limits.c.count).where(where)
                                .with_for_update()).first()
        count, last = (int(row.count), float(row.window_start)) if row else (0, 0.0)
        if change == "reset":
            if row:
                self.conn.execute(delete(rate_limits).where(where))
            return 0, 0.0
        if change == "fail":
            count, last = count + 1, now
            ins = postgresql.insert if self.conn.dialect.name == "postgresql" else sqlite.insert
            stmt = ins(rate_limits).values(key=key, window_start=last, count=count)
            self.conn.execute(stmt.on_conflict_do_update(
                index_elements=["key"], set_={"window_start": last, "count": rate_limits.c.count + 1}))
            row = self.conn.execute(select(rate_limits.c.count).where(where)).one()
            count = int(row.count)
        return count, last

    def prune_counters(self, before: float) -> None:
        self.conn.execute(delete(rate_limits).where(rate_limits.c.window_start < before))


class SqlUnitOfWork:
    """``with uow() as repo:`` one transaction (SQLite: BEGIN IMMEDIATE, so writers serialise)."""

    def __init__(self, engine: Engine):
        self.engine = engine

    @contextmanager
    def __call__(self) -> Iterator[SqlAuthRepository]:
        try:
            with self.engine.begin() as conn:
                yield SqlAuthRepository(conn)
        except exc.IntegrityError as e:
            raise Conflict(f"conflicting write: {e.orig.__class__.__name__}")
        except (exc.DBAPIError, OSError) as e:
            if database_unavailable(e):
                raise Unavailable(f"auth database unavailable: {getattr(e, 'orig', e).__class__.__name__}")
            raise
