"""`anaconda groups add/show/members/add_member/remove_member/packages/add_package/remove_package` against a
running Wharf (both modes), what membership grants (a group's perms apply to the packages added to it, or to
the whole organization while it lists none), and package transfer (POST /api/package/<o>/<p>/transfer; the
CLI has no command for it)."""
from __future__ import annotations

import pytest
import requests

from tests.helpers.packages import make_conda_package

from .test_cli_support import (CLI, auth, concurrently, create_accounts, fast_stop, listed, raw_upload,  # noqa: F401
                               repodata, token, wait_for_repodata)

pytestmark = pytest.mark.system

PW = {u: f"{u}-pw-12345" for u in ("gil", "rea", "wri", "adm", "out")}


@pytest.fixture(scope="module")
def world(wharf, fast_stop, tmp_path_factory):
    create_accounts(wharf, PW, {"gorg": "gil", "oorg": "out"})
    toks = {u: token(wharf, u, pw) for u, pw in PW.items()}
    d = tmp_path_factory.mktemp("group-pkgs")
    f = {
        "secret": make_conda_package(d / "1", "gsecret", "1.0"),
        "secret2": make_conda_package(d / "2", "gsecret", "2.0"),
        "secret3": make_conda_package(d / "3", "gsecret", "3.0"),
        "new": make_conda_package(d / "4", "gnew", "1.0"),
        "new2": make_conda_package(d / "5", "gnew", "2.0"),
        "new3": make_conda_package(d / "6", "gnew", "3.0"),
        "move": make_conda_package(d / "7", "gmove", "1.0"),
        "move_dev": make_conda_package(d / "8", "gmove", "1.1", subdir="linux-64", fmt=".tar.bz2"),
        "stay": make_conda_package(d / "9", "gstay", "1.0"),
        "staypriv": make_conda_package(d / "10", "gstaypriv", "1.0"),
    }
    raw_upload(wharf, toks["gil"], "gorg", f["secret"], "gsecret", "1.0", f"noarch/{f['secret'].name}",
               public=False)
    raw_upload(wharf, toks["gil"], "gil", f["move"], "gmove", "1.0", f"noarch/{f['move'].name}")
    raw_upload(wharf, toks["gil"], "gil", f["move_dev"], "gmove", "1.1", f"linux-64/{f['move_dev'].name}",
               labels=["dev"])
    raw_upload(wharf, toks["gil"], "gil", f["stay"], "gstay", "1.0", f"noarch/{f['stay'].name}")
    raw_upload(wharf, toks["gil"], "gil", f["staypriv"], "gstaypriv", "1.0", f"noarch/{f['staypriv'].name}",
               public=False)
    clis = {u: CLI(wharf, tmp_path_factory.mktemp(u), token=t) for u, t in toks.items()}
    return {"cli": clis, "tok": toks, "files": f}


def _status(wharf, method, path, tok, **kw):
    return requests.request(method, wharf.api + path, headers=auth(tok), timeout=30, **kw).status_code


def test_group_commands(wharf, world):
    gil, out_cli = world["cli"]["gil"], world["cli"]["out"]
    made = concurrently(*(lambda g=g, p=p: gil.out("groups", "add", f"gorg/{g}", "--perms", p)
                          for g, p in (("readers", "read"), ("writers", "write"), ("admins", "admin"))))
    assert "Created the group gorg/readers" in made[0]
    added = concurrently(*(lambda g=g, m=m: gil.out("groups", "add_member", f"gorg/{g}/{m}")
                           for g, m in (("readers", "rea"), ("writers", "wri"), ("admins", "adm"))),
                         lambda: gil.out("groups", "add_package", "gorg/readers/gsecret"))
    assert 'Added the user "rea" to the group "gorg/readers"' in added[0]
    assert 'Added the package "gsecret"' in added[3]
    groups, writers, members, packages = concurrently(
        lambda: gil.out("groups", "show", "gorg"), lambda: gil.out("groups", "show", "gorg/writers"),
        lambda: gil.out("groups", "members", "gorg/readers"), lambda: gil.out("groups", "packages", "gorg/readers"))
    assert "readers" in groups and "writers" in groups and "admins" in groups
    assert "writers" in writers and "write" in writers
    assert "rea" in members and "wri" not in members
    assert "gorg/gsecret" in packages and "gsecret summary" in packages
    assert _status(wharf, "GET", "/group/gorg/readers/members/rea", world["tok"]["gil"]) == 204
    assert _status(wharf, "GET", "/group/gorg/readers/members/wri", world["tok"]["gil"]) == 404

    # only an admin of the organization manages its groups; a user has no groups
    assert "403" in out_cli.fails("groups", "add", "gorg/mine", "--perms", "admin")
    assert _status(wharf, "PUT", "/group/gorg/admins/members/out", world["tok"]["out"]) == 403
    assert _status(wharf, "PUT", "/group/gorg/writers/packages/gsecret", world["tok"]["rea"]) == 403
    # a user is not an organization: no groups there
    assert _status(wharf, "POST", "/group/gil/notanorg", world["tok"]["gil"], json={"perms": "read"}) == 404
    r = requests.get(f"{wharf.api}/group/gorg/writers/packages", headers=auth(world["tok"]["gil"]), timeout=30)
    assert r.status_code == 200 and r.json() == []
    r = requests.get(f"{wharf.api}/group/gorg/admins/members", headers=auth(world["tok"]["gil"]), timeout=30)
    assert [m["login"] for m in r.json()] == ["adm"]


def test_org_wide_write_group(wharf, world):
    """writers lists no package: write on the whole organization (new packages, and reading private ones)."""
    wri, f = world["cli"]["wri"], world["files"]
    wri.run("upload", "-u", "gorg", str(f["new"]))
    wait_for_repodata(repodata(wharf, "gorg"), f["new"].name)
    assert _status(wharf, "GET", "/package/gorg/gsecret", world["tok"]["wri"]) == 200
    assert f["secret"].name in listed(repodata(wharf, "gorg"), auth(world["tok"]["wri"]))
    # write is not admin: no label locks, no collaborators, no package removal
    assert _status(wharf, "POST", "/channels/gorg/main/lock", world["tok"]["wri"]) == 403
    assert _status(wharf, "PUT", "/packages/gorg/gnew/collaborators/out", world["tok"]["wri"]) == 403
    assert _status(wharf, "DELETE", "/package/gorg/gnew", world["tok"]["wri"]) == 403


def test_package_groups(wharf, world):
    gil, wri, rea, f, tok = (world["cli"]["gil"], world["cli"]["wri"], world["cli"]["rea"], world["files"],
                             world["tok"])
    gil.run("groups", "add_package", "gorg/writers/gsecret")
    # writers now only cover gsecret; readers read gsecret (API, CLI and conda index) but never write it
    _, new2, show, secret3 = concurrently(lambda: wri.run("upload", "-u", "gorg", str(f["secret2"])),
                                          lambda: wri.fails("upload", "-u", "gorg", str(f["new2"])),
                                          lambda: rea.out("show", "gorg/gsecret"),
                                          lambda: rea.fails("upload", "-u", "gorg", str(f["secret3"])))
    assert "403" in new2 and "gsecret" in show and "403" in secret3
    assert _status(wharf, "GET", "/package/gorg/gsecret", tok["rea"]) == 200
    wait_for_repodata(repodata(wharf, "gorg"), f["secret2"].name, headers=auth(tok["rea"]))
    assert f["secret2"].name not in listed(repodata(wharf, "gorg"))
    assert f["secret2"].name not in listed(repodata(wharf, "gorg"), auth(tok["out"]))
    assert _status(wharf, "GET", "/release/gorg/gsecret/3.0", tok["gil"]) == 404
    assert _status(wharf, "GET", "/release/gorg/gnew/2.0", tok["gil"]) == 404
    # outsiders see nothing
    assert _status(wharf, "GET", "/package/gorg/gsecret", tok["out"]) == 404
    # an org-wide admin group: labels, collaborators, removal
    assert _status(wharf, "POST", "/channels/gorg/main/lock", tok["adm"]) == 201
    assert _status(wharf, "DELETE", "/channels/gorg/main/lock", tok["adm"]) == 201
    world["cli"]["adm"].run("package", "gorg/gsecret", "--add-collaborator", "out")
    assert _status(wharf, "GET", "/package/gorg/gsecret", tok["out"]) == 200
    assert _status(wharf, "DELETE", "/packages/gorg/gsecret/collaborators/out", tok["adm"]) == 201

    # leaving the group takes the access away again; a group's last package cannot be removed (without
    # packages it would cover the whole organization)
    left, last = concurrently(lambda: gil.out("groups", "remove_member", "gorg/readers/rea"),
                              lambda: gil.fails("groups", "remove_package", "gorg/writers/gsecret"))
    assert 'Removed the user "rea" from the group "gorg/readers"' in left
    assert "409" in last and "last package" in last
    r = requests.get(f"{wharf.api}/group/gorg/readers/members", headers=auth(tok["gil"]), timeout=30)
    assert r.json() == []
    assert _status(wharf, "GET", "/package/gorg/gsecret", tok["rea"]) == 404
    assert f["secret2"].name not in listed(repodata(wharf, "gorg"), auth(tok["rea"]))
    # after adding gnew, removing gsecret takes gsecret away from the writers
    gil.run("groups", "add_package", "gorg/writers/gnew")
    assert 'Removed the package "gsecret"' in gil.out("groups", "remove_package", "gorg/writers/gsecret")
    r = requests.get(f"{wharf.api}/group/gorg/writers/packages", headers=auth(tok["gil"]), timeout=30)
    assert [p["full_name"] for p in r.json()] == ["gorg/gnew"]
    wri.run("upload", "-u", "gorg", str(f["new3"]))
    assert _status(wharf, "POST", "/release/gorg/gsecret/3.0", tok["wri"], json={}) == 404
    wait_for_repodata(repodata(wharf, "gorg"), f["new3"].name)
    assert _status(wharf, "GET", "/package/gorg/gsecret", tok["wri"]) == 404


def test_transfer(wharf, world):
    tok, f = world["tok"], world["files"]
    move, move_dev = f["move"].name, f["move_dev"].name
    wait_for_repodata(repodata(wharf, "gil"), move)
    wait_for_repodata(repodata(wharf, "gil", "linux-64", label="dev"), move_dev)

    def transfer(who, owner, package, to_owner):
        return requests.post(f"{wharf.api}/package/{owner}/{package}/transfer", headers=auth(tok.get(who)),
                             json={"to_owner": to_owner}, timeout=30)

    # refused: no credentials, an outsider (public: 403, private: 404), an admin of the target but not of the
    # source, the source's admin towards an organization they do not administer, or towards a user
    assert transfer(None, "gil", "gstay", "gorg").status_code == 401
    assert transfer("out", "gil", "gstay", "oorg").status_code == 403
    assert transfer("out", "gil", "gstaypriv", "oorg").status_code == 404
    assert transfer("adm", "gil", "gstay", "gorg").status_code == 403
    assert transfer("gil", "gil", "gstay", "oorg").status_code == 403
    assert transfer("gil", "gil", "gstay", "out").status_code == 403
    assert transfer("gil", "gil", "gstay", "gil").status_code == 400
    assert transfer("gil", "gil", "nonesuch", "gorg").status_code == 404

    r = transfer("gil", "gil", "gmove", "gorg")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["owner"]["login"] == "gorg" and body["full_name"] == "gorg/gmove"
    assert {(x["basename"], tuple(x["labels"])) for x in body["files"]} == {
        (f"noarch/{move}", ("main",)), (f"linux-64/{move_dev}", ("dev",))}
    wait_for_repodata(repodata(wharf, "gil"), move, present=False)
    wait_for_repodata(repodata(wharf, "gil", "linux-64", label="dev"), move_dev, present=False)
    wait_for_repodata(repodata(wharf, "gorg"), move)
    wait_for_repodata(repodata(wharf, "gorg", "linux-64", label="dev"), move_dev)
    assert _status(wharf, "GET", "/package/gil/gmove", tok["gil"]) == 404
    r = requests.get(f"{wharf.base_url}/conda/gorg/noarch/{move}", timeout=30)
    assert r.status_code == 200 and r.content == f["move"].read_bytes()
    assert requests.get(f"{wharf.base_url}/conda/gil/noarch/{move}", timeout=30).status_code == 404
    # the moved package is the organization's now
    assert "gorg/gmove" in world["cli"]["gil"].out("show", "gorg")
    assert transfer("gil", "gil", "gmove", "gorg").status_code == 404
