"""Build REAL test packages (conda ``.conda``/``.tar.bz2``, wheels, sdists) in a directory.

Used by every service's tests, so the files are genuine: conda packages are made by conda-package-handling,
wheels carry ``*.dist-info/{METADATA,WHEEL,RECORD}`` with valid RECORD hashes, sdists carry ``PKG-INFO``.
Knobs that produce *wrong* packages (for refusal tests) are keyword-only extras:

- ``make_conda_package(index_overrides={...})`` merges into ``info/index.json`` (a value of ``DELETE`` drops the
  key), ``info_files={"info/x": bytes|str|dict|None}`` adds/replaces info files (dict -> JSON, None -> omitted,
  e.g. ``{"info/index.json": None}`` or ``{"info/index.json": b"{not json"}``; also ``info/run_exports.json``).
- ``make_wheel(metadata_overrides={...}, extra_members={...})`` / ``make_sdist(..., pkg_info_overrides=...,
  extra_members=...)``: headers of METADATA/PKG-INFO (value ``DELETE`` drops a header; a list of values repeats
  it) and raw extra archive members (e.g. ``{"../evil": b"x"}``); ``make_wheel(description=...)`` is METADATA's
  body.
"""
from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import pathlib
import tarfile
import tempfile
import time
import zipfile

from packaging.utils import canonicalize_name

__all__ = ["DELETE", "make_conda_package", "make_wheel", "make_sdist", "conda_arch_platform"]

DELETE = object()          # marker: remove this key/header
_AUTO = object()

_ARCHES = {"64": "x86_64", "32": "x86", "aarch64": "aarch64", "arm64": "arm64", "ppc64le": "ppc64le",
           "s390x": "s390x", "armv7l": "armv7l"}


def conda_arch_platform(subdir: str) -> tuple[str | None, str | None]:
    """``linux-64`` -> ("x86_64", "linux"); ``noarch`` -> (None, None)."""
    if subdir == "noarch":
        return None, None
    platform, _, arch = subdir.partition("-")
    return _ARCHES.get(arch, arch), platform


def _as_bytes(value) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, (dict, list)):
        return json.dumps(value, indent=2, sort_keys=True).encode()
    return str(value).encode()


def make_conda_package(outdir, name: str, version: str, build: str = "0", build_number: int = 0,
                       subdir: str = "noarch", fmt: str = ".conda", depends=(), noarch=_AUTO,
                       files: dict | None = None, summary: str = "A test package", license: str = "MIT",
                       index_overrides: dict | None = None, *, constrains=(), info_files: dict | None = None,
                       filename: str | None = None) -> pathlib.Path:
    """Write ``<name>-<version>-<build><fmt>`` into ``outdir`` and return its path.

    ``noarch`` defaults to "generic" for ``subdir="noarch"`` and to None (no key) for arch subdirs.
    ``files`` maps payload paths to contents (default: one text file under ``share/<name>/``).
    ``filename`` overrides the output file name (for packages whose name disagrees with their index.json).
    """
    if fmt not in (".conda", ".tar.bz2"):
        raise ValueError(f"unsupported conda format {fmt!r}")
    if noarch is _AUTO:
        noarch = "generic" if subdir == "noarch" else None
    outdir = pathlib.Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    payload = files if files is not None else {f"share/{name}/README.txt": f"{name} {version}\n"}
    if not payload:
        raise ValueError("a conda package needs at least one payload file")

    index = {"name": name, "version": version, "build": build, "build_number": build_number,
             "depends": list(depends), "license": license, "subdir": subdir,
             "timestamp": int(time.time() * 1000)}
    if constrains:
        index["constrains"] = list(constrains)
    if noarch:
        index["noarch"] = noarch
    arch, platform = conda_arch_platform(subdir)
    if arch is not None:
        index["arch"], index["platform"] = arch, platform
    for key, value in (index_overrides or {}).items():
        if value is DELETE:
            index.pop(key, None)
        else:
            index[key] = value

    payload_bytes = {path: _as_bytes(data) for path, data in payload.items()}
    paths = [{"_path": p, "path_type": "hardlink", "sha256": hashlib.sha256(b).hexdigest(),
              "size_in_bytes": len(b)} for p, b in sorted(payload_bytes.items())]
    info = {
        "info/index.json": index,
        "info/about.json": {"summary": summary, "license": license, "home": f"https://example.org/{name}",
                            "description": f"{summary}.", "dev_url": f"https://example.org/{name}/src",
                            "doc_url": f"https://example.org/{name}/docs"},
        "info/paths.json": {"paths": paths, "paths_version": 1},
        "info/files": "".join(p + "\n" for p in sorted(payload_bytes)),
    }
    for path, value in (info_files or {}).items():
        if value is None:
            info.pop(path, None)
        else:
            info[path] = value

    out_fn = filename or f"{name}-{version}-{build}{fmt}"
    with tempfile.TemporaryDirectory(prefix="wharf-pkg-") as work:
        prefix, out = os.path.join(work, "prefix"), os.path.join(work, "out")
        os.makedirs(out)
        everything = dict(payload_bytes)
        everything.update({p: _as_bytes(v) for p, v in info.items()})
        for rel, data in everything.items():
            target = os.path.join(prefix, rel)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(target, "wb") as f:
                f.write(data)
        # conda-package-handling picks the format from the extension; info/ goes first in a .tar.bz2
        file_list = sorted(p for p in everything if p.startswith("info/")) + \
            sorted(p for p in everything if not p.startswith("info/"))
        from conda_package_handling import api
        built_fn = f"{name}-{version}-{build}{fmt}"   # .conda component names derive from the file name
        api.create(prefix, file_list, built_fn, out_folder=out)
        target = outdir / out_fn
        os.replace(os.path.join(out, built_fn), target)
    return target


# ------------------------------------------------------------------------------------------------ PyPI
def _core_metadata(name: str, version: str, summary: str, requires_python, requires, overrides,
                   body: str | bytes | None = None) -> bytes:
    headers: list[tuple[str, object]] = [("Metadata-Version", "2.1"), ("Name", name), ("Version", version),
                                         ("Summary", summary)]
    if requires_python:
        headers.append(("Requires-Python", requires_python))
    headers += [("Requires-Dist", r) for r in requires]
    for key, value in (overrides or {}).items():
        headers = [(k, v) for k, v in headers if k.lower() != key.lower()]
        if value is not DELETE:
            headers += [(key, v) for v in value] if isinstance(value, list) else [(key, value)]
    if body is None:
        body = f"{name} {version} long description\n"
    return "".join(f"{k}: {v}\n" for k, v in headers).encode() + b"\n" + _as_bytes(body)


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def make_wheel(outdir, name: str, version: str, requires_python: str | None = None, requires=(), *,
               summary: str = "A test package", metadata_overrides: dict | None = None,
               extra_members: dict | None = None, tag: str = "py3-none-any",
               description: str | bytes | None = None) -> pathlib.Path:
    """A valid pure-Python wheel ``<name_>-<version>-<tag>.whl`` with METADATA, WHEEL and RECORD (``description``:
    METADATA's body, the long description)."""
    outdir = pathlib.Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    stem = canonicalize_name(name).replace("-", "_")
    dist_info = f"{stem}-{version}.dist-info"
    members: dict[str, bytes] = {
        f"{stem}/__init__.py": f'__version__ = "{version}"\n'.encode(),
        f"{dist_info}/METADATA": _core_metadata(name, version, summary, requires_python, requires,
                                                metadata_overrides, description),
        f"{dist_info}/WHEEL": (f"Wheel-Version: 1.0\nGenerator: wharf-tests\nRoot-Is-Purelib: true\n"
                               f"Tag: {tag}\n").encode(),
        f"{dist_info}/top_level.txt": f"{stem}\n".encode(),
    }
    members.update({k: _as_bytes(v) for k, v in (extra_members or {}).items()})
    record = "".join(f"{p},{_record_hash(b)},{len(b)}\n" for p, b in members.items())
    record += f"{dist_info}/RECORD,,\n"
    members[f"{dist_info}/RECORD"] = record.encode()
    target = outdir / f"{stem}-{version}-{tag}.whl"
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path, data in members.items():
            zf.writestr(path, data)
    return target


def make_sdist(outdir, name: str, version: str, *, summary: str = "A test package", fmt: str = ".tar.gz",
               requires_python: str | None = None, pkg_info_overrides: dict | None = None,
               extra_members: dict | None = None) -> pathlib.Path:
    """A source distribution ``<name_>-<version>.tar.gz`` (or ``.zip``) with ``<stem>/PKG-INFO``,
    ``pyproject.toml``, ``setup.py`` and one module."""
    outdir = pathlib.Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    stem = f"{canonicalize_name(name).replace('-', '_')}-{version}"
    mod = canonicalize_name(name).replace("-", "_")
    members: dict[str, bytes] = {
        f"{stem}/PKG-INFO": _core_metadata(name, version, summary, requires_python, (), pkg_info_overrides),
        f"{stem}/pyproject.toml": (f'[build-system]\nrequires = ["setuptools>=68"]\n'
                                   f'build-backend = "setuptools.build_meta"\n\n'
                                   f'[project]\nname = "{name}"\nversion = "{version}"\n'
                                   f'description = "{summary}"\n').encode(),
        f"{stem}/setup.py": b"from setuptools import setup\n\nsetup()\n",
        f"{stem}/{mod}/__init__.py": f'__version__ = "{version}"\n'.encode(),
    }
    members.update({k: _as_bytes(v) for k, v in (extra_members or {}).items()})
    if fmt == ".zip":
        target = outdir / f"{stem}.zip"
        with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for path, data in members.items():
                zf.writestr(path, data)
        return target
    if fmt != ".tar.gz":
        raise ValueError(f"unsupported sdist format {fmt!r}")
    target = outdir / f"{stem}.tar.gz"
    with tarfile.open(target, "w:gz") as tf:
        for path, data in members.items():
            ti = tarfile.TarInfo(path)
            ti.size, ti.mode, ti.mtime = len(data), 0o644, int(time.time())
            tf.addfile(ti, io.BytesIO(data))
    return target
