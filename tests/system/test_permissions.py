"""Who may do what to a PRIVATE package of an organization: the exact HTTP status of every (reader, operation)
cell, through raw requests with ``Authorization: token X`` (the header anaconda-client sends), plus expired and
revoked tokens on the API, conda and download paths. Embedded mode only (see the ``wharf`` fixture below).

The rules under test (services/gateway/identity.py, ARCHITECTURE.md "Access control"): whoever may not read a
private package gets 404 for it on every path; 403 for things the reader can see but may not change; 401 when
no valid credentials were given for a namespace-wide change (owners are public).

Readers: anonymous; an unrelated user; a collaborator on the package; members of groups listing the package
with read / write perms; a member of an admin group listing no package (so: the whole organization); the
organization's owner; and tokens of the owner limited to api:read / api:write / conda:download.
"""
from __future__ import annotations

import time

import pytest
import requests

from tests.helpers.packages import make_conda_package

from tests.conftest import free_port

from .harness import start_embedded
from .test_cli_support import (auth, create_accounts, fast_stop, raw_upload, repodata, token,  # noqa: F401
                               wait_for_repodata)

pytestmark = pytest.mark.system

ORG, PKG = "mxorg", "mxsecret"
USERS = {u: f"{u}-pw-12345" for u in ("mxowner", "stranger", "collab", "gread", "gwrite", "gadmin", "extra")}
READERS = ["anonymous", "other", "collaborator", "group_read", "group_write", "group_admin", "org_owner",
           "token_api_read", "token_api_write", "token_conda_download"]
OPS = ["show", "download", "repodata", "conda_file", "upload", "remove", "add_collaborator", "copy_label",
       "lock_label"]
L, H = "listed", "hidden"
# reader -> expected result of each operation, in OPS order
EXPECTED = {
    "anonymous":            (404, 404, H, 404, 404, 404, 404, 401, 401),
    "other":                (404, 404, H, 404, 404, 404, 404, 403, 403),
    "collaborator":         (200, 200, L, 200, 200, 200, 403, 403, 403),
    "group_read":           (200, 200, L, 200, 403, 403, 403, 403, 403),
    "group_write":          (200, 200, L, 200, 200, 200, 403, 403, 403),
    "group_admin":          (200, 200, L, 200, 200, 200, 201, 201, 201),
    "org_owner":            (200, 200, L, 200, 200, 200, 201, 201, 201),
    "token_api_read":       (200, 200, H, 404, 403, 403, 403, 403, 403),
    "token_api_write":      (200, 200, H, 404, 200, 200, 201, 201, 201),
    # a change with a token whose scopes cannot change anything: 403 InsufficientScope, whether the package
    # exists or not (access.py), before any role or visibility is looked at
    "token_conda_download": (404, 404, L, 200, 403, 403, 403, 403, 403),
}


@pytest.fixture(scope="module")
def wharf(request, tmp_path_factory):
    """Embedded mode only (this overrides the two-mode fixture of conftest.py): the matrix is about a hundred
    raw requests answered by the same gateway rules in both modes, while the CLI modules already check 401, 403
    and 404 across RPC in distributed mode; a distributed Wharf costs about 20 s to start and stop here."""
    w = start_embedded(tmp_path_factory.mktemp("wharf-embedded"), free_port())
    yield w
    if request.node.session.testsfailed:
        print(w.dump_logs())
    w.stop()


@pytest.fixture(scope="module")
def world(wharf, fast_stop, tmp_path_factory):
    create_accounts(wharf, USERS, {ORG: "mxowner"})
    owner = token(wharf, "mxowner", USERS["mxowner"])
    h = auth(owner)
    expired = token(wharf, "mxowner", USERS["mxowner"], max_age=1)
    expired_at = time.monotonic() + 1
    api = wharf.api
    d = tmp_path_factory.mktemp("matrix")
    keep = make_conda_package(d / "keep", PKG, "1.0", build="keep")
    raw_upload(wharf, owner, ORG, keep, PKG, "1.0", f"noarch/{keep.name}", labels=["main", "lockme"],
               public=False)
    victims = {}
    for i, reader in enumerate(READERS):  # one file per reader for the removal cell
        f = make_conda_package(d / reader, PKG, "1.0", build=f"h{i}")
        raw_upload(wharf, owner, ORG, f, PKG, "1.0", f"noarch/{f.name}", public=False)
        victims[reader] = f.name
    assert requests.post(f"{api}/release/{ORG}/{PKG}/2.0", headers=h, json={}, timeout=30).status_code == 200
    assert requests.put(f"{api}/packages/{ORG}/{PKG}/collaborators/collab", headers=h,
                        timeout=30).status_code == 201
    for group, perms, member, listing in (("readers", "read", "gread", True), ("writers", "write", "gwrite", True),
                                          ("admins", "admin", "gadmin", False)):
        assert requests.post(f"{api}/group/{ORG}/{group}", headers=h, json={"perms": perms},
                             timeout=30).status_code == 204
        assert requests.put(f"{api}/group/{ORG}/{group}/members/{member}", headers=h,
                            timeout=30).status_code == 204
        if listing:
            assert requests.put(f"{api}/group/{ORG}/{group}/packages/{PKG}", headers=h,
                                timeout=30).status_code == 204
    tokens = {
        "anonymous": None,
        "other": token(wharf, "stranger", USERS["stranger"]),
        "collaborator": token(wharf, "collab", USERS["collab"]),
        "group_read": token(wharf, "gread", USERS["gread"]),
        "group_write": token(wharf, "gwrite", USERS["gwrite"]),
        "group_admin": token(wharf, "gadmin", USERS["gadmin"]),
        "org_owner": owner,
        "token_api_read": token(wharf, "mxowner", USERS["mxowner"], scopes=["api:read"]),
        "token_api_write": token(wharf, "mxowner", USERS["mxowner"], scopes=["api:write"]),
        "token_conda_download": token(wharf, "mxowner", USERS["mxowner"], scopes=["conda:download"]),
    }
    wait_for_repodata(repodata(wharf, ORG), keep.name, headers=h)
    wait_for_repodata(repodata(wharf, ORG), victims[READERS[-1]], headers=h)
    return {"owner": owner, "tokens": tokens, "keep": keep, "victims": victims, "expired": expired,
            "expired_at": expired_at}


def _cells(wharf, world, reader: str) -> dict:
    api, tok, keep = wharf.api, world["tokens"][reader], world["keep"].name
    h = auth(tok)
    owner_h = auth(world["owner"])

    def status(method, url, **kw):
        return requests.request(method, url, headers=h, timeout=30, **kw).status_code

    got = {}
    got["show"] = status("GET", f"{api}/package/{ORG}/{PKG}")
    r = requests.get(f"{api}/download/{ORG}/{PKG}/1.0/noarch/{keep}", headers=h, timeout=30)
    got["download"] = r.status_code
    if r.status_code == 200:
        assert r.content == world["keep"].read_bytes()
    r = requests.get(repodata(wharf, ORG), headers=h, timeout=30)
    assert r.status_code == 200, r.text
    got["repodata"] = L if keep in r.json()["packages.conda"] else H
    got["conda_file"] = status("GET", f"{wharf.base_url}/conda/{ORG}/noarch/{keep}")
    got["upload"] = status("POST", f"{api}/stage/{ORG}/{PKG}/2.0/noarch/{PKG}-2.0-{reader.replace('_', '')}.conda",
                           json={"distribution_type": "conda", "channels": []})
    got["remove"] = status("DELETE", f"{api}/dist/{ORG}/{PKG}/1.0/noarch/{world['victims'][reader]}")
    got["add_collaborator"] = status("PUT", f"{api}/packages/{ORG}/{PKG}/collaborators/extra")
    if got["add_collaborator"] == 201:  # put things back for the next reader
        assert requests.delete(f"{api}/packages/{ORG}/{PKG}/collaborators/extra", headers=owner_h,
                               timeout=30).status_code == 201
    got["copy_label"] = status("POST", f"{api}/channels/{ORG}/main/copy/copy-{reader.replace('_', '-')}")
    got["lock_label"] = status("POST", f"{api}/channels/{ORG}/lockme/lock")
    if got["lock_label"] == 201:
        assert requests.delete(f"{api}/channels/{ORG}/lockme/lock", headers=owner_h, timeout=30).status_code == 201
    return got


@pytest.mark.parametrize("reader", READERS)
def test_matrix(wharf, world, reader):
    got = _cells(wharf, world, reader)
    want = dict(zip(OPS, EXPECTED[reader]))
    wrong = {op: f"expected {want[op]}, got {got[op]}" for op in OPS if got[op] != want[op]}
    assert not wrong, f"{reader}: {wrong}"


def test_matrix_side_effects(wharf, world):
    """Runs after the matrix: exactly the files of readers allowed to remove are gone, and the package's
    collaborators and lock state are as they started."""
    h = auth(world["owner"])
    files = requests.get(f"{wharf.api}/package/{ORG}/{PKG}", headers=h, timeout=30).json()["files"]
    left = {f["basename"].split("/", 1)[1] for f in files}
    removed = {r for r in READERS if dict(zip(OPS, EXPECTED[r]))["remove"] == 200}
    assert left == {world["keep"].name} | {world["victims"][r] for r in READERS if r not in removed}
    collabs = requests.get(f"{wharf.api}/packages/{ORG}/{PKG}/collaborators", headers=h, timeout=30).json()
    assert [c["login"] for c in collabs] == ["collab"]
    labels = requests.get(f"{wharf.api}/channels/{ORG}", headers=h, timeout=30).json()
    assert labels["lockme"]["is_locked"] is False
    assert "copy-group-admin" in labels and "copy-other" not in labels and "copy-token-api-read" not in labels


def _dead_token_paths(wharf, world, tok: str) -> dict:
    keep = world["keep"].name
    h = auth(tok)
    base = wharf.base_url
    return {
        "api user": requests.get(f"{wharf.api}/user", headers=h, timeout=30).status_code,
        "api package": requests.get(f"{wharf.api}/package/{ORG}/{PKG}", headers=h, timeout=30).status_code,
        "api public owner": requests.get(f"{wharf.api}/user/{ORG}", headers=h, timeout=30).status_code,
        "api download": requests.get(f"{wharf.api}/download/{ORG}/{PKG}/1.0/noarch/{keep}", headers=h,
                                     timeout=30).status_code,
        "conda /t/ repodata": requests.get(f"{base}/conda/t/{tok}/{ORG}/noarch/repodata.json",
                                           timeout=30).status_code,
        "conda /t/ file": requests.get(f"{base}/conda/t/{tok}/{ORG}/noarch/{keep}", timeout=30).status_code,
        "conda header repodata": requests.get(repodata(wharf, ORG), headers=h, timeout=30).status_code,
        "conda header zst": requests.get(repodata(wharf, ORG) + ".zst", headers=h, timeout=30).status_code,
    }


def test_expired_token_is_401_everywhere(wharf, world):
    time.sleep(max(0.0, world["expired_at"] + 1.2 - time.monotonic()))
    got = _dead_token_paths(wharf, world, world["expired"])
    assert set(got.values()) == {401}, got


def test_revoked_tokens_are_401_everywhere(wharf, world):
    # logout (DELETE /authentications) revokes the token that makes the call
    tok = token(wharf, "mxowner", USERS["mxowner"], note="to-logout")
    assert _dead_token_paths(wharf, world, tok)["api package"] == 200
    assert requests.delete(f"{wharf.api}/authentications", headers=auth(tok), timeout=30).status_code == 201
    got = _dead_token_paths(wharf, world, tok)
    assert set(got.values()) == {401}, got
    # `anaconda auth --remove NAME` (DELETE /authentications/name/NAME) revokes another token by its name
    tok = token(wharf, "mxowner", USERS["mxowner"], note="to-remove")
    r = requests.delete(f"{wharf.api}/authentications/name/to-remove", headers=auth(world["owner"]), timeout=30)
    assert r.status_code == 201, r.text
    got = _dead_token_paths(wharf, world, tok)
    assert set(got.values()) == {401}, got
    # a token that never existed, and a malformed one, are 401 too (never treated as anonymous)
    for bogus in ("wt-" + "0" * 48, "not_a_token!"):
        got = _dead_token_paths(wharf, world, bogus)
        assert set(got.values()) == {401}, (bogus, got)
