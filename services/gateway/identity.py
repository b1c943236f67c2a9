"""Who is asking, and what may they do on a namespace. Tokens come from ``Authorization: token X`` (the
anaconda CLI), ``Authorization: Bearer X`` (rattler/pixi), or a ``/t/<token>/`` path segment (conda)."""
from __future__ import annotations

import dataclasses

from flask import g, request

from services.kernel import scopes as scope_rules
from services.kernel.errors import Forbidden, Unauthorized

WRITE_ROLES = ("admin", "write")


@dataclasses.dataclass(frozen=True)
class Reader:
    login: str | None = None
    scopes: tuple[str, ...] | None = None
    token_id: str | None = None
    org: str | None = None

    @property
    def anonymous(self) -> bool:
        return self.login is None

    def may(self, action: str) -> bool:
        return not self.anonymous and scope_rules.allows(list(self.scopes) if self.scopes else None, action)


def header_token() -> str | None:
    value = request.headers.get("Authorization", "")
    scheme, _, token = value.partition(" ")
    if scheme.lower() in ("token", "bearer") and token.strip():
        return token.strip()
    return None


def current_reader(clients, path_token: str | None = None) -> Reader:
    """The request's reader (cached on ``g``); an invalid, expired or revoked token is a 401, never anonymous."""
    cached = getattr(g, "wharf_reader", None)
    if cached is not None:
        return cached
    token = path_token or header_token()
    reader = Reader()
    if token:
        p = clients.auth.authenticate(token)
        reader = Reader(login=p["login"], scopes=tuple(p.get("scopes") or ()) or None,
                        token_id=p.get("token_id"), org=p.get("org"))
    g.wharf_reader = reader
    g.wharf_token = token
    return reader


def role_on(clients, reader: Reader, owner: str, action: str) -> str | None:
    """The reader's role on ``owner`` for a read ``action`` (None = public view only). Raises NotFound for an
    unknown owner, for everyone alike."""
    role = clients.auth.access(None if reader.anonymous else reader.login, owner)
    if role and not reader.may(action):
        return None
    if role and reader.org and reader.org != owner:
        return None  # an organization token sees only its organization
    return role


def require_login(reader: Reader) -> Reader:
    if reader.anonymous:
        raise Unauthorized("authentication required")
    return reader


def require_write(clients, reader: Reader, owner: str, action: str = "api:write") -> str:
    require_login(reader)
    role = clients.auth.access(reader.login, owner)
    if not reader.may(action):
        raise Forbidden(f"this token's scopes do not allow {action}")
    if reader.org and reader.org != owner:
        raise Forbidden(f"this token is limited to the organization {reader.org}")
    if role not in WRITE_ROLES:
        raise Forbidden(f"{reader.login} cannot write to {owner}")
    return role
