"""A tolerant ordering of version strings (conda and PEP 440 alike) to pick a package's latest version."""
from __future__ import annotations

import re

_PART = re.compile(r"\d+|[A-Za-z]+")
_PRE = {"dev": -4, "a": -3, "alpha": -3, "b": -2, "beta": -2, "rc": -1, "c": -1, "pre": -1, "post": 1}


def version_key(version: str) -> tuple:
    """Numbers compare as numbers; pre-release words sort before the release, ``post`` after it."""
    key = []
    for part in _PART.findall(version.split("+", 1)[0].lower()):
        if part.isdigit():
            key.append((0, int(part), ""))
        else:
            key.append((_PRE.get(part, -5), 0, part))
    # the end sorts after pre-release words and before numbers and "post": 1.0a1 < 1.0 < 1.0.1, 1.0.post1
    return tuple(key) + ((-0.5, 0, ""),)


def latest(versions: list[str]) -> str | None:
    return max(versions, key=version_key) if versions else None
