"""Rules of staged uploads over time: a stage stays open for ``ttl`` seconds after it was made (then it is
expired: its commit is refused and ``wharf gc`` removes it and its bytes), and one user may hold at most
``limit`` open stages, so nobody can fill the disk by staging again and again (each stage holds at most
``WHARF_MAX_UPLOAD_SIZE`` bytes)."""
from __future__ import annotations

import math
from datetime import datetime, timezone

from services.kernel.errors import StageExpired, TooManyRequests


def iso(epoch: float) -> str:
    """``epoch`` in the format of ``occurred_at`` and ``created_at`` (which therefore compare as strings)."""
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def epoch(iso_text: str) -> float:
    return datetime.fromisoformat(iso_text.replace("Z", "+00:00")).timestamp()


def expired(created_at: str, ttl: float, now: float) -> bool:
    return created_at < iso(now - ttl)


def check_open(staged: dict, ttl: float, now: float) -> dict:
    """``staged`` if it is still open; ``StageExpired`` (410) otherwise."""
    if expired(staged["created_at"], ttl, now):
        raise StageExpired(f"the staged upload {staged['dist_id']} expired (staged uploads stay open "
                           f"{int(ttl)} seconds); upload the file again")
    return staged


def check_room(open_created: list[str], limit: int, ttl: float, now: float) -> None:
    """Refuse a new stage (``TooManyRequests``, 429) when ``open_created`` (the user's open stages' times,
    oldest first) already holds ``limit``; the wait is until the oldest of them expires."""
    if len(open_created) < limit:
        return
    wait = max(1, math.ceil(epoch(open_created[0]) + ttl - now)) if open_created else 1
    raise TooManyRequests(f"{len(open_created)} uploads are staged and not committed (at most {limit} at once): "
                          f"commit them, or retry after {wait} seconds, when the oldest expires")
