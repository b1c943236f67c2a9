"""Which inspector reads an upload, by its distribution type."""
from __future__ import annotations

from typing import BinaryIO

from .conda import inspect_conda
from .inspection import Digests, Inspection
from .pypi import inspect_pypi


def inspect_upload(fileobj: BinaryIO, *, basename: str, package: str, version: str, distribution_type: str,
                   digests: Digests) -> Inspection:
    """Inspect a spooled upload; ``InvalidPackage`` when it is not what the URL says it is.

    ``conda`` and ``pypi`` files are opened and checked; anything else (``file``...) is stored as is."""
    if distribution_type == "conda":
        return inspect_conda(fileobj, basename, package, version, digests)
    if distribution_type == "pypi":
        return inspect_pypi(fileobj, basename, package, version, digests)
    subdir, _, fn = basename.rpartition("/")
    return Inspection(filename=fn, subdir=subdir or None, record=None, metadata={})
