"""JSON as RFC 8259 defines it. Python's ``json`` reads and writes ``NaN``, ``Infinity`` and ``-Infinity`` by
default; no other JSON parser does (rattler, PostgreSQL's ``json``, browsers), so one such value taken from a
user would make every ``repodata.json`` it reaches unreadable, and the event log unreadable to the database.
Everything read from users goes through ``loads``; every event's data is checked by ``check``."""
from __future__ import annotations

import json


def _refuse(constant: str):
    raise ValueError(f"{constant} is not valid JSON")


def loads(text: str | bytes):
    """``json.loads`` that refuses NaN and the infinities (ValueError, like any other invalid JSON)."""
    return json.loads(text, parse_constant=_refuse)


def check(value) -> None:
    """ValueError when ``value`` holds a float JSON cannot represent (NaN, an infinity)."""
    json.dumps(value, allow_nan=False)
