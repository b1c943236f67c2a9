"""Inspection of conda packages (``.conda`` and ``.tar.bz2``): reads ``info/`` only, never the payload files.

The package must agree with itself (``info/index.json`` vs its file name) and with the URL it was uploaded to
(package, version, subdir); the result carries the repodata record (``conda_record``) and the about metadata.
Every archive is walked by the bounded walker (``archive.Walk``): the whole ``.tar.bz2``, and of a ``.conda``
the zip (each member's CRC), its info component and its payload's member names and links.
"""
from __future__ import annotations

import bz2
import zipfile
from typing import BinaryIO

import zstandard

from services.kernel import names, strict_json
from services.kernel.errors import InvalidName, InvalidPackage

from .archive import Walk
from .conda_record import conda_record, run_exports_ok
from .inspection import Digests, Inspection, read_limited, refusing_corruption

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

    members = read_info(fileobj, fn, Walk(digests.size))
    index = _json_member(members, "info/index.json", required=True)
    for field in ("name", "version", "build"):
        if not isinstance(index.get(field), str) or not index[field]:
            raise InvalidPackage(f"info/index.json lacks a valid {field!r}")
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
    if "subdir" in index and not isinstance(index["subdir"], str):
        raise InvalidPackage("info/index.json 'subdir' must be a string")
    if index.get("subdir", subdir) != subdir:
        raise InvalidPackage(f"info/index.json says subdir {index['subdir']!r} but the file was uploaded to "
                             f"{subdir!r}")
    record = conda_record(index, subdir, digests.md5, digests.sha256, digests.size)

    about = _json_member(members, "info/about.json") or {}
    metadata: dict = {"about": {k: about[k] for k in ABOUT_KEYS if k in about}}
    run_exports = _json_member(members, "info/run_exports.json")
    if run_exports is not None:
        if not run_exports_ok(run_exports):
            raise InvalidPackage("info/run_exports.json must map weak, strong, noarch, weak_constrains and "
                                 "strong_constrains to lists of strings")
        metadata["run_exports"] = run_exports
    return Inspection(filename=fn, subdir=subdir, record=record, metadata=metadata)


def read_info(fileobj: BinaryIO, fn: str, walk: Walk) -> dict[str, bytes]:
    """The wanted ``info/`` members' bytes. A ``.tar.bz2`` is walked to its end (its info/ is not separable and
    walking detects truncation); of a ``.conda`` the zip's members are CRC-checked, the info component is read
    and the payload component walked (names and links, never its bytes kept)."""
    found: dict[str, bytes] = {}
    with refusing_corruption(f"conda package {fn!r}"):
        fileobj.seek(0)
        if fn.endswith(".conda"):
            zf = walk.zip(fileobj)
            info, pkg = (_component(zf, fn, part) for part in ("info", "pkg"))
            _collect(walk, _zstd(zf.open(info)), fn, found)
            for _tar, _member in walk.tar(_zstd(zf.open(pkg))):
                pass
        else:
            _collect(walk, bz2.open(fileobj, "rb"), fn, found)
        walk.finish()
    return found


def _collect(walk: Walk, stream, fn: str, found: dict[str, bytes]) -> None:
    for tar, member in walk.tar(stream):
        name = member.name[2:] if member.name.startswith("./") else member.name
        if name in _WANTED and member.isfile():
            if name in found:
                raise InvalidPackage(f"{name} appears twice in {fn!r}")
            found[name] = read_limited(tar.extractfile(member), name)


def _component(zf: zipfile.ZipFile, fn: str, part: str) -> zipfile.ZipInfo:
    """The ``<part>-<stem>.tar.zst`` member of a ``.conda`` (its components carry the file's own name)."""
    wanted = f"{part}-{fn[: -len('.conda')]}.tar.zst"
    try:
        return zf.getinfo(wanted)
    except KeyError:
        raise InvalidPackage(f"a .conda file must hold info- and pkg- components named after it: no {wanted}")


def _zstd(raw):
    return zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)


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
