"""AuthService: the facade of the auth service (one method per RPC call; contract in ARCHITECTURE.md).

Every method takes and returns JSON-serialisable values and raises only ``services.kernel.errors`` classes.
Password checks always spend one argon2 verification, also for unknown logins and organizations, so response
times do not tell which logins exist.
"""
from __future__ import annotations

import hmac
import secrets
from datetime import datetime, timezone
from typing import Callable

from services.kernel import names, signing
from services.kernel.errors import BadRequest, Conflict, Forbidden, InvalidName, NotFound, Unauthorized

from ..domain import roles, rules, tokens
from ..domain.model import ORG, USER, Account, Token
from ..domain.ports import AuthRepository, PasswordHasher, UnitOfWork

Clock = Callable[[], datetime]
BAD_LOGIN = "invalid username or password"


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _known(name) -> str | None:
    """A name as it would be stored, or None when it cannot name any account (read paths answer NotFound)."""
    try:
        return names.owner(name)
    except InvalidName:
        return None


class AuthService:
    def __init__(self, uow: UnitOfWork, hasher: PasswordHasher, secret_key: str, clock: Clock | None = None):
        if not secret_key:
            raise ValueError("the auth service needs a secret key (token digests)")
        self._uow = uow
        self._hasher = hasher
        self._secret = secret_key
        self._clock = clock or _utcnow
        # verified against when the login is unknown, so that costs as much as a wrong password
        self._dummy_hash = hasher.hash(secrets.token_urlsafe(16))

    def _now(self) -> datetime:
        return self._clock().astimezone(timezone.utc).replace(microsecond=0)

    # ------------------------------------------------------------------------------------------- accounts
    def create_user(self, login, password, email=None, name=None) -> dict:
        login = names.owner(login)
        account = Account(login=login, user_type=USER, created_at=self._now(), name=rules.display_name(name),
                          email=rules.email(email))
        account.password_hash = self._hasher.hash(rules.password(password))
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
        with self._uow() as repo:
            org_account = self._org(repo, org)
            user = self._user(repo, login)
            repo.add_membership(org_account.login, user.login, roles.OWNER, self._now())

    def get_user(self, login) -> dict:
        with self._uow() as repo:
            return self._account(repo, login).to_dict()

    def user_orgs(self, login) -> list[dict]:
        with self._uow() as repo:
            account = self._account(repo, login)
            return [o.to_dict() for o in repo.orgs_of(account.login)]

    def access(self, login, owner) -> str | None:
        with self._uow() as repo:
            account = self._account(repo, owner)
            reader = _known(login) if login is not None else None
            if reader is None:
                return None
            kinds = repo.memberships(account.login, reader) if account.is_org else []
            return roles.role_of(reader, account.login, kinds)

    # --------------------------------------------------------------------------------------------- tokens
    def create_token(self, login, password, note, scopes=None, max_age=None, org=None, fail_if_exists=False,
                     hostname=None, remote_addr=None, application=None) -> dict:
        note = rules.note(note)
        scope_list = rules.scopes(scopes, tokens.DEFAULT_SCOPES)
        max_age = rules.max_age(max_age)
        fail_if_exists = rules.fail_if_exists(fail_if_exists)
        org = None if org in (None, "") else names.owner(org)
        user = self._check_password(login, password)
        if org == user.login:
            org = None  # "my own namespace" is a personal token
        for attempt in (1, 2):
            plaintext = tokens.generate()
            now = self._now()
            token = Token(id=tokens.new_id(), digest=signing.token_digest(self._secret, plaintext),
                          login=user.login, org=org, note=note, scopes=scope_list, created_at=now,
                          expires_at=tokens.expiry(now, max_age), application=rules.metadata(application),
                          hostname=rules.metadata(hostname), remote_addr=rules.metadata(remote_addr))
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
    def _account(self, repo: AuthRepository, login) -> Account:
        name = _known(login)
        account = repo.get_account(name) if name else None
        if account is None:
            raise NotFound(f"no user or organization named {login!r}"[:300])
        return account

    def _user(self, repo: AuthRepository, login) -> Account:
        account = self._account(repo, login)
        if account.is_org:
            raise BadRequest(f"{account.login!r} is an organization, not a user")
        return account

    def _org(self, repo: AuthRepository, org) -> Account:
        account = self._account(repo, org)
        if not account.is_org:
            raise BadRequest(f"{account.login!r} is a user, not an organization")
        return account

    def _require_admin(self, repo: AuthRepository, login: str, org) -> str:
        account = self._org(repo, org)
        if roles.role_of(login, account.login, repo.memberships(account.login, login)) != roles.ADMIN:
            raise Forbidden(f"{login} is not an owner of {account.login}")
        return account.login

    def _make_room(self, repo: AuthRepository, token: Token, fail_if_exists: bool, now: datetime) -> None:
        """Apply the note rule: a live token with this note -> 400 or replaced; expired ones are cleared."""
        repo.lock_account(token.holder)  # concurrent logins with one note queue here instead of racing
        existing = repo.tokens_named(token.holder, token.note)
        if fail_if_exists and any(t.is_active(now) for t in existing):
            raise BadRequest(f"a token named {token.note!r} already exists")
        for old in existing:
            repo.revoke(old.id, now)

    def _check_password(self, login, password) -> Account:
        name = _known(login) if isinstance(login, str) else None
        with self._uow() as repo:
            account = repo.get_account(name) if name else None
        stored = account.password_hash if account is not None and not account.is_org else None
        candidate = password if rules.acceptable_password(password) else ""
        ok = self._hasher.verify(stored or self._dummy_hash, candidate)
        if not (ok and stored and candidate):
            raise Unauthorized(BAD_LOGIN)
        if self._hasher.needs_rehash(stored):
            new_hash = self._hasher.hash(candidate)
            with self._uow() as repo:
                repo.set_password_hash(account.login, new_hash)
        return account

    def _live_token(self, repo: AuthRepository, token) -> Token:
        if not tokens.well_formed(token):
            raise Unauthorized("invalid token")
        digest = signing.token_digest(self._secret, token)
        found = repo.token_by_digest(digest)
        if found is None or not hmac.compare_digest(found.digest, digest):
            raise Unauthorized("invalid token")
        if found.revoked_at is not None:
            raise Unauthorized("this token has been revoked")
        if found.is_expired(self._now()):
            raise Unauthorized("this token has expired")
        return found
