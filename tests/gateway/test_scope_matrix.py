"""Token scopes and organization-token limits on every route: the matrix.

Every operation of the OpenAPI document (and the conda, PyPI and upload routes beside it) is sent with a token of
each scope and with an organization token, and the answer must follow this file's own table of what each route
is (``ROUTES``) and what each scope grants (``GRANTS``), which restate the product's rules independently of the
gateway's declarations (services/gateway/access.py):

- an operation that changes something (``act``, ``account``) with a credential whose scopes do not grant it, or an
  organization token outside its organization, is a 403 ``InsufficientScope``, and changes nothing;
- a read whose answer depends on what the reader may see (``see``) with such a credential answers exactly what an
  anonymous visitor gets (status, body, ETag), and with a granting one shows the private thing;
- a granting credential is never refused for its scope (it may still lack the role: 403 ``Forbidden``/404).

A new route missing from ``ROUTES`` fails ``test_every_documented_operation_is_in_the_matrix``; a new view without
a declared policy stops ``create_app`` (``test_a_route_without_a_policy_stops_the_app``)."""
from __future__ import annotations

import re
import time

import pytest
from services.embedded import Embedded
from services.gateway.app import create_app
from services.kernel.settings import Settings
from tests.gateway.test_web_pages import _upload
from tests.helpers.packages import make_conda_package, make_wheel

PW = {"alice": "alice-pw-12345", "bob": "bob-pw-12345", "carol": "carol-pw-12345"}

# what each scope grants (anaconda.org's scopes; README "Permissions")
GRANTS = {
    "api:read": {"all", "api", "api:read", "api:write"},
    "api:write": {"all", "api", "api:write"},
    "conda:download": {"all", "api", "conda", "conda:download", "repos"},
    "pypi:download": {"all", "api", "pypi", "pypi:download", "repos"},
    "pypi:upload": {"all", "api", "api:write", "pypi:upload"},
}
SCOPES = ["all", "api", "api:read", "api:write", "conda", "conda:download", "pypi", "pypi:download",
          "pypi:upload", "repos"]

# (method, OpenAPI path) -> (kind, action, owner parameter or None, sensitive: a private thing shows in it)
ROUTES = {
    ("GET", "/api"): ("public", None, None, False),
    ("GET", "/api/authentication-type"): ("public", None, None, False),
    ("POST", "/api/authentications"): ("public", None, None, False),
    ("GET", "/api/scopes"): ("public", None, None, False),
    ("GET", "/api/authentication"): ("self", None, None, False),
    ("DELETE", "/api/authentications"): ("self", None, None, False),
    ("GET", "/api/user"): ("self", None, None, False),
    ("GET", "/api/authentications"): ("account", "api:read", None, False),
    ("GET", "/api/user/orgs"): ("account", "api:read", None, False),
    ("DELETE", "/api/authentications/name/{name}"): ("account", "api:write", None, False),
    ("DELETE", "/api/authentications/org/{org}/name/{name}"): ("account", "api:write", None, False),
    ("POST", "/api/user/password"): ("account", "api:write", None, False),
    ("GET", "/api/user/{login}"): ("see", "api:read", "login", False),
    ("GET", "/api/users/{login}/orgs"): ("see", "api:read", "login", False),
    ("GET", "/api/search"): ("see", "api:read", None, True),
    ("GET", "/api/channels/{owner}"): ("see", "api:read", "owner", True),
    ("GET", "/api/channels/{owner}/{label}"): ("see", "api:read", "owner", True),
    ("POST", "/api/channels/{owner}/{label}"): ("act", "api:write", "owner", False),
    ("DELETE", "/api/channels/{owner}/{label}"): ("act", "api:write", "owner", False),
    ("POST", "/api/channels/{owner}/{from_label}/copy/{to_label}"): ("act", "api:write", "owner", False),
    ("POST", "/api/channels/{owner}/{label}/lock"): ("act", "api:write", "owner", False),
    ("DELETE", "/api/channels/{owner}/{label}/lock"): ("act", "api:write", "owner", False),
    ("POST", "/api/stage/{owner}/{package}/{version}/{basename}"): ("act", "api:write", "owner", False),
    ("POST", "/api/commit/{owner}/{package}/{version}/{basename}"): ("act", "api:write", "owner", False),
    ("GET", "/api/dist/{owner}/{package}/{version}/{basename}"): ("see", "api:read", "owner", True),
    ("DELETE", "/api/dist/{owner}/{package}/{version}/{basename}"): ("act", "api:write", "owner", False),
    ("GET", "/api/download/{owner}/{package}/{version}/{basename}"): ("see", "api:read", "owner", True),
    ("GET", "/api/groups/{org}"): ("act", "api:read", "org", False),
    ("GET", "/api/group/{org}/{group}"): ("act", "api:read", "org", False),
    ("POST", "/api/group/{org}/{group}"): ("act", "api:write", "org", False),
    ("DELETE", "/api/group/{org}/{group}"): ("act", "api:write", "org", False),
    ("GET", "/api/group/{org}/{group}/members"): ("act", "api:read", "org", False),
    ("GET", "/api/group/{org}/{group}/members/{login}"): ("act", "api:read", "org", False),
    ("PUT", "/api/group/{org}/{group}/members/{login}"): ("act", "api:write", "org", False),
    ("DELETE", "/api/group/{org}/{group}/members/{login}"): ("act", "api:write", "org", False),
    ("GET", "/api/group/{org}/{group}/packages"): ("act", "api:read", "org", False),
    ("PUT", "/api/group/{org}/{group}/packages/{package}"): ("act", "api:write", "org", False),
    ("DELETE", "/api/group/{org}/{group}/packages/{package}"): ("act", "api:write", "org", False),
    ("GET", "/api/packages/{owner}"): ("see", "api:read", "owner", True),
    ("GET", "/api/package/{owner}/{package}"): ("see", "api:read", "owner", True),
    ("POST", "/api/package/{owner}/{package}"): ("act", "api:write", "owner", False),
    ("PATCH", "/api/package/{owner}/{package}"): ("act", "api:write", "owner", False),
    ("DELETE", "/api/package/{owner}/{package}"): ("act", "api:write", "owner", False),
    ("POST", "/api/package/{owner}/{package}/transfer"): ("act", "api:write", "owner", False),
    ("GET", "/api/packages/{owner}/{package}/collaborators"): ("see", "api:read", "owner", True),
    ("PUT", "/api/packages/{owner}/{package}/collaborators/{login}"): ("act", "api:write", "owner", False),
    ("DELETE", "/api/packages/{owner}/{package}/collaborators/{login}"): ("act", "api:write", "owner", False),
    ("GET", "/api/release/{owner}/{package}/{version}"): ("see", "api:read", "owner", True),
    ("POST", "/api/release/{owner}/{package}/{version}"): ("act", "api:write", "owner", False),
    ("PATCH", "/api/release/{owner}/{package}/{version}"): ("act", "api:write", "owner", False),
    ("DELETE", "/api/release/{owner}/{package}/{version}"): ("act", "api:write", "owner", False),
    # copying reads one namespace and writes another: the gate checks the scope, the view both owners
    ("POST", "/api/copy/package/{owner}/{package}/{version}"): ("act", "api:write", None, False),
    ("PUT", "/api/copy/package/{owner}/{package}/{version}"): ("act", "api:write", None, False),
    ("PATCH", "/api/copy/package/{owner}/{package}/{version}"): ("act", "api:write", None, False),
    ("POST", "/api/copy/package/{owner}/{package}/{version}/{basename}"): ("act", "api:write", None, False),
    ("PUT", "/api/copy/package/{owner}/{package}/{version}/{basename}"): ("act", "api:write", None, False),
    ("PATCH", "/api/copy/package/{owner}/{package}/{version}/{basename}"): ("act", "api:write", None, False),
}
# routes outside the OpenAPI document (conda and PyPI clients), same rules
EXTRA = {
    ("GET", "/conda/{owner}/noarch/repodata.json"): ("see", "conda:download", "owner", True),
    ("GET", "/conda/{owner}/label/hidden/noarch/repodata.json"): ("see", "conda:download", "owner", True),
    ("GET", "/conda/{owner}/channeldata.json"): ("see", "conda:download", "owner", True),
    ("GET", "/conda/{owner}/noarch/{filename}"): ("see", "conda:download", "owner", True),
    ("GET", "/pypi/{owner}/simple/"): ("see", "pypi:download", "owner", True),
    ("GET", "/pypi/{owner}/simple/secretwheel/"): ("see", "pypi:download", "owner", True),
    ("POST", "/pypi/{owner}/"): ("act", "pypi:upload", "owner", False),
}

# every other endpoint: (kind, action, owner argument, credential)
OTHER = {
    "healthz": ("public", None, None, "none"),
    "openapi": ("public", None, None, "none"),
    "upload.receive": ("public", None, None, "none"),          # the signed policy in the form is its proof
    "conda.channel": ("see", "conda:download", "owner", None),  # credential per request: API, or a page's session
    "conda.channel_token_first": ("see", "conda:download", "owner", "api"),
    "pypi.simple": ("see", "pypi:download", "owner", "basic"),
    "pypi.legacy_upload": ("act", "pypi:upload", "owner", "basic"),
    "web.static": ("public", None, None, "none"),
    "web.favicon": ("public", None, None, "none"),
    "web.login": ("self", None, None, "session"),
    "web.logout": ("self", None, None, "session"),
    "web.home": ("see", "api:read", None, "session"),
    "web.search": ("see", "api:read", None, "session"),
    "web.namespace": ("see", "api:read", "owner", "session"),
    "web.labels": ("see", "api:read", "owner", "session"),
    "web.label_page": ("see", "api:read", "owner", "session"),
    "web.members": ("see", "api:read", "owner", "session"),
    "web.package_page": ("see", "api:read", "owner", "session"),
    "web.package_files": ("see", "api:read", "owner", "session"),
    "web.package_history_page": ("see", "api:read", "owner", "session"),
    "web.package_settings": ("act", "api:write", "owner", "session"),
    "web.set_visibility": ("act", "api:write", "owner", "session"),
    "web.change_collaborator": ("act", "api:write", "owner", "session"),
    "web.transfer": ("act", "api:write", "owner", "session"),
    "web.remove_files": ("act", "api:write", "owner", "session"),
    "web.delete_package": ("act", "api:write", "owner", "session"),
    "web.copy_label": ("act", "api:write", "owner", "session"),
    "web.remove_label": ("act", "api:write", "owner", "session"),
    "web.move_files": ("act", "api:write", "owner", "session"),
    "web.delete_group": ("act", "api:write", "owner", "session"),
    "web.tokens": ("account", "api:read", None, "session"),
    "web.create_token": ("account", "api:write", None, "session"),
    "web.revoke_token": ("account", "api:write", None, "session"),
    "web.password_form": ("account", "api:read", None, "session"),
    "web.change_password": ("account", "api:write", None, "session"),
}
# one distinct value per URL argument: an owner extractor reading the wrong argument gives another value
DISTINCT = {"owner": "own-er", "org": "or-g", "group": "gro-up", "package": "pack-age", "version": "1.0",
            "basename": "noarch/pack-age-1.0-0.conda", "filename": "pack-age-1.0-0.conda", "label": "lab-el",
            "from_label": "from-label", "to_label": "to-label", "login": "log-in", "name": "na-me", "token": "tok-en",
            "rest": "own-er/noarch/repodata.json", "filename_static": "web.css"}

# where alice may do everything (her namespace, her organization zeta): a refusal here is the scope's
MINE = {"owner": "alice", "org": "zeta", "group": "devs", "package": "secret", "version": "1.0",
        "basename": "noarch/secret-1.0-0.conda", "filename": "secret-1.0-0.conda", "label": "hidden",
        "from_label": "hidden", "to_label": "promoted", "login": "bob", "name": "keep-me"}
# where alice has no role (bob's): a granted scope reaches the role check, which refuses
THEIRS = dict(MINE, owner="bob", org="bobs", package="bobpkg", basename="noarch/bobpkg-1.0-0.conda",
              filename="bobpkg-1.0-0.conda", label="main", from_label="main", login="carol")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("scopes")
    settings = Settings(data_dir=str(tmp / "data"), public_url="http://wharf.test", login_rate_account=1000)
    e = Embedded(settings)
    for login, pw in PW.items():
        e.auth.create_user(login, pw, email=f"{login}@example.com")
    e.auth.create_org("acme", "alice")
    e.auth.create_org("zeta", "alice")
    e.auth.create_org("bobs", "bob")
    e.auth.create_group("zeta", "devs", "read", "alice")
    e.auth.create_group("bobs", "devs", "read", "bob")
    app = create_app(e.clients, settings)
    c = app.test_client()
    full = e.auth.create_token("alice", PW["alice"], note="setup", scopes=["all"])["token"]
    h = {"Authorization": f"token {full}"}
    _upload(c, h, "alice", make_conda_package(tmp / "s", "secret", "1.0"), "secret", "1.0", ["main", "hidden"])
    assert c.patch("/api/package/alice/secret", headers=h, json={"public": False}).status_code == 200
    wheel = make_wheel(tmp / "w", "secretwheel", "0.1")
    _upload(c, h, "alice", wheel, "secretwheel", "0.1", ["main"], dtype="pypi", basename=wheel.name)
    assert c.patch("/api/package/alice/secretwheel", headers=h, json={"public": False}).status_code == 200
    bob = {"Authorization": f"token {e.auth.create_token('bob', PW['bob'], note='b', scopes=['all'])['token']}"}
    _upload(c, bob, "bob", make_conda_package(tmp / "b", "bobpkg", "1.0"), "bobpkg", "1.0", ["main"])
    e.auth.create_token("alice", PW["alice"], note="keep-me", scopes=["api:read"])
    e.auth.create_token("alice", PW["alice"], note="keep-me", scopes=["all"], org="zeta")
    tokens = {s: e.auth.create_token("alice", PW["alice"], note=f"scope-{s}", scopes=[s])["token"] for s in SCOPES}
    tokens["org:acme"] = e.auth.create_token("alice", PW["alice"], note="org", scopes=["all"], org="acme")["token"]
    _wait_indexed(c, h)
    yield e, app, h, tokens
    e.stop()


def _wait_indexed(c, h, deadline: float = 30.0) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        main = c.get("/conda/alice/noarch/repodata.json", headers=h).get_data(as_text=True)
        hidden = c.get("/conda/alice/label/hidden/noarch/repodata.json", headers=h).get_data(as_text=True)
        simple = c.get("/pypi/alice/simple/", headers=h).get_data(as_text=True)
        if "secret-1.0-0" in main and "secret-1.0-0" in hidden and "secretwheel" in simple:
            return
        time.sleep(0.1)
    raise AssertionError("the channels were not published")


def _operations(app) -> list[tuple[str, str]]:
    doc = app.test_client().get("/api/openapi.json").get_json()
    return sorted((m.upper(), p) for p, ops in doc["paths"].items() for m in ops
                  if m in ("get", "post", "put", "patch", "delete"))


def _url(path: str, params: dict) -> str:
    url = re.sub(r"{(\w+)}", lambda m: params[m.group(1)], path)
    if path == "/api/search":
        url += "?name=secret"
    if path.startswith("/api/copy/package/"):
        url += "/" if not path.endswith("{basename}") else ""
    return url


def _send(app, method: str, path: str, params: dict, token: str | None):
    headers = {"Authorization": f"token {token}"} if token else {}
    body = {"to_owner": "zeta", "perms": "admin", "public": True, "distribution_type": "conda",
            "dist_id": "0" * 32, "from_label": params["label"], "to_label": "promoted"}
    if method == "GET":
        return app.test_client().get(_url(path, params), headers=headers)
    return app.test_client().open(_url(path, params), method=method, headers=headers, json=body)


def _granted(who: str, action: str, owner: str | None, kind: str, params: dict) -> bool:
    if who == "org:acme":
        return kind != "account" and (owner is None or params[owner] == "acme")
    return who in GRANTS[action]


def _state(app, h) -> dict:
    """Everything the refused operations could have changed, as alice's full token sees it."""
    c = app.test_client()
    out = {}
    for url in ("/api/packages/alice", "/api/channels/alice", "/api/groups/zeta", "/api/group/zeta/devs/members",
                "/api/group/zeta/devs/packages", "/api/packages/alice/secret/collaborators",
                "/api/package/alice/secret", "/api/channels/alice/hidden"):
        r = c.get(url, headers=h)
        out[url] = (r.status_code, r.get_json())
    out["tokens"] = sorted((t.get("note") or t.get("name"), t.get("org") or "")
                           for t in c.get("/api/authentications", headers=h).get_json())
    for p in out.values():
        if isinstance(p, tuple) and isinstance(p[1], dict):
            p[1].pop("modified_at", None)
    return out


def test_every_documented_operation_is_in_the_matrix(world):
    _e, app, _h, _t = world
    documented = set(_operations(app))
    assert documented == set(ROUTES), (sorted(documented - set(ROUTES)), sorted(set(ROUTES) - documented))


def test_refused_operations_change_nothing_and_say_why(world):
    """Every act/account operation on alice's own things, with every token whose scopes do not grant it (and the
    acme organization token, outside acme): 403 InsufficientScope, and alice's state is unchanged."""
    _e, app, h, tokens = world
    before = _state(app, h)
    tried = 0
    for (method, path), (kind, action, owner, _s) in {**ROUTES, **EXTRA}.items():
        if kind not in ("act", "account"):
            continue
        for who, token in tokens.items():
            if _granted(who, action, owner, kind, MINE):
                continue
            r = _send(app, method, path, MINE, token)
            tried += 1
            if who == "org:acme" and owner is None and kind == "act":
                # the copy routes: the view refuses the org token on the source owner (alice's private: 404)
                assert r.status_code in (403, 404), (method, path, who, r.status_code)
                continue
            assert r.status_code == 403, (method, path, who, r.status_code, r.get_data(as_text=True)[:300])
            if not path.startswith("/pypi/"):
                assert r.get_json()["code"] == "InsufficientScope", (method, path, who, r.get_json())
    assert tried > 250
    assert _state(app, h) == before


def test_granted_operations_pass_the_scope_check(world):
    """With a granting token, an act/account operation on bob's things is refused for the role (403 Forbidden
    or 404), never for the scope; nothing of bob's changes because alice has no role there."""
    _e, app, _h, tokens = world
    tried = 0
    for (method, path), (kind, action, owner, _s) in {**ROUTES, **EXTRA}.items():
        if kind != "act":
            continue
        for who, token in tokens.items():
            if who == "org:acme" or not _granted(who, action, owner, kind, THEIRS):
                continue
            r = _send(app, method, path, THEIRS, token)
            tried += 1
            body = r.get_json(silent=True) or {}
            assert body.get("code") != "InsufficientScope" and r.status_code != 401, (method, path, who, body)
    assert tried > 100


def test_reads_without_the_scope_are_exactly_anonymous(world):
    """A see-route with a non-granting token is byte-identical to anonymous (status, body, ETag); with a granting
    one the private package shows where anonymous gets nothing."""
    _e, app, _h, tokens = world
    for (method, path), (kind, action, owner, sensitive) in {**ROUTES, **EXTRA}.items():
        if kind != "see":
            continue
        anon = _send(app, method, path, MINE, None)
        for who, token in tokens.items():
            r = _send(app, method, path, MINE, token)
            if _granted(who, action, owner, kind, MINE):
                assert r.status_code == 200, (path, who, r.status_code)
                if sensitive and who != "org:acme":      # the acme token sees acme's private things only
                    assert (r.status_code, r.get_data()) != (anon.status_code, anon.get_data()), (path, who)
            else:
                assert (r.status_code, r.get_data(), r.headers.get("ETag")) == \
                       (anon.status_code, anon.get_data(), anon.headers.get("ETag")), (path, who)


def test_self_operations_take_any_valid_token(world):
    e, app, _h, _tokens = world
    for scope in SCOPES + ["org"]:
        tok = e.auth.create_token("alice", PW["alice"], note=f"self-{scope}", scopes=["all" if scope == "org" else scope],
                                  org="acme" if scope == "org" else None)["token"]
        for method, path in (("GET", "/api/user"), ("GET", "/api/authentication"), ("DELETE", "/api/authentications")):
            r = _send(app, method, path, MINE, tok)
            assert r.status_code in (200, 201), (scope, path, r.status_code)
        assert _send(app, "GET", "/api/user", MINE, tok).status_code == 401      # it revoked itself


def test_the_reported_holes(world):
    """Issue 15 item 1 as reported: a conda:download token made an admin group, added a member, listed and
    revoked tokens; an organization token for acme made a group in another organization."""
    e, app, h, tokens = world
    c = app.test_client()
    dl = {"Authorization": f"token {tokens['conda:download']}"}
    assert c.post("/api/group/zeta/evil", headers=dl, json={"perms": "admin"}).status_code == 403
    assert c.put("/api/group/zeta/devs/members/carol", headers=dl).status_code == 403
    assert c.get("/api/authentications", headers=dl).status_code == 403
    assert c.delete("/api/authentications/name/keep-me", headers=dl).status_code == 403
    assert c.delete("/api/authentications/org/zeta/name/keep-me", headers=dl).status_code == 403
    assert c.get("/api/group/zeta/evil", headers=h).status_code == 404
    assert not e.auth.is_group_member("zeta", "devs", "carol")
    notes = [t.get("note") for t in c.get("/api/authentications", headers=h).get_json()]
    assert notes.count("keep-me") == 2
    acme = {"Authorization": f"token {tokens['org:acme']}"}
    assert c.post("/api/group/zeta/evil", headers=acme, json={"perms": "admin"}).status_code == 403
    assert c.put("/api/group/zeta/devs/members/carol", headers=acme).status_code == 403
    assert c.post("/api/group/acme/builders", headers=acme, json={"perms": "write"}).status_code == 204
    assert c.put("/api/group/acme/builders/members/bob", headers=acme).status_code == 204


def test_a_route_without_a_policy_stops_the_app(world):
    """create_app ends with access.check_declared: a view nobody declared would be a view nothing checks."""
    from flask import Flask

    from services.gateway import access
    _e, app, _h, _t = world
    access.check_declared(app)              # the real app: every route declared
    bare = Flask("t")

    @bare.get("/api/undeclared")
    def undeclared():
        return "reachable by anyone"

    with pytest.raises(RuntimeError, match="undeclared"):
        access.check_declared(bare)


def test_every_route_declares_what_the_table_says(world):
    """The declarations themselves (access.py), route by route, against this file's tables: kind, action, and
    whose namespace the owner extractor reads (with a distinct value per URL argument, an extractor reading the
    wrong argument is caught). Every endpoint of the app is in one of the tables."""
    from services.gateway import access
    _e, app, _h, _t = world
    adapter = app.url_map.bind("wharf.test")
    checked = set()
    for (method, path), (kind, action, owner, _s) in {**ROUTES, **EXTRA}.items():
        url = re.sub(r"{(\w+)}", lambda m: DISTINCT[m.group(1)], path)
        if path.startswith("/api/copy/package/") and not path.endswith("{basename}"):
            url += "/"
        endpoint, args = adapter.match(url, method=method)
        policy = access.policy_of(app, endpoint)
        assert (policy.kind, policy.action) == (kind, action), (method, path, policy)
        assert policy.owner(args) == (DISTINCT[owner] if owner else None), (method, path, args)
        checked.add(endpoint)
    for endpoint, (kind, action, owner, credential) in OTHER.items():
        rule = next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint)
        args = {a: DISTINCT["filename_static"] if a == "filename" and "static" in endpoint else DISTINCT[a]
                for a in rule.arguments}
        policy = access.policy_of(app, endpoint)
        assert (policy.kind, policy.action) == (kind, action), (endpoint, policy)
        assert policy.owner(args) == (DISTINCT[owner] if owner else None), (endpoint, args)
        if credential is not None:
            assert policy.credential == credential, (endpoint, policy.credential)
        checked.add(endpoint)
    assert {r.endpoint for r in app.url_map.iter_rules()} == checked


def test_the_organization_token_acts_inside_its_organization(world):
    """The acme token on acme's own routes: reads and changes go through (here: a group made, listed, a member
    added and removed, the group deleted), where the same token on zeta's is refused."""
    _e, app, _h, tokens = world
    c = app.test_client()
    acme = {"Authorization": f"token {tokens['org:acme']}"}
    assert c.post("/api/group/acme/inside", headers=acme, json={"perms": "read"}).status_code == 204
    assert "inside" in [g["name"] for g in c.get("/api/groups/acme", headers=acme).get_json()]
    assert c.get("/api/group/acme/inside", headers=acme).status_code == 200
    assert c.put("/api/group/acme/inside/members/carol", headers=acme).status_code == 204
    assert c.get("/api/group/acme/inside/members/carol", headers=acme).status_code == 204
    assert c.delete("/api/group/acme/inside/members/carol", headers=acme).status_code == 204
    assert c.delete("/api/group/acme/inside", headers=acme).status_code == 204
    for method, url in (("GET", "/api/groups/zeta"), ("POST", "/api/group/zeta/inside"),
                        ("GET", "/api/authentications"), ("GET", "/api/user/orgs")):
        r = c.open(url, method=method, headers=acme, json={"perms": "read"})
        assert r.status_code == 403 and r.get_json()["code"] == "InsufficientScope", (method, url)
