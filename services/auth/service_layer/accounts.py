"""Account administration (the ``wharf user|org`` commands and password changes), delegated to by ``AuthService``.

- ``set_password`` (an administrator's reset) and ``change_password`` (the user, with the current password): the
  new password needs ``WHARF_MIN_PASSWORD_LENGTH`` characters; the user's web sessions are revoked (a change
  from a browser keeps that browser's own). API tokens stay valid: revoke them by name when they leaked.
- ``disable_user``: no login, and every token of the user (organization tokens they made included) is refused
  (401) from the next request on, in both modes, since each request authenticates with the auth service; web
  sessions are revoked. ``enable_user`` lets the API tokens work again.
- ``delete_user``: revokes every token, removes the user from every organization and group, forgets the
  password and profile, and keeps a tombstone that reserves the name (see ``model.Account``). Refused
  (Conflict) while the user is the only owner of an organization. Whether the user's own namespace still holds
  packages is the registry's business: ``wharf user delete`` checks it before calling this.
- ``visible_orgs``: a user's organizations as a reader may see them (``GET /api/users/<login>/orgs``):
  ownerships are public (the owners are the organization's admins, like a namespace's owner); a membership
  through a group only is shown to the user and to members of that organization, who may read its groups and
  members anyway (``groups.Groups``).
"""
from __future__ import annotations

from datetime import datetime
from typing import Callable

from services.kernel.errors import BadRequest, Conflict

from ..domain import roles
from ..domain.model import ORG, USER
from ..domain.ports import UnitOfWork
from ..domain.tokens import SESSION
from . import lookups
from .passwords import Passwords


class Accounts:
    def __init__(self, uow: UnitOfWork, passwords: Passwords, now: Callable[[], datetime]):
        self._uow, self._passwords, self._now = uow, passwords, now

    # -------------------------------------------------------------------------------------------- listings
    def list_users(self) -> list[dict]:
        with self._uow() as repo:
            users = repo.list_accounts(USER)
            return [dict(u.admin_dict(), orgs=sorted(repo.memberships_of(u.login))) for u in users]

    def list_orgs(self) -> list[dict]:
        with self._uow() as repo:
            return [dict(o.to_dict(), owners=repo.org_owners(o.login), groups=[g.name for g in repo.groups_of(o.login)])
                    for o in repo.list_accounts(ORG)]

    def visible_orgs(self, login, viewer=None) -> list[dict]:
        with self._uow() as repo:
            account = lookups.account(repo, login)
            orgs = repo.orgs_of(account.login)
            reader = lookups.known(viewer) if viewer is not None else None
            if reader == account.login:
                return [o.to_dict() for o in orgs]
            owned = {org for org, kinds in repo.memberships_of(account.login).items() if roles.OWNER in kinds}
            theirs: set[str] = set()
            if reader is not None:
                theirs = set(repo.memberships_of(reader)) | {g.org for g in repo.groups_of_member(reader)}
            return [o.to_dict() for o in orgs if o.login in owned or o.login in theirs]

    # ------------------------------------------------------------------------------------------- passwords
    def set_password(self, login, password) -> dict:
        new_hash = self._passwords.new_hash(password)
        with self._uow() as repo:
            user = lookups.user(repo, login)
            repo.set_password_hash(user.login, new_hash)
            revoked = repo.revoke_all(user.login, self._now(), kind=SESSION)
        return {"login": user.login, "sessions_revoked": revoked}

    def change_password(self, login, current_password, new_password, remote_addr=None,
                        keep_session=None) -> dict:
        """The user's own change: the current password is checked like a login (rate limited); the other web
        sessions are revoked, the one named by ``keep_session`` (a token id) kept."""
        new_hash = self._passwords.new_hash(new_password)
        user = self._passwords.attempt(login, current_password, remote_addr, count_every=False)
        with self._uow() as repo:
            repo.set_password_hash(user.login, new_hash)
            keep = keep_session if isinstance(keep_session, str) else None
            revoked = repo.revoke_all(user.login, self._now(), kind=SESSION, keep=keep)
        return {"login": user.login, "sessions_revoked": revoked}

    # ----------------------------------------------------------------------------------------------- state
    def disable_user(self, login) -> dict:
        with self._uow() as repo:
            user = lookups.user(repo, login)
            now = self._now()
            repo.set_account_state(user.login, user.disabled_at or now, None)
            revoked = repo.revoke_all(user.login, now, kind=SESSION)
        return {"login": user.login, "state": "disabled", "sessions_revoked": revoked}

    def enable_user(self, login) -> dict:
        with self._uow() as repo:
            user = lookups.user(repo, login)
            repo.set_account_state(user.login, None, None)
        return {"login": user.login, "state": "active"}

    def delete_user(self, login) -> dict:
        with self._uow() as repo:
            user = lookups.user(repo, login)
            alone = [org for org, kinds in sorted(repo.memberships_of(user.login).items())
                     if roles.OWNER in kinds and repo.org_owners(org) == [user.login]]
            if alone:
                raise Conflict(f"{user.login} is the only owner of {', '.join(alone)}: add another owner first "
                               f"(wharf org add-owner ORG LOGIN)")
            now = self._now()
            revoked = repo.revoke_all(user.login, now)
            removed = repo.remove_memberships(user.login)
            repo.forget_account(user.login)
            repo.set_account_state(user.login, user.disabled_at or now, now)
        return {"login": user.login, "state": "deleted", "tokens_revoked": revoked, "memberships_removed": removed}

    def add_org_owner(self, org, login) -> None:
        with self._uow() as repo:
            org_account = lookups.org(repo, org)
            user = lookups.user(repo, login)
            if not user.may_log_in:
                raise BadRequest(f"{user.login} is disabled")
            repo.add_membership(org_account.login, user.login, roles.OWNER, self._now())
