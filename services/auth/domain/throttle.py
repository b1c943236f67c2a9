"""Rate limits of password logins and token creations.

Three counters, all kept in the auth database so every gateway worker and auth replica shares them:

- per (client address, account) pair, a failure backoff: after ``backoff_after`` wrong passwords in a row, each
  further attempt of that pair waits ``2 ** (failures - backoff_after)`` seconds after the last failure (1, 2,
  4, ... up to ``backoff_max``); a right password resets it. An attacker guessing from one address slows only
  themselves: the owner, from their own address, logs in as usual.
- per (client address, account) pair, a fixed window of ``per_account`` attempts per ``window`` seconds
  (``WHARF_LOGIN_RATE_ACCOUNT``; it counted per account alone before, which let anyone lock an owner out).
- per client address, a fixed window of ``per_address`` attempts (``WHARF_LOGIN_RATE_ADDRESS``): the high cap
  on one address trying many accounts.

Token creation (``POST /api/authentications``, a web sign-in) counts every attempt in the windows; HTTP Basic with
a password (twine, pip) counts only failures, so a working client is never slowed down. Only password
attempts are counted or refused: a request with a valid token never meets these counters. Over a limit the
answer is 429 with ``Retry-After``, decided before any password is checked, identically for known and unknown
logins."""
from __future__ import annotations

import dataclasses
import math


@dataclasses.dataclass(frozen=True)
class RateLimits:
    per_account: int = 20       # attempts per (address, account) pair per window
    per_address: int = 120      # attempts per address per window
    window: int = 60            # seconds
    backoff_after: int = 5      # failures in a row of one pair before the backoff starts
    backoff_max: int = 900      # seconds: the longest backoff

    def keys(self, login: str | None, address: str | None) -> list[tuple[str, int]]:
        """The fixed-window keys of an attempt, each with its limit."""
        out = [(f"pair:{_address(address)}|{login or '?'}", self.per_account)]
        if address:
            out.append((f"address:{_address(address)}", self.per_address))
        return out

    @staticmethod
    def failure_key(login: str | None, address: str | None) -> str:
        return f"fail:{_address(address)}|{login or '?'}"

    def backoff(self, failures: int) -> int:
        """Seconds a pair waits after its last failure, having failed ``failures`` times in a row."""
        if failures < self.backoff_after or failures <= 0:
            return 0
        return min(self.backoff_max, 2 ** min(failures - self.backoff_after, 30))

    def blocked_for(self, failures: int, last: float, now: float) -> int:
        """Seconds left (0: not blocked) of the backoff after ``failures`` failures, the last at ``last``."""
        left = last + self.backoff(failures) - now
        return math.ceil(left) if left > 0 else 0

    def retry_after(self, window_start: float, now: float) -> int:
        return max(1, math.ceil(window_start + self.window - now))

    @property
    def horizon(self) -> int:
        """Seconds after which no counter matters any more (older rows may be deleted)."""
        return 2 * max(self.window, self.backoff_max)


def _address(address: str | None) -> str:
    return str(address)[:200] if address else "-"
