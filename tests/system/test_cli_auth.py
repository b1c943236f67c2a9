"""`anaconda org whoami|login|logout` and `anaconda org auth --create|--list|--info|--remove|--list-scopes`
against a running Wharf (both modes): tokens land in the files anaconda-client reads, logout and removal revoke
them on the server, scoped and organization tokens are limited to what they name."""
from __future__ import annotations

import re
import time
from datetime import datetime

import pytest
import requests

from tests.helpers.packages import make_conda_package

from .test_cli_support import (CLI, auth, concurrently, create_accounts, fast_stop, listed, raw_upload,  # noqa: F401
                               repodata, status, token)

pytestmark = pytest.mark.system

PW = {"ann": "ann-pw-12345", "ben": "ben-pw-12345"}
LEGACY = {"ANACONDA_CLIENT_LEGACY_INTERACTIVE_LOGIN": "1"}


@pytest.fixture(scope="module")
def world(wharf, fast_stop, tmp_path_factory):
    create_accounts(wharf, PW, {"annorg": "ann"})
    d = tmp_path_factory.mktemp("auth-pkgs")
    tok = token(wharf, "ann", PW["ann"])
    secret = make_conda_package(d, "authsecret", "1.0")
    raw_upload(wharf, tok, "ann", secret, "authsecret", "1.0", f"noarch/{secret.name}", public=False)
    public = make_conda_package(d, "authpublic", "1.0")
    raw_upload(wharf, tok, "ann", public, "authpublic", "1.0", f"noarch/{public.name}")
    return {"secret": secret, "public": public, "tok": tok, "tmp": tmp_path_factory}


def _ann(wharf, world, name: str) -> CLI:
    cli = CLI(wharf, world["tmp"].mktemp(name), token=world["tok"])
    cli.env.update(LEGACY)
    return cli


def _create(cli: CLI, *args: str, password: str = PW["ann"]) -> str:
    """`anaconda org auth --create ...` in legacy mode: the password goes to getpass on stdin; the token is the
    only thing printed on stdout (without a newline)."""
    r = cli.run("org", "auth", "--create", *args, input=password + "\n")
    tok = r.stdout.strip()
    assert re.fullmatch(r"[A-Za-z0-9-]+", tok), (r.stdout, r.stderr)
    return tok


def test_login_whoami_logout(wharf, world, tmp_path):
    cli = CLI(wharf, tmp_path / "home")
    who, logout, wrong = concurrently(
        lambda: cli.out("org", "whoami"), lambda: cli.out("org", "logout"),
        lambda: cli.fails("org", "login", "--username", "ann", "--password", "wrong-password"))
    assert "Anonymous User" in who
    assert "You are not logged in" in logout
    assert "Invalid Username password combination" in wrong
    assert cli.token is None

    assert "login successful" in cli.out("org", "login", "--username", "ann", "--password", PW["ann"])
    files = cli.token_files()
    assert all(f.exists() for f in files) and len({f.read_text() for f in files}) == 1
    first = cli.token
    assert re.fullmatch(r"[A-Za-z0-9-]+", first)
    who = cli.out("org", "whoami")
    assert "Username: ann" in who and "+user_type: user" in who
    assert requests.get(wharf.api + "/user", headers=auth(first), timeout=10).json()["login"] == "ann"

    # the same note again: the server answers 400, the CLI asks whether to log in again; "y" replaces the token
    out = cli.out("org", "login", "--username", "ann", "--password", PW["ann"], input="y\n")
    assert "already logged in" in out and "login successful" in out
    second = cli.token
    assert second != first
    assert requests.get(wharf.api + "/user", headers=auth(first), timeout=10).status_code == 401
    assert requests.get(wharf.api + "/user", headers=auth(second), timeout=10).status_code == 200

    assert "logout successful" in cli.out("org", "logout")
    assert not any(f.exists() for f in files)
    for url in (wharf.api + "/user", repodata(wharf, "ann")):
        assert requests.get(url, headers=auth(second), timeout=10).status_code == 401
    assert requests.get(repodata(wharf, "ann", tok=second, path_token=True), timeout=10).status_code == 401


def test_auth_create_scoped_token(wharf, world):
    cli = _ann(wharf, world, "ann-create")
    started = time.time()
    tok = _create(cli, "-n", "ci-download", "--scopes", "conda:download", "--max-age", "60")
    assert tok != world["tok"]

    # the token reads the private channel through conda's /t/<token>/ prefix, anonymous readers do not see it
    fn = world["secret"].name
    assert fn in listed(repodata(wharf, "ann", tok=tok, path_token=True))
    assert fn not in listed(repodata(wharf, "ann"))
    r = requests.get(f"{wharf.base_url}/conda/t/{tok}/ann/noarch/{fn}", timeout=30)
    assert r.status_code == 200 and r.content == world["secret"].read_bytes()
    # ... but it may not use the API: any write is 403 InsufficientScope, before anything is looked up, so the
    # private package answers exactly as a missing one does
    pub = f"noarch/{world['public'].name}"
    r = requests.delete(f"{wharf.api}/dist/ann/authpublic/1.0/{pub}", headers=auth(tok), timeout=10)
    assert r.status_code == 403, r.text
    r = requests.post(f"{wharf.api}/channels/ann/main/copy/other", headers=auth(tok), timeout=10)
    assert r.status_code == 403, r.text
    r = requests.delete(f"{wharf.api}/dist/ann/authsecret/1.0/noarch/{fn}", headers=auth(tok), timeout=10)
    ghost = requests.delete(f"{wharf.api}/dist/ann/neverwas/1.0/noarch/{fn.replace('authsecret', 'neverwas')}",
                            headers=auth(tok), timeout=10)
    assert r.status_code == 403 and (r.status_code, r.json()) == (ghost.status_code, ghost.json()), r.text
    assert requests.get(f"{wharf.api}/package/ann/authpublic", timeout=10).json()["files"]

    # the listing shows it with its scope and an expiry about a minute away (timezone-aware, or --list crashes);
    # --info answers for the token that makes the call; a name that exists already is refused (fail-if-exists)
    listing, info, again = concurrently(
        lambda: cli.out("org", "auth", "--list"),
        lambda: CLI(wharf, world["tmp"].mktemp("info"), token=tok).out("org", "auth", "--info"),
        lambda: cli.run("org", "auth", "--create", "-n", "ci-download", "--scopes", "conda:download",
                        input=PW["ann"] + "\n", check=False))
    assert "conda:download" in listing
    assert re.search(r"\b[1-5]?\d seconds\b|\b1 minute\b", listing), listing
    mine = [t for t in requests.get(wharf.api + "/authentications", headers=auth(world["tok"]),
                                    timeout=10).json() if t.get("scopes") == ["conda:download"]]
    assert len(mine) == 1
    expires = datetime.fromisoformat(mine[0]["expires"])
    assert expires.tzinfo is not None and 50 <= expires.timestamp() - started <= 70
    assert re.search(r"Id: (\S+)", info).group(1) == mine[0]["id"] and re.search(r"Name: .+", info)
    assert again.returncode != 0 and "already exists" in again.stdout + again.stderr
    assert requests.get(repodata(wharf, "ann", tok=tok, path_token=True), timeout=10).status_code == 200

    assert "Removed token ci-download" in cli.out("org", "auth", "--remove", "ci-download")
    assert requests.get(repodata(wharf, "ann", tok=tok, path_token=True), timeout=10).status_code == 401
    tokens = requests.get(wharf.api + "/authentications", headers=auth(world["tok"]), timeout=10).json()
    assert [t for t in tokens if t.get("scopes") == ["conda:download"]] == []
    assert status(wharf, "DELETE", "/authentications/name/ci-download", world["tok"]) == 404


def test_auth_create_without_scopes_lists_all(wharf, world):
    """Issue 15 item 16: a token created without --scopes has full access; `anaconda auth --list` showed it as
    NO_SCOPE (stored with no scopes). It is stored and listed as `all`."""
    cli = _ann(wharf, world, "noscope")
    tok = _create(cli, "-n", "ci-everything")
    [mine] = [t for t in requests.get(wharf.api + "/authentications", headers=auth(tok), timeout=10).json()
              if t["note"] == "ci-everything"]
    assert mine["scopes"] == ["all"]
    listing = cli.out("org", "auth", "--list")      # one row per scope, the token's id in its first row
    [line] = [ln for ln in listing.splitlines() if mine["id"] in ln]
    assert re.search(r"\ball\s*$", line) and "NO_SCOPE" not in listing, listing
    assert "Removed token ci-everything" in cli.out("org", "auth", "--remove", "ci-everything")

def test_auth_create_wrong_password_and_list_scopes(wharf, world):
    cli = _ann(wharf, world, "ann-wrong")
    r, scopes = concurrently(
        lambda: cli.run("org", "auth", "--create", "-n", "never", input="bad\nbad\nbad\n", check=False),
        lambda: CLI(wharf, world["tmp"].mktemp("anon")).out("org", "auth", "--list-scopes"))
    assert (r.stdout + r.stderr).count("Invalid Username password combination") == 3
    assert not r.stdout.strip()
    for scope in ("api:read", "api:write", "conda:download", "all"):
        assert re.search(rf"^.*\b{re.escape(scope)}\s*$", scopes, re.M), scopes
    names = [t.get("note") for t in requests.get(wharf.api + "/authentications", headers=auth(world["tok"]),
                                                  timeout=10).json()]
    assert "never" not in names


def test_org_token(wharf, world, tmp_path):
    cli = _ann(wharf, world, "ann-org")
    tok = _create(cli, "-n", "org-ci", "-o", "annorg", "--scopes", "api:write")
    pkg = make_conda_package(tmp_path, "orgtokpkg", "1.0")
    up = CLI(wharf, tmp_path / "up", token=tok)
    ben_tok = token(wharf, "ben", PW["ben"])
    ben = CLI(wharf, tmp_path / "ben", token=ben_tok)
    ben.env.update(LEGACY)
    # the organization token uploads to the organization, not to its creator's own namespace; someone who is
    # not an owner of the organization can neither mint a token for it nor remove one of its tokens
    _, own, steal = concurrently(
        lambda: up.run("upload", "-u", "annorg", str(pkg)), lambda: up.fails("upload", "-u", "ann", str(pkg)),
        lambda: ben.run("org", "auth", "--create", "-n", "steal", "-o", "annorg", input=PW["ben"] + "\n",
                        check=False))
    remove = status(wharf, "DELETE", "/authentications/org/annorg/name/org-ci", ben_tok)
    assert requests.get(wharf.api + "/package/annorg/orgtokpkg", timeout=10).status_code == 200
    # outside its organization the token is refused for what it is (403, saying so), whether the target exists
    assert "403" in own and "acts only on the organization annorg" in own, own
    assert requests.get(wharf.api + "/package/ann/orgtokpkg", headers=auth(world["tok"]),
                        timeout=10).status_code == 404
    r = requests.post(f"{wharf.api}/channels/ann/main/copy/x", headers=auth(tok), timeout=10)
    assert r.status_code == 403, r.text
    assert steal.returncode != 0 and "403" in steal.stdout + steal.stderr
    assert remove == 403
    assert requests.get(wharf.api + "/package/annorg/orgtokpkg", headers=auth(tok), timeout=10).status_code == 200

    assert "Removed token org-ci" in cli.out("org", "auth", "--remove", "org-ci", "-o", "annorg")
    assert requests.get(wharf.api + "/package/annorg/orgtokpkg", headers=auth(tok), timeout=10).status_code == 401


def test_a_revoked_stored_token_and_the_documented_fix(wharf, world, tmp_path):
    """Issue 15 item 22. conda sends the token `anaconda login` stored to the server's /conda/ URLs, public channels
    too. Once it is revoked elsewhere, reads with it are 401 everywhere (an invalid credential is never read as
    anonymous: a private-channel user would otherwise get an empty channel instead of an error), with a message
    saying what to do; `anaconda logout` (what conda's own 401 text recommends) removes it, and the public channel
    is served again."""
    cli = CLI(wharf, tmp_path / "home")
    assert "login successful" in cli.out("org", "login", "--username", "ann", "--password", PW["ann"])
    stored = cli.token
    assert requests.delete(wharf.api + "/authentications", headers=auth(stored), timeout=10).status_code == 201
    public = repodata(wharf, "ann")
    for url, headers in ((public, auth(stored)), (repodata(wharf, "ann", tok=stored, path_token=True), {})):
        r = requests.get(url, headers=headers, timeout=10)
        assert r.status_code == 401 and "anaconda logout" in r.json()["error"], (r.status_code, r.text)
    assert "logout successful" in cli.out("org", "logout")
    assert cli.token is None and not any(f.exists() for f in cli.token_files())
    assert world["public"].name in listed(public)
