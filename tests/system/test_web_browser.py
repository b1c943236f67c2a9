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
    assert page.get_by_role("link", name="stable", exact=True).is_visible()
    shot(wharf, page, "labels")
    tok = requests.post(f"{wharf.api}/authentications", auth=("wren", PW["wren"]),
                        json={"note": "check", "scopes": ["conda:download"]}, timeout=10).json()["token"]
    wait_for_repodata(f"{wharf.base_url}/conda/t/{tok}/wren/label/stable/noarch/repodata.json", name)
    # move the file from stable to a new label "rc"
    page.get_by_role("link", name="stable", exact=True).click()
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


PHONE = {"width": 390, "height": 844}
# every element's box inside the viewport (the skip link waits off-screen until focused, by design)
OVERFLOW_JS = """() => {
  const vw = document.documentElement.clientWidth, out = [];
  for (const el of document.body.querySelectorAll('*')) {
    if (el.closest('.skip')) continue;
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    if (r.left < -0.5 || r.right > vw + 0.5 || r.width > vw + 0.5)
      out.push(`${el.tagName.toLowerCase()}.${el.className} [${Math.round(r.left)}, ${Math.round(r.right)}]: `
               + (el.textContent || '').trim().slice(0, 40));
  }
  if (document.documentElement.scrollWidth > vw) out.push(`page scrolls sideways: ${document.documentElement.scrollWidth} > ${vw}`);
  return out;
}"""


def fits(page) -> None:
    assert page.evaluate(OVERFLOW_JS) == [], page.url


def test_phone_width(browser, wharf, world, wren):
    """Issue 15 item 20: at 390 px (a phone) the sign-in link was off-screen and tables overflowed. On the home,
    namespace, package (overview and files table), labels, channel and token pages no element is wider than the
    viewport and the sign-in link is visible inside it; at desktop width tables stay tables."""
    ctx = browser.new_context(base_url=wharf.base_url, viewport=PHONE, is_mobile=True, has_touch=True)
    page = ctx.new_page()
    page.goto("/")
    link = page.get_by_role("link", name="Sign in").first
    assert link.is_visible()
    box = link.bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"] and box["y"] + box["height"] <= PHONE["height"]
    fits(page)
    shot(wharf, page, "phone-home-anonymous")
    link.click()
    page.get_by_label("Login").fill("wren")
    page.get_by_label("Password").fill(PW["wren"])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/$"))
    assert page.get_by_role("button", name="Sign out").is_visible()
    for path, name in (("/", "home"), ("/wrenorg", "namespace"), ("/wrenorg/webdemo", "package"),
                       ("/wrenorg/webdemo/files", "files"), ("/wrenorg/-/labels", "labels"),
                       ("/conda/wrenorg", "channel"), ("/settings/tokens", "tokens")):
        assert page.goto(path).status == 200, path
        fits(page)
        shot(wharf, page, f"phone-{name}")
    page.goto("/wrenorg/webdemo/files")
    row = page.get_by_role("row", name=re.compile(re.escape(world["pkg"].name)))
    assert "noarch" in row.inner_text()            # the files table's cells are all there, one under another
    ctx.close()
    # desktop (wren's signed-in browser, 1280 px): tables keep their header row, the top bar stays one line
    page = wren
    for path in ("/wrenorg/webdemo/files", "/settings/tokens", "/"):
        page.goto(path)
        fits(page)
        if path != "/":
            assert page.locator("table thead").first.is_visible(), path
    brand, search = page.locator(".brand").bounding_box(), page.locator("#top-q").bounding_box()
    sign_out = page.get_by_role("button", name="Sign out").bounding_box()
    assert abs(brand["y"] - search["y"]) < 20 and abs(search["y"] - sign_out["y"]) < 20

HOSTILE_MD = """# Readme

**bold** <script>alert("script")</script> <img src="x" onerror="alert('onerror')">
<a href="javascript:alert('href')">a link</a> [md link](javascript:alert('md'))
<svg onload="alert('svg')"></svg><details open ontoggle="alert('toggle')"><summary>s</summary></details>
"""


def test_hostile_description_is_inert_in_the_browser(browser, wharf):
    """Issue 15 item 19: a Markdown description with script elements, event handlers and javascript: links is
    rendered (bold text, the link's text) and nothing of it runs in a real browser: no dialog opens, no script
    element and no event handler attribute reach the DOM, and no link goes to javascript:."""
    tok = requests.post(f"{wharf.api}/authentications", auth=("otto", PW["otto"]), json={"note": "desc"},
                        timeout=10).json()["token"]
    h = {"Authorization": f"token {tok}"}
    assert requests.post(f"{wharf.api}/package/otto/hostiledesc", json={"public": True}, headers=h,
                         timeout=10).status_code == 200
    assert requests.post(f"{wharf.api}/release/otto/hostiledesc/1.0", headers=h, timeout=10, json={
        "description": HOSTILE_MD, "description_content_type": "text/markdown"}).status_code == 200
    page = anonymous(browser, wharf)
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    assert page.goto("/otto/hostiledesc").status == 200
    readme = page.locator(".readme")
    assert readme.locator("strong").inner_text() == "bold" and "a link" in readme.inner_text()
    readme.locator("summary").click()                           # would fire ontoggle
    found = page.evaluate("""() => ({
        scripts: document.scripts.length,
        handlers: [...document.querySelectorAll('*')].flatMap(el => [...el.attributes].map(a => a.name))
                  .filter(n => n.startsWith('on')),
        js: [...document.querySelectorAll('[href], [src]')].map(el => el.getAttribute('href') || el.getAttribute('src'))
            .filter(u => /^\\s*javascript:/i.test(u))})""")
    assert found == {"scripts": 0, "handlers": [], "js": []} and dialogs == []
    shot(wharf, page, "hostile-description")
    page.context.close()

def test_sign_out(wharf, wren):
    page = wren
    page.goto("/")
    page.get_by_role("button", name="Sign out").click()
    assert "Signed out." in page.get_by_role("status").inner_text()
    assert page.goto("/wrenorg/webdemo").status == 404  # private again to this now anonymous browser
