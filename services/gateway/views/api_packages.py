"""Packages, releases and files: the anaconda-client upload, show, remove and download calls."""
from __future__ import annotations

import os
import logging

from flask import Blueprint, Response, current_app, g, jsonify, redirect, request, send_file

from services.kernel import names
from services.kernel.errors import BadRequest

from .. import access
from ..identity import current_reader, package_role, private_packages, require_namespace, require_package
from ..schemas import (CommitBody, PackageBody, PackagePatchBody, ReleaseBody, ReleasePatchBody, StageBody,
                       TransferBody)

bp = Blueprint("api_packages", __name__)
log = logging.getLogger("wharf.gateway")


def clients():
    return current_app.extensions["wharf.clients"]


def _reader():
    return current_reader()


def _actor() -> str:
    return _reader().login or "anonymous"


def _body(schema):
    return schema().load(request.get_json(silent=True) or {})


def _names(owner, package, version=None, basename=None):
    out = [names.owner(owner), names.package(package)]
    if version is not None:
        out.append(names.version(version))
    if basename is not None:
        out.append(names.basename(basename))
    return out


def readable(owner: str, package: str) -> bool:
    """private_ok for one package: may the reader see it if it is private?"""
    return package_role(clients(), _reader(), owner, package, "api:read") is not None


def need(owner: str, package: str, level: str = "write") -> None:
    require_package(clients(), _reader(), owner, package, level)


# ---------------------------------------------------------------------------------------------- packages
@bp.get("/api/packages/<owner>")
@access.see("api:read")
def list_packages(owner):
    owner = names.owner(owner)
    whole, extra = private_packages(clients(), _reader(), owner, "api:read")
    return jsonify(clients().registry.list_packages(owner, whole, viewer=_reader().login, extra_packages=extra))


@bp.get("/api/package/<owner>/<package>")
@access.see("api:read")
def get_package(owner, package):
    owner, package = _names(owner, package)
    return jsonify(clients().registry.get_package(owner, package, readable(owner, package)))


@bp.post("/api/package/<owner>/<package>")
@access.act("api:write")
def create_package(owner, package):
    owner, package = _names(owner, package)
    need(owner, package, "write")
    body = _body(PackageBody)
    return jsonify(clients().registry.create_package(owner, package, public=body["public"],
                                                     public_attrs=body["public_attrs"], actor=_actor()))


@bp.patch("/api/package/<owner>/<package>")
@access.act("api:write")
def update_package(owner, package):
    owner, package = _names(owner, package)
    body = _body(PackagePatchBody)
    changes = {}
    attrs = body.get("public_attrs", body)
    if isinstance(attrs, dict):
        changes["public_attrs"] = {k: v for k, v in attrs.items() if k != "public"}
        if "summary" in attrs:
            changes["summary"] = attrs["summary"]
    if isinstance(body.get("public"), bool):
        changes["public"] = body["public"]
    need(owner, package, "admin" if "public" in changes else "write")
    return jsonify(clients().registry.update_package(owner, package, changes, actor=_actor()))


@bp.delete("/api/package/<owner>/<package>")
@access.act("api:write")
def remove_package(owner, package):
    owner, package = _names(owner, package)
    need(owner, package, "admin")
    clients().registry.remove_package(owner, package, actor=_actor())
    return Response(status=201)


@bp.post("/api/package/<owner>/<package>/transfer")
@access.act("api:write")            # and on the target: require_namespace
def transfer_package(owner, package):
    """Transfer a package to an organization the caller administers: body ``{"to_owner": ORG}``."""
    owner, package = _names(owner, package)
    body = _body(TransferBody)
    to_owner = names.owner(body["to_owner"])
    need(owner, package, "admin")
    require_namespace(clients(), _reader(), to_owner, "admin")
    if clients().auth.get_user(to_owner).get("user_type") != "org":
        raise BadRequest("packages can only be transferred to an organization")
    return jsonify(clients().registry.transfer_package(owner, package, to_owner, actor=_actor()))


# ---------------------------------------------------------------------------------------------- releases
@bp.get("/api/release/<owner>/<package>/<version>")
@access.see("api:read")
def get_release(owner, package, version):
    owner, package, version = _names(owner, package, version)
    return jsonify(clients().registry.get_release(owner, package, version, readable(owner, package)))


@bp.post("/api/release/<owner>/<package>/<version>")
@access.act("api:write")
def create_release(owner, package, version):
    owner, package, version = _names(owner, package, version)
    need(owner, package)
    attrs = _body(ReleaseBody)
    return jsonify(clients().registry.create_release(owner, package, version, attrs=attrs, actor=_actor()))


@bp.patch("/api/release/<owner>/<package>/<version>")
@access.act("api:write")
def update_release(owner, package, version):
    owner, package, version = _names(owner, package, version)
    need(owner, package)
    body = _body(ReleasePatchBody)
    attrs = body.get("public_attrs", body)
    return jsonify(clients().registry.update_release(owner, package, version, attrs=attrs, actor=_actor()))


@bp.delete("/api/release/<owner>/<package>/<version>")
@access.act("api:write")
def remove_release(owner, package, version):
    owner, package, version = _names(owner, package, version)
    need(owner, package)
    clients().registry.remove_release(owner, package, version, actor=_actor())
    return Response(status=201)


# ---------------------------------------------------------------------------------------------- files
@bp.get("/api/dist/<owner>/<package>/<version>/<path:basename>")
@access.see("api:read")
def get_dist(owner, package, version, basename):
    owner, package, version, basename = _names(owner, package, version, basename)
    return jsonify(clients().registry.get_file(owner, package, version, basename, readable(owner, package)))


@bp.delete("/api/dist/<owner>/<package>/<version>/<path:basename>")
@access.act("api:write")
def remove_dist(owner, package, version, basename):
    owner, package, version, basename = _names(owner, package, version, basename)
    need(owner, package)
    return jsonify(clients().registry.remove_file(owner, package, version, basename, actor=_actor()))


@bp.post("/api/stage/<owner>/<package>/<version>/<path:basename>")
@access.act("api:write")
def stage(owner, package, version, basename):
    owner, package, version, basename = _names(owner, package, version, basename)
    need(owner, package)
    body = _body(StageBody)
    staged = clients().registry.stage(
        owner, package, version, basename,
        distribution_type=body["distribution_type"], sha256=(body["sha256"] or "").lower() or None,
        labels=[names.label(c) for c in (body["channels"] or [])], attrs=body["attrs"] or {},
        dependencies=body["dependencies"], description=body["description"], actor=_actor())
    form = clients().storage.upload_form(staged["dist_id"])
    return jsonify({"post_url": form["post_url"], "form_data": form["form_data"], "dist_id": staged["dist_id"],
                    "basename": basename})


@bp.post("/api/commit/<owner>/<package>/<version>/<path:basename>")
@access.act("api:write")
def commit(owner, package, version, basename):
    owner, package, version, basename = _names(owner, package, version, basename)
    need(owner, package)
    dist_id = _body(CommitBody)["dist_id"]
    f = clients().registry.commit_upload(dist_id, owner, package, version, basename, actor=_actor(),
                                         correlation_id=g.get("correlation_id"))
    base = current_app.config["WHARF_SETTINGS"].public_url
    f["url"] = f"{base}/api/package/{owner}/{package}"
    return jsonify(f)


@bp.get("/api/download/<owner>/<package>/<version>/<path:basename>")
@access.see("api:read")
def download(owner, package, version, basename):
    owner, package, version, basename = _names(owner, package, version, basename)
    f = clients().registry.get_file(owner, package, version, basename, readable(owner, package))
    return send_blob(f["blob_key"], basename.rsplit("/", 1)[-1], f.get("sha256"),
                     count=(owner, package, version, basename), private=not f["public"])


def count_download(owner: str, package: str, version: str, basename: str) -> None:
    """Count a download of a file's bytes (shown as ``ndownloads``): GET requests that fetch the file from its
    start; HEAD, revalidations (If-None-Match/If-Modified-Since) and resumed ranges are not counted. Never fails
    the download."""
    if request.method != "GET" or request.if_none_match or request.if_modified_since:
        return
    rng = request.headers.get("Range", "")
    if rng and not rng.replace(" ", "").startswith("bytes=0-"):
        return
    try:
        clients().registry.count_download(owner, package, version, basename)
    except Exception:  # noqa: BLE001 - a counter must never cost a download
        log.warning("could not count a download of %s/%s/%s/%s", owner, package, version, basename, exc_info=True)


PUBLIC_BYTES = "public, max-age=31536000, immutable"
PRIVATE_BYTES = "private, max-age=31536000, immutable"
PRIVATE_REDIRECT = "private, no-store"


def send_blob(key: str, filename: str, sha256: str | None, count: tuple | None = None, private: bool = True):
    """Redirect to a presigned URL (S3) or stream from local disk (embedded), with ETag/Range support.
    ``count`` = (owner, package, version, basename): count the download of that file.

    Bytes are content-addressed, so they never change under their URL; but the bytes of a ``private`` file
    (the default: callers must say a file is public) are for its readers only: ``Cache-Control: private`` and
    ``Vary: Authorization``, so no shared cache or CDN keeps them for anonymous users; their redirect (whose
    presigned URL is a credential of its own) is ``no-store``, and S3 answers that URL with ``private`` too."""
    if count is not None:
        count_download(*count)
    storage = clients().storage
    url = storage.blob_url(key, filename, False, private)
    if url:
        resp = redirect(url, code=302)
        if private:
            resp.headers["Cache-Control"] = PRIVATE_REDIRECT
            resp.vary.add("Authorization")
        return resp
    blob = storage.open_blob(key)
    path = getattr(blob, "name", None)
    if isinstance(path, str) and os.path.isfile(path):
        blob.close()      # a local file: by path, so its size is known and Range requests are answered (206/416)
        blob = path
    resp = send_file(blob, mimetype="application/octet-stream", as_attachment=True, download_name=filename,
                     etag=sha256 or True, conditional=True, max_age=31536000)
    resp.headers["Cache-Control"] = PRIVATE_BYTES if private else PUBLIC_BYTES
    if private:
        resp.vary.add("Authorization")
    return resp
