"""Existence oracles (issue 15 item 8): whoever may not see a thing gets byte-identical answers (status, body,
ETag) whether it exists or not. Each test compares the answer about a private thing with the answer about a
thing that never existed (or, for a partial reader, before and after an invisible change).

In-process (embedded services, Flask test client): these are gateway and registry rules, the same code in
both modes; tests/system/test_private_leaks.py checks the named and listing paths against both modes."""
from __future__ import annotations

import base64
import io
import time

import pytest

from services.embedded import Embedded
from services.gateway.app import create_app
from services.kernel.settings import Settings
from tests.gateway.test_web_pages import _upload
from tests.helpers.packages import make_conda_package, make_wheel

PW = {"pia": "pia-pw-12345", "eve": "eve-pw-12345", "col": "col-pw-12345"}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("oracles")
    settings = Settings(data_dir=str(tmp / "data"), public_url="http://wharf.test", login_rate_account=1000)
    e = Embedded(settings)
    for login, pw in PW.items():
        e.auth.create_user(login, pw, email=f"{login}@example.com")
    e.auth.create_org("piaorg", "pia")
    e.auth.create_group("piaorg", "team", "read", "pia")
    app = create_app(e.clients, settings)
    c = app.test_client()
    tok = {u: e.auth.create_token(u, pw, note="t", scopes=["all"])["token"] for u, pw in PW.items()}
    h = {"Authorization": f"token {tok['pia']}"}
    _upload(c, h, "pia", make_conda_package(tmp / "o", "openpkg", "1.0"), "openpkg", "1.0", ["main"])
    for name in ("leaky", "other"):
        _upload(c, h, "pia", make_conda_package(tmp / name, name, "1.0"), name, "1.0",
                ["main", "hush"] if name == "leaky" else ["main"])
        assert c.patch(f"/api/package/pia/{name}", headers=h, json={"public": False}).status_code == 200
    assert c.put("/api/packages/pia/leaky/collaborators/col", headers=h).status_code == 201
    assert c.post("/api/package/piaorg/orgsecret", headers=h, json={"public": False}).status_code == 200
    assert c.post("/api/package/piaorg/orgpublic", headers=h, json={"public": True}).status_code == 200
    e.auth.add_group_package("piaorg", "team", "orgsecret", "pia")
    e.auth.create_group("piaorg", "viewers", "read", "pia")
    e.auth.add_group_package("piaorg", "viewers", "orgpublic", "pia")
    e.auth.add_group_member("piaorg", "viewers", "eve", "pia")      # eve: read on orgpublic only
    wheel = make_wheel(tmp / "hw", "hushwheel", "0.1")
    _upload(c, h, "pia", wheel, "hushwheel", "0.1", ["pyhush"], dtype="pypi", basename=wheel.name)
    assert c.patch("/api/package/pia/hushwheel", headers=h, json={"public": False}).status_code == 200
    _upload(c, h, "pia", make_conda_package(tmp / "ol", "otherlinux", "1.0", subdir="linux-64"), "otherlinux", "1.0",
            ["main", "otherlabel"], basename="linux-64/otherlinux-1.0-0.conda")
    assert c.patch("/api/package/pia/otherlinux", headers=h, json={"public": False}).status_code == 200
    assert c.post("/api/package/pia/Secret_Proj", headers=h, json={"public": False}).status_code == 200
    _wait(lambda: "other-1.0-0" in c.get("/conda/pia/noarch/repodata.json", headers=h).get_data(as_text=True)
          and "leaky-1.0-0" in c.get("/conda/pia/label/hush/noarch/repodata.json", headers=h).get_data(as_text=True)
          and "otherlinux" in c.get("/conda/pia/label/otherlabel/linux-64/repodata.json",
                                    headers=h).get_data(as_text=True)
          and "hushwheel" in c.get("/pypi/pia/label/pyhush/simple/", headers=h).get_data(as_text=True))
    yield e, app, tok, tmp
    e.stop()


def _wait(cond, deadline: float = 30.0) -> None:
    end = time.monotonic() + deadline
    while not cond():
        assert time.monotonic() < end, "not published in time"
        time.sleep(0.1)


def _h(tok: str | None) -> dict:
    return {"Authorization": f"token {tok}"} if tok else {}


def _same(a, b, replace: tuple[str, str] | None = None) -> None:
    body_a, body_b = a.get_data(), b.get_data()
    if replace:
        body_a = body_a.replace(replace[0].encode(), replace[1].encode())
    assert (a.status_code, body_a, a.headers.get("ETag")) == (b.status_code, body_b, b.headers.get("ETag"))


def test_group_package_change_does_not_reveal_a_private_package(world):
    """PUT /api/group/<org>/<g>/packages/<p> by a non-admin was 403 for an existing private package and 404 for
    a missing one."""
    _e, app, tok, _tmp = world
    c = app.test_client()
    for method in ("PUT", "DELETE"):
        real = c.open("/api/group/piaorg/team/packages/orgsecret", method=method, headers=_h(tok["eve"]))
        ghost = c.open("/api/group/piaorg/team/packages/ghostpkg", method=method, headers=_h(tok["eve"]))
        assert real.status_code == 403
        _same(real, ghost, ("orgsecret", "ghostpkg"))


def test_twine_does_not_echo_a_private_projects_stored_name(world):
    _e, app, _tok, tmp = world
    wheel = make_wheel(tmp / "tw", "secret_proj", "1.0").read_bytes()
    basic = {"Authorization": "Basic " + base64.b64encode(f"eve:{PW['eve']}".encode()).decode()}

    def send(name: str):
        form = {":action": "file_upload", "name": name, "version": "1.0", "filetype": "bdist_wheel",
                "content": (io.BytesIO(wheel), f"{name.replace('-', '_')}-1.0-py3-none-any.whl")}
        return app.test_client().post("/pypi/pia/", headers=basic, data=form, content_type="multipart/form-data")

    real, ghost = send("secret-proj"), send("ghost-proj")
    assert real.status_code == 404 and "Secret_Proj" not in real.get_data(as_text=True) + real.status
    assert real.status.replace("secret-proj", "ghost-proj") == ghost.status
    _same(real, ghost, ("secret-proj", "ghost-proj"))


@pytest.mark.parametrize("fname", ["repodata.json", "repodata.json.zst", "repodata_shards.msgpack.zst"])
def test_a_label_of_private_files_only_looks_missing(world, fname):
    """noarch of a label holding only private files answered 200 on its shard index where a missing label is
    404 (the other index files already matched)."""
    _e, app, tok, _tmp = world
    c = app.test_client()
    for who in (None, tok["eve"]):
        _same(c.get(f"/conda/pia/label/hush/noarch/{fname}", headers=_h(who)),
              c.get(f"/conda/pia/label/neverlabel/noarch/{fname}", headers=_h(who)), ("hush", "neverlabel"))


def test_channeldata_etag_does_not_reveal_private_subdirs(world):
    _e, app, tok, _tmp = world
    c = app.test_client()
    for who in (None, tok["eve"]):
        _same(c.get("/conda/pia/label/hush/channeldata.json", headers=_h(who)),
              c.get("/conda/pia/label/neverlabel/channeldata.json", headers=_h(who)))


def test_a_partial_readers_index_does_not_change_with_invisible_packages(world):
    """A collaborator on leaky sees the public index plus leaky; a change to the private package other (which
    they cannot see) changed their repodata's ETag although its bytes stayed the same."""
    e, app, tok, tmp = world
    c = app.test_client()
    urls = ["/conda/pia/noarch/repodata.json", "/conda/pia/noarch/repodata.json.zst", "/conda/pia/channeldata.json"]
    before = [c.get(u, headers=_h(tok["col"])) for u in urls]
    assert "leaky-1.0-0" in before[0].get_data(as_text=True) and "other" not in before[0].get_data(as_text=True)
    h = _h(tok["pia"])
    assert c.post("/api/release/pia/other/2.0", headers=h, json={}).status_code == 200
    _upload_file(c, h, make_conda_package(tmp / "o2", "other", "2.0"), "other", "2.0")
    _wait(lambda: "other-2.0-0" in c.get(urls[0], headers=h).get_data(as_text=True))
    after = [c.get(u, headers=_h(tok["col"])) for u in urls]
    for url, b, a in zip(urls, before, after):
        _same(a, b)
        assert c.get(url, headers={**_h(tok["col"]), "If-None-Match": b.headers["ETag"]}).status_code == 304


def _upload_file(c, h, path, package, version):
    import hashlib
    data = path.read_bytes()
    basename = f"noarch/{path.name}"
    st = c.post(f"/api/stage/pia/{package}/{version}/{basename}", headers=h,
                json={"distribution_type": "conda", "sha256": hashlib.sha256(data).hexdigest()}).get_json()
    fields = dict(st["form_data"])
    fields["file"] = (io.BytesIO(data), path.name)
    assert c.post("/api/_upload", data=fields, content_type="multipart/form-data").status_code == 201
    assert c.post(f"/api/commit/pia/{package}/{version}/{basename}", headers=h,
                  json={"dist_id": st["dist_id"]}).status_code == 200


def test_history_of_a_recreated_package_starts_at_its_creation(world):
    """A deleted private package's events (uploads, collaborators) showed on the history page of a public
    package later created with the same name."""
    _e, app, tok, tmp = world
    c = app.test_client()
    h = _h(tok["pia"])
    _upload(c, h, "pia", make_conda_package(tmp / "r1", "reborn", "1.0"), "reborn", "1.0", ["main"])
    assert c.patch("/api/package/pia/reborn", headers=h, json={"public": False}).status_code == 200
    assert c.put("/api/packages/pia/reborn/collaborators/col", headers=h).status_code == 201
    assert c.delete("/api/package/pia/reborn", headers=h).status_code == 201
    assert c.post("/api/package/pia/reborn", headers=h,
                  json={"public": True, "public_attrs": {"summary": "new"}}).status_code == 200
    page = c.get("/pia/reborn/history").get_data(as_text=True)
    assert "package created (public)" in page
    for old in ("collaborator col added", "reborn-1.0-0", "made private", "package deleted"):
        assert old not in page, old


@pytest.mark.parametrize("accept", [None, "application/vnd.pypi.simple.v1+json", "text/html"])
def test_a_pypi_label_of_private_projects_only_looks_missing(world, accept):
    """The project list of a label (or namespace) whose projects are all private was published as an empty page
    that differed (HTML, ETag) from the page of a label that never existed."""
    _e, app, tok, _tmp = world
    c = app.test_client()
    headers = {"Accept": accept} if accept else {}
    for who in (None, tok["eve"]):
        _same(c.get("/pypi/pia/label/pyhush/simple/", headers={**headers, **_h(who)}),
              c.get("/pypi/pia/label/neverlabel/simple/", headers={**headers, **_h(who)}))


@pytest.mark.parametrize("fname", ["repodata.json", "repodata.json.zst"])
def test_a_partial_reader_cannot_tell_private_subdirs_and_labels_exist(world, fname):
    """col sees leaky (a collaborator) but not otherlinux, the only package of linux-64 and of label otherlabel:
    those answered 200 with an empty index where a subdir or label that never existed is 404."""
    _e, app, tok, _tmp = world
    c = app.test_client()
    col = _h(tok["col"])
    _same(c.get(f"/conda/pia/linux-64/{fname}", headers=col), c.get(f"/conda/pia/osx-arm64/{fname}", headers=col),
          ("linux-64", "osx-arm64"))
    _same(c.get(f"/conda/pia/label/otherlabel/linux-64/{fname}", headers=col),
          c.get(f"/conda/pia/label/neverlabel/linux-64/{fname}", headers=col), ("otherlabel", "neverlabel"))
    assert "leaky-1.0-0" in c.get("/conda/pia/noarch/repodata.json", headers=col).get_data(as_text=True)


def test_group_package_lists_name_only_what_the_reader_may_see(world):
    """eve, a member of piaorg's group viewers (read on orgpublic), listed the groups and saw group team's
    private package orgsecret."""
    _e, app, tok, _tmp = world
    c = app.test_client()
    eve, pia = _h(tok["eve"]), _h(tok["pia"])
    listed = c.get("/api/groups/piaorg", headers=eve).get_json()
    assert {g["name"]: g["packages"] for g in listed} == {"team": [], "viewers": ["orgpublic"]}
    assert c.get("/api/group/piaorg/team", headers=eve).get_json()["packages"] == []
    assert c.get("/api/group/piaorg/team/packages", headers=eve).get_json() == []
    assert "orgsecret" in c.get("/api/group/piaorg/team", headers=pia).get_json()["packages"]
    assert [p["name"] for p in c.get("/api/group/piaorg/team/packages", headers=pia).get_json()] == ["orgsecret"]


def test_a_token_with_nothing_after_it_is_a_404(world):
    _e, app, tok, _tmp = world
    c = app.test_client()
    for url in (f"/conda/t/{tok['eve']}", f"/conda/t/{tok['eve']}/", f"/t/{tok['eve']}/conda/t/{tok['eve']}"):
        assert c.get(url).status_code == 404, url
