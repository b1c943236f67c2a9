"""Rate limits of password logins and token creations: fixed windows per account and per client address.

Token creation (``POST /api/authentications``, i.e. ``anaconda login``) counts every attempt; HTTP Basic with a
password (twine, pip) counts only failures, so a working client is never slowed down, while guessing is. Over
the limit the answer is 429 with ``Retry-After`` (the rest of the window), decided before any password is
checked, identically for known and unknown logins."""
from __future__ import annotations

import dataclasses
import math


@dataclasses.dataclass(frozen=True)
class RateLimits:
    per_account: int = 20
    per_address: int = 120
    window: int = 60          # seconds

    def keys(self, login: str | None, address: str | None) -> list[tuple[str, int]]:
        out = []
        if login:
            out.append((f"account:{login}", self.per_account))
        if address:
            out.append((f"address:{str(address)[:200]}", self.per_address))
        return out

    def retry_after(self, window_start: float, now: float) -> int:
        return max(1, math.ceil(window_start + self.window - now))
