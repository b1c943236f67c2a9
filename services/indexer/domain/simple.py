"""PyPI simple repository pages (PEP 503 HTML, PEP 691 JSON, API version 1.1: PEP 658/714 core metadata,
PEP 700 size, upload-time and versions), as deterministic bytes.

File URLs are relative (the bare file name): the gateway serves each file, and its ``<file>.metadata``, next to
the project page. The project list links each project as ``<project>/`` relative to the list's URL.
"""
from __future__ import annotations

import dataclasses
import html
import json
from datetime import datetime, timezone
from typing import Iterable

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

API_VERSION = "1.1"
_DIST_SUFFIXES = (".whl", ".tar.gz", ".zip")


@dataclasses.dataclass(frozen=True)
class DistFile:
    """One distribution file as a page lists it."""
    filename: str
    version: str
    sha256: str
    size: int
    upload_time: str
    requires_python: str | None = None
    core_metadata_sha256: str | None = None


def is_distribution(filename: str) -> bool:
    """A wheel or an sdist (``.tar.gz``, ``.zip``): the files a simple page lists."""
    return filename.endswith(_DIST_SUFFIXES)


def project_name(metadata: dict, package: str) -> str:
    """Canonical (PEP 503) project of an upload: its core metadata ``Name``, else the registry package."""
    name = metadata.get("name") if isinstance(metadata, dict) else None
    return canonicalize_name(name if isinstance(name, str) and name.strip() else package)


def upload_time(occurred_at: str) -> str:
    """ISO 8601 -> ``yyyy-mm-ddThh:mm:ss.ffffffZ`` (UTC; naive means UTC)."""
    dt = datetime.fromisoformat(occurred_at[:-1] + "+00:00" if occurred_at.endswith("Z") else occurred_at)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def version_key(version: str):
    """PEP 440 order; versions that do not parse sort first, by their text."""
    try:
        return (1, Version(version), version)
    except InvalidVersion:
        return (0, version)


def _dumps(doc: dict) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode("ascii")


def _ordered(files: Iterable[DistFile]) -> list[DistFile]:
    return sorted(files, key=lambda f: (version_key(f.version), f.filename))


def project_json(project: str, files: Iterable[DistFile]) -> bytes:
    files = _ordered(files)
    entries = []
    for f in files:
        core = {"sha256": f.core_metadata_sha256} if f.core_metadata_sha256 else False
        entry = {"filename": f.filename, "url": f.filename, "hashes": {"sha256": f.sha256},
                 "core-metadata": core, "dist-info-metadata": core, "size": f.size, "upload-time": f.upload_time}
        if f.requires_python:
            entry["requires-python"] = f.requires_python
        entries.append(entry)
    versions = sorted({f.version for f in files}, key=version_key)
    return _dumps({"meta": {"api-version": API_VERSION}, "name": project, "files": entries, "versions": versions})


def _page(title: str, anchors: list[str]) -> bytes:
    lines = ["<!DOCTYPE html>", "<html>", "  <head>",
             f'    <meta name="pypi:repository-version" content="{API_VERSION}">',
             f"    <title>{html.escape(title)}</title>", "  </head>", "  <body>",
             f"    <h1>{html.escape(title)}</h1>"]
    lines += [f"    {a}<br>" for a in anchors]
    lines += ["  </body>", "</html>", ""]
    return "\n".join(lines).encode("utf-8")


def project_html(project: str, files: Iterable[DistFile]) -> bytes:
    anchors = []
    for f in _ordered(files):
        attrs = [f'href="{html.escape(f.filename)}#sha256={f.sha256}"']
        if f.requires_python:
            attrs.append(f'data-requires-python="{html.escape(f.requires_python)}"')
        if f.core_metadata_sha256:
            attrs.append(f'data-core-metadata="sha256={f.core_metadata_sha256}"')
            attrs.append(f'data-dist-info-metadata="sha256={f.core_metadata_sha256}"')
        anchors.append(f'<a {" ".join(attrs)}>{html.escape(f.filename)}</a>')
    return _page(f"Links for {project}", anchors)


def root_json(projects: Iterable[str]) -> bytes:
    return _dumps({"meta": {"api-version": API_VERSION}, "projects": [{"name": p} for p in sorted(set(projects))]})


def root_html(projects: Iterable[str]) -> bytes:
    anchors = [f'<a href="{html.escape(p)}/">{html.escape(p)}</a>' for p in sorted(set(projects))]
    return _page("Simple index", anchors)
