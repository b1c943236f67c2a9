"""AuthService: the facade of the auth service (one method per RPC call; contract in ARCHITECTURE.md).

Every method takes and returns JSON-serialisable values and raises only ``services.kernel.errors`` classes.
Password checks (``passwords.Passwords``) always spend one argon2 verification, also for unknown logins and
organizations, so response times do not tell which logins exist. Groups live in ``groups.Groups``, the role
queries in ``access.Access`` and account administration in ``accounts.Accounts``; the methods here delegate
to them in one line.

A token is accepted only while its user may log in (not disabled, not deleted), checked on every
``authenticate``. Web sign-ins are tokens of kind ``session`` (``create_session``): ``authenticate`` refuses
them and ``authenticate_session`` accepts nothing else.
"""
from __future__ import annotations

import hmac
import secrets
from datetime import datetime, timezone
from typing import Callable

from services.kernel import names, signing
from services.kernel.errors import BadRequest, Conflict, Forbidden, NotFound, Unauthorized

from ..domain import roles, rules, tokens
from ..domain.model import ORG, USER, Account, Token
from ..domain.ports import AuthRepository, PasswordHasher, UnitOfWork
from ..domain.throttle import RateLimits
from . import lookups
from .access import Access
from .accounts import Accounts
from .groups import Groups
from .passwords import BAD_LOGIN, Passwords  # noqa: F401 - BAD_LOGIN is part of this module's contract

Clock = Callable[[], datetime]


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


_known = lookups.known


class AuthService:
    def __init__(self, uow: UnitOfWork, hasher: PasswordHasher, secret_key: str, clock: Clock | None = None,
                 limits: RateLimits | None = None, min_password_length: int = rules.MIN_PASSWORD):
        if not secret_key:
            raise ValueError("the auth service needs a secret key (token digests)")
        self._uow = uow
        self._hasher = hasher
        self._secret = secret_key
        self._clock = clock or _utcnow
        self._passwords = Passwords(uow, hasher, lambda: self._clock().timestamp(), limits or RateLimits(),
                                    min_password_length)
        self._groups = Groups(uow, self._now)
        self._access = Access(uow)
        self._accounts = Accounts(uow, self._passwords, self._now)

    def _now(self) -> datetime:
        return self._clock().astimezone(timezone.utc).replace(microsecond=0)

    # ------------------------------------------------------------------------------------------- accounts
    def create_user(self, login, password, email=None, name=None) -> dict:
        login = names.owner(login)
        account = Account(login=login, user_type=USER, created_at=self._now(), name=rules.display_name(name),
                          email=rules.email(email))
        account.password_hash = self._passwords.new_hash(password)
        with self._uow() as repo:
            if repo.get_account(login) is not None:
                raise Conflict(f"the name {login!r} is already taken")
            repo.add_account(account)
        return account.to_dict()

    def create_org(self, org, owner) -> dict:
        org = names.owner(org)
        account = Account(login=org, user_type=ORG, created_at=self._now())
        with self._uow() as repo:
            first_owner = self._user(repo, owner)
            if repo.get_account(org) is not None:
                raise Conflict(f"the name {org!r} is already taken")
            repo.add_account(account)
            repo.add_membership(org, first_owner.login, roles.OWNER, account.created_at)
        return account.to_dict()

    def add_org_owner(self, org, login) -> None:
        return self._accounts.add_org_owner(org, login)

    def get_user(self, login) -> dict:
        with self._uow() as repo:
            return self._account(repo, login).to_dict()

    def user_orgs(self, login) -> list[dict]:
        with self._uow() as repo:
            account = self._account(repo, login)
            return [o.to_dict() for o in repo.orgs_of(account.login)]

    def visible_orgs(self, login, viewer=None) -> list[dict]:
        """``login``'s organizations as ``viewer`` (None: anonymous) may see them: see ``accounts.Accounts``."""
        return self._accounts.visible_orgs(login, viewer)

    def list_users(self) -> list[dict]:
        return self._accounts.list_users()

    def list_orgs(self) -> list[dict]:
        return self._accounts.list_orgs()

    def set_password(self, login, password) -> dict:
        return self._accounts.set_password(login, password)

    def change_password(self, login, current_password, new_password, remote_addr=None, keep_session=None) -> dict:
        return self._accounts.change_password(login, current_password, new_password, remote_addr, keep_session)

    def disable_user(self, login) -> dict:
        return self._accounts.disable_user(login)

    def enable_user(self, login) -> dict:
        return self._accounts.enable_user(login)

    def delete_user(self, login) -> dict:
        return self._accounts.delete_user(login)

    def access(self, login, owner, package=None) -> str | None:
        """Role on the whole namespace (``package`` None) or on one package: see ``domain.roles``."""
        return self._access.access(login, owner, package)

    def grants(self, login, owner) -> dict:
        return self._access.grants(login, owner)

    def visible_scope(self, login) -> dict:
        return self._access.visible_scope(login)

    def org_members(self, org) -> list[str]:
        return self._access.org_members(org)

    # --------------------------------------------------------------------------------------------- groups
    def create_group(self, org, group, perms, actor) -> dict:
        return self._groups.create_group(org, group, perms, actor)

    def delete_group(self, org, group, actor) -> None:
        return self._groups.delete_group(org, group, actor)

    def list_groups(self, org, actor) -> list[dict]:
        return self._groups.list_groups(org, actor)

    def get_group(self, org, group, actor) -> dict:
        return self._groups.get_group(org, group, actor)

    def group_members(self, org, group, actor) -> list[dict]:
        return self._groups.group_members(org, group, actor)

    def add_group_member(self, org, group, login, actor) -> None:
        return self._groups.add_group_member(org, group, login, actor)

    def remove_group_member(self, org, group, login, actor) -> None:
        return self._groups.remove_group_member(org, group, login, actor)

    def is_group_member(self, org, group, login) -> bool:
        return self._groups.is_group_member(org, group, login)

    def group_packages(self, org, group, actor) -> list[dict]:
        return self._groups.group_packages(org, group, actor)

    def add_group_package(self, org, group, package, actor) -> None:
        return self._groups.add_group_package(org, group, package, actor)

    def remove_group_package(self, org, group, package, actor) -> None:
        return self._groups.remove_group_package(org, group, package, actor)

    # --------------------------------------------------------------------------------------------- tokens
    def create_token(self, login, password, note, scopes=None, max_age=None, org=None, fail_if_exists=False,
                     hostname=None, remote_addr=None, application=None) -> dict:
        note = rules.note(note, reserved=tokens.SESSION_NOTE_PREFIX)
        scope_list = rules.scopes(scopes, tokens.DEFAULT_SCOPES)
        max_age = rules.max_age(max_age)
        fail_if_exists = rules.fail_if_exists(fail_if_exists)
        org = None if org in (None, "") else names.owner(org)
        user = self._passwords.attempt(login, password, remote_addr, count_every=True)
        if org == user.login:
            org = None  # "my own namespace" is a personal token
        return self._new_token(user, org, note, scope_list, max_age, fail_if_exists, tokens.API,
                               dict(application=application, hostname=hostname, remote_addr=remote_addr))

    def create_session(self, login, password, max_age, remote_addr=None, user_agent=None) -> dict:
        """A web sign-in: ``{session, id, user, expires}``. ``session`` is the secret the browser's cookie
        keeps; only ``authenticate_session`` accepts it (scope ``all``, note ``web-session-...``)."""
        max_age = rules.max_age(max_age)
        user = self._passwords.attempt(login, password, remote_addr, count_every=True)
        created = self._new_token(user, None, tokens.SESSION_NOTE_PREFIX + secrets.token_hex(6), ["all"], max_age,
                                  True, tokens.SESSION, dict(application="wharf web UI", hostname=user_agent,
                                                             remote_addr=remote_addr))
        return {"session": created["token"], "id": created["id"], "user": created["user"],
                "expires": created["expires"]}

    def authenticate_session(self, session) -> dict:
        with self._uow() as repo:
            return self._live_token(repo, session, tokens.SESSION).principal()

    def end_session(self, session) -> None:
        with self._uow() as repo:
            repo.revoke(self._live_token(repo, session, tokens.SESSION).id, self._now())

    def _new_token(self, user: Account, org, note, scope_list, max_age, fail_if_exists, kind, meta) -> dict:
        for attempt in (1, 2):
            plaintext = tokens.generate(kind)
            now = self._now()
            token = Token(id=tokens.new_id(), digest=signing.token_digest(self._secret, plaintext),
                          login=user.login, org=org, note=note, scopes=scope_list, created_at=now,
                          expires_at=tokens.expiry(now, max_age), kind=kind,
                          **{k: rules.metadata(v) for k, v in meta.items()})
            try:
                with self._uow() as repo:
                    if org is not None:
                        self._require_admin(repo, user.login, org)
                    self._make_room(repo, token, fail_if_exists, now)
                    repo.add_token(token)
                return token.created(plaintext)
            except Conflict:  # a concurrent writer committed this note first (the lock makes this rare)
                if fail_if_exists or attempt == 2:
                    raise BadRequest(f"a token named {note!r} already exists")
        raise AssertionError("unreachable")

    def authenticate_password(self, login, password, remote_addr=None) -> dict:
        """A principal for HTTP Basic login/password (twine, pip): ``{login, token_id: None, scopes: None,
        org: None, expires: None}``; Unauthorized on a bad login or password (constant work either way);
        TooManyRequests while this address backs off for this account, or a window is full."""
        user = self._passwords.attempt(login, password, remote_addr, count_every=False)
        return {"login": user.login, "token_id": None, "scopes": None, "org": None, "expires": None}

    def authenticate(self, token) -> dict:
        with self._uow() as repo:
            return self._live_token(repo, token).principal()

    def token_info(self, token) -> dict:
        with self._uow() as repo:
            return self._live_token(repo, token).info()

    def revoke_token(self, token) -> None:
        with self._uow() as repo:
            repo.revoke(self._live_token(repo, token).id, self._now())

    def revoke_token_named(self, login, name, org=None) -> None:
        with self._uow() as repo:
            user = self._user(repo, login)
            holder = user.login
            if org not in (None, "") and _known(org) != user.login:
                holder = self._require_admin(repo, user.login, org)
            found = repo.tokens_named(holder, name) if isinstance(name, str) else []
            if not found:
                raise NotFound(f"no token named {name!r}"[:300])
            now = self._now()
            for token in found:
                repo.revoke(token.id, now)

    def list_tokens(self, login) -> list[dict]:
        now = self._now()
        with self._uow() as repo:
            user = self._account(repo, login)
            return [t.listing() for t in repo.tokens_of(user.login) if t.is_active(now)]

    # ------------------------------------------------------------------------------------------- helpers
    _account = staticmethod(lookups.account)
    _user = staticmethod(lookups.user)
    _org = staticmethod(lookups.org)

    def _require_admin(self, repo: AuthRepository, login: str, org) -> str:
        """Owners and members of org-wide admin groups are admins of the org (may make org tokens)."""
        account = self._org(repo, org)
        if lookups.held(repo, login, account)["all"] != roles.ADMIN:
            raise Forbidden(f"{login} is not an admin of {account.login}")
        return account.login

    def _make_room(self, repo: AuthRepository, token: Token, fail_if_exists: bool, now: datetime) -> None:
        """Apply the note rule: a live token with this note -> 400 or replaced; expired ones are cleared."""
        repo.lock_account(token.holder)  # concurrent logins with one note queue here instead of racing
        existing = repo.tokens_named(token.holder, token.note)
        if fail_if_exists and any(t.is_active(now) for t in existing):
            raise BadRequest(f"a token named {token.note!r} already exists")
        for old in existing:
            repo.revoke(old.id, now)

    def _live_token(self, repo: AuthRepository, token, kind: str = tokens.API) -> Token:
        if not tokens.well_formed(token):
            raise Unauthorized("invalid token")
        digest = signing.token_digest(self._secret, token)
        found = repo.token_by_digest(digest)
        if found is None or not hmac.compare_digest(found.digest, digest) or found.kind != kind:
            raise Unauthorized("invalid token")
        if found.revoked_at is not None:
            raise Unauthorized("this token has been revoked")
        if found.is_expired(self._now()):
            raise Unauthorized("this token has expired")
        holder = repo.get_any_account(found.login)
        if holder is None or not holder.may_log_in:
            raise Unauthorized("the account of this token is disabled")
        return found
