"""The web UI in-process (embedded facades, Flask test client): sign-in, CSRF, cookie flags, privacy (private
packages 404 exactly as in the API), the forms' permission checks and their error pages. The browser-driven
end-to-end tests are tests/system/test_web_browser.py."""
from __future__ import annotations

import base64
import hashlib
import re
import types

import pytest

from services.embedded import Embedded
from services.gateway.app import create_app
from services.kernel.settings import Settings
from tests.helpers.packages import make_conda_package, make_wheel

PW = {"ann": "ann-pw-12345", "bob": "bob-pw-12345"}


@pytest.fixture(scope="module")
def system(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("web")
    settings = Settings(data_dir=str(tmp / "data"), public_url="http://wharf.test")
    e = Embedded(settings, start_threads=False)
    for login, pw in PW.items():
        e.auth.create_user(login, pw, email=f"{login}@example.com")
    e.auth.create_org("annorg", "ann")
    app = create_app(e.clients, settings)
    app.config["TESTING"] = False
    token = e.auth.create_token("ann", PW["ann"], note="setup", scopes=["all"])["token"]
    api = app.test_client()
    h = {"Authorization": f"token {token}"}
    pkg = make_conda_package(tmp / "p", "webpkg", "1.0")
    _upload(api, h, "ann", pkg, "webpkg", "1.0", ["main", "dev"])
    wheel = make_wheel(tmp / "w", "webwheel", "0.3")
    _upload(api, h, "ann", wheel, "webwheel", "0.3", ["main"], dtype="pypi", basename=wheel.name)
    api.post("/api/package/ann/secretpkg", headers=h, json={"public": False, "public_attrs": {"summary": "hidden"}})
    api.post("/api/package/annorg/orgpkg", headers=h, json={"public": True, "public_attrs": {"summary": "org"}})
    yield e, app
    e.stop()


def _upload(api, h, owner, path, package, version, labels, dtype="conda", basename=None):
    assert api.post(f"/api/package/{owner}/{package}", headers=h,
                    json={"public": True, "public_attrs": {"summary": "a web package", "license": "MIT",
                                                           "home": "https://example.org"}}).status_code == 200
    assert api.post(f"/api/release/{owner}/{package}/{version}", headers=h, json={}).status_code == 200
    data = path.read_bytes()
    basename = basename or f"noarch/{path.name}"
    st = api.post(f"/api/stage/{owner}/{package}/{version}/{basename}", headers=h,
                  json={"distribution_type": dtype, "sha256": hashlib.sha256(data).hexdigest(),
                        "channels": labels}).get_json()
    fields = dict(st["form_data"])
    fields["Content-MD5"] = base64.b64encode(hashlib.md5(data).digest()).decode()
    import io
    fields["file"] = (io.BytesIO(data), path.name)
    assert api.post("/api/_upload", data=fields, content_type="multipart/form-data").status_code == 201
    assert api.post(f"/api/commit/{owner}/{package}/{version}/{basename}", headers=h,
                    json={"dist_id": st["dist_id"]}).status_code == 200


@pytest.fixture(scope="module")
def ann_api(system):
    """One API token of ann's for the tests below (every password check counts against ann's rate limit)."""
    e, _app = system
    return {"Authorization": "token " + e.auth.create_token("ann", PW["ann"], note="tests")["token"]}


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def signed_in(app, login):
    c = app.test_client()
    page = c.get("/login").get_data(as_text=True)
    r = c.post("/login", data={"login": login, "password": PW[login], "csrf_token": csrf_of(page), "next": "/"})
    assert r.status_code == 303, r.get_data(as_text=True)
    return c


def test_pages_answer_html_and_anonymous_sees_only_public(system):
    _e, app = system
    c = app.test_client()
    home = c.get("/")
    assert home.status_code == 200 and "text/html" in home.content_type
    assert "default-src 'none'" in home.headers["Content-Security-Policy"]
    ns = c.get("/ann").get_data(as_text=True)
    assert "webpkg" in ns and "secretpkg" not in ns
    # private: 404 in the UI exactly like the API, on every page of the package
    for path in ("/ann/secretpkg", "/ann/secretpkg/files", "/ann/secretpkg/history", "/ann/secretpkg/settings"):
        r = c.get(path)
        assert r.status_code == 404, path
        assert "text/html" in r.content_type and "Traceback" not in r.get_data(as_text=True)
    assert c.get("/api/package/ann/secretpkg").status_code == 404
    assert "secretpkg" not in c.get("/search?q=pkg").get_data(as_text=True)
    # unknown namespace / invalid names: clean HTML errors
    assert c.get("/nosuchowner").status_code == 404
    bad = c.get("/ann/bad..name")
    assert bad.status_code == 400 and "<html" in bad.get_data(as_text=True)


def test_package_pages(system):
    _e, app = system
    c = app.test_client()
    page = c.get("/ann/webpkg").get_data(as_text=True)
    assert "a web package" in page and "MIT" in page and "https://example.org" in page
    assert "conda install -c http://wharf.test/conda/ann webpkg" in page
    assert "conda install -c http://wharf.test/conda/ann/label/dev webpkg" in page
    assert "http://wharf.test/conda/t/&lt;TOKEN&gt;/ann webpkg" in page
    files = c.get("/ann/webpkg/files").get_data(as_text=True)
    assert "webpkg-1.0-0.conda" in files or "webpkg-1.0" in files
    assert "noarch" in files and "dev" in files
    assert "webpkg-1.0" not in c.get("/ann/webpkg/files?label=nolabel").get_data(as_text=True).split("</form>")[1]
    hist = c.get("/ann/webpkg/history").get_data(as_text=True)
    assert "package created (public)" in hist and "uploaded 1.0/noarch/" in hist and "version 1.0 created" in hist
    wheel = c.get("/ann/webwheel").get_data(as_text=True)
    assert "pip install --index-url http://wharf.test/pypi/ann/simple webwheel" in wheel
    assert "pip install --index-url http://wharf.test/pypi/t/&lt;TOKEN&gt;/ann/simple webwheel" in wheel
    assert "conda install" not in wheel
    assert "Settings" not in c.get("/ann/webpkg").get_data(as_text=True).split("<main")[1].split("</nav>")[0]


def test_sign_in_cookie_flags_and_bad_password(system):
    _e, app = system
    c = app.test_client()
    page = c.get("/login")
    cookie = page.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    bad = c.post("/login", data={"login": "ann", "password": "wrong-password", "csrf_token":
                                 csrf_of(page.get_data(as_text=True))})
    assert bad.status_code == 401 and "Wrong login or password" in bad.get_data(as_text=True)
    c = signed_in(app, "ann")
    ns = c.get("/ann").get_data(as_text=True)
    assert "secretpkg" in ns and "private" in ns
    assert c.get("/ann/secretpkg").status_code == 200
    assert c.get("/ann/secretpkg").headers["Cache-Control"] == "private, no-store"


def test_every_post_needs_the_csrf_token(system):
    _e, app = system
    c = signed_in(app, "ann")
    for path, data in [("/ann/webpkg/settings/visibility", {"public": "0"}), ("/logout", {}),
                       ("/ann/-/labels/copy", {"from_label": "dev", "to_label": "x"}),
                       ("/settings/tokens", {"name": "t", "scopes": "all", "expires": "1", "password": PW["ann"]})]:
        r = c.post(path, data=data)
        assert r.status_code == 400, path
        r = c.post(path, data=dict(data, csrf_token="forged"))
        assert r.status_code == 400, path
    assert c.get("/ann/webpkg").status_code == 200  # still public, still signed in
    assert "Sign out" in c.get("/").get_data(as_text=True)
    # an anonymous POST without a session is refused too
    assert app.test_client().post("/login", data={"login": "ann", "password": PW["ann"]}).status_code == 400


def test_forms_check_permissions(system):
    _e, app = system
    bob = signed_in(app, "bob")
    csrf = csrf_of(bob.get("/").get_data(as_text=True))
    # bob can see ann's public package but not change it: 403 page; the private one stays a 404
    assert bob.get("/ann/webpkg/settings").status_code == 403
    assert bob.post("/ann/webpkg/settings/visibility", data={"public": "0", "csrf_token": csrf}).status_code == 403
    assert bob.post("/ann/secretpkg/settings/delete", data={"confirm": "secretpkg", "csrf_token": csrf}
                    ).status_code == 404
    assert bob.post("/ann/-/labels/copy", data={"from_label": "dev", "to_label": "x", "csrf_token": csrf}
                    ).status_code == 403
    assert bob.get("/annorg/-/members").status_code == 403
    # deleting needs the typed confirmation
    ann = signed_in(app, "ann")
    csrf = csrf_of(ann.get("/").get_data(as_text=True))
    r = ann.post("/ann/secretpkg/settings/delete", data={"confirm": "nope", "csrf_token": csrf})
    assert r.status_code == 400 and "type the package name" in r.get_data(as_text=True)
    assert ann.get("/ann/secretpkg").status_code == 200


def test_tokens_page_create_use_revoke(system):
    _e, app = system
    ann = signed_in(app, "ann")
    page = ann.get("/settings/tokens").get_data(as_text=True)
    assert "this browser" in page
    csrf = csrf_of(page)
    r = ann.post("/settings/tokens", data={"name": "ci", "scopes": ["conda:download"], "expires": "7",
                                            "password": "wrong-password", "csrf_token": csrf})
    assert r.status_code == 401
    r = ann.post("/settings/tokens", data={"name": "ci", "scopes": ["conda:download"], "expires": "7",
                                            "password": PW["ann"], "csrf_token": csrf})
    assert r.status_code == 200 and "no-store" in r.headers["Cache-Control"]
    token = re.search(r'id="new-token"[^>]*value="(wt-[0-9a-f]+)"', r.get_data(as_text=True)).group(1)
    anon = app.test_client()
    assert anon.get("/api/packages/ann", headers={"Authorization": f"token {token}"}).status_code == 200
    listing = ann.get("/settings/tokens").get_data(as_text=True)
    assert ">ci" in listing and token not in listing
    r = ann.post("/settings/tokens/revoke", data={"name": "ci", "csrf_token": csrf})
    assert r.status_code == 303
    assert anon.get("/api/packages/ann", headers={"Authorization": f"token {token}"}).status_code == 401


def _sessions(e):
    return {t["id"] for t in e.auth.list_tokens("ann") if t["note"].startswith("web-session-")}


def test_sign_out_revokes_the_session_token(system):
    e, app = system
    before = _sessions(e)
    ann = signed_in(app, "ann")
    mine = _sessions(e) - before
    assert len(mine) == 1
    token_cookie = ann.get_cookie("wharf_session")
    assert token_cookie is not None
    csrf = csrf_of(ann.get("/").get_data(as_text=True))
    assert ann.post("/logout", data={"csrf_token": csrf}).status_code == 303
    assert "Sign in" in ann.get("/").get_data(as_text=True)
    assert not mine & _sessions(e)  # the session's server-side token is revoked
    # replaying the old cookie gives an anonymous browser, not ann
    replay = app.test_client()
    replay.set_cookie("wharf_session", token_cookie.value)
    assert "secretpkg" not in replay.get("/ann").get_data(as_text=True)


def test_settings_actions(system):
    e, app = system
    ann = signed_in(app, "ann")
    csrf = csrf_of(ann.get("/").get_data(as_text=True))
    r = ann.post("/ann/secretpkg/settings/collaborators", data={"action": "add", "login": "bob", "csrf_token": csrf})
    assert r.status_code == 303
    bob = signed_in(app, "bob")
    assert bob.get("/ann/secretpkg").status_code == 200  # a collaborator sees the private package
    assert "secretpkg" in bob.get("/ann").get_data(as_text=True)
    assert ann.post("/ann/secretpkg/settings/collaborators",
                    data={"action": "remove", "login": "bob", "csrf_token": csrf}).status_code == 303
    assert bob.get("/ann/secretpkg").status_code == 404
    # transfer to an organization ann administers
    settings_page = ann.get("/ann/secretpkg/settings").get_data(as_text=True)
    assert '<option value="annorg">' in settings_page
    r = ann.post("/ann/secretpkg/settings/transfer", data={"to_owner": "annorg", "csrf_token": csrf})
    assert r.status_code == 303 and r.headers["Location"].endswith("/annorg/secretpkg")
    assert ann.get("/annorg/secretpkg").status_code == 200 and ann.get("/ann/secretpkg").status_code == 404
    r = ann.post("/annorg/secretpkg/settings/transfer", data={"to_owner": "bob", "csrf_token": csrf})
    assert r.status_code == 403  # ann does not administer bob
    # delete it (typed confirmation)
    assert ann.post("/annorg/secretpkg/settings/delete",
                    data={"confirm": "secretpkg", "csrf_token": csrf}).status_code == 303
    assert ann.get("/annorg/secretpkg").status_code == 404


def test_download_counts(system):
    e, app = system
    c = app.test_client()
    f = e.registry.get_package("ann", "webpkg", True)["files"][0]
    url = f"/api/download/ann/webpkg/{f['version']}/{f['basename']}"
    before = f["ndownloads"]
    assert c.get(url).status_code == 200
    assert c.get(url, headers={"Range": "bytes=0-99"}).status_code in (200, 206)  # from the start
    assert c.head(url).status_code == 200                                    # not a download
    assert c.get(url, headers={"Range": "bytes=100-"}).status_code in (200, 206)  # resumed: not again
    assert c.get(url, headers={"If-None-Match": f'"{f["sha256"]}"'}).status_code == 304
    after = e.registry.get_package("ann", "webpkg", True)["files"][0]["ndownloads"]
    assert after == before + 2
    assert e.registry.get_file("ann", "webpkg", f["version"], f["basename"])["ndownloads"] == after
    files = c.get("/ann/webpkg/files").get_data(as_text=True)
    assert re.search(rf'<td class="num" data-label="Downloads">{after}</td></tr>', files)
    # replaying the log keeps the counters (they are not a projection of it)
    e.registry.rebuild_projections()
    assert e.registry.get_package("ann", "webpkg", True)["files"][0]["ndownloads"] == after


def test_anonymous_is_sent_to_sign_in_and_back(system):
    _e, app = system
    c = app.test_client()
    r = c.get("/settings/tokens")
    assert r.status_code == 302 and "/login?next=" in r.headers["Location"]
    page = c.get(r.headers["Location"]).get_data(as_text=True)
    assert 'name="next" value="/settings/tokens"' in page
    r = c.post("/login", data={"login": "ann", "password": PW["ann"], "csrf_token": csrf_of(page),
                               "next": "/settings/tokens"})
    assert r.status_code == 303 and r.headers["Location"].endswith("/settings/tokens")
    # never an open redirect
    page = c.get("/login").get_data(as_text=True)
    r = c.post("/login", data={"login": "ann", "password": PW["ann"], "csrf_token": csrf_of(page),
                               "next": "//evil.example/x"})
    assert r.headers["Location"] in ("/", "http://localhost/")


def test_label_forms(system):
    e, app = system
    bob = signed_in(app, "bob")
    csrf = csrf_of(bob.get("/").get_data(as_text=True))
    f = e.registry.get_package("ann", "webpkg", True)["files"][0]
    sel = f"webpkg|{f['version']}|{f['basename']}"
    assert bob.post("/ann/-/labels/dev/move", data={"file": sel, "to_label": "x", "csrf_token": csrf}
                    ).status_code == 403
    ann = signed_in(app, "ann")
    csrf = csrf_of(ann.get("/").get_data(as_text=True))
    assert ann.post("/ann/-/labels/dev/move", data={"to_label": "x", "csrf_token": csrf}).status_code == 400
    assert ann.post("/ann/-/labels/dev/move", data={"file": "a|b", "to_label": "x", "csrf_token": csrf}
                    ).status_code == 400
    r = ann.post("/ann/-/labels/dev/move", data={"file": sel, "to_label": "beta", "csrf_token": csrf})
    assert r.status_code == 303
    assert sorted(e.registry.get_file("ann", "webpkg", f["version"], f["basename"])["labels"]) == ["beta", "main"]
    assert ann.post("/ann/-/labels/copy", data={"from_label": "beta", "to_label": "gamma", "csrf_token": csrf}
                    ).status_code == 303
    assert "gamma" in e.registry.get_file("ann", "webpkg", f["version"], f["basename"])["labels"]
    assert ann.post("/ann/-/labels/remove", data={"label": "gamma", "csrf_token": csrf}).status_code == 303
    assert ann.post("/ann/-/labels/copy", data={"from_label": "nolabel", "to_label": "x", "csrf_token": csrf}
                    ).status_code == 404
    labels = ann.get("/ann/-/labels").get_data(as_text=True)
    assert "beta" in labels and "gamma" not in labels


def test_org_members_page(system):
    e, app = system
    e.auth.create_group("annorg", "readers", "read", "ann")
    e.auth.add_group_member("annorg", "readers", "bob", "ann")
    page = signed_in(app, "bob").get("/annorg/-/members").get_data(as_text=True)
    assert "readers" in page and ">read<" in page and "bob" in page and "ann" in page and "admin" in page


def test_stylesheet_is_cached_and_needs_no_session(system):
    _e, app = system
    ann = signed_in(app, "ann")
    r = ann.get("/static/web/web.css")
    assert r.status_code == 200 and "text/css" in r.content_type
    assert "max-age=3600" in r.headers["Cache-Control"] and "no-store" not in r.headers["Cache-Control"]


def test_auth_answers_are_remembered_for_one_page_request_only(system):
    """Several helpers of one page ask the auth service the same question (an RPC each in the distributed
    mode): the web UI asks once per request, and asks again on the next request."""
    _e, app = system
    base = app.extensions["wharf.clients"]
    calls = []

    class Counting:
        def __getattr__(self, name):
            fn = getattr(base.auth, name)

            def call(*args, **kwargs):
                calls.append(name)
                return fn(*args, **kwargs)
            return call

    app.extensions["wharf.clients"] = types.SimpleNamespace(**{**vars(base), "auth": Counting()})
    try:
        anon = app.test_client()
        assert anon.get("/ann").status_code == 200
        assert calls.count("access") == 1 and calls.count("get_user") == 1
        assert anon.get("/ann").status_code == 200
        assert calls.count("access") == 2 and calls.count("get_user") == 2
        page = anon.get("/ann").get_data(as_text=True)
        assert "secretpkg" not in page and "webpkg" in page
    finally:
        app.extensions["wharf.clients"] = base


def test_label_main_is_never_removed_as_a_whole(system, ann_api):
    """Issue 15 item 14: `anaconda label --remove main` (DELETE with a null filter) and the web UI's Remove button
    emptied the default channel in one step. The API answers 409 with the reason; the labels page offers no
    Remove for main and its form refuses too; taking main off chosen files stays allowed; someone who may not
    change the namespace still gets 403 first."""
    e, app = system
    api = app.test_client()
    ann = ann_api
    bob = {"Authorization": "token " + e.auth.create_token("bob", PW["bob"], note="main-guard")["token"]}
    null = {"package": None, "version": None, "basename": None}      # what `anaconda label --remove` sends
    before = e.registry.list_labels("ann", True)["main"]["num_files"]
    for body in (null, None):
        r = api.delete("/api/channels/ann/main", headers=ann, json=body)
        assert r.status_code == 409, r.get_data(as_text=True)
        assert "label main is the default channel and cannot be removed" in r.get_json()["error"]
    assert api.delete("/api/channels/ann/main", headers=bob, json=null).status_code == 403
    assert e.registry.list_labels("ann", True)["main"]["num_files"] == before
    # the web UI: no Remove button for main, and a forged form is refused with the same reason
    c = signed_in(app, "ann")
    page = c.get("/ann/-/labels").get_data(as_text=True)
    assert 'aria-label="Remove label main"' not in page and "default channel" in page
    r = c.post("/ann/-/labels/remove", data={"label": "main", "csrf_token": csrf_of(page)})
    assert r.status_code == 409 and "default channel" in r.get_data(as_text=True)
    assert e.registry.list_labels("ann", True)["main"]["num_files"] == before
    # main taken off one package's files, then given back: allowed
    assert api.delete("/api/channels/ann/main", headers=ann, json=dict(null, package="webwheel")).status_code == 201
    assert e.registry.list_labels("ann", True)["main"]["num_files"] == before - 1
    assert api.post("/api/channels/ann/main", headers=ann, json=dict(null, package="webwheel")).status_code == 201
    assert e.registry.list_labels("ann", True)["main"]["num_files"] == before


def test_token_created_without_scopes_is_listed_as_all(system):
    """Issue 15 item 16: `anaconda auth --create` without --scopes sends [] and got a full-access token listed
    with no scopes (an empty cell on the token page); it is stored and listed as `all`."""
    _e, app = system
    api = app.test_client()
    basic = {"Authorization": "Basic " + base64.b64encode(f"ann:{PW['ann']}".encode()).decode()}
    created = api.post("/api/authentications", headers=basic, json={"note": "cli-no-scopes", "scopes": []})
    assert created.status_code == 200 and created.get_json()["scopes"] == ["all"]
    h = {"Authorization": f"token {created.get_json()['token']}"}
    [listed] = [t for t in api.get("/api/authentications", headers=h).get_json() if t["note"] == "cli-no-scopes"]
    assert listed["scopes"] == ["all"]
    page = signed_in(app, "ann").get("/settings/tokens").get_data(as_text=True)
    row = re.search(r"<tr><td[^>]*>cli-no-scopes</td>\s*<td[^>]*>([^<]*)</td>", page)
    assert row and row.group(1) == "all", page


def test_install_commands_name_only_the_labels_the_package_is_in(system, ann_api, tmp_path):
    """Issue 15 item 15: a package only in `dev` was shown `conda install -c .../conda/<owner> pkg`, which fails;
    every form (plain, token) names only the channels its files are in, for conda and for PyPI."""
    e, app = system
    api = app.test_client()
    h = ann_api
    _upload(api, h, "ann", make_conda_package(tmp_path / "c", "devonly", "1.0"), "devonly", "1.0", ["dev"])
    wheel = make_wheel(tmp_path / "w", "betawheel", "0.1")
    _upload(api, h, "ann", wheel, "betawheel", "0.1", ["beta"], dtype="pypi", basename=wheel.name)
    page = app.test_client().get("/ann/devonly").get_data(as_text=True)
    assert "conda install -c http://wharf.test/conda/ann/label/dev devonly" in page
    assert "conda install -c http://wharf.test/conda/t/&lt;TOKEN&gt;/ann/label/dev devonly" in page
    assert "/conda/ann devonly" not in page and "/conda/t/&lt;TOKEN&gt;/ann devonly" not in page
    assert "pip install" not in page
    page = app.test_client().get("/ann/betawheel").get_data(as_text=True)
    assert "pip install --index-url http://wharf.test/pypi/ann/label/beta/simple betawheel" in page
    assert "pip install --index-url http://wharf.test/pypi/t/&lt;TOKEN&gt;/ann/label/beta/simple betawheel" in page
    assert "/pypi/ann/simple betawheel" not in page and "/pypi/t/&lt;TOKEN&gt;/ann/simple betawheel" not in page
    assert "conda install" not in page
    # the commands are right: the label's channel lists the file, the plain channel does not
    e.registry.relay_pending()
    assert e.bus.drain(30)
    e.indexer.publish_pending()
    c = app.test_client()
    assert any(k.startswith("devonly-1.0") for k in
               c.get("/conda/ann/label/dev/noarch/repodata.json").get_json()["packages.conda"])
    assert not any(k.startswith("devonly-") for k in c.get("/conda/ann/noarch/repodata.json").get_json()["packages.conda"])
    assert "betawheel" in c.get("/pypi/ann/label/beta/simple/").get_data(as_text=True)
    assert "betawheel" not in c.get("/pypi/ann/simple/").get_data(as_text=True)


class _Markup(__import__("html.parser").parser.HTMLParser):
    """Every tag and attribute of a page, as a browser would parse them."""

    def __init__(self, page: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, {k: v or "" for k, v in attrs}))


def _inert(page: str) -> None:
    """No script element, no event handler attribute, no javascript:/data:/vbscript: URL anywhere."""
    for tag, attrs in _Markup(page).tags:
        assert tag not in ("script", "iframe", "object", "embed", "form") or tag == "form" and \
            attrs.get("action", "").startswith("/"), (tag, attrs)
        for name, value in attrs.items():
            assert not name.startswith("on"), (tag, attrs)
            if name in ("href", "src", "action", "formaction", "xlink:href", "srcset"):
                assert not re.match(r"\s*(javascript|data|vbscript):", value, re.I), (tag, attrs)


HOSTILE = """# Hostile

<script>alert("md-script")</script>
<img src="x" onerror="alert('md-onerror')">
<a href="javascript:alert('md-a')">a link</a> and [another](javascript:alert('md-link'))
<iframe src="https://evil.example/"></iframe><div onclick="alert('md-click')">click</div>
<form action="https://evil.example/"><button formaction="javascript:alert(1)">go</button></form>
"""


def _release_with(api, h, package: str, description: str, content_type: str | None):
    assert api.post(f"/api/package/ann/{package}", headers=h, json={"public": True}).status_code == 200
    attrs = {"description": description}
    if content_type:
        attrs["description_content_type"] = content_type
    assert api.post(f"/api/release/ann/{package}/1.0", headers=h, json=attrs).status_code == 200


def test_descriptions_render_markdown_and_rst_safely(system, ann_api):
    """Issue 15 item 19 (rendering): a release's description is rendered by its Description-Content-Type with
    readme_renderer (Markdown: GFM/CommonMark; reStructuredText), sanitised; plain text stays escaped; hostile
    descriptions (script elements, javascript: links, onerror=) render inert; the page's CSP stays strict."""
    e, app = system
    api = app.test_client()
    h = ann_api
    c = app.test_client()

    _release_with(api, h, "mddesc", "# Usage\n\nSome **bold** text and [a link](https://example.org/docs).\n\n"
                  "| a | b |\n|---|---|\n| 1 | 2 |\n\n```python\nprint('hi')\n```\n",
                  "text/markdown; charset=UTF-8; variant=GFM")
    r = c.get("/ann/mddesc")
    page = r.get_data(as_text=True)
    assert "<strong>bold</strong>" in page and "<table>" in page and "<td>1</td>" in page
    assert re.search(r'<a href="https://example.org/docs"[^>]*>a link</a>', page)
    assert "**bold**" not in page
    csp = r.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp and "unsafe" not in csp

    _release_with(api, h, "rstdesc", "Usage\n=====\n\nSome *emphasis* and ``code``.\n\n"
                  "* one\n* two\n\n`docs <https://example.org/docs>`_\n", "text/x-rst")
    page = c.get("/ann/rstdesc").get_data(as_text=True)
    assert "<em>emphasis</em>" in page and "<li><p>one</p></li>" in page and 'href="https://example.org/docs"' in page

    _release_with(api, h, "txtdesc", "<b>not bold</b>\n*not emphasis*", "text/plain")
    page = c.get("/ann/txtdesc").get_data(as_text=True)
    assert "&lt;b&gt;not bold&lt;/b&gt;" in page and "<b>not bold</b>" not in page

    for name, ctype in (("hostmd", "text/markdown"), ("hostcm", "text/markdown; variant=CommonMark")):
        _release_with(api, h, name, HOSTILE, ctype)
        r = c.get(f"/ann/{name}")
        assert r.status_code == 200
        page = r.get_data(as_text=True)
        _inert(page)
        assert "a link</a>" in page and re.search(r"<h1[^>]*>Hostile", page)   # rendered, not dropped wholesale
        assert r.headers["Content-Security-Policy"] == csp

    rst_hostile = ("Hostile\n=======\n\n`click <javascript:alert('rst-link')>`_\n\n"
                   ".. image:: javascript:alert('rst-img')\n\n.. raw:: html\n\n   <script>alert('rst-raw')</script>\n")
    _release_with(api, h, "hostrst", rst_hostile, "text/x-rst")
    page = c.get("/ann/hostrst").get_data(as_text=True)
    _inert(page)                      # raw HTML is refused: shown as plain, escaped text
    assert "&lt;script&gt;" in page
    _release_with(api, h, "hostrst2", "Hostile\n=======\n\n`click <javascript:alert('rst-link')>`_\n",
                  "text/x-rst")
    page = c.get("/ann/hostrst2").get_data(as_text=True)
    _inert(page)
    assert "click" in page

    _release_with(api, h, "hosttxt", HOSTILE, None)     # no content type, not a PyPI upload: plain text
    page = c.get("/ann/hosttxt").get_data(as_text=True)
    _inert(page)
    assert "&lt;script&gt;alert(&#34;md-script&#34;)&lt;/script&gt;" in page or "&lt;script&gt;" in page


@pytest.fixture(scope="module")
def private_world(system, tmp_path_factory):
    """cy: a public package in main, a private one in main and in a label of its own (hush); zq: only a private
    package. For the pages that list across packages (home, channel page): private stays private."""
    e, app = system
    tmp = tmp_path_factory.mktemp("private-world")
    api = app.test_client()
    for login in ("cy", "zq"):
        e.auth.create_user(login, PW["ann"], email=f"{login}@example.com")
    for owner, package, labels, public in (("cy", "cypublic", ["main"], True), ("cy", "cysecret", ["main", "hush"], False),
                                           ("zq", "zqhidden", ["main"], False)):
        h = {"Authorization": "token " + e.auth.create_token(owner, PW["ann"], note=f"pw-{package}")["token"]}
        _upload(api, h, owner, make_conda_package(tmp / package, package, "1.0"), package, "1.0", labels)
        if not public:
            assert api.patch(f"/api/package/{owner}/{package}", headers=h, json={"public": False}).status_code == 200
    return e, app


def _signed_in_as(app, login, password):
    c = app.test_client()
    page = c.get("/login").get_data(as_text=True)
    r = c.post("/login", data={"login": login, "password": password, "csrf_token": csrf_of(page), "next": "/"})
    assert r.status_code == 303
    return c


def test_home_lists_recent_packages_and_namespaces_but_nothing_private(private_world):
    """Issue 15 item 20: the home page shows recently updated packages and namespaces; a private package (and a
    namespace holding only private ones) appears only for a reader who may see it."""
    _e, app = private_world
    anon = app.test_client().get("/").get_data(as_text=True)
    assert "Recently updated packages" in anon and 'href="/cy/cypublic"' in anon and 'href="/cy"' in anon
    assert "cysecret" not in anon and "zq" not in anon
    bob = signed_in(app, "bob").get("/").get_data(as_text=True)
    assert 'href="/cy/cypublic"' in bob and "cysecret" not in bob and "zq" not in bob
    cy = _signed_in_as(app, "cy", PW["ann"]).get("/").get_data(as_text=True)
    assert 'href="/cy/cysecret"' in cy and "zqhidden" not in cy
    zq = _signed_in_as(app, "zq", PW["ann"]).get("/").get_data(as_text=True)
    assert 'href="/zq/zqhidden"' in zq and "cysecret" not in zq


BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"}


def test_channel_url_in_a_browser_explains_the_channel(private_world):
    """Issue 15 item 20: /conda/<owner> opened in a browser was a JSON 404; a browser (Accept: text/html) asking
    for the bare channel URL gets a page with the conda/mamba/pixi commands, labels, the packages it may install
    and (signed in) the token form; nothing private for a reader who may not see it."""
    _e, app = private_world
    anon = app.test_client()
    r = anon.get("/conda/cy", headers=BROWSER)
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and r.content_type.startswith("text/html")
    assert "default-src 'none'" in r.headers["Content-Security-Policy"]
    assert {"Accept", "Cookie"} <= set(r.vary)
    assert "conda install -c http://wharf.test/conda/cy cypublic" in page
    assert "mamba install -c http://wharf.test/conda/cy" in page and "pixi workspace channel add http://wharf.test/conda/cy" in page
    assert "cysecret" not in page and "hush" not in page and "&lt;TOKEN&gt;" not in page and "Sign in" in page
    assert "conda install -c http://wharf.test/conda/cy cypublic" in anon.get("/conda/cy/", headers=BROWSER).get_data(
        as_text=True)
    # a label only a private package carries looks exactly like one that does not exist
    hush, missing = (anon.get(f"/conda/cy/label/{lb}", headers=BROWSER) for lb in ("hush", "nosuchlabel"))
    assert hush.status_code == missing.status_code == 200
    assert hush.get_data(as_text=True).replace("hush", "X") == missing.get_data(as_text=True).replace("nosuchlabel", "X")
    assert "cysecret" not in hush.get_data(as_text=True)
    assert "zqhidden" not in anon.get("/conda/zq", headers=BROWSER).get_data(as_text=True)
    bob = signed_in(app, "bob")
    page = bob.get("/conda/cy", headers=BROWSER).get_data(as_text=True)
    assert "cysecret" not in page and "hush" not in page
    assert "conda install -c http://wharf.test/conda/t/&lt;TOKEN&gt;/cy cypublic" in page
    cy = _signed_in_as(app, "cy", PW["ann"])
    page = cy.get("/conda/cy", headers=BROWSER).get_data(as_text=True)
    assert 'href="/cy/cysecret"' in page and 'href="/conda/cy/label/hush"' in page
    page = cy.get("/conda/cy/label/hush", headers=BROWSER).get_data(as_text=True)
    assert "conda install -c http://wharf.test/conda/cy/label/hush cysecret" in page
    assert "conda install -c http://wharf.test/conda/t/&lt;TOKEN&gt;/cy/label/hush cysecret" in page
    r = anon.get("/conda/nosuchowner", headers=BROWSER)
    assert r.status_code == 404 and "<html" in r.get_data(as_text=True)


def test_conda_clients_get_what_they_got_before_at_every_channel_url(private_world):
    """The channel page is only for a browser asking for the bare channel URL: conda, mamba and rattler (Accept
    */* or none) get the channel's answers, and a browser asking for a file gets the file."""
    e, app = private_world
    e.registry.relay_pending()
    assert e.bus.drain(30)
    e.indexer.publish_pending()
    c = app.test_client()
    before = {"/conda/cy": 404, "/conda/cy/": 404, "/conda/cy/label/hush": 400, "/conda/cy/noarch": 404}
    for accept in ({}, {"Accept": "*/*"}, {"Accept": "application/json"}, {"Accept": "application/json, text/html"}):
        for path, status in before.items():                          # the answers of the code before the page
            r = c.get(path, headers=accept)
            assert r.status_code == status and r.is_json and "error" in r.get_json(), (path, accept)
        r = c.get("/conda/cy", headers=dict(accept, Authorization="token wt-invalid"))
        assert r.status_code == 401 and r.is_json
    for headers in ({}, BROWSER):
        r = c.get("/conda/cy/noarch/repodata.json", headers=headers)
        assert r.status_code == 200 and r.is_json and "cypublic-1.0-0.conda" in str(r.get_json())
        assert "cysecret" not in r.get_data(as_text=True)
        r = c.get("/conda/cy/noarch/repodata.json.zst", headers=headers)
        assert r.status_code == 200 and r.content_type == "application/zstd"
        assert c.get("/conda/cy/channeldata.json", headers=headers).is_json
    name = next(k for k in c.get("/conda/cy/noarch/repodata.json").get_json()["packages.conda"])
    r = c.get(f"/conda/cy/noarch/{name}", headers=BROWSER)
    assert r.status_code == 200 and r.data[:2] == b"PK"
    tok = e.auth.create_token("cy", PW["ann"], note="pw-conda", scopes=["conda:download"])["token"]
    for headers in ({}, BROWSER):
        r = c.get(f"/conda/t/{tok}/cy", headers=headers)            # token URLs are never the page
        assert r.status_code == 404 and r.is_json
        assert "cysecret" in c.get(f"/conda/t/{tok}/cy/noarch/repodata.json", headers=headers).get_data(as_text=True)


def test_favicon_is_served_and_cacheable(system):
    _e, app = system
    for c in (app.test_client(), signed_in(app, "bob")):
        r = c.get("/favicon.ico")
        assert r.status_code == 200 and r.content_type == "image/vnd.microsoft.icon"
        assert r.data[:4] == b"\x00\x00\x01\x00" and 0 < len(r.data) < 10_000
        assert "max-age=604800" in r.headers["Cache-Control"] and "no-store" not in r.headers["Cache-Control"]
    assert "Set-Cookie" not in app.test_client().get("/favicon.ico").headers
    svg = app.test_client().get("/static/web/favicon.svg")
    assert svg.status_code == 200 and svg.content_type.startswith("image/svg+xml") and b"<svg" in svg.data
    page = app.test_client().get("/").get_data(as_text=True)
    assert 'rel="icon" href="/favicon.ico"' in page and 'href="/static/web/favicon.svg" type="image/svg+xml"' in page
