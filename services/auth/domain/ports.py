"""Ports of the auth service: its repository (inside a unit of work) and the password hasher."""
from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import datetime
from typing import Protocol

from .model import Account, Token


class AuthRepository(Protocol):
    """Accounts, memberships and tokens, read and written inside one transaction.

    - ``add_account`` / ``add_token`` raise ``Conflict`` when the login is taken, or when the holder already has
      an unrevoked token with that note (a concurrent writer won the race).
    - ``tokens_named`` and ``tokens_of`` return unrevoked tokens only (expired ones included), oldest first.
    - Backend failures raise ``Unavailable``; nothing vendor-specific escapes.
    """

    def get_account(self, login: str) -> Account | None: ...

    def lock_account(self, login: str) -> None:
        """Serialise writers on this account's namespace (e.g. its tokens) until the transaction ends."""

    def add_account(self, account: Account) -> None: ...

    def set_password_hash(self, login: str, password_hash: str) -> None: ...

    def add_membership(self, org: str, login: str, kind: str, at: datetime) -> None:
        """Create or update ``login``'s membership of ``org`` (idempotent)."""

    def memberships(self, org: str, login: str) -> list[str]:
        """Membership kinds of ``login`` in ``org`` (empty when none)."""

    def orgs_of(self, login: str) -> list[Account]: ...

    def add_token(self, token: Token) -> None: ...

    def token_by_digest(self, digest: str) -> Token | None: ...

    def tokens_named(self, holder: str, note: str) -> list[Token]: ...

    def tokens_of(self, login: str) -> list[Token]: ...

    def revoke(self, token_id: str, at: datetime) -> None: ...


class UnitOfWork(Protocol):
    """``with uow() as repo:`` runs one transaction; it commits when the block returns, rolls back on error."""

    def __call__(self) -> AbstractContextManager[AuthRepository]: ...


class PasswordHasher(Protocol):
    """A slow, salted password hash. ``verify`` never raises for a wrong password or a malformed hash: it returns
    False, after spending about the same time as a successful verification."""

    def hash(self, password: str) -> str: ...

    def verify(self, password_hash: str, password: str) -> bool: ...

    def needs_rehash(self, password_hash: str) -> bool: ...
