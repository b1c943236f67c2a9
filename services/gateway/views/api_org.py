"""Organizations' groups, package collaborators and search."""
from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, request

from services.kernel import names
from services.kernel.errors import BadRequest, NotFound

from .. import access
from ..identity import (current_reader, groups_as_seen, private_packages, require_login, require_namespace,
                        require_package, search_scope)
from ..schemas import GroupBody

bp = Blueprint("api_org", __name__)


def clients():
    return current_app.extensions["wharf.clients"]


def _reader():
    return current_reader()


def _actor() -> str:
    return require_login(_reader()).login


def _group(org, group):
    return names.owner(org), names.label(group).lower()


# ---------------------------------------------------------------------------------------------- groups
@bp.get("/api/groups/<org>")
@access.act("api:read", owner="org")
def list_groups(org):
    org = names.owner(org)
    return jsonify(groups_as_seen(clients(), _reader(), org, clients().auth.list_groups(org, actor=_actor())))


@bp.post("/api/group/<org>/<group>")
@access.act("api:write", owner="org")
def create_group(org, group):
    org, group = _group(org, group)
    body = GroupBody().load(request.get_json(silent=True) or {})
    clients().auth.create_group(org, group, body["perms"], actor=_actor())
    return Response(status=204)


@bp.delete("/api/group/<org>/<group>")
@access.act("api:write", owner="org")
def delete_group(org, group):
    """The organization's admins delete a group: its members lose what it granted at once."""
    org, group = _group(org, group)
    clients().auth.delete_group(org, group, actor=_actor())
    return Response(status=204)


@bp.get("/api/group/<org>/<group>")
@access.act("api:read", owner="org")
def get_group(org, group):
    org, group = _group(org, group)
    (seen,) = groups_as_seen(clients(), _reader(), org, [clients().auth.get_group(org, group, actor=_actor())])
    return jsonify(seen)


@bp.get("/api/group/<org>/<group>/members")
@access.act("api:read", owner="org")
def group_members(org, group):
    org, group = _group(org, group)
    return jsonify(clients().auth.group_members(org, group, actor=_actor()))


@bp.get("/api/group/<org>/<group>/members/<login>")
@access.act("api:read", owner="org")
def is_member(org, group, login):
    org, group = _group(org, group)
    clients().auth.get_group(org, group, actor=_actor())
    if clients().auth.is_group_member(org, group, names.owner(login)):
        return Response(status=204)
    raise NotFound(f"{login} is not a member of {org}/{group}")


@bp.route("/api/group/<org>/<group>/members/<login>", methods=["PUT", "DELETE"])
@access.act("api:write", owner="org")
def change_member(org, group, login):
    org, group = _group(org, group)
    login = names.owner(login)
    if request.method == "PUT":
        clients().auth.add_group_member(org, group, login, actor=_actor())
    else:
        clients().auth.remove_group_member(org, group, login, actor=_actor())
    return Response(status=204)


@bp.get("/api/group/<org>/<group>/packages")
@access.act("api:read", owner="org")
def group_packages(org, group):
    """``[{full_name, name, summary}]``: anaconda-client prints ``summary`` (a KeyError without it); summaries
    come from the registry, as the reader's package listing of the organization shows them."""
    org, group = _group(org, group)
    listed = clients().auth.group_packages(org, group, actor=_actor())
    whole, extra = private_packages(clients(), _reader(), org, "api:read")
    visible = clients().registry.list_packages(org, whole, viewer=_reader().login, extra_packages=extra)
    summaries = {p["name"]: p.get("summary") for p in visible}     # and only those: no private name leaks
    return jsonify([dict(p, summary=summaries[p["name"]]) for p in listed if p["name"] in summaries])


@bp.route("/api/group/<org>/<group>/packages/<package>", methods=["PUT", "DELETE"])
@access.act("api:write", owner="org")
def change_group_package(org, group, package):
    org, group = _group(org, group)
    package = names.package(package)
    actor = _actor()
    # the organization's admins only, decided before the package is looked up: anyone else gets the same 403
    # whether a private package of that name exists or not
    require_namespace(clients(), _reader(), org, "admin")
    if request.method == "PUT":
        clients().registry.get_package(org, package, True)  # NotFound for a package that does not exist
        clients().auth.add_group_package(org, group, package, actor=actor)
    else:
        clients().auth.remove_group_package(org, group, package, actor=actor)
    return Response(status=204)


# ---------------------------------------------------------------------------------------------- collaborators
@bp.get("/api/packages/<owner>/<package>/collaborators")
@access.see("api:read")
def list_collaborators(owner, package):
    owner, package = names.owner(owner), names.package(package)
    require_package(clients(), _reader(), owner, package, "read", "api:read")
    return jsonify(clients().registry.list_collaborators(owner, package))


@bp.route("/api/packages/<owner>/<package>/collaborators/<login>", methods=["PUT", "DELETE"])
@access.act("api:write")
def change_collaborator(owner, package, login):
    owner, package, login = names.owner(owner), names.package(package), names.owner(login)
    require_package(clients(), _reader(), owner, package, "admin")
    if request.method == "PUT":
        if clients().auth.get_user(login).get("user_type") != "user":
            raise BadRequest("collaborators must be users")
        clients().registry.add_collaborator(owner, package, login, actor=_reader().login)
    else:
        clients().registry.remove_collaborator(owner, package, login, actor=_reader().login)
    return Response(status=201)


# ---------------------------------------------------------------------------------------------- search
@bp.get("/api/search")
@access.see("api:read", owner=None)
def search():
    reader = _reader()
    query = request.args.get("name", "")
    if len(query) > 200:
        raise BadRequest("query too long")
    scope = search_scope(clients(), reader)
    return jsonify(clients().registry.search(
        query, package_type=request.args.get("type") or None, platform=request.args.get("platform") or None,
        viewer=None if reader.anonymous or reader.org else reader.login,
        private_owners=scope["owners"], private_packages=scope["packages"]))
