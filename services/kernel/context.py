"""The correlation id of the work in progress: the HTTP request (``X-Request-Id``) that caused an RPC call, the
events it recorded, and everything consumers do with those events.

One ``ContextVar``: each thread (gateway, embedded workers) and each eventlet greenthread (nameko workers) has
its own value. The gateway sets it per request, the nameko telemetry dependency per worker (from the
``nameko.correlation_id`` header), the indexer per applied event; ``Event.new`` stamps it on new events and
the JSON log formatter (logs.py) prints it on every line.
"""
from __future__ import annotations

import re
import uuid
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Iterator

_CURRENT: ContextVar[str | None] = ContextVar("wharf_correlation_id", default=None)
_VALID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
_CREDENTIAL_PREFIXES = ("wt-", "ws-")     # Wharf API tokens and web session secrets: never an id to log


def current() -> str | None:
    return _CURRENT.get()


def set_current(value: str | None):
    """Set the correlation id; returns a token for ``reset``."""
    return _CURRENT.set(value)


def reset(token) -> None:
    _CURRENT.reset(token)


@contextmanager
def correlated(value: str | None) -> Iterator[str | None]:
    token = _CURRENT.set(value)
    try:
        yield value
    finally:
        _CURRENT.reset(token)


def accept(value: str | None) -> str:
    """A client-supplied request id if it is a sane token (letters, digits, ``._:-``, at most 128), else a new
    one: ids end up in logs and events, so arbitrary header text is never trusted."""
    if value and _VALID.match(value) and not value.lower().startswith(_CREDENTIAL_PREFIXES):
        return value
    return uuid.uuid4().hex
