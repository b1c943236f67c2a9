"""The repodata record of a conda package, built from its ``info/index.json``.

Clients read a channel's ``repodata.json`` (and its shards) whole: rattler, pixi and mamba deserialize every
record with serde, so one field of the wrong type (``"timestamp": "yesterday"``, ``"noarch": 123``, a license
object) or a version they cannot parse makes the whole file unreadable for everyone using that channel. So a
record holds only the fields conda's and rattler's ``PackageRecord`` define (``RECORD_FIELDS``), each checked to
be of a type both accept (a wrong one is ``InvalidPackage``, 400); keys neither client knows (``arch``,
``platform``, ``mtime``, ``binstar``...) are dropped, as are nulls. The finished record is then read back by
rattler itself, the strictest reader of the three, so nothing these checks miss reaches an index.
"""
from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Callable

from rattler import RepoData, Version

from services.kernel.errors import InvalidPackage

_I64 = 2 ** 63
_PURL = re.compile(r"^pkg:[A-Za-z][A-Za-z0-9.+-]*/[^/]")
RUN_EXPORTS_KEYS = ("weak", "strong", "noarch", "weak_constrains", "strong_constrains")


def _string(v) -> bool:
    return isinstance(v, str)


def _nonempty_string(v) -> bool:
    return isinstance(v, str) and bool(v)


def _int(v, low: int, high: int) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and low <= v < high


def _strings(v) -> bool:
    return isinstance(v, list) and all(isinstance(x, str) for x in v)


def _version(v) -> bool:
    if not isinstance(v, str) or not v:
        return False
    try:
        Version(v)
    except Exception:  # noqa: BLE001 - rattler's InvalidVersionError; anything else is as bad
        return False
    return True


def run_exports_ok(v) -> bool:
    """``{weak, strong, noarch, weak_constrains, strong_constrains}``, each a list of strings (CEP/rattler
    ``RunExportsJson``)."""
    return isinstance(v, dict) and all(_strings(v[k]) for k in RUN_EXPORTS_KEYS if k in v)


RECORD_FIELDS: dict[str, tuple[Callable[[object], bool], str]] = {
    "name": (_nonempty_string, "a non-empty string"),
    "version": (_version, "a conda version string (as conda and rattler parse it)"),
    "build": (_nonempty_string, "a non-empty string"),
    "build_number": (lambda v: _int(v, 0, 2 ** 64), "a non-negative integer"),
    "subdir": (_string, "a string"),
    "depends": (_strings, "a list of strings"),
    "constrains": (_strings, "a list of strings"),
    "extra_depends": (lambda v: isinstance(v, dict) and all(_strings(x) for x in v.values()),
                      "an object of lists of strings"),
    "track_features": (lambda v: _string(v) or _strings(v), "a string or a list of strings"),
    "features": (_string, "a string"),
    "noarch": (lambda v: v in ("generic", "python") or isinstance(v, bool), '"generic", "python" or a boolean'),
    "license": (_string, "a string"),
    "license_family": (_string, "a string"),
    "python_site_packages_path": (_string, "a string"),
    "timestamp": (lambda v: _int(v, -_I64, _I64), "an integer (milliseconds since 1970)"),
    "purls": (lambda v: _strings(v) and all(_PURL.match(x) for x in v), "a list of package URLs (pkg:type/name)"),
    "run_exports": (run_exports_ok, "an object of lists of strings (weak, strong, ...)"),
}
"""Each field a record may carry: its check and, for the refusal, what it must be. Types are those that both
conda (``conda.models.records.PackageRecord``) and rattler (``rattler_conda_types::PackageRecord``) accept; e.g.
rattler refuses a float timestamp or a list of ``features`` that conda takes, so they are refused."""
REQUIRED = ("name", "version", "build", "build_number")


def conda_record(index: dict, subdir: str, md5: str, sha256: str, size: int) -> dict:
    """The repodata record of a package whose ``info/index.json`` is ``index``, uploaded to ``subdir``."""
    record: dict = {}
    for field, (ok, what) in RECORD_FIELDS.items():
        value = index.get(field)
        if value is None:
            if field in REQUIRED:
                raise InvalidPackage(f"info/index.json lacks a valid {field!r}")
            continue
        if not ok(value):
            raise InvalidPackage(f"info/index.json {field!r} must be {what}, not {_shown(value)}")
        record[field] = value
    if record.get("noarch") is False:
        del record["noarch"]
    record["subdir"] = subdir
    record["depends"] = list(record.get("depends", []))
    record.update(md5=md5, sha256=sha256, size=size)
    _rattler_reads(record)
    return record


def _shown(value) -> str:
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _rattler_reads(record: dict) -> None:
    """Refuse a record rattler's own repodata reader refuses (one such record makes a whole index unreadable)."""
    fd, path = tempfile.mkstemp(prefix="wharf-record-", suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump({"info": {"subdir": record["subdir"]}, "packages.conda": {"x-0-0.conda": record}}, f)
        try:
            RepoData.from_path(path)
        except Exception as exc:  # noqa: BLE001 - rattler's IoError carries serde's message
            raise InvalidPackage(f"info/index.json makes a record conda clients cannot read: {exc}")
    finally:
        os.unlink(path)
