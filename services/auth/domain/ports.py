"""Ports of the auth service: its repository (inside a unit of work) and the password hasher."""
from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import datetime
from typing import Protocol

from .groups import Group
from .model import Account, Token


class AuthRepository(Protocol):
    """Accounts, memberships, groups and tokens, read and written inside one transaction.

    - ``add_account`` / ``add_token`` raise ``Conflict`` when the login is taken, or when the holder already has
      an unrevoked token with that note (a concurrent writer won the race); ``add_group`` when the group exists.
    - Adding a group member or package that is already there does nothing; removing one that is not there
      does nothing. Groups come back with their packages (sorted) and ``members_count``.
    - ``tokens_named`` and ``tokens_of`` return unrevoked tokens only (expired ones included), oldest first.
    - Backend failures raise ``Unavailable``; nothing vendor-specific escapes.
    """

    def get_account(self, login: str) -> Account | None:
        """The account, or None when there is none or it was deleted (a tombstone reads as missing)."""

    def get_any_account(self, login: str) -> Account | None:
        """The account, deleted ones (tombstones) included: for administration and for taking names."""

    def list_accounts(self, user_type: str) -> list[Account]:
        """Every account of that type that is not deleted, sorted by login."""

    def set_account_state(self, login: str, disabled_at: datetime | None, deleted_at: datetime | None) -> None:
        ...

    def forget_account(self, login: str) -> None:
        """Make the account a tombstone's row: no password, e-mail, name or profile."""

    def remove_memberships(self, login: str) -> int:
        """Remove ``login`` from every organization it owns and every group; the number of rows removed."""

    def org_owners(self, org: str) -> list[str]:
        """Logins of the owners of ``org``, sorted."""

    def delete_group(self, org: str, name: str) -> None:
        """The group, its members and its packages."""

    def lock_account(self, login: str) -> None:
        """Serialise writers on this account's namespace (e.g. its tokens) until the transaction ends."""

    def add_account(self, account: Account) -> None: ...

    def set_password_hash(self, login: str, password_hash: str) -> None: ...

    def add_membership(self, org: str, login: str, kind: str, at: datetime) -> None:
        """Create or update ``login``'s membership of ``org`` (idempotent)."""

    def memberships(self, org: str, login: str) -> list[str]:
        """Membership kinds of ``login`` in ``org`` (empty when none)."""

    def orgs_of(self, login: str) -> list[Account]:
        """Organizations ``login`` owns or belongs to through a group, sorted by name."""

    def memberships_of(self, login: str) -> dict[str, list[str]]:
        """``{org: [membership kinds]}`` of ``login``."""

    def org_members(self, org: str) -> list[str]:
        """Logins of the owners and group members of ``org``, each once, sorted."""

    def add_group(self, group: Group) -> None: ...

    def get_group(self, org: str, name: str) -> Group | None: ...

    def groups_of(self, org: str) -> list[Group]:
        """The groups of ``org``, sorted by name."""

    def add_group_member(self, org: str, name: str, login: str, at: datetime) -> None: ...

    def remove_group_member(self, org: str, name: str, login: str) -> None: ...

    def is_group_member(self, org: str, name: str, login: str) -> bool: ...

    def group_members(self, org: str, name: str) -> list[Account]:
        """Members' accounts, sorted by login."""

    def add_group_package(self, org: str, name: str, package: str, at: datetime) -> None: ...

    def remove_group_package(self, org: str, name: str, package: str) -> None: ...

    def groups_of_member(self, login: str, org: str | None = None) -> list[Group]:
        """The groups ``login`` belongs to (in ``org`` only, when given) with their packages; no member counts."""

    def add_token(self, token: Token) -> None: ...

    def token_by_digest(self, digest: str) -> Token | None: ...

    def tokens_named(self, holder: str, note: str) -> list[Token]: ...

    def tokens_of(self, login: str) -> list[Token]: ...

    def revoke(self, token_id: str, at: datetime) -> None: ...

    def revoke_all(self, login: str, at: datetime, kind: str | None = None, keep: str | None = None) -> int:
        """Revoke every live token ``login`` created (of ``kind`` only, when given; except the id ``keep``),
        organization tokens included; the number revoked."""

    def attempts(self, key: str, now: float, window: int, add: int = 0) -> tuple[int, float]:
        """Rate-limit counter: ``(count, window_start)`` of ``key``'s current fixed window of ``window`` seconds
        (a new window starts at ``now`` when the last one is over) after adding ``add``."""

    def failures(self, key: str, now: float, change: str = "look") -> tuple[int, float]:
        """Failure counter of ``key``: ``(failures in a row, time of the last)``, after ``change``: ``look``
        (nothing), ``fail`` (one more, at ``now``) or ``reset`` (back to none)."""

    def prune_counters(self, before: float) -> None:
        """Delete counters whose window or last failure is older than ``before``."""


class UnitOfWork(Protocol):
    """``with uow() as repo:`` runs one transaction; it commits when the block returns, rolls back on error."""

    def __call__(self) -> AbstractContextManager[AuthRepository]: ...


class PasswordHasher(Protocol):
    """A slow, salted password hash. ``verify`` never raises for a wrong password or a malformed hash: it returns
    False, after spending about the same time as a successful verification."""

    def hash(self, password: str) -> str: ...

    def verify(self, password_hash: str, password: str) -> bool: ...

    def needs_rehash(self, password_hash: str) -> bool: ...
