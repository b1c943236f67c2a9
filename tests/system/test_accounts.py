"""Account administration against a running Wharf (both modes), with the real clients (issue 15 items 13, 18):
``wharf user list/passwd/disable/enable/delete`` and ``wharf org list/add-owner`` run as the operator runs them,
``anaconda`` (login, upload, groups), pip-style Basic auth and conda's ``/t/<token>/`` URLs see the effect at
once; password change and group deletion through raw HTTP (the anaconda CLI has no command for them); rate
limits per (address, account): an attacker on another loopback address does not lock the owner out."""
from __future__ import annotations

import re

import pytest
import requests
from requests.adapters import HTTPAdapter

from tests.helpers.packages import make_conda_package

from .test_cli_support import (CLI, auth, create_accounts, fast_stop, raw_upload, repodata, token,  # noqa: F401
                               wait_for_repodata)

pytestmark = pytest.mark.system

PW = {u: f"{u}-pw-12345" for u in ("ada", "bea", "cal", "dex", "eve", "fay")}


@pytest.fixture(scope="module")
def wharf_extra_env():
    return {"WHARF_LOGIN_BACKOFF_AFTER": "3", "WHARF_LOGIN_RATE_ACCOUNT": "100", "WHARF_LOGIN_RATE_ADDRESS": "1000"}


@pytest.fixture(scope="module")
def world(wharf, fast_stop, tmp_path_factory):
    create_accounts(wharf, PW, {"adaorg": "ada"})
    return {"tmp": tmp_path_factory}


def from_address(address: str) -> requests.Session:
    """A requests session whose connections leave from ``address`` (another loopback address: another client)."""
    class Bound(HTTPAdapter):
        def init_poolmanager(self, *args, **kwargs):
            kwargs["source_address"] = (address, 0)
            super().init_poolmanager(*args, **kwargs)
    s = requests.Session()
    s.mount("http://", Bound())
    return s


def login_status(wharf, login, password, session=requests) -> int:
    return session.post(f"{wharf.api}/authentications", auth=(login, password), json={"note": "probe"},
                        timeout=30).status_code


def test_user_and_org_commands(wharf, world):
    listed = wharf.cli("user", "list").stdout
    assert re.search(r"^ada\s+active\s", listed, re.M) and "adaorg" in listed
    assert "ada" in wharf.cli("org", "list").stdout
    assert "now an owner of adaorg" in wharf.cli("org", "add-owner", "adaorg", "bea").stdout
    bea = CLI(wharf, world["tmp"].mktemp("bea"), token=token(wharf, "bea", PW["bea"]))
    assert "Created the group adaorg/crew" in bea.out("groups", "add", "adaorg/crew", "--perms", "read")
    assert re.search(r"^adaorg\s+ada, bea\s+crew\s", wharf.cli("org", "list").stdout, re.M)
    # passwd: the old password stops working at once, the new one logs the real client in
    short = wharf.cli("user", "passwd", "cal", "--password", "short", check=False)
    assert short.returncode == 2 and "10 characters" in short.stderr
    assert "password of cal changed" in wharf.cli("user", "passwd", "cal", "--password", "cal-new-password").stdout
    assert login_status(wharf, "cal", PW["cal"]) == 401
    cal = CLI(wharf, world["tmp"].mktemp("cal"))
    assert "login successful" in cal.out("org", "login", "--username", "cal", "--password", "cal-new-password")
    created = wharf.cli("user", "create", "tiny", "--password", "123456789", check=False)
    assert created.returncode == 2 and "10 characters" in created.stderr


def test_a_disabled_user_is_refused_everywhere_at_once(wharf, world, tmp_path):
    tok = token(wharf, "dex", PW["dex"])
    pkg = make_conda_package(tmp_path, "dexpriv", "1.0")
    raw_upload(wharf, tok, "dex", pkg, "dexpriv", "1.0", f"noarch/{pkg.name}", public=False)
    url = repodata(wharf, "dex", tok=tok, path_token=True)
    wait_for_repodata(url, pkg.name)
    dex = CLI(wharf, world["tmp"].mktemp("dex"), token=tok)
    assert "dex" in dex.out("org", "whoami")
    assert "dex is disabled" in wharf.cli("user", "disable", "dex").stdout
    assert re.search(r"^dex\s+disabled\s", wharf.cli("user", "list").stdout, re.M)
    assert requests.get(f"{wharf.api}/user", headers=auth(tok), timeout=30).status_code == 401
    assert requests.get(url, timeout=30).status_code == 401                           # conda's /t/<token>/
    assert requests.get(f"{wharf.base_url}/pypi/dex/simple/", auth=("__token__", tok), timeout=30).status_code == 401
    assert requests.get(f"{wharf.base_url}/pypi/dex/simple/", auth=("dex", PW["dex"]), timeout=30).status_code == 401
    assert "Invalid Username password combination" in \
        CLI(wharf, world["tmp"].mktemp("dex2")).fails("org", "login", "--username", "dex", "--password", PW["dex"])
    who = dex.run("org", "whoami", check=False)
    assert "Anonymous User" in who.stdout + who.stderr                  # the CLI's token is refused
    wharf.cli("user", "enable", "dex")
    assert requests.get(f"{wharf.api}/user", headers=auth(tok), timeout=30).json()["login"] == "dex"
    assert "dex" in dex.out("org", "whoami")


def test_deleting_a_user(wharf, world, tmp_path):
    tok = token(wharf, "eve", PW["eve"])
    pkg = make_conda_package(tmp_path, "evepkg", "1.0")
    raw_upload(wharf, tok, "eve", pkg, "evepkg", "1.0", f"noarch/{pkg.name}")
    wait_for_repodata(repodata(wharf, "eve"), pkg.name)
    refused = wharf.cli("user", "delete", "eve", check=False)
    assert refused.returncode == 1 and "evepkg" in refused.stderr and "--remove-packages" in refused.stderr
    assert requests.get(f"{wharf.api}/user", headers=auth(tok), timeout=30).status_code == 200   # nothing changed
    ada = token(wharf, "ada", PW["ada"])
    assert requests.put(f"{wharf.api}/group/adaorg/crew/members/eve", headers=auth(ada), timeout=30).status_code == 204
    only = wharf.cli("user", "delete", "ada", check=False)       # ada co-owns adaorg with bea since the first test
    assert only.returncode == 0 or "only owner" in only.stderr
    out = wharf.cli("user", "delete", "eve", "--remove-packages").stdout
    assert "1 package(s) removed" in out and "1 membership(s) removed" in out
    assert requests.get(f"{wharf.api}/user", headers=auth(tok), timeout=30).status_code == 401
    assert login_status(wharf, "eve", PW["eve"]) == 401
    assert requests.get(f"{wharf.api}/user/eve", timeout=30).status_code == 404
    wait_for_repodata(repodata(wharf, "eve"), pkg.name, present=False)      # the index follows the removal
    taken = wharf.cli("user", "create", "eve", "--password", "eve-pw-67890", check=False)
    assert taken.returncode == 2 and "taken" in taken.stderr
    assert "eve" not in wharf.cli("user", "list").stdout.split()


def test_password_change_and_group_deletion_over_http(wharf, world, tmp_path):
    fay = token(wharf, "fay", PW["fay"])
    r = requests.post(f"{wharf.api}/user/password", headers=auth(fay), timeout=30,
                      json={"current_password": PW["fay"], "new_password": "fay-new-password"})
    assert r.status_code == 200 and r.json()["login"] == "fay"
    assert login_status(wharf, "fay", PW["fay"]) == 401
    assert login_status(wharf, "fay", "fay-new-password") == 200
    assert requests.get(f"{wharf.api}/user", headers=auth(fay), timeout=30).status_code == 200
    # a group's deletion takes its grants away at once, the private channel included
    bea = token(wharf, "bea", PW["bea"])
    pkg = make_conda_package(tmp_path, "crewpriv", "1.0")
    raw_upload(wharf, bea, "adaorg", pkg, "crewpriv", "1.0", f"noarch/{pkg.name}", public=False)
    requests.put(f"{wharf.api}/group/adaorg/crew/members/fay", headers=auth(bea), timeout=30)
    url = repodata(wharf, "adaorg", tok=fay, path_token=True)
    wait_for_repodata(url, pkg.name)
    assert requests.delete(f"{wharf.api}/group/adaorg/crew", headers=auth(fay), timeout=30).status_code == 403
    assert requests.delete(f"{wharf.api}/group/adaorg/crew", headers=auth(bea), timeout=30).status_code == 204
    wait_for_repodata(url, pkg.name, present=False)
    assert requests.get(f"{wharf.api}/package/adaorg/crewpriv", headers=auth(fay), timeout=30).status_code == 404
    # which organizations of fay others see: her group membership went with the group; ownerships are public
    requests.put(f"{wharf.api}/group/adaorg/crew2", headers=auth(bea), timeout=30)
    requests.post(f"{wharf.api}/group/adaorg/crew2", headers=auth(bea), json={"perms": "read"}, timeout=30)
    requests.put(f"{wharf.api}/group/adaorg/crew2/members/fay", headers=auth(bea), timeout=30)
    orgs = lambda h=None: [o["login"] for o in requests.get(f"{wharf.api}/users/fay/orgs",  # noqa: E731
                                                            headers=h or {}, timeout=30).json()]
    assert orgs() == [] and orgs(auth(token(wharf, "cal", "cal-new-password"))) == []
    assert orgs(auth(fay)) == ["adaorg"] and orgs(auth(bea)) == ["adaorg"]


def test_an_attacker_on_another_address_does_not_lock_the_owner_out(wharf, world):
    attacker = from_address("127.0.0.2")
    codes = [login_status(wharf, "bea", f"guess-{i}", attacker) for i in range(20)]
    assert codes[:3] == [401, 401, 401] and codes[3] == 429 and set(codes) <= {401, 429}, codes
    r = attacker.post(f"{wharf.api}/authentications", auth=("bea", PW["bea"]), json={"note": "x"}, timeout=30)
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1      # the guessing address waits
    owner = from_address("127.0.0.1")
    assert login_status(wharf, "bea", PW["bea"], owner) == 200               # the owner, from home, does not
    assert owner.get(f"{wharf.base_url}/pypi/adaorg/simple/", auth=("bea", PW["bea"]), timeout=30).status_code == 200
    bea = CLI(wharf, world["tmp"].mktemp("bea-home"))
    assert "login successful" in bea.out("org", "login", "--username", "bea", "--password", PW["bea"])
    tok = token(wharf, "bea", PW["bea"])
    r = attacker.get(f"{wharf.api}/user", headers=auth(tok), timeout=30)     # a token passes even from there
    assert r.status_code == 200 and r.json()["login"] == "bea"
