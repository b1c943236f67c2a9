"""Accounts (users and organizations) and API tokens, with their wire shapes.

Timestamps are timezone-aware UTC datetimes in the model and ISO 8601 strings with a ``+00:00`` offset on
the wire (the anaconda CLI compares ``expires`` with an aware datetime and crashes on naive ones).
"""
from __future__ import annotations

import dataclasses
from datetime import datetime

USER = "user"
ORG = "org"


def iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


ACTIVE, DISABLED, DELETED = "active", "disabled", "deleted"


@dataclasses.dataclass
class Account:
    """A user (may log in, has a password) or an organization (owned by users, no password).

    A user is ``disabled`` (may not log in; every token of theirs is refused) or ``deleted``: a tombstone with no
    password, tokens or memberships that keeps the name reserved, because the registry's event log, collaborator
    grants and download URLs name the login and a new account of that name must not inherit them. Reads treat a
    deleted account as missing."""
    login: str
    user_type: str
    created_at: datetime
    name: str | None = None
    email: str | None = None
    description: str | None = None
    location: str | None = None
    company: str | None = None
    url: str | None = None
    password_hash: str | None = dataclasses.field(default=None, repr=False)
    disabled_at: datetime | None = None
    deleted_at: datetime | None = None

    @property
    def is_org(self) -> bool:
        return self.user_type == ORG

    @property
    def state(self) -> str:
        return DELETED if self.deleted_at else DISABLED if self.disabled_at else ACTIVE

    @property
    def may_log_in(self) -> bool:
        return not self.is_org and self.state == ACTIVE

    def admin_dict(self) -> dict:
        """What ``wharf user list`` shows (server administrators only: includes the state)."""
        return dict(self.to_dict(), state=self.state, disabled_at=iso(self.disabled_at),
                    deleted_at=iso(self.deleted_at))

    def to_dict(self) -> dict:
        out = {
            "login": self.login, "name": self.name, "user_type": self.user_type,
            "created_at": iso(self.created_at),
        }
        if not self.is_org:
            out["email"] = self.email
        out.update(description=self.description, location=self.location, company=self.company, url=self.url)
        return out


@dataclasses.dataclass
class Token:
    """An API token. ``login`` is the user who created it; ``org`` is set for organization tokens.
    ``holder`` (the org, else the user) is the namespace in which ``note`` is unique among live tokens."""
    id: str
    digest: str
    login: str
    note: str
    scopes: list[str]
    created_at: datetime
    org: str | None = None
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    application: str | None = None
    hostname: str | None = None
    remote_addr: str | None = None
    kind: str = "api"                   # api | session (a browser sign-in: never accepted as an API token)

    @property
    def holder(self) -> str:
        return self.org or self.login

    def is_expired(self, now: datetime) -> bool:
        return self.expires_at is not None and now >= self.expires_at

    def is_active(self, now: datetime) -> bool:
        return self.revoked_at is None and not self.is_expired(now)

    def created(self, plaintext: str) -> dict:
        """What ``create_token`` returns: the only time the plaintext token is shown."""
        return {"token": plaintext, "id": self.id, "note": self.note, "scopes": list(self.scopes),
                "expires": iso(self.expires_at), "user": self.login, "org": self.org}

    def principal(self) -> dict:
        return {"login": self.login, "token_id": self.id, "scopes": list(self.scopes), "org": self.org,
                "expires": iso(self.expires_at)}

    def listing(self) -> dict:
        return {"id": self.id, "note": self.note, "scopes": list(self.scopes), "expires": iso(self.expires_at),
                "created_at": iso(self.created_at), "application": self.application, "hostname": self.hostname,
                "remote_addr": self.remote_addr, "org": self.org}

    def info(self) -> dict:
        return {"id": self.id, "application": self.application, "note": self.note, "scopes": list(self.scopes),
                "expires": iso(self.expires_at), "user": self.login, "org": self.org}
