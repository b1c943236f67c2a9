"""Validation of the inputs the auth service accepts (names are checked by ``services.kernel.names``).

Every refusal is a ``BadRequest`` (400). Free-text metadata about a token's origin (application, hostname,
remote address) is cut to ``MAX_TEXT`` instead of refused: a long User-Agent must not break a login.
"""
from __future__ import annotations

import re

from services.kernel.errors import BadRequest

MAX_TEXT = 255
MAX_PASSWORD = 4096               # argon2 hashes anything, but an unbounded input is a cheap DoS
MAX_SCOPES = 32
MAX_AGE_LIMIT = 100 * 365 * 86400  # seconds; beyond that use None (never expires)

_SCOPE = re.compile(r"^[A-Za-z0-9_.*-]+(:[A-Za-z0-9_.*-]+)*$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


MIN_PASSWORD = 10                 # default of WHARF_MIN_PASSWORD_LENGTH


def password(value, min_length: int = MIN_PASSWORD) -> str:
    """A new password (creation, change, reset): at least ``min_length`` characters."""
    if not isinstance(value, str) or not value:
        raise BadRequest("a password is required")
    if len(value) < min_length:
        raise BadRequest(f"a password needs at least {min_length} characters")
    if len(value) > MAX_PASSWORD:
        raise BadRequest(f"passwords are limited to {MAX_PASSWORD} characters")
    return value


def acceptable_password(value) -> bool:
    """Whether a presented password is worth hashing at all (used on login, where we never say why)."""
    return isinstance(value, str) and 0 < len(value) <= MAX_PASSWORD


def email(value) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > 254 or not _EMAIL.match(value):
        raise BadRequest("invalid email address")
    return value


def display_name(value) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        raise BadRequest(f"a name is a string of at most {MAX_TEXT} characters")
    return value.strip() or None


def note(value, reserved: str | None = None) -> str:
    if not isinstance(value, str) or not value.strip():
        raise BadRequest("a token needs a name (note)")
    if len(value) > MAX_TEXT or any(ord(c) < 32 for c in value):
        raise BadRequest(f"a token name has at most {MAX_TEXT} printable characters")
    if reserved and value.startswith(reserved):
        raise BadRequest(f"token names starting with {reserved} are reserved for web sign-ins")
    return value


def scopes(value, default: tuple[str, ...]) -> list[str]:
    """None or none at all (``[]``, ``""``: ``anaconda auth --create`` without ``--scopes``) -> ``default``; a
    string is split on whitespace (as the CLI's ``-s "a b"``); order kept, no dups."""
    if value is None:
        return list(default)
    if isinstance(value, str):
        value = value.split()
    if not isinstance(value, (list, tuple)):
        raise BadRequest("scopes must be a list of strings")
    out: list[str] = []
    for item in value:
        if not isinstance(item, str) or len(item) > 64 or not _SCOPE.match(item):
            raise BadRequest(f"invalid scope: {item!r}"[:200])
        if item not in out:
            out.append(item)
    if len(out) > MAX_SCOPES:
        raise BadRequest(f"at most {MAX_SCOPES} scopes")
    return out or list(default)


def max_age(value) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value.strip())
        else:
            raise BadRequest("max_age must be a number of seconds")
    if value <= 0 or value > MAX_AGE_LIMIT:
        raise BadRequest(f"max_age must be between 1 and {MAX_AGE_LIMIT} seconds")
    return value


def metadata(value) -> str | None:
    if value is None:
        return None
    return str(value)[:MAX_TEXT] or None


def fail_if_exists(value) -> bool:
    if not isinstance(value, bool):
        raise BadRequest("fail_if_exists must be true or false")
    return value
