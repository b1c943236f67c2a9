"""Database rows -> domain objects (shared by the repository modules)."""
from __future__ import annotations

from ..domain.model import Account, Token
from ..domain.tokens import stored_scopes

ACCOUNT_COLUMNS = ("login", "user_type", "name", "email", "description", "location", "company", "url",
                   "password_hash", "created_at", "disabled_at", "deleted_at")
TOKEN_COLUMNS = ("id", "digest", "login", "org", "note", "scopes", "created_at", "expires_at", "revoked_at",
                 "application", "hostname", "remote_addr", "kind")


def account(row) -> Account:
    return Account(**{c: row._mapping[c] for c in ACCOUNT_COLUMNS})


def token(row) -> Token:
    values = {c: row._mapping[c] for c in TOKEN_COLUMNS}
    values["scopes"] = stored_scopes(values["scopes"])
    return Token(**values)
