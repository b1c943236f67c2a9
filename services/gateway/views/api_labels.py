"""Labels (anaconda-client's ``label`` and ``move``) and ``copy``: /api/channels/..., /api/copy/package/...

A label exists while at least one file carries it. Changing labels needs write on the namespace, or, when the
request names a package, write on that package (collaborators may move their package's files)."""
from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, request

from services.kernel import names
from services.kernel.errors import NotFound

from .. import access
from ..identity import (current_reader, namespace_role, private_packages, require_namespace, require_package)
from ..schemas import CopyBody, FileFilterBody

bp = Blueprint("api_labels", __name__)


def clients():
    return current_app.extensions["wharf.clients"]


def _reader():
    return current_reader()


def _label_view_ok(owner: str) -> bool:
    return namespace_role(clients(), _reader(), owner, "api:read") is not None


@bp.get("/api/channels/<owner>")
@access.see("api:read")
def list_labels(owner):
    owner = names.owner(owner)
    whole, _extra = private_packages(clients(), _reader(), owner, "api:read")
    return jsonify(clients().registry.list_labels(owner, whole))


@bp.get("/api/channels/<owner>/<label>")
@access.see("api:read")
def show_label(owner, label):
    owner, label = names.owner(owner), names.label(label)
    whole, _extra = private_packages(clients(), _reader(), owner, "api:read")
    return jsonify(clients().registry.get_label(owner, label, whole))


def _filter() -> dict:
    body = FileFilterBody().load(request.get_json(silent=True) or {})
    return {"package": names.package(body["package"]) if body["package"] else None,
            "version": names.version(body["version"]) if body["version"] else None,
            "basename": names.basename(body["basename"]) if body["basename"] else None}


def _need_label_write(owner: str, flt: dict) -> None:
    if flt["package"]:
        require_package(clients(), _reader(), owner, flt["package"], "write")
    else:
        require_namespace(clients(), _reader(), owner, "write")


@bp.post("/api/channels/<owner>/<label>")
@access.act("api:write")
def add_label(owner, label):
    owner, label = names.owner(owner), names.label(label)
    flt = _filter()
    _need_label_write(owner, flt)
    files = clients().registry.label_files(owner, label, actor=_reader().login, **flt)
    if not files:
        raise NotFound("no file matches")
    return Response(status=201)


@bp.delete("/api/channels/<owner>/<label>")
@access.act("api:write")
def remove_label(owner, label):
    owner, label = names.owner(owner), names.label(label)
    flt = _filter()
    _need_label_write(owner, flt)
    if any(flt.values()):
        files = clients().registry.unlabel_files(owner, label, actor=_reader().login, **flt)
        if not files:
            raise NotFound("no file matches")
    else:
        clients().registry.remove_label(owner, label, actor=_reader().login)
    return Response(status=201)


@bp.post("/api/channels/<owner>/<from_label>/copy/<to_label>")
@access.act("api:write")
def copy_label(owner, from_label, to_label):
    owner, from_label, to_label = names.owner(owner), names.label(from_label), names.label(to_label)
    require_namespace(clients(), _reader(), owner, "write")
    clients().registry.copy_label(owner, from_label, to_label, actor=_reader().login)
    return Response(status=201)


@bp.route("/api/channels/<owner>/<label>/lock", methods=["POST", "DELETE"])
@access.act("api:write")
def lock_label(owner, label):
    owner, label = names.owner(owner), names.label(label)
    require_namespace(clients(), _reader(), owner, "admin")
    clients().registry.lock_label(owner, label, request.method == "POST", actor=_reader().login)
    return Response(status=201)


@bp.route("/api/copy/package/<owner>/<package>/<version>/", methods=["POST", "PUT", "PATCH"])
@bp.route("/api/copy/package/<owner>/<package>/<version>/<path:basename>", methods=["POST", "PUT", "PATCH"])
@access.act("api:write", owner=None)   # two owners: read on the source, write on the target, checked below
def copy_files(owner, package, version, basename=None):
    owner, package, version = names.owner(owner), names.package(package), names.version(version)
    basename = names.basename(basename) if basename else None
    body = CopyBody().load(request.get_json(silent=True) or {})
    reader = _reader()
    require_package(clients(), reader, owner, package, "read", "api:read")
    to_owner = names.owner(body["to_owner"]) if body["to_owner"] else reader.login
    if to_owner is None:
        from services.kernel.errors import Unauthorized
        raise Unauthorized("authentication required")
    require_package(clients(), reader, to_owner, package, "write")
    from_label = names.label(body["from_label"] or body["from_channel"] or "main")
    to_label = names.label(body["to_label"] or body["to_channel"] or "main")
    mode = {"POST": "add", "PUT": "replace", "PATCH": "update"}[request.method]
    return jsonify(clients().registry.copy_files(owner, package, version, basename, to_owner=to_owner,
                                                 from_label=from_label, to_label=to_label, mode=mode,
                                                 actor=reader.login))
