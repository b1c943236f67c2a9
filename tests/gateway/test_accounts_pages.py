"""Issue 15 items 13 and 18 through the gateway in-process (embedded facades, Flask test client): the API's
password change and group deletion, which organizations of a user a reader sees, the web session cookie (no API
token in it), and the web pages for a password change and deleting a group."""
from __future__ import annotations

import pytest

from services.embedded import Embedded
from services.gateway.app import create_app
from services.kernel.settings import Settings
from tests.gateway.test_web_pages import csrf_of

PW = {"ann": "ann-pw-12345", "bob": "bob-pw-12345", "cy": "cy-pw-123456"}


@pytest.fixture
def system(tmp_path):
    settings = Settings(data_dir=str(tmp_path / "data"), public_url="http://wharf.test")
    e = Embedded(settings, start_threads=False)
    for login, pw in PW.items():
        e.auth.create_user(login, pw, email=f"{login}@example.com")
    e.auth.create_org("annorg", "ann")
    e.auth.create_group("annorg", "devs", "read", "ann")
    e.auth.add_group_member("annorg", "devs", "bob", "ann")
    e.auth.create_org("bobsorg", "bob")
    app = create_app(e.clients, settings)
    yield e, app
    e.stop()


def tok(e, login, scopes=("all",), org=None):
    return {"Authorization": "token " + e.auth.create_token(login, PW[login], note=f"t-{len(e.auth.list_tokens(login))}",
                                                            scopes=list(scopes), org=org)["token"]}


def sign_in(app, login, password=None):
    c = app.test_client()
    page = c.get("/login").get_data(as_text=True)
    r = c.post("/login", data={"login": login, "password": password or PW[login], "csrf_token": csrf_of(page),
                               "next": "/"})
    assert r.status_code == 303, r.get_data(as_text=True)
    return c


def cookie(app, client) -> dict:
    raw = client.get_cookie("wharf_session").value
    return app.session_interface.get_signing_serializer(app).loads(raw)


# ------------------------------------------------------------------------------------------ web session cookie
def test_the_session_cookie_holds_no_api_token(system):
    e, app = system
    c = sign_in(app, "ann")
    data = cookie(app, c)
    assert set(data) >= {"sid", "csrf", "login"} and "token" not in data
    sid = data["sid"]
    assert not sid.startswith("wt-")
    for path in ("/api/user", "/api/packages/ann"):
        assert app.test_client().get(path, headers={"Authorization": f"token {sid}"}).status_code == 401
    assert app.test_client().get(f"/conda/t/{sid}/ann/noarch/repodata.json").status_code == 401
    assert app.test_client().get("/pypi/ann/simple/", auth=("__token__", sid)).status_code == 401
    # the browser itself is signed in, and signing out ends the session on the server: the cookie replayed is
    # anonymous
    assert "Sign out" in c.get("/settings/tokens").get_data(as_text=True)
    replay = app.test_client()
    replay.set_cookie("wharf_session", c.get_cookie("wharf_session").value)
    home = c.get("/").get_data(as_text=True)
    assert c.post("/logout", data={"csrf_token": csrf_of(home)}).status_code == 303
    assert replay.get("/settings/tokens").status_code == 302          # to the sign-in page


# --------------------------------------------------------------------------------------- password change (API)
def test_password_change_through_the_api(system):
    e, app = system
    c = app.test_client()
    h = tok(e, "ann")
    browser = sign_in(app, "ann")
    url = "/api/user/password"
    assert c.post(url, json={"current_password": "x", "new_password": "new-password-1"}).status_code == 401
    r = c.post(url, headers=h, json={"current_password": "wrong-password", "new_password": "new-password-1"})
    assert r.status_code == 401
    r = c.post(url, headers=h, json={"current_password": PW["ann"], "new_password": "short"})
    assert r.status_code == 400 and "10 characters" in r.get_json()["error"]
    assert c.post(url, headers=h, json={"new_password": "new-password-1"}).status_code == 400
    org = tok(e, "ann", org="annorg")
    r = c.post(url, headers=org, json={"current_password": PW["ann"], "new_password": "new-password-1"})
    assert r.status_code == 403 and r.get_json()["code"] == "InsufficientScope"
    readonly = tok(e, "ann", scopes=("api:read",))
    assert c.post(url, headers=readonly, json={"current_password": PW["ann"],
                                               "new_password": "new-password-1"}).status_code == 403
    r = c.post(url, headers=h, json={"current_password": PW["ann"], "new_password": "new-password-1"})
    assert r.status_code == 200 and r.get_json() == {"login": "ann", "sessions_revoked": 1}
    assert c.get("/api/user", headers=h).status_code == 200                 # API tokens stay
    assert browser.get("/settings/tokens").status_code == 302              # the web sign-in ended
    assert c.post("/api/authentications", auth=("ann", PW["ann"]), json={"note": "x"}).status_code == 401
    assert c.post("/api/authentications", auth=("ann", "new-password-1"), json={"note": "x"}).status_code == 200


# ----------------------------------------------------------------------------------------- group deletion (API)
def test_deleting_a_group_through_the_api(system):
    e, app = system
    c = app.test_client()
    ann, bob, cy = tok(e, "ann"), tok(e, "bob"), tok(e, "cy")
    c.post("/api/package/annorg/hidden", headers=ann, json={"public": False})
    assert c.get("/api/package/annorg/hidden", headers=bob).status_code == 200     # through devs (org-wide read)
    assert c.delete("/api/group/annorg/devs", headers=bob).status_code == 403      # a member, not an admin
    assert c.delete("/api/group/annorg/devs", headers=cy).status_code == 403       # an outsider
    assert c.delete("/api/group/annorg/devs").status_code == 401
    assert c.delete("/api/group/annorg/nope", headers=ann).status_code == 404
    assert c.delete("/api/group/ann/devs", headers=ann).status_code == 404         # a user has no groups
    assert c.delete("/api/group/nosuchorg/devs", headers=ann).status_code == 404
    e.auth.create_org("annother", "ann")
    assert c.delete("/api/group/annorg/devs", headers=tok(e, "ann", org="annother")).status_code == 403
    assert c.delete("/api/group/annorg/devs", headers=ann).status_code == 204
    assert c.get("/api/group/annorg/devs", headers=ann).status_code == 404
    assert c.get("/api/package/annorg/hidden", headers=bob).status_code == 404     # the grant is gone at once
    assert [g["name"] for g in c.get("/api/groups/annorg", headers=ann).get_json()] == []


# --------------------------------------------------------------------------------- organizations of a user
def test_users_orgs_shows_group_memberships_only_to_who_may_see_them(system):
    e, app = system
    c = app.test_client()
    names = lambda headers=None: [o["login"] for o in c.get("/api/users/bob/orgs",  # noqa: E731
                                                               headers=headers or {}).get_json()]
    assert names() == ["bobsorg"]                           # anonymous: bob's ownerships only
    assert names(tok(e, "cy")) == ["bobsorg"]               # an outsider of annorg
    assert names(tok(e, "bob")) == ["annorg", "bobsorg"]    # bob himself
    assert names(tok(e, "ann")) == ["annorg", "bobsorg"]    # an admin (owner) of annorg sees her org's member
    assert names(tok(e, "ann", scopes=("conda:download",))) == ["bobsorg"]   # a token without api:read: anonymous
    assert c.get("/api/users/nobody/orgs").status_code == 404


# --------------------------------------------------------------------------------------------- web forms
def test_password_page(system):
    e, app = system
    assert app.test_client().get("/settings/password").status_code == 302
    c = sign_in(app, "cy")
    other = sign_in(app, "cy")
    page = c.get("/settings/password")
    assert page.status_code == 200 and "at least 10 characters" in page.get_data(as_text=True)
    csrf = csrf_of(page.get_data(as_text=True))
    form = {"csrf_token": csrf, "current_password": PW["cy"], "new_password": "cy-new-password",
            "confirm_password": "cy-new-password"}
    assert c.post("/settings/password", data=dict(form, csrf_token="forged")).status_code == 400
    assert c.post("/settings/password", data=dict(form, confirm_password="different")).status_code == 400
    r = c.post("/settings/password", data=dict(form, current_password="not-it"))
    assert r.status_code == 401 and "not right" in r.get_data(as_text=True)
    r = c.post("/settings/password", data=dict(form, new_password="short", confirm_password="short"))
    assert r.status_code == 400 and "10 characters" in r.get_data(as_text=True)
    r = c.post("/settings/password", data=form)
    assert r.status_code == 303
    assert "1 other sign-in(s) ended" in c.get(r.headers["Location"]).get_data(as_text=True)
    assert c.get("/settings/tokens").status_code == 200         # this browser stays signed in
    assert other.get("/settings/tokens").status_code == 302     # the other one was signed out
    sign_in(app, "cy", "cy-new-password")


def test_deleting_a_group_from_the_members_page(system):
    e, app = system
    bob = sign_in(app, "bob")
    page = bob.get("/annorg/-/members").get_data(as_text=True)
    assert "Delete group" not in page                           # members see the groups, not the button
    r = bob.post("/annorg/-/groups/devs/delete", data={"csrf_token": csrf_of(page), "confirm": "devs"})
    assert r.status_code == 403
    ann = sign_in(app, "ann")
    page = ann.get("/annorg/-/members").get_data(as_text=True)
    assert "Delete group" in page and 'aria-label="Delete group devs"' in page
    csrf = csrf_of(page)
    r = ann.post("/annorg/-/groups/devs/delete", data={"csrf_token": csrf, "confirm": "wrong"})
    assert r.status_code == 400 and "to confirm" in r.get_data(as_text=True)
    assert e.auth.is_group_member("annorg", "devs", "bob")
    r = ann.post("/annorg/-/groups/devs/delete", data={"csrf_token": csrf, "confirm": "devs"})
    assert r.status_code == 303 and r.headers["Location"].endswith("/annorg/-/members")
    assert "Group annorg/devs deleted" in ann.get("/annorg/-/members").get_data(as_text=True)
    assert e.auth.list_groups("annorg", "ann") == []
