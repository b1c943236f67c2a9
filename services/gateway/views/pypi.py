"""PyPI: simple index (PEP 503 HTML and PEP 691 JSON by content negotiation, PEP 658/714 core metadata) and
the legacy upload API that twine uses.

    GET  /pypi/[t/<token>/]<owner>[/label/<label>]/simple/                  project list
    GET  /pypi/[t/<token>/]<owner>[/label/<label>]/simple/<project>/        project page
    GET  .../simple/<project>/<filename>[.metadata]                          files (relative links of the page)
    POST /pypi/<owner>/          twine upload --repository-url http://HOST/pypi/<owner>/ (legacy API)

Pages are published by the indexer (content-addressed, per audience); this view only negotiates, checks who
may read what, and serves them with strong ETags, 304, Cache-Control and ``Vary: Accept``. HTTP Basic is
accepted here (a token as password, or login and password), as pip, uv and twine send it.
"""
from __future__ import annotations

import hashlib
import hmac
import tempfile

from flask import Blueprint, Response, current_app, g, redirect, request
from packaging.utils import canonicalize_name

from services.kernel import names
from services.kernel.errors import BadRequest, Conflict, NotFound, PayloadTooLarge

from .. import access
from ..identity import current_reader, namespace_role, require_package
from ..uploads import stage_bytes
from .api_packages import send_blob
from .conda import _bytes, path_token

bp = Blueprint("pypi", __name__)

JSON_TYPE = "application/vnd.pypi.simple.v1+json"
HTML_TYPE = "application/vnd.pypi.simple.v1+html"
OFFERS = (JSON_TYPE, HTML_TYPE, "text/html")


def clients():
    return current_app.extensions["wharf.clients"]


def cache():
    return current_app.extensions["wharf.index_cache"]


def _owner_in(args: dict) -> str | None:
    parts = path_token(args["rest"])[1]
    return parts[0] if parts else None


@bp.route("/pypi/<path:rest>", methods=["GET", "HEAD"])
@access.see("pypi:download", owner=_owner_in, credential=access.BASIC,
            path_token=lambda args: path_token(args["rest"])[0])
def simple(rest):
    parts = path_token(rest)[1]
    parts = [p for p in parts if p != ""] if rest.endswith("/") else parts
    if len(parts) >= 3 and parts[1] == "label":
        owner, label, parts = parts[0], parts[2], parts[3:]
    elif parts:
        owner, label, parts = parts[0], "main", parts[1:]
    else:
        raise NotFound("not found")
    if not parts or parts[0] != "simple" or len(parts) > 3:
        raise NotFound("not found")
    owner, label = names.owner(owner), names.label(label)
    reader = current_reader()
    audience = "private" if namespace_role(clients(), reader, owner, "pypi:download") else "public"
    if len(parts) == 1:
        return _page(owner, label, None, audience)
    project = parts[1]
    if canonicalize_name(project) != project:
        target = request.path.replace(f"/simple/{project}", f"/simple/{canonicalize_name(project)}", 1)
        return redirect(target, code=301)
    if len(parts) == 2:
        if not request.path.endswith("/"):
            return redirect(request.path + "/", code=301)
        return _page(owner, label, project, audience)
    return _file(owner, label, project, parts[2], audience)


def _choose() -> str:
    fmt = request.args.get("format")
    if fmt:
        if fmt not in OFFERS:
            raise NotAcceptable()
        return fmt
    accept = request.accept_mimetypes
    if not request.headers.get("Accept"):
        return "text/html"
    named = [o for o in OFFERS if any(value == o for value, _q in accept)]
    if not named:  # only wildcards: HTML, like Warehouse; or nothing we can give
        if accept.quality("text/html"):
            return "text/html"
        raise NotAcceptable()
    best = accept.best_match(named)
    if best is None:
        raise NotAcceptable()
    return best


class NotAcceptable(BadRequest):
    status = 406
    code = "NotAcceptable"

    def __init__(self):
        super().__init__(f"acceptable types: {', '.join(OFFERS)}")


def _page(owner: str, label: str, project: str | None, audience: str):
    content_type = _choose()
    meta = cache().get_meta((owner, label, "pypi" if project is None else f"pypi/{project}", audience),
                            lambda: clients().indexer.get_pypi_page(owner, label, project, audience))
    if not meta:
        if project is not None:
            raise NotFound(f"project {project} not found")
        meta = {"files": {}}
    name = "simple.json" if content_type == JSON_TYPE else "simple.html"
    entry = meta["files"].get(name) or meta["files"].get(f"{audience}/{name}")
    if project is None and _lists_nothing(meta, audience):
        entry = None    # a list of only private projects (or of removed ones) reads exactly like no list at all
        data = _empty_root(content_type)
        entry = {"sha256": hashlib.sha256(data).hexdigest(), "data": data}
    settings = current_app.config["WHARF_SETTINGS"]
    etag = f"{entry['sha256']}-{'j' if content_type == JSON_TYPE else 'h'}"
    cache_control = f"{'private' if audience == 'private' else 'public'}, max-age={settings.index_max_age}"
    if etag in request.if_none_match:
        resp = Response(status=304)
    else:
        resp = Response(_bytes(entry), content_type=content_type)
    resp.set_etag(etag)
    resp.headers["Cache-Control"] = cache_control
    resp.vary.update(("Accept", "Authorization"))
    return resp if resp.status_code == 304 else resp.make_conditional(request)


EMPTY_JSON_SHA = None


def _lists_nothing(meta: dict, audience: str) -> bool:
    """A published project list that names no project (its JSON form is the empty list's bytes)."""
    global EMPTY_JSON_SHA
    if EMPTY_JSON_SHA is None:
        EMPTY_JSON_SHA = hashlib.sha256(_empty_root(JSON_TYPE)).hexdigest()
    entry = meta["files"].get("simple.json") or meta["files"].get(f"{audience}/simple.json")
    return entry is None or entry["sha256"] == EMPTY_JSON_SHA


def _empty_root(content_type: str) -> bytes:
    if content_type == JSON_TYPE:
        return b'{"meta":{"api-version":"1.1"},"projects":[]}'
    return (b'<!DOCTYPE html>\n<html><head><meta name="pypi:repository-version" content="1.1">'
            b"<title>Simple index</title></head><body></body></html>\n")


def _file(owner: str, label: str, project: str, filename: str, audience: str):
    want_metadata = filename.endswith(".metadata")
    fn = filename[: -len(".metadata")] if want_metadata else filename
    names.filename(fn)
    hit = clients().indexer.lookup_pypi_file(owner, label, fn, audience)
    if hit is None or canonicalize_name(hit.get("project") or hit["package"]) != project:
        raise NotFound(f"{filename} not found")
    if want_metadata:
        if not hit.get("core_metadata_key"):
            raise NotFound(f"{filename} not found")
        return send_blob(hit["core_metadata_key"], filename, hit.get("core_metadata_sha256"),
                         private=not hit["public"])
    return send_blob(hit["blob_key"], fn, hit["sha256"],
                     count=(owner, hit["package"], hit["version"], hit["basename"]), private=not hit["public"])


# ---------------------------------------------------------------------------------------------- twine upload
@bp.post("/pypi/<owner>/")
@bp.post("/pypi/<owner>/legacy/")
@access.act("pypi:upload", credential=access.BASIC)
def legacy_upload(owner):
    """twine shows the HTTP reason phrase, not the body: errors carry their message there (errors.py)."""
    owner = names.owner(owner)
    reader = current_reader()
    if reader.anonymous:
        resp = Response("authentication required", status=401)
        resp.headers["WWW-Authenticate"] = 'Basic realm="wharf"'
        return resp
    form = request.form
    if form.get(":action", "file_upload") != "file_upload":
        raise BadRequest(f"unsupported :action {form.get(':action')!r}")
    upload = request.files.get("content")
    if upload is None or not upload.filename:
        raise BadRequest("the form has no content file")
    filename = names.filename(upload.filename.rsplit("/", 1)[-1])
    name, version = form.get("name") or "", names.version(form.get("version") or "")
    project = canonicalize_name(name)
    if not project:
        raise BadRequest("missing project name")
    package = _existing_package(owner, project) or names.package(name)
    try:
        require_package(clients(), reader, owner, package, "write", "pypi:upload")
    except NotFound:
        # the name as the client sent it: the stored spelling of a private project is not theirs to learn
        raise NotFound(f"package {owner}/{names.package(name)} not found")

    with tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024) as spool:
        sha, size = hashlib.sha256(), 0
        limit = current_app.config["WHARF_SETTINGS"].max_upload_size
        while chunk := upload.stream.read(1024 * 1024):
            sha.update(chunk)
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge("upload exceeds the maximum allowed size")
            spool.write(chunk)
        digest = sha.hexdigest()
        sent = (form.get("sha256_digest") or "").lower()
        if sent and not hmac.compare_digest(sent, digest):
            raise BadRequest("sha256_digest does not match the uploaded file")
        existing = _existing_file(owner, package, version, filename)
        if existing is not None:
            if existing.get("sha256") == digest:
                return Response("OK (already uploaded)", status=200)
            raise BadRequest(f"File already exists: {filename}")
        _ensure_package_and_release(owner, package, version, form, reader.login)
        staged = clients().registry.stage(
            owner, package, version, filename, distribution_type="pypi", sha256=digest, labels=[],
            attrs={"packagetype": form.get("filetype"), "python_version": form.get("pyversion")},
            dependencies=None, description=None, actor=reader.login)
        spool.seek(0)
        stage_bytes(clients(), staged["dist_id"], spool, size)
    clients().registry.commit_upload(staged["dist_id"], owner, package, version, filename, actor=reader.login,
                                     correlation_id=g.get("correlation_id"))
    return Response("OK", status=200)


def _existing_package(owner: str, project: str) -> str | None:
    for p in clients().registry.list_packages(owner, True):
        if canonicalize_name(p["name"]) == project:
            return p["name"]
    return None


def _existing_file(owner, package, version, filename):
    try:
        return clients().registry.get_file(owner, package, version, filename, True)
    except NotFound:
        return None


def _ensure_package_and_release(owner, package, version, form, actor):
    try:
        clients().registry.create_package(owner, package, public=True, actor=actor, public_attrs={
            "summary": form.get("summary") or "", "package_types": ["pypi"],
            "home": form.get("home_page"), "license": form.get("license")})
    except Conflict:
        pass
    try:
        clients().registry.create_release(owner, package, version, actor=actor, attrs={
            "description": form.get("description"), "summary": form.get("summary")})
    except Conflict:
        pass
