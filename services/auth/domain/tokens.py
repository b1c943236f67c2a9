"""Token material: generation, the shape a presented token must have, ids and expiry.

Tokens are ``wt-`` followed by 48 hex digits (192 random bits): only ``[A-Za-z0-9-]``, because conda
recognises nothing else in a ``/t/<token>/`` URL segment (an ``_`` breaks it). Only the keyed digest
(``signing.token_digest``) is stored, so a token is shown once and can never be listed again.

A web sign-in is a token of kind ``session`` (``ws-`` + 48 hex digits, note ``web-session-...``): the browser's
cookie holds it, and it is accepted only as a web session (``authenticate_session``), never by
``authenticate``, so a cookie that leaks (it is signed, not encrypted) is not an API token for conda or curl.
"""
from __future__ import annotations

import re
import secrets
import uuid
from datetime import datetime, timedelta

PREFIX = "wt-"
SESSION_PREFIX = "ws-"                               # a web session's secret: never an API token
RANDOM_BYTES = 24                                    # 192 bits
API, SESSION = "api", "session"                      # kinds of token
SESSION_NOTE_PREFIX = "web-session-"                 # the note of a session (and reserved for them)
_PRESENTED = re.compile(r"^[A-Za-z0-9-]{1,256}$")    # anything else cannot be one of ours: no lookup needed

DEFAULT_SCOPES = ("all",)   # a token created without scopes may do everything its holder may: it says so


def stored_scopes(scopes) -> list[str]:
    """The scopes a token row holds as they are shown and checked: rows written before tokens created without
    scopes were stored as ``["all"]`` hold ``[]``, which always meant full access: they read as ``["all"]``."""
    return list(scopes) if scopes else list(DEFAULT_SCOPES)


def generate(kind: str = API) -> str:
    return (SESSION_PREFIX if kind == SESSION else PREFIX) + secrets.token_hex(RANDOM_BYTES)


def new_id() -> str:
    return uuid.uuid4().hex


def well_formed(token) -> bool:
    return isinstance(token, str) and bool(_PRESENTED.match(token))


def expiry(now: datetime, max_age: int | None) -> datetime | None:
    return None if max_age is None else now + timedelta(seconds=max_age)
