"""Roles on a namespace and how they are derived.

A reader's role on an owner namespace is the strongest of every grant that applies:

- a user is ``admin`` of their own namespace;
- a membership of an organization maps to a role (``owner`` -> ``admin``).

Groups (read/write/admin on an organization or on some of its packages) and collaborators come later; they
only add grant sources feeding ``strongest`` and membership kinds to ``MEMBERSHIP_ROLES``.
"""
from __future__ import annotations

from typing import Iterable

READ, WRITE, ADMIN = "read", "write", "admin"
ORDER = (READ, WRITE, ADMIN)                 # weakest first

OWNER = "owner"                              # membership kinds stored in org memberships
MEMBERSHIP_ROLES = {OWNER: ADMIN}


def strongest(roles: Iterable[str | None]) -> str | None:
    best = -1
    for role in roles:
        if role in ORDER:
            best = max(best, ORDER.index(role))
    return ORDER[best] if best >= 0 else None


def role_of(login: str | None, owner: str, memberships: Iterable[str]) -> str | None:
    """The role of ``login`` (None = anonymous) on ``owner``, given ``login``'s membership kinds there."""
    if login is None:
        return None
    grants = [ADMIN] if login == owner else []
    grants += [MEMBERSHIP_ROLES.get(kind) for kind in memberships]
    return strongest(grants)
