"""Decisions: given the current state (read-model rows as dicts, or None) and a command's arguments, check the
rules and return the events that record the change. Nothing here touches storage; the service layer loads the
state, appends the returned events and projects them in one transaction.

Names are expected to be validated already (``services.kernel.names``); existence, uniqueness and argument
shapes are checked here.
"""
from __future__ import annotations

import re
import uuid

from services.kernel import names
from services.kernel.errors import BadRequest, ChecksumMismatch, Conflict, NotFound
from services.kernel.events import Event, utcnow_iso

_DIST_TYPE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,31}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
PACKAGE_CHANGES = ("public", "summary", "public_attrs", "package_types")


def _dict(value, what: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadRequest(f"{what} must be an object")
    return value


def _need(row, what: str):
    if row is None:
        raise NotFound(f"{what} not found")
    return row


def _ref(pkg: dict) -> dict:
    return {"owner": pkg["owner"], "package": pkg["name"]}


def create_package(existing, owner: str, package: str, public, public_attrs, actor: str, cid) -> list[Event]:
    if existing is not None:
        raise Conflict(f"package {owner}/{package} already exists")
    if not isinstance(public, bool):
        raise BadRequest("public must be a boolean")
    attrs = _dict(public_attrs, "public_attrs")
    types = attrs.get("package_types") or []
    return [Event.new("package_created", owner, {
        "owner": owner, "package": package, "public": public, "summary": attrs.get("summary"),
        "package_types": types, "public_attrs": attrs}, actor=actor, correlation_id=cid)]


def update_package(pkg, changes, actor: str, cid) -> list[Event]:
    pkg = _need(pkg, "package")
    changes = dict(_dict(changes, "changes"))
    unknown = sorted(set(changes) - set(PACKAGE_CHANGES))
    if unknown:
        raise BadRequest(f"cannot change {', '.join(unknown)} of a package")
    if "public" in changes and not isinstance(changes["public"], bool):
        raise BadRequest("public must be a boolean")
    if "public_attrs" in changes:
        attrs = _dict(changes["public_attrs"], "public_attrs")
        changes["public_attrs"] = attrs
        for key in ("summary", "package_types"):
            if key in attrs and key not in changes:
                changes[key] = attrs[key]
    if "package_types" in changes and not isinstance(changes["package_types"], list):
        raise BadRequest("package_types must be a list")
    if not changes:
        return []
    return [Event.new("package_updated", pkg["owner"], dict(_ref(pkg), changes=changes),
                      actor=actor, correlation_id=cid)]


def create_release(pkg, existing, version: str, attrs, actor: str, cid) -> list[Event]:
    pkg = _need(pkg, "package")
    if existing is not None:
        raise Conflict(f"release {pkg['owner']}/{pkg['name']}/{version} already exists")
    return [Event.new("release_created", pkg["owner"], dict(_ref(pkg), version=version,
                                                              attrs=_dict(attrs, "attrs")),
                      actor=actor, correlation_id=cid)]


def update_release(pkg, release, attrs, actor: str, cid) -> list[Event]:
    _need(pkg, "package")
    release = _need(release, "release")
    return [Event.new("release_updated", pkg["owner"], dict(_ref(pkg), version=release["version"],
                                                              attrs=_dict(attrs, "attrs")),
                      actor=actor, correlation_id=cid)]


def stage(pkg, release, existing_file, basename: str, distribution_type, sha256, labels, attrs,
          dependencies, description, actor: str) -> dict:
    """Return the staged row to store (staging is not an event: nothing is visible until commit)."""
    pkg = _need(pkg, "package")
    release = _need(release, "release")
    if existing_file is not None:
        raise Conflict(f"file {pkg['owner']}/{pkg['name']}/{release['version']}/{basename} already exists")
    if not isinstance(distribution_type, str) or not _DIST_TYPE.match(distribution_type):
        raise BadRequest("invalid distribution_type")
    if sha256 is not None:
        if not isinstance(sha256, str) or not _SHA256.match(sha256.lower()):
            raise BadRequest("sha256 must be 64 hex digits")
        sha256 = sha256.lower()
    if labels is None:
        labels = []
    if not isinstance(labels, list):
        raise BadRequest("labels must be a list")
    clean_labels = list(dict.fromkeys(names.label(lb) for lb in labels))
    if description is not None and not isinstance(description, str):
        raise BadRequest("description must be a string")
    return {"dist_id": uuid.uuid4().hex, "owner": pkg["owner"], "package": pkg["name"],
            "version": release["version"], "basename": basename, "distribution_type": distribution_type,
            "sha256": sha256, "labels": clean_labels, "attrs": _dict(attrs, "attrs"),
            "dependencies": dependencies, "description": description, "actor": actor,
            "created_at": utcnow_iso()}


def commit(staged: dict, pkg, release, existing_file, blob_meta, actor: str, cid) -> list[Event]:
    pkg = _need(pkg, "package")
    _need(release, "release")
    if existing_file is not None:
        raise Conflict(f"file {staged['owner']}/{staged['package']}/{staged['version']}/"
                       f"{staged['basename']} already exists")
    meta = _dict(blob_meta, "blob_meta")
    if staged.get("sha256") and meta.get("sha256") and meta["sha256"] != staged["sha256"]:
        raise ChecksumMismatch("the uploaded file's sha256 differs from the one given at stage")
    basename = staged["basename"]
    subdir = meta.get("subdir") or (basename.split("/", 1)[0] if "/" in basename else None)
    metadata = dict(_dict(meta.get("metadata"), "metadata"))
    if staged.get("dependencies") is not None:
        # FileUploaded has no field of its own for anaconda-client's dependencies; they travel in metadata
        metadata["dependencies"] = staged["dependencies"]
    data = {
        "owner": staged["owner"], "package": staged["package"], "version": staged["version"],
        "basename": basename, "filename": meta.get("filename") or basename.rsplit("/", 1)[-1],
        "distribution_type": staged["distribution_type"], "subdir": subdir,
        "labels": staged["labels"] or ["main"], "blob_key": meta.get("blob_key"), "sha256": meta.get("sha256"),
        "md5": meta.get("md5"), "size": meta.get("size"), "public": pkg["public"], "record": meta.get("record"),
        "attrs": staged["attrs"], "metadata": metadata, "description": staged["description"], "replaced": False,
    }
    return [Event.new("file_uploaded", staged["owner"], data, actor=actor, correlation_id=cid)]


def _file_removed(f: dict, actor: str, cid) -> Event:
    return Event.new("file_removed", f["owner"], {"owner": f["owner"], "package": f["package"],
                                                  "version": f["version"], "basename": f["basename"]},
                     actor=actor, correlation_id=cid)


def remove_file(pkg, file, actor: str, cid) -> list[Event]:
    _need(pkg, "package")
    return [_file_removed(_need(file, "file"), actor, cid)]


def remove_release(pkg, release, files: list[dict], actor: str, cid) -> list[Event]:
    pkg = _need(pkg, "package")
    release = _need(release, "release")
    out = [_file_removed(f, actor, cid) for f in files]
    out.append(Event.new("release_removed", pkg["owner"], dict(_ref(pkg), version=release["version"]),
                         actor=actor, correlation_id=cid))
    return out


def remove_package(pkg, releases: list[dict], files: list[dict], actor: str, cid) -> list[Event]:
    pkg = _need(pkg, "package")
    out = [_file_removed(f, actor, cid) for f in files]
    out += [Event.new("release_removed", pkg["owner"], dict(_ref(pkg), version=r["version"]),
                      actor=actor, correlation_id=cid) for r in releases]
    out.append(Event.new("package_removed", pkg["owner"], _ref(pkg), actor=actor, correlation_id=cid))
    return out
