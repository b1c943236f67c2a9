"""Lookups shared by the facade's parts: accounts by name with the right error, and what a reader holds.

Read paths answer ``NotFound`` for names that cannot exist (malformed, reserved) instead of ``InvalidName``,
exactly as for names that merely do not exist.
"""
from __future__ import annotations

from services.kernel import names
from services.kernel.errors import BadRequest, InvalidName, NotFound

from ..domain import roles
from ..domain.model import Account
from ..domain.ports import AuthRepository


def known(name) -> str | None:
    """A name as it would be stored, or None when it cannot name any account."""
    try:
        return names.owner(name)
    except InvalidName:
        return None


def account(repo: AuthRepository, login) -> Account:
    name = known(login)
    found = repo.get_account(name) if name else None
    if found is None:
        raise NotFound(f"no user or organization named {login!r}"[:300])
    return found


def user(repo: AuthRepository, login) -> Account:
    found = account(repo, login)
    if found.is_org:
        raise BadRequest(f"{found.login!r} is an organization, not a user")
    return found


def org(repo: AuthRepository, org_name) -> Account:
    """The organization (BadRequest when the name is a user's: used where a user was explicitly named)."""
    found = account(repo, org_name)
    if not found.is_org:
        raise BadRequest(f"{found.login!r} is a user, not an organization")
    return found


def group_org(repo: AuthRepository, org_name) -> Account:
    """The organization a group path names; a user there is as unknown as a missing name (NotFound)."""
    name = known(org_name)
    found = repo.get_account(name) if name else None
    if found is None or not found.is_org:
        raise NotFound(f"no organization named {org_name!r}"[:300])
    return found


def held(repo: AuthRepository, reader: str | None, owner: Account) -> dict:
    """``roles.grants`` of ``reader`` (a stored login, or None) on ``owner``."""
    if reader is None or not owner.is_org:
        return roles.grants(reader, owner.login, [], [])
    kinds = repo.memberships(owner.login, reader)
    groups = repo.groups_of_member(reader, owner.login)
    return roles.grants(reader, owner.login, kinds, [(g.perms, g.packages) for g in groups])


def is_org_member(repo: AuthRepository, reader: str | None, org_account: Account) -> bool:
    """An owner of the organization, or a member of one of its groups."""
    if reader is None:
        return False
    return bool(repo.memberships(org_account.login, reader) or repo.groups_of_member(reader, org_account.login))
