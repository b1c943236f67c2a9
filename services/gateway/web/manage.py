"""Forms that change things: tokens, package settings (visibility, collaborators, transfer, removal) and labels
(copy, move selected files, remove). Every one is a POST carrying the session's CSRF token (checked in
blueprint.py), authorised with the same ``services.gateway.identity`` checks as the API view doing the same
thing, and answered with a redirect to the page showing the result (or an error page with the right status)."""
from __future__ import annotations

from flask import flash, make_response, redirect, render_template, request, url_for

from services.kernel import names
from services.kernel import scopes as scope_rules
from services.kernel.errors import BadRequest, Unauthorized

from .. import access
from ..identity import RANK, namespace_role, require_namespace, require_package
from . import session as web_session
from .blueprint import bp, clients
from .pages import _page_context, load_package, reader, version_key

EXPIRY_DAYS = {"1": 1, "7": 7, "30": 30, "90": 90, "365": 365}


def _me():
    me = reader()
    if me.anonymous:
        raise Unauthorized("sign in first")
    return me


def _back(endpoint: str, **kw):
    return redirect(url_for(endpoint, **kw), code=303)


# ---------------------------------------------------------------------------------------------- tokens
@bp.post("/settings/tokens")
@access.account("api:write", credential=access.SESSION)
def create_token():
    me = _me()
    name = request.form.get("name", "").strip()
    chosen = request.form.getlist("scopes")
    days = request.form.get("expires", "30")
    password = request.form.get("password", "")
    if not name:
        raise BadRequest("give the token a name")
    if name.startswith(web_session.SESSION_NOTE_PREFIX):
        raise BadRequest(f"token names starting with {web_session.SESSION_NOTE_PREFIX} are reserved for sign-ins")
    if not chosen:
        raise BadRequest("choose at least one scope")
    unknown = scope_rules.unknown(chosen)
    if unknown:
        raise BadRequest(f"unknown scopes: {', '.join(unknown)}")
    if days not in EXPIRY_DAYS:
        raise BadRequest("choose an expiry from the list")
    if not password:
        raise BadRequest("confirm with your password to create a token")
    created = clients().auth.create_token(me.login, password, note=name, scopes=chosen,
                                          max_age=EXPIRY_DAYS[days] * 86400, fail_if_exists=True,
                                          remote_addr=request.remote_addr, application="wharf web UI")
    resp = make_response(render_template("token_created.html", created=created))
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.post("/settings/tokens/revoke")
@access.account("api:write", credential=access.SESSION)
def revoke_token():
    me = _me()
    name = request.form.get("name", "")
    clients().auth.revoke_token_named(me.login, name)
    if name.startswith(web_session.SESSION_NOTE_PREFIX) and _session_revoked():
        web_session.session.clear()
        flash("That was this browser's sign-in: you are signed out.")
        return _back("web.home")
    flash(f"Token {name} revoked.")
    return _back("web.tokens")


def _session_revoked() -> bool:
    try:
        web_session.authenticate(clients())
        return False
    except Unauthorized:
        return True


# ---------------------------------------------------------------------------------------------- package settings
def _need(owner, package, level):
    require_package(clients(), reader(), owner, package, level)


@bp.get("/<owner>/<package>/settings")
@access.act("api:write", credential=access.SESSION)
def package_settings(owner, package):
    owner, package, pkg, role = load_package(owner, package)
    _need(owner, package, "write")
    me = reader()
    collaborators = clients().registry.list_collaborators(owner, package)
    targets = []
    if role == "admin":
        for org in clients().auth.user_orgs(me.login):
            login = org["login"]
            if login != owner and namespace_role(clients(), me, login, "api:write") == "admin":
                targets.append(login)
    versions = sorted({f["version"] for f in pkg["files"]} | {r["version"] for r in pkg["releases"]},
                      key=version_key, reverse=True)
    files = sorted(pkg["files"], key=lambda f: (version_key(f["version"]), f["basename"]), reverse=True)
    return render_template("settings.html", collaborators=collaborators, targets=sorted(targets),
                           versions=versions, files=files, **_page_context(owner, package, pkg, role, "settings"))


@bp.post("/<owner>/<package>/settings/visibility")
@access.act("api:write", credential=access.SESSION)
def set_visibility(owner, package):
    owner, package = names.owner(owner), names.package(package)
    _need(owner, package, "admin")
    value = request.form.get("public")
    if value not in ("0", "1"):
        raise BadRequest("choose public or private")
    clients().registry.update_package(owner, package, {"public": value == "1"}, actor=reader().login)
    flash(f"{owner}/{package} is now {'public' if value == '1' else 'private'}.")
    return _back("web.package_settings", owner=owner, package=package)


@bp.post("/<owner>/<package>/settings/collaborators")
@access.act("api:write", credential=access.SESSION)
def change_collaborator(owner, package):
    owner, package = names.owner(owner), names.package(package)
    _need(owner, package, "admin")
    action = request.form.get("action")
    login = names.owner(request.form.get("login", "").strip() or "-")
    if action == "add":
        if clients().auth.get_user(login).get("user_type") != "user":
            raise BadRequest("collaborators must be users")
        clients().registry.add_collaborator(owner, package, login, actor=reader().login)
        flash(f"{login} is now a collaborator.")
    elif action == "remove":
        clients().registry.remove_collaborator(owner, package, login, actor=reader().login)
        flash(f"{login} is no longer a collaborator.")
    else:
        raise BadRequest("unknown action")
    return _back("web.package_settings", owner=owner, package=package)


@bp.post("/<owner>/<package>/settings/transfer")
@access.act("api:write", credential=access.SESSION)
def transfer(owner, package):
    owner, package = names.owner(owner), names.package(package)
    to_owner = names.owner(request.form.get("to_owner", "").strip() or "-")
    _need(owner, package, "admin")
    require_namespace(clients(), reader(), to_owner, "admin")
    if clients().auth.get_user(to_owner).get("user_type") != "org":
        raise BadRequest("packages can only be transferred to an organization")
    clients().registry.transfer_package(owner, package, to_owner, actor=reader().login)
    flash(f"{package} now belongs to {to_owner}.")
    return _back("web.package_page", owner=to_owner, package=package)


@bp.post("/<owner>/<package>/settings/remove")
@access.act("api:write", credential=access.SESSION)
def remove_files(owner, package):
    """Remove the selected versions (whole releases) and files."""
    owner, package = names.owner(owner), names.package(package)
    _need(owner, package, "write")
    versions = [names.version(v) for v in request.form.getlist("version")]
    files = []
    for item in request.form.getlist("file"):
        version, _, basename = item.partition("|")
        files.append((names.version(version), names.basename(basename)))
    if not versions and not files:
        raise BadRequest("select at least one version or file")
    actor = reader().login
    for version in versions:
        clients().registry.remove_release(owner, package, version, actor=actor)
    for version, basename in files:
        if version in versions:
            continue
        clients().registry.remove_file(owner, package, version, basename, actor=actor)
    flash(f"Removed {len(versions)} version(s) and {len([f for f in files if f[0] not in versions])} file(s).")
    return _back("web.package_settings", owner=owner, package=package)


@bp.post("/<owner>/<package>/settings/delete")
@access.act("api:write", credential=access.SESSION)
def delete_package(owner, package):
    owner, package = names.owner(owner), names.package(package)
    _need(owner, package, "admin")
    if request.form.get("confirm", "").strip() != package:
        raise BadRequest(f"type the package name ({package}) to confirm the deletion")
    clients().registry.remove_package(owner, package, actor=reader().login)
    flash(f"{owner}/{package} was deleted.")
    return _back("web.namespace", owner=owner)


# ---------------------------------------------------------------------------------------------- labels
@bp.post("/<owner>/-/labels/copy")
@access.act("api:write", credential=access.SESSION)
def copy_label(owner):
    owner = names.owner(owner)
    src = names.label(request.form.get("from_label", "").strip() or "-")
    dst = names.label(request.form.get("to_label", "").strip() or "-")
    require_namespace(clients(), _me(), owner, "write")
    clients().registry.copy_label(owner, src, dst, actor=reader().login)
    flash(f"Copied label {src} to {dst}.")
    return _back("web.labels", owner=owner)


@bp.post("/<owner>/-/labels/remove")
@access.act("api:write", credential=access.SESSION)
def remove_label(owner):
    owner = names.owner(owner)
    label = names.label(request.form.get("label", "").strip() or "-")
    require_namespace(clients(), _me(), owner, "write")
    clients().registry.remove_label(owner, label, actor=reader().login)
    flash(f"Removed label {label}.")
    return _back("web.labels", owner=owner)


@bp.post("/<owner>/-/labels/<label>/move")
@access.act("api:write", credential=access.SESSION)
def move_files(owner, label):
    """Move the selected files from ``label`` to another label (added there, then removed here), as
    ``anaconda move`` does; each file needs write on its package (or on the namespace)."""
    owner, label = names.owner(owner), names.label(label)
    to_label = names.label(request.form.get("to_label", "").strip() or "-")
    if to_label == label:
        raise BadRequest("choose a different label")
    selected = []
    for item in request.form.getlist("file"):
        parts = item.split("|", 2)
        if len(parts) != 3:
            raise BadRequest("malformed file selection")
        selected.append((names.package(parts[0]), names.version(parts[1]), names.basename(parts[2])))
    if not selected:
        raise BadRequest("select at least one file")
    me = _me()
    for package, _v, _b in selected:
        require_package(clients(), me, owner, package, "write")
    for package, version, basename in selected:
        clients().registry.label_files(owner, to_label, package=package, version=version, basename=basename,
                                       actor=me.login)
        clients().registry.unlabel_files(owner, label, package=package, version=version, basename=basename,
                                         actor=me.login)
    flash(f"Moved {len(selected)} file(s) from {label} to {to_label}.")
    still = RANK[namespace_role(clients(), me, owner, "api:read")] >= RANK["read"]
    try:
        clients().registry.get_label(owner, label, still)
    except Exception:  # noqa: BLE001 - the label is gone once its last file left it
        return _back("web.labels", owner=owner)
    return _back("web.label_page", owner=owner, label=label)
