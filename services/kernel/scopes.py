"""Token scopes, modelled on anaconda.org, and what each allows. Pure rules shared by auth and the gateway.

A token's scopes decide which *kinds* of request it may make; the reader's role on the namespace (from the auth
service) decides *what* it may see or change. Logins by password (no token) and tokens with scope ``all`` may
do everything their role allows.
"""
from __future__ import annotations

SCOPES: dict[str, str] = {
    "all": "Full access: everything the user may do",
    "api": "Use the REST API to read and write (upload, label, remove, manage packages)",
    "api:read": "Read through the REST API (show, search, download, list labels)",
    "api:write": "Write through the REST API (upload, copy, move, remove, change labels)",
    "conda": "Read and download from conda channels",
    "conda:download": "Download conda packages and channel indexes, including private ones",
    "pypi": "Read and download from PyPI indexes",
    "pypi:download": "Download PyPI packages and simple pages, including private ones",
    "pypi:upload": "Upload to PyPI indexes (twine)",
    "repos": "Read conda and PyPI repositories",
}

# action -> scopes that grant it
_GRANTS: dict[str, frozenset[str]] = {
    "api:read": frozenset({"all", "api", "api:read", "api:write"}),
    "api:write": frozenset({"all", "api", "api:write"}),
    "conda:download": frozenset({"all", "api", "conda", "conda:download", "repos"}),
    "pypi:download": frozenset({"all", "api", "pypi", "pypi:download", "repos"}),
    "pypi:upload": frozenset({"all", "api", "api:write", "pypi:upload"}),
}

DEFAULT_SCOPES = ("all",)


def allows(scopes: list[str] | None, action: str) -> bool:
    """True when a token with ``scopes`` may perform ``action`` (one of the keys of ``_GRANTS``)."""
    granted = _GRANTS[action]
    return any(s in granted for s in (scopes or DEFAULT_SCOPES))


def unknown(scopes: list[str]) -> list[str]:
    return [s for s in scopes if s not in SCOPES]
