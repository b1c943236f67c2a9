"""JSON as RFC 8259 defines it. Python's ``json`` reads and writes ``NaN``, ``Infinity`` and ``-Infinity`` by
default; no other JSON parser does (rattler, PostgreSQL's ``json``, browsers), so one such value taken from a
user would make every ``repodata.json`` it reaches unreadable, and the event log unreadable to the database.
Everything read from users goes through ``loads``; every event's data is checked by ``check``.

Nesting is bounded too (``MAX_DEPTH``): a body of 100,000 ``[`` made Python's parser raise RecursionError (a 500),
and a value a few hundred levels deep would do the same to whatever walks it later."""
from __future__ import annotations

import json


def _refuse(constant: str):
    raise ValueError(f"{constant} is not valid JSON")


MAX_DEPTH = 64      # no JSON Wharf accepts (API bodies, a package's info/*.json) needs more; rattler's own is 128


def loads(text: str | bytes, max_depth: int = MAX_DEPTH):
    """``json.loads`` that refuses NaN and the infinities and values nested deeper than ``max_depth``
    (ValueError, like any other invalid JSON)."""
    try:
        value = json.loads(text, parse_constant=_refuse)
    except RecursionError:
        raise ValueError("JSON nested too deeply")
    _check_depth(value, max_depth)
    return value


def _check_depth(value, max_depth: int) -> None:
    """Walk the containers (never recursively: the walk itself must not be what a deep value breaks)."""
    stack = [(value, 1)] if isinstance(value, (dict, list)) else []
    while stack:
        v, depth = stack.pop()
        if depth > max_depth:
            raise ValueError(f"JSON nested deeper than {max_depth} levels")
        items = v.values() if isinstance(v, dict) else v
        stack.extend((x, depth + 1) for x in items if isinstance(x, (dict, list)))


def check(value) -> None:
    """ValueError when ``value`` holds a float JSON cannot represent (NaN, an infinity)."""
    json.dumps(value, allow_nan=False)
