"""`anaconda remove`, `show`, `search`, `download`, `package` (create, collaborators) and `update` against a
running Wharf (both modes)."""
from __future__ import annotations

import json

import pytest
import requests

from tests.helpers.packages import make_conda_package, make_wheel

from .test_cli_support import (CLI, auth, concurrently, create_accounts, fast_stop, raw_upload,  # noqa: F401
                               repodata, status, token, wait_for_repodata)

pytestmark = pytest.mark.system

PW = {"rob": "rob-pw-12345", "sue": "sue-pw-12345", "tim": "tim-pw-12345"}


@pytest.fixture(scope="module")
def world(wharf, fast_stop, tmp_path_factory):
    create_accounts(wharf, PW)
    tok = token(wharf, "rob", PW["rob"])
    d = tmp_path_factory.mktemp("rs-pkgs")
    f = {
        "good1": make_conda_package(d / "1", "rsgood", "1.0", summary="Good things"),
        "good2": make_conda_package(d / "2", "rsgood", "2.0", summary="Good things"),
        "good2l": make_conda_package(d / "3", "rsgood", "2.0", subdir="linux-64", fmt=".tar.bz2"),
        "priv": make_conda_package(d / "4", "rspriv", "1.0"),
        "wheel": make_wheel(d / "5", "rswheel", "0.1"),
        "gone1": make_conda_package(d / "6", "rsgone", "1.0"),
        "gone1l": make_conda_package(d / "7", "rsgone", "1.0", subdir="linux-64", fmt=".tar.bz2"),
        "gone2": make_conda_package(d / "8", "rsgone", "2.0"),
        "coll": make_conda_package(d / "9", "rsnew", "1.0"),
        "coll2": make_conda_package(d / "10", "rsnew", "2.0"),
    }
    for key, pkg, ver, sub, public in (("good1", "rsgood", "1.0", "noarch", True),
                                       ("good2", "rsgood", "2.0", "noarch", True),
                                       ("good2l", "rsgood", "2.0", "linux-64", True),
                                       ("priv", "rspriv", "1.0", "noarch", False),
                                       ("gone1", "rsgone", "1.0", "noarch", True),
                                       ("gone1l", "rsgone", "1.0", "linux-64", True),
                                       ("gone2", "rsgone", "2.0", "noarch", True)):
        raw_upload(wharf, tok, "rob", f[key], pkg, ver, f"{sub}/{f[key].name}", public=public)
    raw_upload(wharf, tok, "rob", f["wheel"], "rswheel", "0.1", f["wheel"].name, dtype="pypi")
    rob = CLI(wharf, tmp_path_factory.mktemp("rob"), token=tok)
    sue_tok, tim_tok = token(wharf, "sue", PW["sue"]), token(wharf, "tim", PW["tim"])
    sue = CLI(wharf, tmp_path_factory.mktemp("sue"), token=sue_tok)
    tim = CLI(wharf, tmp_path_factory.mktemp("tim"), token=tim_tok)
    anon = CLI(wharf, tmp_path_factory.mktemp("anon"))
    return {"rob": rob, "sue": sue, "tim": tim, "anon": anon, "tok": tok, "sue_tok": sue_tok, "tim_tok": tim_tok,
            "files": f, "tmp": tmp_path_factory}


def test_show(wharf, world):
    rob, anon, f = world["rob"], world["anon"], world["files"]
    mine, theirs, pkg, rel, dist, priv = concurrently(
        lambda: rob.out("show", "rob"), lambda: anon.out("show", "rob"), lambda: rob.out("show", "rob/rsgood"),
        lambda: rob.out("show", "rob/rsgood/2.0"),
        lambda: rob.out("show", f"rob/rsgood/2.0/linux-64/{f['good2l'].name}"),
        lambda: rob.out("show", "rob/rspriv"))
    assert "Username: rob" in mine and "+user_type: user" in mine
    for full in ("rob/rsgood", "rob/rspriv", "rob/rswheel", "rob/rsgone"):
        assert full in mine
    assert "private" in mine
    assert "rob/rsgood" in theirs and "rob/rspriv" not in theirs
    assert "rsgood summary" in pkg and "1.0" in pkg and "2.0" in pkg
    assert f"noarch/{f['good2'].name}" in rel and f"linux-64/{f['good2l'].name}" in rel
    assert f"linux-64/{f['good2l'].name}" in dist and "sha256" in dist
    assert "rspriv" in priv

    outs = concurrently(lambda: anon.fails("show", "rob/rspriv"), lambda: anon.fails("show", "nobody-at-all"))
    assert all("NotFound" in out and "404" in out for out in outs), outs
    assert status(wharf, "GET", "/release/rob/rspriv/1.0", world["sue_tok"]) == 404
    assert status(wharf, "GET", f"/dist/rob/rspriv/1.0/noarch/{f['priv'].name}") == 404


def test_search(wharf, world):
    anon, rob, sue = world["anon"], world["rob"], world["sue"]
    good, pypi, linux, osx, hidden, hidden_sue, own = concurrently(
        lambda: anon.out("search", "rsgood"), lambda: anon.out("search", "rs", "-t", "pypi"),
        lambda: anon.out("search", "rs", "-t", "conda", "--platform", "linux-64"),
        lambda: anon.out("search", "rsgood", "--platform", "osx-64"), lambda: anon.out("search", "rspriv"),
        lambda: sue.out("search", "rspriv"), lambda: rob.out("search", "rspriv"))
    assert "rob/rsgood" in good and "Found 1 packages" in good
    assert "rob/rswheel" in pypi and "rob/rsgood" not in pypi and "Found 1 packages" in pypi
    assert "rob/rsgood" in linux and "rob/rsgone" in linux and "rob/rswheel" not in linux
    assert "Found 0 packages" in osx
    assert "Found 0 packages" in hidden and "Found 0 packages" in hidden_sue
    assert "rob/rspriv" in own and "Found 1 packages" in own


def test_download(wharf, world, tmp_path):
    f, anon = world["files"], world["anon"]
    where, only, hidden, opened = (tmp_path / n for n in ("public", "pypi", "private", "token"))
    for d in (where, only, hidden, opened):
        d.mkdir()
    out, _, denied, _ = concurrently(
        lambda: anon.out("download", "rob/rsgood", cwd=where),
        lambda: anon.run("download", "rob/rswheel", "-t", "pypi", cwd=only),
        # private: anonymous gets the 404 message (the CLI logs it and exits 0) and no file ...
        lambda: anon.out("download", "rob/rspriv", cwd=hidden),
        # ... and with the owner's token as the global -t option, the file
        lambda: anon.run("-t", world["tok"], "download", "rob/rspriv", cwd=opened))
    assert "has been downloaded" in out
    for key, sub in (("good1", "noarch"), ("good2", "noarch"), ("good2l", "linux-64")):
        assert (where / sub / f[key].name).read_bytes() == f[key].read_bytes()
    assert [p.name for p in only.rglob("*") if p.is_file()] == [f["wheel"].name]
    assert (only / f["wheel"].name).read_bytes() == f["wheel"].read_bytes()
    assert "404" in denied and not any(p.is_file() for p in hidden.rglob("*"))
    assert (opened / "noarch" / f["priv"].name).read_bytes() == f["priv"].read_bytes()


def test_remove(wharf, world):
    rob, sue, f = world["rob"], world["sue"], world["files"]
    g1, g1l, g2 = f["gone1"].name, f["gone1l"].name, f["gone2"].name
    wait_for_repodata(repodata(wharf, "rob"), g1)
    # someone else: refused, nothing removed; rob without -f answering "n": nothing happens either
    file_out, kept = concurrently(lambda: sue.fails("remove", "-f", f"rob/rsgone/1.0/noarch/{g1}"),
                                  lambda: rob.out("remove", f"rob/rsgone/1.0/noarch/{g1}", input="n\n"))
    assert "403" in file_out
    assert status(wharf, "DELETE", "/package/rob/rsgone", world["sue_tok"]) == 403
    assert "Not removing file" in kept
    assert requests.get(f"{wharf.api}/dist/rob/rsgone/1.0/noarch/{g1}", timeout=10).status_code == 200
    # one file with -f
    rob.run("remove", "-f", f"rob/rsgone/1.0/noarch/{g1}")
    wait_for_repodata(repodata(wharf, "rob"), g1, present=False)
    assert requests.get(f"{wharf.api}/dist/rob/rsgone/1.0/noarch/{g1}", timeout=10).status_code == 404
    assert requests.get(f"{wharf.api}/dist/rob/rsgone/1.0/linux-64/{g1l}", timeout=10).status_code == 200
    # a release, answering "y"
    rob.run("remove", "rob/rsgone/2.0", input="y\n")
    wait_for_repodata(repodata(wharf, "rob"), g2, present=False)
    assert requests.get(f"{wharf.api}/release/rob/rsgone/2.0", timeout=10).status_code == 404
    # the whole package, answering "y"
    rob.run("remove", "rob/rsgone", input="y\n")
    wait_for_repodata(repodata(wharf, "rob", "linux-64"), g1l, present=False)
    assert requests.get(f"{wharf.api}/package/rob/rsgone", timeout=10).status_code == 404
    # missing things: -f only warns, without -f it is an error
    _, missing = concurrently(lambda: rob.run("remove", "-f", "rob/rsgone"),
                              lambda: rob.fails("remove", "rob/rsgone", input="y\n"))
    assert "404" in missing
    assert "rsgood" in {p["name"] for p in requests.get(f"{wharf.api}/packages/rob", timeout=10).json()}


def test_package_create_and_collaborators(wharf, world):
    rob, tim, f = world["rob"], world["tim"], world["files"]
    created, _ = concurrently(
        lambda: rob.out("package", "rob/rsnew", "--create", "--summary", "Made by hand", "--license", "BSD"),
        lambda: rob.run("package", "rob/rsclosed", "--create", "--summary", "Closed", "--private"))
    assert "Package created" in created
    body = requests.get(f"{wharf.api}/package/rob/rsnew", timeout=10).json()
    assert body["summary"] == "Made by hand" and body["public"] is True and body["files"] == []
    assert body["public_attrs"]["license"]["name"] == "BSD"
    assert requests.get(f"{wharf.api}/package/rob/rsclosed", timeout=10).status_code == 404
    assert requests.get(f"{wharf.api}/package/rob/rsclosed", headers=auth(world["tok"]),
                        timeout=10).json()["public"] is False

    # tim may not upload to rob/rsnew yet
    assert "403" in tim.fails("upload", "-u", "rob", str(f["coll"]))
    rob.run("package", "rob/rsnew", "--add-collaborator", "tim")
    out = rob.out("package", "rob/rsnew", "--list-collaborators")
    assert "tim" in out.split(":Collaborators:")[-1]
    tim.run("upload", "-u", "rob", str(f["coll"]))
    wait_for_repodata(repodata(wharf, "rob"), f["coll"].name)
    # a collaborator writes, but does not administer: no package removal, no new collaborators
    assert "403" in tim.fails("remove", "-f", "rob/rsnew")
    assert status(wharf, "PUT", "/packages/rob/rsnew/collaborators/sue", world["tim_tok"]) == 403

    r = requests.delete(f"{wharf.api}/packages/rob/rsnew/collaborators/tim", headers=auth(world["tok"]), timeout=10)
    assert r.status_code == 201, r.text
    listing, upload = concurrently(lambda: rob.out("package", "rob/rsnew", "--list-collaborators"),
                                   lambda: tim.fails("upload", "-u", "rob", str(f["coll2"])))
    assert "tim" not in listing.split(":Collaborators:")[-1]
    assert "403" in upload
    assert requests.get(f"{wharf.api}/release/rob/rsnew/2.0", timeout=10).status_code == 404

    # an existing package removed with -f (no question asked)
    rob.run("remove", "-f", "rob/rsclosed")
    assert requests.get(f"{wharf.api}/package/rob/rsclosed", headers=auth(world["tok"]), timeout=10).status_code \
        == 404


def test_update(wharf, world, tmp_path):
    rob, sue = world["rob"], world["sue"]
    attrs = tmp_path / "attrs.json"
    attrs.write_text(json.dumps({"summary": "Better things", "description": "Longer words", "home": "https://x.y"}))
    rel = tmp_path / "release.json"
    rel.write_text(json.dumps({"public_attrs": {"description": "Release notes for 1.0"}}))
    updated, _, public = concurrently(
        lambda: rob.out("update", "rob/rsgood", str(attrs)),
        lambda: rob.run("update", "rob/rsgood/1.0", str(rel), "--release"),
        lambda: sue.fails("update", "rob/rsgood", str(attrs)))
    private = status(wharf, "PATCH", "/package/rob/rspriv", world["sue_tok"], json={"summary": "x"})
    assert "has been updated" in updated
    body = requests.get(f"{wharf.api}/package/rob/rsgood", timeout=10).json()
    assert body["summary"] == "Better things" and body["public_attrs"]["description"] == "Longer words"
    assert body["public"] is True
    body = requests.get(f"{wharf.api}/release/rob/rsgood/1.0", timeout=10).json()
    assert body["public_attrs"]["description"] == "Release notes for 1.0"
    assert "403" in public and private == 404
