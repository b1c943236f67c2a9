"""Inspection of PyPI distributions: wheels (``*.dist-info/METADATA``) and sdists (``<name>-<version>/PKG-INFO``,
``.tar.gz`` or ``.zip``). Names compare canonicalized (PEP 503) and versions normalized (PEP 440)."""
from __future__ import annotations

import gzip
import hashlib
import tarfile
import zipfile
from typing import BinaryIO

from packaging.metadata import parse_email
from packaging.utils import (InvalidSdistFilename, InvalidWheelFilename, canonicalize_name, canonicalize_version,
                             parse_sdist_filename, parse_wheel_filename)

from services.kernel import signing
from services.kernel.errors import InvalidPackage

from .inspection import (INFO_LIMIT, Budget, Digests, Inspection, check_member_name, expansion_budget,
                         read_limited, refusing_corruption, verify_zip)


def inspect_pypi(fileobj: BinaryIO, basename: str, package: str, version: str, digests: Digests) -> Inspection:
    if "/" in basename:
        raise InvalidPackage(f"a PyPI file is uploaded by its file name alone, got {basename!r}")
    fn = basename
    try:
        if fn.endswith(".whl"):
            name, ver, _build, _tags = parse_wheel_filename(fn)
        elif fn.endswith((".tar.gz", ".zip")):
            name, ver = parse_sdist_filename(fn)
        else:
            raise InvalidPackage(f"{fn!r} is neither a wheel (.whl) nor an sdist (.tar.gz, .zip)")
    except (InvalidWheelFilename, InvalidSdistFilename) as exc:
        raise InvalidPackage(f"invalid distribution file name: {exc}")
    if canonicalize_name(name) != canonicalize_name(package):
        raise InvalidPackage(f"file {fn!r} is for project {str(name)!r}, not for the package {package!r} in the URL")
    if canonicalize_version(ver) != canonicalize_version(version):
        raise InvalidPackage(f"file {fn!r} is version {str(ver)!r}, not the version {version!r} in the URL")

    budget = Budget(expansion_budget(digests.size))
    with refusing_corruption(f"distribution {fn!r}"):
        fileobj.seek(0)
        if fn.endswith(".whl"):
            raw, where = _wheel_metadata(fileobj, budget), "METADATA"
        elif fn.endswith(".zip"):
            raw, where = _zip_pkg_info(fileobj, budget), "PKG-INFO"
        else:
            raw, where = _tar_pkg_info(fileobj, budget), "PKG-INFO"
    fields = _core_fields(raw, where)
    if canonicalize_name(fields["name"]) != canonicalize_name(name):
        raise InvalidPackage(f"{where} says Name {fields['name']!r} but the file name says {str(name)!r}")
    if canonicalize_version(fields["version"]) != canonicalize_version(ver):
        raise InvalidPackage(f"{where} says Version {fields['version']!r} but the file name says {str(ver)!r}")

    inspection = Inspection(filename=fn, subdir=None, record=None, metadata=fields)
    if fn.endswith(".whl"):      # served on its own for PEP 658 / PEP 714 (data-dist-info-metadata)
        digest = hashlib.sha256(raw).hexdigest()
        key = signing.blob_key_for(digest)
        fields.update(core_metadata_key=key, core_metadata_sha256=digest)
        inspection.extra_blobs[key] = raw
    return inspection


def _core_fields(raw: bytes, where: str) -> dict:
    try:
        parsed, _unparsed = parse_email(raw)
    except Exception as exc:  # noqa: BLE001 - hostile bytes
        raise InvalidPackage(f"{where} cannot be parsed ({exc.__class__.__name__})")
    for field in ("name", "version"):
        if not isinstance(parsed.get(field), str) or not parsed[field].strip():
            raise InvalidPackage(f"{where} lacks a {field.capitalize()} field")
    return {"name": parsed["name"].strip(), "version": parsed["version"].strip(),
            "summary": parsed.get("summary"), "requires_python": parsed.get("requires_python")}


def _wheel_metadata(fileobj: BinaryIO, budget: Budget) -> bytes:
    with zipfile.ZipFile(fileobj) as zf:
        verify_zip(zf, budget)
        infos = zf.infolist()
        found = [i for i in infos if i.filename.count("/") == 1 and i.filename.endswith(".dist-info/METADATA")]
        if len(found) != 1:
            raise InvalidPackage("a wheel must hold exactly one *.dist-info/METADATA"
                                 + ("" if found else ": none found"))
        if found[0].file_size > INFO_LIMIT:
            raise InvalidPackage(f"METADATA is larger than {INFO_LIMIT} bytes")
        with zf.open(found[0]) as f:
            return read_limited(f, "METADATA")


def _zip_pkg_info(fileobj: BinaryIO, budget: Budget) -> bytes:
    with zipfile.ZipFile(fileobj) as zf:
        verify_zip(zf, budget)
        infos = zf.infolist()
        found = [i for i in infos if _is_top_pkg_info(i.filename)]
        if len(found) != 1:
            raise InvalidPackage("an sdist must hold exactly one <name>-<version>/PKG-INFO")
        if found[0].file_size > INFO_LIMIT:
            raise InvalidPackage(f"PKG-INFO is larger than {INFO_LIMIT} bytes")
        with zf.open(found[0]) as f:
            return read_limited(f, "PKG-INFO")


class _Spending:
    """A read-only stream that spends ``budget`` on every byte read from ``raw``."""

    def __init__(self, raw, budget: Budget):
        self.raw, self.budget = raw, budget

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        self.budget.spend(len(data))
        return data


def _tar_pkg_info(fileobj: BinaryIO, budget: Budget) -> bytes:
    """Walk the whole tar once, decompressing once (every member name is checked, truncation is detected)."""
    # tarfile's stream mode ends quietly where the tar ends; reading the gzip stream on to its end-of-stream
    # marker is what detects a truncated file (gzip raises EOFError). The decompressed bytes are bounded too.
    fileobj.seek(0)
    found: list[bytes] = []
    with gzip.GzipFile(fileobj=fileobj, mode="rb") as gz:
        stream = _Spending(gz, Budget(budget.limit))
        with tarfile.open(fileobj=stream, mode="r|") as tf:
            for member in tf:
                check_member_name(member.name, member.linkname if (member.issym() or member.islnk()) else None)
                budget.spend(member.size)
                if member.isfile() and _is_top_pkg_info(member.name):
                    found.append(read_limited(tf.extractfile(member), "PKG-INFO"))
        while stream.read(1024 * 1024):
            pass
    if len(found) != 1:
        raise InvalidPackage("an sdist must hold exactly one <name>-<version>/PKG-INFO")
    return found[0]


def _is_top_pkg_info(name: str) -> bool:
    name = name[2:] if name.startswith("./") else name
    parts = name.split("/")
    return len(parts) == 2 and parts[1] == "PKG-INFO" and bool(parts[0])
