"""The core metadata of a wheel or sdist (``METADATA`` / ``PKG-INFO``), read with ``packaging.metadata``.

Every Metadata-Version packaging knows (1.0 to 2.5 and on) is read, hatchling's and setuptools' alike. Real
files are often sloppy (a field newer than the declared version, a multi-line Summary, one bad Requires-Dist,
bytes that are not UTF-8), so each field is validated on its own, as ``packaging.metadata.Metadata`` does when
asked for it: a bad one is dropped (or kept raw where showing it is harmless) and named in ``problems``, and only
a missing or unreadable Name or Version refuses the file. What is kept reaches the file's metadata and, through
the registry, the package and release attributes shown by the API.
"""
from __future__ import annotations

import re

from packaging.metadata import InvalidMetadata, Metadata, parse_email
from packaging.requirements import InvalidRequirement, Requirement

from services.kernel.errors import InvalidPackage

DESCRIPTION_LIMIT = 64 * 1024
"""Characters of a long description kept (the rest is cut and ``description_truncated`` set): the gateway's
bound (``TEXT_MAX``) for a description a client sets through the API, so a release or package attribute filled
from the file is one a client could have set (and may send back unchanged). Nearly every README fits; the few
that carry a whole changelog are cut."""
TEXT_LIMITS = {"metadata_version": 32, "summary": 1000, "license": 1000, "license_expression": 1000,
               "home_page": 2048, "description_content_type": 256, "requires_python": 1000}
"""Characters kept per one-line field (longer ones are cut and named in ``problems``): the gateway's bounds for
the same attributes set through the API (summary and license 1,000, URLs 2,048)."""
LIST_LIMIT = 1000
"""Items kept per list (classifiers, Requires-Dist, project URLs; each string 2,048 characters at most): the
gateway's bound for a free-form attribute (1,000 values)."""
MAX_PROBLEMS = 20
"""Problems listed per file (each cut to 300 characters): enough to explain a missing field, never a flood."""

_FIELDS = ("metadata_version", "name", "version", "summary", "description", "description_content_type",
           "license", "license_expression", "classifiers", "home_page", "project_urls", "requires_dist",
           "requires_python")


def core_metadata(raw: bytes, where: str) -> dict:
    """``{name, version, summary, description, description_content_type, license, license_expression,
    classifiers, home_page, project_urls, requires_dist, requires_python, metadata_version}`` (absent ones None)
    plus ``problems`` and ``description_truncated`` when there are any. ``license`` is the one to show:
    License-Expression, else License, else the license classifiers."""
    try:
        parsed, unparsed = parse_email(raw)
    except Exception as exc:  # noqa: BLE001 - hostile bytes
        raise InvalidPackage(f"{where} cannot be parsed ({exc.__class__.__name__})")
    for field in ("name", "version"):
        if not isinstance(parsed.get(field), str) or not parsed[field].strip():
            raise InvalidPackage(f"{where} lacks a {field.capitalize()} field")
    meta, problems = Metadata.from_raw(parsed, validate=False), []

    def valid(field: str):
        """The field as packaging validates it; None (and a problem noted) when it is invalid or absent."""
        if parsed.get(field) is None:
            return None
        try:
            return getattr(meta, field)
        except InvalidMetadata as exc:
            problems.append(f"{exc.field}: {exc}")
            return None

    out: dict = dict.fromkeys(_FIELDS)
    out.update(name=parsed["name"].strip(), version=parsed["version"].strip(),
               metadata_version=_text(parsed.get("metadata_version")), home_page=_text(parsed.get("home_page")),
               classifiers=list(parsed.get("classifiers") or []) or None)
    summary = parsed.get("summary")
    if summary is not None and valid("summary") is None:
        summary = " ".join(summary.split())          # a multi-line Summary: shown on one line
    out["summary"] = _text(summary)
    out["description"] = _description(parsed, unparsed, out)
    if valid("description_content_type") is not None:
        out["description_content_type"] = parsed["description_content_type"].strip()
    expression = valid("license_expression")
    out["license_expression"] = str(expression) if expression is not None else _text(
        parsed.get("license_expression"))          # not SPDX as packaging knows it: still what the author wrote
    out["license"] = _license(out["license_expression"], _text(parsed.get("license")), out["classifiers"])
    urls = parsed.get("project_urls") or {}
    out["project_urls"] = dict(urls) or None
    out["home_page"] = out["home_page"] or next(
        (u for label, u in urls.items() if re.sub(r"[^a-z]", "", label.lower()) in ("homepage", "home")), None)
    out["requires_dist"] = _requirements(parsed.get("requires_dist") or [], problems) or None
    if valid("requires_python") is not None:      # an invalid one would reach the simple index: dropped
        out["requires_python"] = parsed["requires_python"].strip()
    for field in sorted(set(unparsed) - {"description"}):
        problems.append(f"{field}: could not be read")
    _bound(out, problems)
    if problems:
        out["problems"] = [p[:300] for p in problems[:MAX_PROBLEMS]]
    return out


def _bound(out: dict, problems: list[str]) -> None:
    """Cut what is over ``TEXT_LIMITS`` / ``LIST_LIMIT``, naming each cut in ``problems``."""
    for field, limit in TEXT_LIMITS.items():
        if isinstance(out[field], str) and len(out[field]) > limit:
            out[field] = out[field][:limit]
            problems.append(f"{field}: cut to {limit} characters")
    for field in ("classifiers", "requires_dist"):
        if out[field] and (len(out[field]) > LIST_LIMIT or any(len(x) > 2048 for x in out[field])):
            out[field] = [x[:2048] for x in out[field][:LIST_LIMIT]]
            problems.append(f"{field}: cut to {LIST_LIMIT} items of 2048 characters")
    urls = out["project_urls"]
    if urls and (len(urls) > LIST_LIMIT or any(len(k) > 256 or len(v) > 2048 for k, v in urls.items())):
        out["project_urls"] = {k[:256]: v[:2048] for k, v in list(urls.items())[:LIST_LIMIT]}
        problems.append(f"project_urls: cut to {LIST_LIMIT} items")


def _text(value) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _description(parsed: dict, unparsed: dict, out: dict) -> str | None:
    text = parsed.get("description")
    if text is None and unparsed.get("description"):     # a body that is not UTF-8: shown with replacements
        first = unparsed["description"][0]
        text = first.decode("utf-8", "replace") if isinstance(first, bytes) else str(first)
    if not isinstance(text, str) or not text.strip():
        return None
    if len(text) > DESCRIPTION_LIMIT:
        out["description_truncated"] = True
        text = text[:DESCRIPTION_LIMIT]
    return text


def _license(expression: str | None, text: str | None, classifiers: list[str] | None) -> str | None:
    """What to show as the license: License-Expression, else a one-line License, else the license classifiers,
    else the first line of a License that holds a whole license text (as setuptools used to write)."""
    if expression:
        return expression
    if text and "\n" not in text and len(text) <= 200:
        return text
    named = [c.split("::")[-1].strip() for c in classifiers or () if c.startswith("License ::")]
    named = [n for n in named if n and n != "OSI Approved"]
    if named:
        return ", ".join(dict.fromkeys(named))
    if text:
        return text.strip().splitlines()[0][:200]
    return None


def _requirements(values: list[str], problems: list[str]) -> list[str]:
    out = []
    for value in values:
        try:
            Requirement(value)
        except InvalidRequirement as exc:
            problems.append(f"requires-dist: {value[:100]!r} is not a valid requirement ({exc})")
            continue
        out.append(value.strip())
    return out
