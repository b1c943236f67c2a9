"""Accounts and tokens: HEAD /api, /api/authentications, /api/authentication, /api/scopes, /api/user..."""
from __future__ import annotations

from flask import Blueprint, Response, current_app, g, jsonify, request

from services.kernel import names
from services.kernel import scopes as scope_rules
from services.kernel.errors import BadRequest, Unauthorized

from .. import access
from ..identity import current_reader, require_login
from ..schemas import AuthenticationBody, PasswordChangeBody

bp = Blueprint("api_auth", __name__)


def clients():
    return current_app.extensions["wharf.clients"]


@bp.route("/api", methods=["GET", "HEAD"])
@bp.route("/api/", methods=["GET", "HEAD"])
@access.public
def root():
    return jsonify({"name": "wharf", "api_version": "1", "status": "ok"})


@bp.get("/api/authentication-type")
@access.public
def authentication_type():
    return jsonify({"authentication_type": "password"})


@bp.post("/api/authentications")
@access.public                    # the proof is the login and password of the request
def create_authentication():
    auth = request.authorization
    if auth is None or auth.type != "basic" or not auth.username:
        raise Unauthorized("HTTP Basic authentication with your login and password is required")
    body = AuthenticationBody().load(request.get_json(silent=True) or {})
    unknown = scope_rules.unknown(body["scopes"] or [])
    if unknown:
        raise BadRequest(f"unknown scopes: {', '.join(unknown)}")
    result = clients().auth.create_token(
        auth.username, auth.password or "", note=body["note"] or "anaconda-client",
        scopes=body["scopes"], max_age=body["max_age"], org=body["user"] or None,
        fail_if_exists=body["fail_if_exists"], hostname=body["hostname"], remote_addr=request.remote_addr,
        application=body["note_url"] or request.headers.get("User-Agent"))
    return jsonify(result)


@bp.delete("/api/authentications")
@access.self_()
def logout():
    require_login(current_reader())
    clients().auth.revoke_token(g.wharf_token)
    return Response(status=201)


@bp.get("/api/authentications")
@access.account("api:read")
def list_authentications():
    reader = require_login(current_reader())
    return jsonify(clients().auth.list_tokens(reader.login))


@bp.get("/api/authentication")
@access.self_()
def authentication_info():
    require_login(current_reader())
    return jsonify(clients().auth.token_info(g.wharf_token))


@bp.delete("/api/authentications/name/<name>")
@access.account("api:write")
def remove_named(name):
    reader = require_login(current_reader())
    clients().auth.revoke_token_named(reader.login, name)
    return Response(status=201)


@bp.delete("/api/authentications/org/<org>/name/<name>")
@access.account("api:write")
def remove_org_named(org, name):
    reader = require_login(current_reader())
    clients().auth.revoke_token_named(reader.login, name, org=names.owner(org))
    return Response(status=201)


@bp.get("/api/scopes")
@access.public
def list_scopes():
    return jsonify(scope_rules.SCOPES)


@bp.get("/api/user")
@access.self_()
def whoami():
    reader = require_login(current_reader())
    return jsonify(clients().auth.get_user(reader.login))


@bp.get("/api/user/<login>")
@access.see("api:read", owner="login")   # a bad token is a 401 even here
def get_user(login):
    user = clients().auth.get_user(names.owner(login))
    user.pop("email", None)
    return jsonify(user)


@bp.post("/api/user/password")
@access.account("api:write")              # the user's own account: never an organization token
def change_password():
    """Change the caller's password: ``{current_password, new_password}``. The current one is checked like a
    login (rate limited, 401 when wrong); every web session of the user is revoked, API tokens stay."""
    reader = require_login(current_reader())
    body = PasswordChangeBody().load(request.get_json(silent=True) or {})
    return jsonify(clients().auth.change_password(reader.login, body["current_password"], body["new_password"],
                                                  remote_addr=request.remote_addr))


@bp.get("/api/user/orgs")
@access.account("api:read")
def my_orgs():
    reader = require_login(current_reader())
    return jsonify(clients().auth.user_orgs(reader.login))


@bp.get("/api/users/<login>/orgs")
@access.see("api:read", owner="login")
def user_orgs(login):
    """The organizations of ``login`` the reader may see: the ones it owns (public), and its memberships through
    groups only for the user themselves and for members of that organization (ARCHITECTURE.md)."""
    reader = current_reader()
    return jsonify(clients().auth.visible_orgs(names.owner(login), None if reader.anonymous else reader.login))
