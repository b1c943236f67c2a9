"""Packages, releases and files: the anaconda-client upload, show, remove and download calls."""
from __future__ import annotations

from flask import Blueprint, Response, current_app, g, jsonify, redirect, request, send_file

from services.kernel import names
from services.kernel.errors import BadRequest

from ..identity import current_reader, require_write, role_on
from ..schemas import CommitBody, PackageBody, ReleaseBody, StageBody

bp = Blueprint("api_packages", __name__)


def clients():
    return current_app.extensions["wharf.clients"]


def _read(owner: str) -> tuple[str, bool]:
    """Validate the owner and return (owner, private_ok) for the current reader."""
    owner = names.owner(owner)
    role = role_on(clients(), current_reader(clients()), owner, "api:read")
    return owner, role is not None


def _write(owner: str) -> str:
    owner = names.owner(owner)
    require_write(clients(), current_reader(clients()), owner)
    return owner


def _actor() -> str:
    return current_reader(clients()).login or "anonymous"


def _body(schema):
    return schema().load(request.get_json(silent=True) or {})


# ---------------------------------------------------------------------------------------------- packages
@bp.get("/api/packages/<owner>")
def list_packages(owner):
    owner, private_ok = _read(owner)
    return jsonify(clients().registry.list_packages(owner, private_ok))


@bp.get("/api/package/<owner>/<package>")
def get_package(owner, package):
    owner, private_ok = _read(owner)
    return jsonify(clients().registry.get_package(owner, names.package(package), private_ok))


@bp.post("/api/package/<owner>/<package>")
def create_package(owner, package):
    owner = _write(owner)
    body = _body(PackageBody)
    return jsonify(clients().registry.create_package(owner, names.package(package), public=body["public"],
                                                     public_attrs=body["public_attrs"], actor=_actor()))


@bp.patch("/api/package/<owner>/<package>")
def update_package(owner, package):
    owner = _write(owner)
    body = request.get_json(silent=True) or {}
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    changes = {}
    attrs = body.get("public_attrs", body)
    if isinstance(attrs, dict):
        changes["public_attrs"] = attrs
        if "summary" in attrs:
            changes["summary"] = attrs["summary"]
    if isinstance(body.get("public"), bool):
        changes["public"] = body["public"]
    return jsonify(clients().registry.update_package(owner, names.package(package), changes, actor=_actor()))


@bp.delete("/api/package/<owner>/<package>")
def remove_package(owner, package):
    owner = _write(owner)
    clients().registry.remove_package(owner, names.package(package), actor=_actor())
    return Response(status=201)


# ---------------------------------------------------------------------------------------------- releases
@bp.get("/api/release/<owner>/<package>/<version>")
def get_release(owner, package, version):
    owner, private_ok = _read(owner)
    return jsonify(clients().registry.get_release(owner, names.package(package), names.version(version),
                                                  private_ok))


@bp.post("/api/release/<owner>/<package>/<version>")
def create_release(owner, package, version):
    owner = _write(owner)
    attrs = _body(ReleaseBody)
    return jsonify(clients().registry.create_release(owner, names.package(package), names.version(version),
                                                     attrs=attrs, actor=_actor()))


@bp.patch("/api/release/<owner>/<package>/<version>")
def update_release(owner, package, version):
    owner = _write(owner)
    body = request.get_json(silent=True) or {}
    attrs = body.get("public_attrs", body) if isinstance(body, dict) else {}
    return jsonify(clients().registry.update_release(owner, names.package(package), names.version(version),
                                                     attrs=attrs, actor=_actor()))


@bp.delete("/api/release/<owner>/<package>/<version>")
def remove_release(owner, package, version):
    owner = _write(owner)
    clients().registry.remove_release(owner, names.package(package), names.version(version), actor=_actor())
    return Response(status=201)


# ---------------------------------------------------------------------------------------------- files
@bp.get("/api/dist/<owner>/<package>/<version>/<path:basename>")
def get_dist(owner, package, version, basename):
    owner, private_ok = _read(owner)
    return jsonify(clients().registry.get_file(owner, names.package(package), names.version(version),
                                               names.basename(basename), private_ok))


@bp.delete("/api/dist/<owner>/<package>/<version>/<path:basename>")
def remove_dist(owner, package, version, basename):
    owner = _write(owner)
    return jsonify(clients().registry.remove_file(owner, names.package(package), names.version(version),
                                                  names.basename(basename), actor=_actor()))


@bp.post("/api/stage/<owner>/<package>/<version>/<path:basename>")
def stage(owner, package, version, basename):
    owner = _write(owner)
    body = _body(StageBody)
    staged = clients().registry.stage(
        owner, names.package(package), names.version(version), names.basename(basename),
        distribution_type=body["distribution_type"], sha256=(body["sha256"] or "").lower() or None,
        labels=[names.label(c) for c in (body["channels"] or [])], attrs=body["attrs"] or {},
        dependencies=body["dependencies"], description=body["description"], actor=_actor())
    form = clients().storage.upload_form(staged["dist_id"])
    return jsonify({"post_url": form["post_url"], "form_data": form["form_data"], "dist_id": staged["dist_id"],
                    "basename": basename})


@bp.post("/api/commit/<owner>/<package>/<version>/<path:basename>")
def commit(owner, package, version, basename):
    owner = _write(owner)
    dist_id = _body(CommitBody)["dist_id"]
    package, version, basename = names.package(package), names.version(version), names.basename(basename)
    staged = clients().registry.get_staged(dist_id)
    if (staged["owner"], staged["package"], staged["version"], staged["basename"]) != \
            (owner, package, version, basename):
        raise BadRequest("this dist_id was staged for another file")
    meta = clients().storage.finalize(dist_id, owner, package, version, basename,
                                      staged["distribution_type"], staged.get("sha256"))
    f = clients().registry.commit(dist_id, meta, actor=_actor(), correlation_id=g.get("correlation_id"))
    base = current_app.config["WHARF_SETTINGS"].public_url
    f["url"] = f"{base}/api/package/{owner}/{package}"
    return jsonify(f)


@bp.get("/api/download/<owner>/<package>/<version>/<path:basename>")
def download(owner, package, version, basename):
    owner, private_ok = _read(owner)
    f = clients().registry.get_file(owner, names.package(package), names.version(version),
                                    names.basename(basename), private_ok)
    return send_blob(f["blob_key"], basename.rsplit("/", 1)[-1], f.get("sha256"))


def send_blob(key: str, filename: str, sha256: str | None):
    """Redirect to a presigned URL (S3) or stream from local disk (embedded), with ETag/Range support."""
    storage = clients().storage
    url = storage.blob_url(key, filename)
    if url:
        return redirect(url, code=302)
    resp = send_file(storage.open_blob(key), mimetype="application/octet-stream", as_attachment=True, download_name=filename,
                     etag=sha256 or True, conditional=True, max_age=31536000)
    resp.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    return resp
