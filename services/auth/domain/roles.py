"""Roles on a namespace and on its packages, and how they are derived.

Roles are ordered ``read < write < admin``; a reader's effective role is the strongest of every grant that
applies (``None``: no grant, the public view only):

- a user is ``admin`` of their own namespace;
- a membership of an organization maps to a role (``owner`` -> ``admin``);
- a group of the organization grants its ``perms`` to its members: on the whole organization when it lists no
  packages, else on the packages it lists only.

The namespace-wide role (``all``) comes from the first two and from groups without packages; a package's role
is ``max(all, perms of the member's groups listing that package)``. Collaborators are the registry's business
and feed nothing here.
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


def grants(login: str | None, owner: str, memberships: Iterable[str],
           groups: Iterable[tuple[str, Iterable[str]]]) -> dict:
    """Everything ``login`` holds on ``owner``: ``{"all": role|None, "packages": {package: role}}``.

    ``groups`` are ``(perms, packages)`` of the groups of ``owner`` that ``login`` belongs to. ``packages`` maps
    every package some of those groups list to its effective role (never weaker than ``all``), so that the role
    on any package ``p`` is ``packages.get(p, all)``.
    """
    if login is None:
        return {"all": None, "packages": {}}
    groups = [(perms, list(pkgs)) for perms, pkgs in groups]
    everything = strongest([role_of(login, owner, memberships)] + [perms for perms, pkgs in groups if not pkgs])
    packages: dict[str, str] = {}
    for perms, pkgs in groups:
        for package in pkgs:
            role = strongest([packages.get(package), everything, perms])
            if role is not None:
                packages[package] = role
    return {"all": everything, "packages": packages}


def role_on(held: dict, package: str | None = None) -> str | None:
    """The role a ``grants`` result gives on the whole namespace (``package`` None) or on one package."""
    if package is None:
        return held["all"]
    return held["packages"].get(package, held["all"])
