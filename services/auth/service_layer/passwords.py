"""Password checks and their rate limits (``domain/throttle.py``), shared by token creation, web sign-in, HTTP
Basic logins and password changes.

Every check spends one argon2 verification, also for unknown logins, organizations and deleted accounts, so
response times do not tell which logins exist. A disabled user's right password is still refused."""
from __future__ import annotations

import secrets
from typing import Callable

from services.kernel.errors import TooManyRequests, Unauthorized

from ..domain import rules
from ..domain.model import Account
from ..domain.ports import PasswordHasher, UnitOfWork
from ..domain.throttle import RateLimits
from . import lookups

BAD_LOGIN = "invalid username or password"
PRUNE_EVERY = 100          # about one failure in this many also deletes counters nobody needs any more


class Passwords:
    def __init__(self, uow: UnitOfWork, hasher: PasswordHasher, clock: Callable[[], float], limits: RateLimits,
                 min_length: int = rules.MIN_PASSWORD):
        self._uow, self._hasher, self._clock, self._limits = uow, hasher, clock, limits
        self.min_length = min_length
        # verified against when the login is unknown, so that costs as much as a wrong password
        self._dummy_hash = hasher.hash(secrets.token_urlsafe(16))

    def new_hash(self, password) -> str:
        """The hash of a new password (creation, change, reset): BadRequest when it is too short or too long."""
        return self._hasher.hash(rules.password(password, self.min_length))

    def attempt(self, login, password, remote_addr=None, count_every: bool = True) -> Account:
        """Check ``login``'s password under the rate limits: TooManyRequests while the (address, account) pair
        backs off or a window is full, Unauthorized for a wrong password. ``count_every``: every attempt counts
        in the windows (token creation, sign-in); otherwise only failures do (HTTP Basic)."""
        name = lookups.known(login) if isinstance(login, str) else None
        address = remote_addr if isinstance(remote_addr, str) else None
        self._guard(name, address, count_every)
        try:
            account = self.check(login, password)
        except Unauthorized:
            self._failed(name, address, count_window=not count_every)
            raise
        with self._uow() as repo:
            repo.failures(self._limits.failure_key(name, address), self._clock(), "reset")
        return account

    def check(self, login, password) -> Account:
        """The user whose password this is (constant work either way), else Unauthorized."""
        name = lookups.known(login) if isinstance(login, str) else None
        with self._uow() as repo:
            account = repo.get_account(name) if name else None
        stored = account.password_hash if account is not None and not account.is_org else None
        candidate = password if rules.acceptable_password(password) else ""
        ok = self._hasher.verify(stored or self._dummy_hash, candidate)
        if not (ok and stored and candidate):
            raise Unauthorized(BAD_LOGIN)
        if not account.may_log_in:
            raise Unauthorized("this account is disabled")
        if self._hasher.needs_rehash(stored):
            new_hash = self._hasher.hash(candidate)
            with self._uow() as repo:
                repo.set_password_hash(account.login, new_hash)
        return account

    def _guard(self, name: str | None, address: str | None, count: bool) -> None:
        limits, now = self._limits, self._clock()
        over = None
        with self._uow() as repo:
            failures, last = repo.failures(limits.failure_key(name, address), now)
            wait = limits.blocked_for(failures, last, now)
            if wait:
                raise TooManyRequests(f"too many failed logins for this account from this address; "
                                      f"retry after {wait} seconds")
            for key, limit in limits.keys(name, address):
                n, start = repo.attempts(key, now, limits.window, 1 if count else 0)
                if (n > limit if count else n >= limit) and over is None:
                    over = ("address" if key.startswith("address:") else "account from this address",
                            limits.retry_after(start, now))
        if over:
            raise TooManyRequests(f"too many login attempts for this {over[0]}; retry after {over[1]} seconds")

    def _failed(self, name: str | None, address: str | None, count_window: bool) -> None:
        limits, now = self._limits, self._clock()
        with self._uow() as repo:
            repo.failures(limits.failure_key(name, address), now, "fail")
            if count_window:
                for key, _limit in limits.keys(name, address):
                    repo.attempts(key, now, limits.window, 1)
            if secrets.randbelow(PRUNE_EVERY) == 0:
                repo.prune_counters(now - limits.horizon)
