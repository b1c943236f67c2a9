"""Inspection of conda packages (``.conda`` and ``.tar.bz2``): reads ``info/`` only, never the payload files.

The package must agree with itself (``info/index.json`` vs its file name) and with the URL it was uploaded to
(package, version, subdir); the result carries the repodata record and the about metadata.
"""
from __future__ import annotations

import posixpath
import zipfile
from typing import BinaryIO

from conda_package_streaming.package_streaming import stream_conda_component, stream_conda_info

from services.kernel import names, strict_json
from services.kernel.errors import InvalidName, InvalidPackage

from .inspection import (Budget, Digests, Inspection, check_member_name, expansion_budget, read_limited,
                         refusing_corruption, verify_zip)

RECORD_EXCLUDED = frozenset({"arch", "platform", "has_prefix", "mtime", "ucs", "requires_features", "binstar",
                             "target-triplet", "machine", "operatingsystem"})
ABOUT_KEYS = ("summary", "license", "home", "description", "dev_url", "doc_url")
_WANTED = ("info/index.json", "info/about.json", "info/run_exports.json")


def inspect_conda(fileobj: BinaryIO, basename: str, package: str, version: str, digests: Digests) -> Inspection:
    subdir, sep, fn = basename.rpartition("/")
    if not sep:
        raise InvalidPackage(f"a conda file must be uploaded as <subdir>/<file>, got {basename!r}")
    try:
        fn_name, fn_version, fn_build, _ext = names.split_conda_filename(fn)
    except InvalidName:
        raise InvalidPackage(f"{fn!r} is not a conda package file name (<name>-<version>-<build>.conda|.tar.bz2)")

    members = _read_info(fileobj, fn, digests.size)
    index = _json_member(members, "info/index.json", required=True)
    _check_index(index)
    for field, from_name in (("name", fn_name), ("version", fn_version), ("build", fn_build)):
        if index[field] != from_name:
            raise InvalidPackage(f"info/index.json says {field} {index[field]!r} but the file name says "
                                 f"{from_name!r}")
    if index["name"] != package:
        raise InvalidPackage(f"package name {index['name']!r} in the file does not match the package "
                             f"{package!r} in the URL")
    if index["version"] != version:
        raise InvalidPackage(f"version {index['version']!r} in the file does not match the version {version!r} "
                             f"in the URL")
    if index.get("subdir", subdir) != subdir:
        raise InvalidPackage(f"info/index.json says subdir {index['subdir']!r} but the file was uploaded to "
                             f"{subdir!r}")

    record = {k: v for k, v in index.items() if k not in RECORD_EXCLUDED}
    record["subdir"] = subdir
    record["depends"] = list(index.get("depends") or [])
    record.update(md5=digests.md5, sha256=digests.sha256, size=digests.size)

    about = _json_member(members, "info/about.json") or {}
    metadata: dict = {"about": {k: about[k] for k in ABOUT_KEYS if k in about}}
    run_exports = _json_member(members, "info/run_exports.json")
    if run_exports is not None:
        metadata["run_exports"] = run_exports
    return Inspection(filename=fn, subdir=subdir, record=record, metadata=metadata)


def _read_info(fileobj: BinaryIO, fn: str, size: int) -> dict[str, bytes]:
    """The wanted ``info/`` members' bytes. A ``.tar.bz2`` is walked to its end (its info/ is not separable and
    walking detects truncation); of a ``.conda`` only the info component is decompressed, after a CRC check of
    the zip's members."""
    budget = Budget(expansion_budget(size))
    found: dict[str, bytes] = {}
    with refusing_corruption(f"conda package {fn!r}"):
        if fn.endswith(".conda"):
            fileobj.seek(0)
            with zipfile.ZipFile(fileobj) as zf:
                _check_zip(zf, budget)
        fileobj.seek(0)
        for tar, member in stream_conda_info(fn, fileobj):
            budget.spend(member.size)
            _check_member(member)
            name = member.name[2:] if member.name.startswith("./") else member.name
            if name in _WANTED and member.isfile():
                if name in found:
                    raise InvalidPackage(f"{name} appears twice in {fn!r}")
                found[name] = read_limited(tar.extractfile(member), name)
        if fn.endswith(".conda"):
            # the payload's member names (never its bytes) must stay inside the package too
            fileobj.seek(0)
            for _tar, member in stream_conda_component(fn, fileobj, "pkg"):
                budget.spend(member.size)
                _check_member(member)
    return found


def _check_member(member) -> None:
    """A member's path, and where its link points, must stay inside the package (a relative symlink is
    resolved from its own directory: ``lib/libz.so -> libz.so.1`` and ``bin/x -> ../lib/x`` are fine)."""
    check_member_name(member.name)
    if member.islnk():
        check_member_name(member.linkname)
    elif member.issym():
        target = member.linkname or ""
        if target.startswith(("/", "\\")) or "\x00" in target:
            check_member_name(target)
        resolved = posixpath.normpath(posixpath.join(posixpath.dirname(member.name), target))
        if resolved == ".." or resolved.startswith("../"):
            raise InvalidPackage(f"archive member {member.name[:200]!r} links outside the package")


def _check_zip(zf: zipfile.ZipFile, budget: Budget) -> None:
    names_ = zf.namelist()
    if not any(n.startswith("info-") for n in names_) or not any(n.startswith("pkg-") for n in names_):
        raise InvalidPackage("a .conda file must hold info- and pkg- components")
    verify_zip(zf, budget)


def _json_member(members: dict[str, bytes], name: str, required: bool = False):
    if name not in members:
        if required:
            raise InvalidPackage(f"{name} is missing: not a conda package")
        return None
    try:
        value = strict_json.loads(members[name])
    except ValueError:
        raise InvalidPackage(f"{name} is not valid JSON")
    if not isinstance(value, dict):
        raise InvalidPackage(f"{name} must hold a JSON object")
    return value


def _check_index(index: dict) -> None:
    for field in ("name", "version", "build"):
        if not isinstance(index.get(field), str) or not index[field]:
            raise InvalidPackage(f"info/index.json lacks a valid {field!r}")
    bn = index.get("build_number")
    if not isinstance(bn, int) or isinstance(bn, bool) or bn < 0:
        raise InvalidPackage("info/index.json lacks a valid 'build_number'")
    for field in ("depends", "constrains"):
        value = index.get(field, [])
        if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
            raise InvalidPackage(f"info/index.json {field!r} must be a list of strings")
    if "subdir" in index and not isinstance(index["subdir"], str):
        raise InvalidPackage("info/index.json 'subdir' must be a string")
