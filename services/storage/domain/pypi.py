"""Inspection of PyPI distributions: wheels (``*.dist-info/METADATA``) and sdists (``<name>-<version>/PKG-INFO``,
``.tar.gz`` or ``.zip``). Names compare canonicalized (PEP 503) and versions normalized (PEP 440). Every archive
is walked by the bounded walker (``archive.Walk``); the core metadata is read by ``core_metadata``."""
from __future__ import annotations

import gzip
import hashlib
from typing import BinaryIO

from packaging.utils import (InvalidSdistFilename, InvalidWheelFilename, canonicalize_name, canonicalize_version,
                             parse_sdist_filename, parse_wheel_filename)

from services.kernel import signing
from services.kernel.errors import InvalidPackage

from .archive import Walk
from .core_metadata import core_metadata
from .inspection import INFO_LIMIT, Digests, Inspection, read_limited, refusing_corruption


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

    walk = Walk(digests.size)
    with refusing_corruption(f"distribution {fn!r}"):
        fileobj.seek(0)
        if fn.endswith(".whl"):
            raw, where = _zip_member(walk, fileobj, _is_wheel_metadata, "a wheel", "*.dist-info/METADATA"), \
                "METADATA"
        elif fn.endswith(".zip"):
            raw, where = _zip_member(walk, fileobj, _is_top_pkg_info, "an sdist", "<name>-<version>/PKG-INFO"), \
                "PKG-INFO"
        else:
            raw, where = _tar_pkg_info(walk, fileobj), "PKG-INFO"
        walk.finish()
    fields = core_metadata(raw, where)
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


def _zip_member(walk: Walk, fileobj: BinaryIO, wanted, kind: str, shown: str) -> bytes:
    zf = walk.zip(fileobj)
    found = [i for i in zf.infolist() if wanted(i.filename)]
    if len(found) != 1:
        raise InvalidPackage(f"{kind} must hold exactly one {shown}" + ("" if found else ": none found"))
    what = shown.rsplit("/", 1)[-1]
    if found[0].file_size > INFO_LIMIT:
        raise InvalidPackage(f"{what} is larger than {INFO_LIMIT} bytes")
    with zf.open(found[0]) as f:
        return read_limited(f, what)


def _tar_pkg_info(walk: Walk, fileobj: BinaryIO) -> bytes:
    """Walk the whole tar once, decompressing once, and on to gzip's end-of-stream marker (which is what detects
    a truncated file: the tar inside may end before the cut)."""
    found: list[bytes] = []
    with gzip.GzipFile(fileobj=fileobj, mode="rb") as gz:
        for tar, member in walk.tar(gz):
            if member.isfile() and _is_top_pkg_info(member.name):
                found.append(read_limited(tar.extractfile(member), "PKG-INFO"))
    if len(found) != 1:
        raise InvalidPackage("an sdist must hold exactly one <name>-<version>/PKG-INFO")
    return found[0]


def _is_wheel_metadata(name: str) -> bool:
    return name.count("/") == 1 and name.endswith(".dist-info/METADATA")


def _is_top_pkg_info(name: str) -> bool:
    name = name[2:] if name.startswith("./") else name
    parts = name.split("/")
    return len(parts) == 2 and parts[1] == "PKG-INFO" and bool(parts[0])
