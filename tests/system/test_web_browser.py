"""The web UI end to end in Debian's Chromium (Playwright with executable_path=/usr/bin/chromium; no browser is
downloaded), against a running Wharf (the ``wharf`` fixture: embedded and distributed):

sign in; upload with the real anaconda CLI, then find the package in the UI (search, namespace, package page and
Files tab); make it private in Settings and check an anonymous browser no longer sees it anywhere; create a token
on the token page and install the private package with py-rattler (a real conda client) through the token
channel; copy a label and move a file between labels; transfer the package to an organization.

Screenshots of the main pages are kept in tests/artifacts/web/<mode>-*.png (gitignored)."""
from __future__ import annotations

import concurrent.futures
import os
import re
import shutil
from pathlib import Path

import pytest
import requests

from tests.helpers.packages import make_conda_package

from .clients import AnacondaCLI, conda_meta, rattler_solve_install, wait_for_repodata
from .test_cli_support import create_accounts, eventually

pytestmark = pytest.mark.system

CHROMIUM = os.environ.get("WHARF_TEST_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "web"
PW = {"wren": "wren-pw-12345", "otto": "otto-pw-12345"}


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHROMIUM} is missing (apt-get install chromium)")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    from playwright.sync_api import sync_playwright
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


@pytest.fixture(scope="module")
def world(wharf, tmp_path_factory):
    create_accounts(wharf, PW, {"wrenorg": "wren"})
    d = tmp_path_factory.mktemp("web-pkgs")
    pkg = make_conda_package(d / "a", "webdemo", "1.0", build="0", subdir="noarch", fmt=".conda")
    cli = AnacondaCLI(wharf, tmp_path_factory.mktemp("wren-home"))
    cli.org("login", "--username", "wren", "--password", PW["wren"])
    tok = requests.post(f"{wharf.api}/authentications", auth=("wren", PW["wren"]), json={"note": "setup"},
                        timeout=10).json()["token"]
    h = {"Authorization": f"token {tok}"}
    assert requests.post(f"{wharf.api}/group/wrenorg/devs", json={"perms": "write"}, headers=h,
                         timeout=10).status_code == 204
    assert requests.put(f"{wharf.api}/group/wrenorg/devs/members/otto", headers=h, timeout=10).status_code == 204
    return {"pkg": pkg, "cli": cli, "tmp": tmp_path_factory.mktemp("web-run")}


@pytest.fixture(scope="module")
def wren(browser, wharf, world):
    """A signed-in browser context (the sign-in itself is the first test's subject)."""
    ctx = browser.new_context(base_url=wharf.base_url, viewport={"width": 1280, "height": 900})
    page = ctx.new_page()
    yield page
    ctx.close()


def shot(wharf, page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{wharf.mode}-{name}.png"), full_page=True)


def anonymous(browser, wharf):
    return browser.new_context(base_url=wharf.base_url).new_page()


def test_sign_in(wharf, wren):
    page = wren
    page.goto("/")
    shot(wharf, page, "home-anonymous")
    page.get_by_role("link", name="Sign in").first.click()
    page.get_by_label("Login").fill("wren")
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    assert page.get_by_role("alert").inner_text() == "Wrong login or password."
    shot(wharf, page, "login-error")
    page.get_by_label("Password").fill(PW["wren"])
    page.get_by_label("Password").press("Enter")  # keyboard-usable: Enter submits
    page.wait_for_url(re.compile(r"/$"))
    assert "Signed in as wren." in page.get_by_role("status").inner_text()
    assert page.get_by_role("button", name="Sign out").is_visible()
    cookie = next(c for c in page.context.cookies() if c["name"] == "wharf_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    shot(wharf, page, "home-signed-in")


def test_cli_upload_then_find_in_ui(wharf, wren, world):
    pkg = world["pkg"]
    world["cli"].run("upload", "-u", "wren", str(pkg))
    page = wren
    page.goto("/")
    page.get_by_label("Search packages").first.fill("webdemo")
    page.get_by_label("Search packages").first.press("Enter")
    page.get_by_role("link", name="wren/webdemo").click()
    page.wait_for_url(re.compile(r"/wren/webdemo$"))
    body = page.inner_text("main")
    assert "conda install -c " + wharf.base_url + "/conda/wren webdemo" in body
    assert "/conda/t/<TOKEN>/wren webdemo" in body
    shot(wharf, page, "package")
    page.get_by_role("link", name="Files").click()
    row = page.get_by_role("row", name=re.compile(re.escape(pkg.name)))
    text = row.inner_text()
    assert "noarch" in text and "main" in text and "conda" in text and "wren" in text
    shot(wharf, page, "files")
    page.goto("/wren")
    assert page.get_by_role("link", name="webdemo").is_visible()
    shot(wharf, page, "namespace")
    page.goto("/wren/webdemo/history")
    assert "uploaded 1.0/noarch/" + pkg.name in page.inner_text("main")
    shot(wharf, page, "history")


def test_make_private_hides_it_from_anonymous(browser, wharf, wren, world):
    page = wren
    page.goto("/wren/webdemo")
    page.get_by_role("link", name="Settings").click()
    shot(wharf, page, "settings")
    page.get_by_label(re.compile("^Private")).check()
    page.get_by_role("button", name="Save visibility").click()
    assert "wren/webdemo is now private." in page.get_by_role("status").inner_text()
    anon = anonymous(browser, wharf)
    for path in ("/wren/webdemo", "/wren/webdemo/files", "/wren/webdemo/history"):
        resp = anon.goto(path)
        assert resp.status == 404, path
        assert "Traceback" not in anon.content()
    shot(wharf, anon, "private-anonymous-404")
    anon.goto("/wren")
    assert "webdemo" not in anon.inner_text("main")
    anon.goto("/search?q=webdemo")
    assert "wren/webdemo" not in anon.inner_text("main")
    anon.context.close()
    assert requests.get(f"{wharf.api}/package/wren/webdemo", timeout=10).status_code == 404
    wait_for_repodata(wharf.conda("wren") + "/noarch/repodata.json", world["pkg"].name, present=False)
    page.goto("/wren")
    assert "private" in page.get_by_role("row", name=re.compile("webdemo")).inner_text()


def test_token_page_and_rattler(wharf, wren, world):
    page = wren
    page.goto("/settings/tokens")
    page.get_by_label("Name").fill("rattler-ci")
    page.get_by_label(re.compile(r"^conda:download")).check()
    page.get_by_label("Expires in").select_option("7")
    page.get_by_label("Your password (to confirm)").fill(PW["wren"])
    page.get_by_role("button", name="Create token").click()
    token = page.get_by_label("Token").input_value()
    assert re.fullmatch(r"wt-[0-9a-f]{48}", token)
    # the kept screenshot must not hold the real secret (the field is read-only: set it through the DOM)
    page.get_by_label("Token").evaluate("el => { el.value = 'wt-' + '0'.repeat(48); }")
    shot(wharf, page, "token-created")
    page.goto("/settings/tokens")
    assert token not in page.content()  # shown once only
    assert page.get_by_role("row", name=re.compile("rattler-ci")).is_visible()
    shot(wharf, page, "tokens")
    # a real conda client installs the private package through the token channel
    channel = f"{wharf.base_url}/conda/t/{token}/wren"
    wait_for_repodata(channel + "/noarch/repodata.json", world["pkg"].name)
    prefix, cache = world["tmp"] / "env", world["tmp"] / "cache"
    with concurrent.futures.ThreadPoolExecutor(1) as ex:  # py-rattler runs its own asyncio loop
        got = ex.submit(rattler_solve_install, channel, ["webdemo"], prefix, cache).result()
    assert got == {"webdemo": "1.0"} and conda_meta(prefix) == {"webdemo": "1.0"}
    # rattler's download through the channel is counted on the Files tab
    page.goto("/wren/webdemo/files")
    assert page.get_by_role("row", name=re.compile(re.escape(world["pkg"].name))).inner_text().split()[-1] == "1"
    page.goto("/settings/tokens")
    # revoke it in the page: the channel then refuses it
    page.get_by_role("button", name="Revoke token rattler-ci").click()
    assert "Token rattler-ci revoked." in page.get_by_role("status").inner_text()
    assert requests.get(channel + "/noarch/repodata.json", timeout=10).status_code == 401


def test_copy_label_and_move_files(wharf, wren, world):
    page, name = wren, world["pkg"].name
    page.goto("/wren/-/labels")
    page.get_by_label("From").select_option("main")
    page.get_by_label("to", exact=True).fill("stable")
    page.get_by_role("button", name="Copy label").click()
    assert "Copied label main to stable." in page.get_by_role("status").inner_text()
    assert page.get_by_role("link", name="stable").is_visible()
    shot(wharf, page, "labels")
    tok = requests.post(f"{wharf.api}/authentications", auth=("wren", PW["wren"]),
                        json={"note": "check", "scopes": ["conda:download"]}, timeout=10).json()["token"]
    wait_for_repodata(f"{wharf.base_url}/conda/t/{tok}/wren/label/stable/noarch/repodata.json", name)
    # move the file from stable to a new label "rc"
    page.get_by_role("link", name="stable").click()
    page.get_by_label(f"Select noarch/{name}").check()
    page.get_by_label("Move selected files to label").fill("rc")
    shot(wharf, page, "label-move")
    page.get_by_role("button", name="Move").click()
    assert "Moved 1 file(s) from stable to rc." in page.get_by_role("status").inner_text()
    wait_for_repodata(f"{wharf.base_url}/conda/t/{tok}/wren/label/rc/noarch/repodata.json", name)

    def gone_from_stable():
        r = requests.get(f"{wharf.base_url}/conda/t/{tok}/wren/label/stable/noarch/repodata.json", timeout=10)
        assert r.status_code == 404 or name not in r.json().get("packages.conda", {})
    eventually(gone_from_stable)  # each label's index is published on its own
    page.goto("/wren/webdemo/files?label=rc")
    assert page.get_by_role("row", name=re.compile(re.escape(name))).is_visible()
    world["check_token"] = tok


def test_transfer_to_org(wharf, wren, world):
    page = wren
    page.goto("/wren/webdemo/settings")
    page.get_by_label("Organization").select_option("wrenorg")
    page.get_by_role("button", name="Transfer webdemo").click()
    page.wait_for_url(re.compile(r"/wrenorg/webdemo$"))
    assert "webdemo now belongs to wrenorg." in page.get_by_role("status").inner_text()
    assert page.goto("/wren/webdemo").status == 404
    page.goto("/wrenorg")
    assert page.get_by_role("link", name="webdemo").is_visible()
    shot(wharf, page, "org-namespace")
    page.goto("/wrenorg/-/members")
    row = page.get_by_role("row", name=re.compile("devs")).inner_text()
    assert "write" in row and "otto" in row and "whole organization" in row
    shot(wharf, page, "org-members")
    tok = world["check_token"]
    wait_for_repodata(f"{wharf.base_url}/conda/t/{tok}/wrenorg/noarch/repodata.json", world["pkg"].name)


def test_sign_out(wharf, wren):
    page = wren
    page.goto("/")
    page.get_by_role("button", name="Sign out").click()
    assert "Signed out." in page.get_by_role("status").inner_text()
    assert page.goto("/wrenorg/webdemo").status == 404  # private again to this now anonymous browser
