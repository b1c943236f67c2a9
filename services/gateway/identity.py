"""Who is asking, and what may they do. Tokens come from ``Authorization: token X`` (the anaconda CLI),
``Authorization: Bearer X`` (rattler/pixi), or a ``/t/<token>/`` path segment (conda).

Roles (read < write < admin) come from the auth service (own namespace, organization owners, groups) and,
for one package, from the registry's collaborators (full read/write). A token's scopes limit which kinds of
request it may make, and an organization token acts only on its organization.

404 versus 403: whoever may not read a private package gets 404 for it on every path, exactly as if it did not
exist; 403 is only for things the reader can already see (a public package, an existing namespace) but may not
change; 401 when no (valid) credentials were given and some would help.
"""
from __future__ import annotations

import dataclasses

from flask import g, request

from services.kernel import scopes as scope_rules
from services.kernel.errors import Forbidden, NotFound, Unauthorized

RANK = {None: 0, "read": 1, "write": 2, "admin": 3}


def stronger(a: str | None, b: str | None) -> str | None:
    return a if RANK[a] >= RANK[b] else b


@dataclasses.dataclass(frozen=True)
class Reader:
    login: str | None = None
    scopes: tuple[str, ...] | None = None
    token_id: str | None = None
    org: str | None = None

    @property
    def anonymous(self) -> bool:
        return self.login is None


class InsufficientScope(Forbidden):
    """The credential is valid but may not do this kind of operation (its scopes, or an organization token
    outside its organization): the same 403 whether the target exists or not."""
    code = "InsufficientScope"


def header_token() -> str | None:
    value = request.headers.get("Authorization", "")
    scheme, _, token = value.partition(" ")
    if scheme.lower() in ("token", "bearer") and token.strip():
        return token.strip()
    return None


def authenticate(clients, token: str | None = None, allow_basic: bool = False) -> Reader:
    """The reader a credential stands for: ``token`` (from the path), else the Authorization header's token;
    with ``allow_basic`` (PyPI paths: pip, uv, twine) HTTP Basic too: a token as the password (user
    ``__token__`` or any), or a login and password. An invalid, expired or revoked token is a 401, never
    anonymous. Called by the gate (access.py) once per request."""
    token = token or header_token()
    reader = Reader()
    basic = request.authorization if allow_basic and not token else None
    if basic is not None and basic.type == "basic" and (basic.password or basic.username):
        password = basic.password or ""
        if basic.username == "__token__" or password.startswith("wt-"):
            token = password
        else:
            p = clients.auth.authenticate_password(basic.username or "", password, request.remote_addr)
            reader = Reader(login=p["login"])
    if token:
        try:
            p = clients.auth.authenticate(token)
        except Unauthorized as exc:
            raise Unauthorized(f"{exc.message}. {STALE_TOKEN_HINT}")
        reader = Reader(login=p["login"], scopes=tuple(p.get("scopes") or ()) or None,
                        token_id=p.get("token_id"), org=p.get("org"))
    g.wharf_token = token
    return reader


# conda sends the token `anaconda login` stored with every request to the server's /conda/ URLs, public ones too:
# once that token is revoked or expired, every install fails until it is removed (conda's own 401 message says so)
STALE_TOKEN_HINT = ("Sign in again (`anaconda logout`, then `anaconda login`), or remove the token from the "
                    "channel URL")


def current_reader() -> Reader:
    """The request's reader as the gate (access.py) decided it for this route's kind of operation: a credential
    that may not do a read's kind reads as anonymous. A view cannot get a reader the gate has not decided."""
    if "wharf_policy" not in g:
        raise RuntimeError("current_reader() before the access gate ran: the route declares no access policy")
    return g.wharf_reader


def permits(reader: Reader, action: str, owner: str | None = None, account: bool = False) -> bool:
    """May this credential do ``action`` at all (on ``owner``'s namespace when given)? Its scopes must grant the
    action, and an organization token acts only on its own organization, never on a user's account. The one
    test of scopes and organization limits: the gate (access.py) and every check below use it."""
    if reader.anonymous or not scope_rules.allows(list(reader.scopes) if reader.scopes else None, action):
        return False
    if reader.org is not None and (account or (owner is not None and owner.lower() != reader.org.lower())):
        return False
    return True


def namespace_role(clients, reader: Reader, owner: str, action: str) -> str | None:
    """The reader's role on the whole namespace (None: public view only). NotFound for an unknown owner,
    whoever asks."""
    role = clients.auth.access(None if reader.anonymous else reader.login, owner)
    return role if permits(reader, action, owner) else None


def package_role(clients, reader: Reader, owner: str, package: str, action: str) -> str | None:
    """The reader's role on one package: namespace and group grants, and collaborators (write)."""
    role = clients.auth.access(None if reader.anonymous else reader.login, owner, package)
    if not permits(reader, action, owner):
        return None
    if RANK[role] < RANK["write"]:
        try:
            if clients.registry.is_collaborator(owner, package, reader.login):
                role = "write"
        except NotFound:  # no such package (yet): nobody collaborates on it
            pass
    return role


def private_packages(clients, reader: Reader, owner: str, action: str) -> tuple[bool, list[str]]:
    """(whole namespace readable, [private packages readable one by one]) for listings and indexes."""
    if not permits(reader, action, owner):
        clients.auth.access(None, owner)  # NotFound for unknown owners, like everyone else
        return False, []
    grants = clients.auth.grants(reader.login, owner)
    if grants.get("all"):
        return True, []
    pkgs = set(grants.get("packages") or {})
    pkgs.update(clients.registry.collaborator_packages(owner, reader.login))
    return False, sorted(pkgs)


def visible_package_names(clients, reader: Reader, owner: str) -> set[str]:
    """The names of ``owner``'s packages this reader may see (public ones, and private ones they may read)."""
    whole, extra = private_packages(clients, reader, owner, "api:read")
    return {p["name"] for p in clients.registry.list_packages(owner, whole, viewer=reader.login,
                                                              extra_packages=extra)}


def groups_as_seen(clients, reader: Reader, owner: str, groups: list[dict]) -> list[dict]:
    """Groups with their package lists cut to the packages this reader may see: a member of one group must not
    learn from another group's list the names of private packages they cannot read."""
    if not any(g.get("packages") for g in groups):
        return groups
    visible = visible_package_names(clients, reader, owner)
    return [dict(g, packages=[p for p in g.get("packages") or [] if p in visible]) for g in groups]


def search_scope(clients, reader: Reader) -> dict:
    """``{owners, packages}`` whose private packages a search may show this reader (API and web UI)."""
    scope = {"owners": [], "packages": []}
    if not reader.anonymous and permits(reader, "api:read"):
        scope = clients.auth.visible_scope(reader.login)
        if reader.org:
            scope = {"owners": [o for o in scope["owners"] if o == reader.org],
                     "packages": [p for p in scope["packages"] if p[0] == reader.org]}
    return scope


def package_public(clients, owner: str, package: str) -> bool | None:
    """True/False for an existing package's visibility, None when it does not exist."""
    try:
        return bool(clients.registry.get_package(owner, package, True)["public"])
    except NotFound:
        return None


def require_login(reader: Reader) -> Reader:
    if reader.anonymous:
        raise Unauthorized("authentication required")
    return reader


def refuse_scope(reader: Reader, action: str, owner: str | None = None, account: bool = False):
    """Raise the 403 of a credential that ``permits`` refuses."""
    if reader.org is not None and permits(Reader(reader.login, reader.scopes), action):
        raise InsufficientScope(f"this token acts only on the organization {reader.org}")
    raise InsufficientScope(f"this token's scopes do not allow {action}")


def _refuse(reader: Reader, action: str, what: str, owner: str):
    if reader.anonymous:
        raise Unauthorized("authentication required")
    if not permits(reader, action, owner):
        refuse_scope(reader, action, owner)
    raise Forbidden(f"{reader.login} may not {what}")


def require_namespace(clients, reader: Reader, owner: str, need: str = "write", action: str = "api:write") -> str:
    """Namespace-wide right (labels, groups, creating packages...). Owners are public, so 403 not 404."""
    role = namespace_role(clients, reader, owner, action)
    if RANK[role] < RANK[need]:
        _refuse(reader, action, f"{'change' if need != 'read' else 'read'} {owner}", owner)
    return role


def require_package(clients, reader: Reader, owner: str, package: str, need: str = "write",
                    action: str = "api:write") -> str | None:
    """A right on one package. A reader who may not even read a private (or missing) package gets 404."""
    role = package_role(clients, reader, owner, package, action)
    if RANK[role] >= RANK[need]:
        return role
    pkg_public = package_public(clients, owner, package)
    if pkg_public is None:
        # creating a new package needs the right on the namespace (or a group grant for that name)
        if need == "write" and RANK[role] >= RANK["write"]:
            return role
        raise NotFound(f"package {owner}/{package} not found")
    if not pkg_public and RANK[package_role(clients, reader, owner, package, "api:read")] < RANK["read"]:
        raise NotFound(f"package {owner}/{package} not found")
    _refuse(reader, action, f"{'administer' if need == 'admin' else 'change'} {owner}/{package}", owner)
    return role
