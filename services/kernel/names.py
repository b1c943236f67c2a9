"""Validation of every name that comes from a user: owners, packages, versions, labels, basenames, subdirs.

Rules follow anaconda.org and CEP-26 where they exist; anything that could escape a path (separators, ``..``,
NUL and control characters) or blow up storage (over-long) is refused with ``InvalidName`` (400).
"""
from __future__ import annotations

import re

from .errors import InvalidName

RESERVED_OWNERS = frozenset({
    "api", "conda", "pypi", "t", "static", "login", "logout", "account", "settings", "search", "admin", "health",
    "metrics", "_upload", "label", "user", "users", "org", "orgs", "packages", "package", "files", "ui",
    "favicon.ico",                                                  # the web UI's icon (/favicon.ico)
})

_OWNER = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}$")          # CEP-26 channel component, lower-case, <= 63
_LOGIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")    # logins keep their case for display
_PACKAGE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]{0,127}$")
_VERSION = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+!-]{0,63}$")
_LABEL = re.compile(r"^[a-zA-Z][0-9a-zA-Z_.-]{0,63}$")       # CEP-26 minus '/', which our URLs cannot carry
_SUBDIR = re.compile(r"^(noarch|[a-z0-9]+-[a-z0-9]+)$")
_FILENAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+!~=,-]{0,210}$")
_CONDA_FILENAME = re.compile(r"^(?P<name>.+)-(?P<version>[^-]+)-(?P<build>[^-]+)\.(?P<ext>conda|tar\.bz2)$")


def _check(kind: str, value, pattern: re.Pattern) -> str:
    if not isinstance(value, str) or not pattern.match(value) or ".." in value:
        raise InvalidName(f"invalid {kind} name: {value!r}" if isinstance(value, str) and len(value) < 300
                          else f"invalid {kind} name")
    return value


def owner(value: str) -> str:
    """Namespace (user or organization) as it appears in URLs: lower-case; reserved words are refused."""
    v = _check("owner", value, _LOGIN).lower()
    if v in RESERVED_OWNERS:
        raise InvalidName(f"owner name {value!r} is reserved")
    return v


def login(value: str) -> str:
    return owner(value)


def package(value: str) -> str:
    return _check("package", value, _PACKAGE)


def version(value: str) -> str:
    return _check("version", value, _VERSION)


def label(value: str) -> str:
    return _check("label", value, _LABEL)


def subdir(value: str) -> str:
    if not isinstance(value, str) or len(value) > 32:
        raise InvalidName("invalid subdir")
    return _check("subdir", value, _SUBDIR)


def filename(value: str) -> str:
    return _check("file", value, _FILENAME)


def basename(value: str) -> str:
    """A file's basename as anaconda-client sends it: ``file`` or ``<subdir>/<file>`` (conda)."""
    if not isinstance(value, str) or not value or len(value) > 250:
        raise InvalidName("invalid basename")
    parts = value.split("/")
    if len(parts) == 1:
        filename(parts[0])
    elif len(parts) == 2:
        subdir(parts[0])
        filename(parts[1])
    else:
        raise InvalidName(f"invalid basename: {value!r}")
    return value


def split_conda_filename(fn: str) -> tuple[str, str, str, str]:
    """``name-version-build.ext`` -> (name, version, build, ext); InvalidName when it is not one."""
    m = _CONDA_FILENAME.match(fn)
    if not m:
        raise InvalidName(f"not a conda package file name: {fn!r}")
    return m["name"], m["version"], m["build"], m["ext"]
