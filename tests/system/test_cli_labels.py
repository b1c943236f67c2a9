"""`anaconda label --list/--show/--copy/--remove/--lock/--unlock` (own namespace and `-o ORG`), `anaconda move`
and `anaconda copy` (`--replace`, `--update`, and the conflict without them) against a running Wharf (both
modes); after each command the conda repodata of the labels involved is checked."""
from __future__ import annotations

import pytest
import requests

from tests.helpers.packages import make_conda_package

from .test_cli_support import (CLI, auth, concurrently, create_accounts, fast_stop, listed,  # noqa: F401
                               raw_upload, repodata, status, token, wait_for_repodata)

pytestmark = pytest.mark.system

PW = {"lea": "lea-pw-12345", "max": "max-pw-12345"}
NULL_FILTER = {"package": None, "version": None, "basename": None}   # what `anaconda label --remove` sends


@pytest.fixture(scope="module")
def world(wharf, fast_stop, tmp_path_factory):
    create_accounts(wharf, PW, {"leaorg": "lea"})
    tok = token(wharf, "lea", PW["lea"])
    d = tmp_path_factory.mktemp("label-pkgs")
    files = {
        "p1": make_conda_package(d / "1", "lblpkg", "1.0"),
        "p2": make_conda_package(d / "2", "lblpkg", "2.0"),
        "tool": make_conda_package(d / "3", "lbltool", "1.0", subdir="linux-64", fmt=".tar.bz2"),
        "org": make_conda_package(d / "4", "lblorg", "1.0"),
        "late": make_conda_package(d / "5", "lbllate", "1.0"),
    }
    raw_upload(wharf, tok, "lea", files["p1"], "lblpkg", "1.0", f"noarch/{files['p1'].name}")
    raw_upload(wharf, tok, "lea", files["p2"], "lblpkg", "2.0", f"noarch/{files['p2'].name}", labels=["dev"])
    raw_upload(wharf, tok, "lea", files["tool"], "lbltool", "1.0", f"linux-64/{files['tool'].name}",
               labels=["main", "dev"])
    raw_upload(wharf, tok, "leaorg", files["org"], "lblorg", "1.0", f"noarch/{files['org'].name}",
               labels=["beta"])
    lea = CLI(wharf, tmp_path_factory.mktemp("lea"), token=tok)
    max_tok = token(wharf, "max", PW["max"])
    mx = CLI(wharf, tmp_path_factory.mktemp("max"), token=max_tok)
    return {"lea": lea, "max": mx, "tok": tok, "max_tok": max_tok, "files": files}


def names(world, *keys):
    return {world["files"][k].name for k in keys}


def test_list_and_show(wharf, world):
    lea = world["lea"]
    p2, tool = world["files"]["p2"].name, world["files"]["tool"].name
    listing, dev, missing = concurrently(lambda: lea.out("label", "--list"), lambda: lea.out("label", "--show", "dev"),
                                         lambda: lea.fails("label", "--show", "nosuchlabel"))
    assert "+ main" in listing and "+ dev" in listing and "locked" not in listing
    assert f"lea/lblpkg/2.0/noarch/{p2}" in dev and f"lea/lbltool/1.0/linux-64/{tool}" in dev
    assert "lblpkg/1.0" not in dev
    assert "404" in missing
    wait_for_repodata(repodata(wharf, "lea", label="dev"), p2)
    assert listed(repodata(wharf, "lea", "linux-64", label="dev")) == {tool}
    wait_for_repodata(repodata(wharf, "lea"), world["files"]["p1"].name)
    assert listed(repodata(wharf, "lea")) == names(world, "p1")


def test_copy_and_remove_label(wharf, world):
    lea, mx = world["lea"], world["max"]
    assert "Copied label dev to staging" in lea.out("label", "--copy", "dev", "staging")
    wait_for_repodata(repodata(wharf, "lea", label="staging"), world["files"]["p2"].name)
    wait_for_repodata(repodata(wharf, "lea", "linux-64", label="staging"), world["files"]["tool"].name)
    listing, staging = concurrently(lambda: lea.out("label", "--list"), lambda: lea.out("label", "--show", "staging"))
    assert "+ staging" in listing
    assert "lblpkg/2.0" in staging and "lbltool/1.0" in staging
    assert listed(repodata(wharf, "lea", label="dev")) == names(world, "p2")  # the source keeps its files

    assert "Removed label staging" in lea.out("label", "--remove", "staging")
    # main is the default channel: `anaconda label --remove main` is refused with the server's reason, and the
    # channel keeps its files (taking main off chosen files, as `anaconda move` does, stays allowed: test_move)
    refused = lea.fails("label", "--remove", "main")
    assert "409" in refused and "label main is the default channel and cannot be removed" in refused, refused
    assert status(wharf, "DELETE", "/channels/lea/main", world["tok"], json=NULL_FILTER) == 409
    assert "+ main" in lea.out("label", "--list")
    assert listed(repodata(wharf, "lea")) == names(world, "p1")
    wait_for_repodata(repodata(wharf, "lea", label="staging"), world["files"]["p2"].name, present=False)
    wait_for_repodata(repodata(wharf, "lea", "linux-64", label="staging"), world["files"]["tool"].name,
                      present=False)
    # someone else may neither copy nor remove lea's labels
    listing, copying = concurrently(lambda: lea.out("label", "--list"),
                                    lambda: mx.fails("label", "-o", "lea", "--copy", "dev", "mine"))
    assert "staging" not in listing
    assert "403" in copying
    assert status(wharf, "DELETE", "/channels/lea/dev", world["max_tok"], json=NULL_FILTER) == 403
    assert listed(repodata(wharf, "lea", label="dev")) == names(world, "p2")


def test_lock_refuses_changes(wharf, world, tmp_path):
    lea, late = world["lea"], world["files"]["late"]
    lea.run("label", "--copy", "dev", "frozen")
    wait_for_repodata(repodata(wharf, "lea", label="frozen"), world["files"]["p2"].name)
    assert "now locked" in lea.out("label", "--lock", "frozen")
    before = requests.get(repodata(wharf, "lea", label="frozen"), timeout=10).content

    listing, show, copy, upload, remove, unlock = concurrently(
        lambda: lea.out("label", "--list"), lambda: lea.out("label", "--show", "frozen"),
        lambda: lea.fails("label", "--copy", "main", "frozen"), lambda: lea.fails("upload", "-l", "frozen", str(late)),
        lambda: lea.fails("label", "--remove", "frozen"),
        lambda: world["max"].fails("label", "-o", "lea", "--unlock", "frozen"))
    assert "frozen[locked]" in listing.replace(" [", "[") and "locked" in show
    for out in (copy, upload, remove):
        assert "409" in out and "locked" in out
    assert "403" in unlock
    assert status(wharf, "POST", "/channels/lea/frozen", world["tok"], json=dict(NULL_FILTER, package="lblpkg")) \
        == 409  # anaconda move's first call
    # the CLI removes the package it registered for the refused upload
    assert requests.get(f"{wharf.api}/package/lea/lbllate", headers=auth(world["tok"]), timeout=10).status_code \
        == 404
    assert requests.get(repodata(wharf, "lea", label="frozen"), timeout=10).content == before

    assert "now unlocked" in lea.out("label", "--unlock", "frozen")
    listing, _, _ = concurrently(lambda: lea.out("label", "--list"),
                                 lambda: lea.run("label", "--copy", "main", "frozen"),
                                 lambda: lea.run("upload", "-l", "frozen", str(late)))
    assert "locked" not in listing
    wait_for_repodata(repodata(wharf, "lea", label="frozen"), world["files"]["p1"].name)
    wait_for_repodata(repodata(wharf, "lea", label="frozen"), late.name)


def test_labels_of_an_organization(wharf, world):
    lea, org = world["lea"], world["files"]["org"].name
    listing, beta = concurrently(lambda: lea.out("label", "-o", "leaorg", "--list"),
                                 lambda: lea.out("label", "-o", "leaorg", "--show", "beta"))
    assert "+ beta" in listing and "+ dev" not in listing
    assert f"leaorg/lblorg/1.0/noarch/{org}" in beta
    lea.run("label", "-o", "leaorg", "--copy", "beta", "main")
    wait_for_repodata(repodata(wharf, "leaorg"), org)
    lea.run("label", "-o", "leaorg", "--lock", "main")
    listing, remove = concurrently(lambda: lea.out("label", "-o", "leaorg", "--list"),
                                   lambda: lea.fails("label", "-o", "leaorg", "--remove", "main"))
    assert "main[locked]" in listing.replace(" [", "[")
    assert "409" in remove and "default channel" in remove   # main is never removed as a whole, locked or not
    assert status(wharf, "DELETE", "/channels/leaorg/main/lock", world["max_tok"]) == 403
    lea.run("label", "-o", "leaorg", "--unlock", "main")
    lea.run("label", "-o", "leaorg", "--remove", "beta")
    wait_for_repodata(repodata(wharf, "leaorg", label="beta"), org, present=False)
    assert listed(repodata(wharf, "leaorg")) == {org}


def test_move(wharf, world):
    lea, p1, p2 = world["lea"], world["files"]["p1"].name, world["files"]["p2"].name
    _, out = concurrently(
        lambda: lea.run("move", "lea/lblpkg/1.0", "--from-label", "main", "--to-label", "beta"),
        lambda: lea.fails("move", "lea/lblpkg", "--from-label", "nolabel", "--to-label", "main"))
    assert "nolabel does not exist" in out
    wait_for_repodata(repodata(wharf, "lea", label="beta"), p1)
    wait_for_repodata(repodata(wharf, "lea"), p1, present=False)
    # a single file, by basename (it contains the subdir)
    lea.run("move", f"lea/lblpkg/2.0/noarch/{p2}", "--from-label", "dev", "--to-label", "rc")
    wait_for_repodata(repodata(wharf, "lea", label="rc"), p2)
    wait_for_repodata(repodata(wharf, "lea", label="dev"), p2, present=False)
    # a whole package back to main: every file of the package gets main (the POST names no source label)
    lea.run("move", "lea/lblpkg", "--from-label", "beta", "--to-label", "main")
    wait_for_repodata(repodata(wharf, "lea"), p1)
    wait_for_repodata(repodata(wharf, "lea"), p2)
    wait_for_repodata(repodata(wharf, "lea", label="beta"), p1, present=False)
    files = requests.get(f"{wharf.api}/package/lea/lblpkg", timeout=10).json()["files"]
    assert {f["version"]: sorted(f["labels"]) for f in files} == {"1.0": ["frozen", "main"],
                                                                     "2.0": ["frozen", "main", "rc"]}


def test_copy_to_label_and_owner(wharf, world):
    lea, p2, p1 = world["lea"], world["files"]["p2"].name, world["files"]["p1"].name
    # same owner, one file, onto another label
    out = lea.out("copy", f"lea/lblpkg/2.0/noarch/{p2}", "--from-label", "rc", "--to-label", "prod")
    assert f"Copied file: noarch/{p2}" in out
    wait_for_repodata(repodata(wharf, "lea", label="prod"), p2)
    assert p2 in listed(repodata(wharf, "lea", label="rc"))
    # again: a conflict; and, into an organization: the package and release are created there
    again, out = concurrently(
        lambda: lea.fails("copy", f"lea/lblpkg/2.0/noarch/{p2}", "--from-label", "rc", "--to-label", "prod"),
        lambda: lea.out("copy", "lea/lblpkg/1.0", "--to-owner", "leaorg", "--from-label", "main",
                        "--to-label", "main"))
    assert "File conflict while copying! Try to use --replace or --update" in again
    assert f"Copied file: noarch/{p1}" in out
    wait_for_repodata(repodata(wharf, "leaorg"), p1)
    rec = requests.get(repodata(wharf, "leaorg"), timeout=10).json()["packages.conda"][p1]
    assert rec["sha256"] == requests.get(repodata(wharf, "lea"), timeout=10).json()["packages.conda"][p1]["sha256"]
    r = requests.get(f"{wharf.base_url}/conda/leaorg/noarch/{p1}", timeout=30)
    assert r.status_code == 200 and r.content == world["files"]["p1"].read_bytes()

    # again: 409 without --replace/--update; someone without write on the target owner cannot copy into it
    out = lea.fails("copy", "lea/lblpkg/1.0", "--to-owner", "leaorg", "--to-label", "main")
    assert "File conflict while copying! Try to use --replace or --update" in out
    assert status(wharf, "POST", "/copy/package/lea/lblpkg/1.0/", world["max_tok"],
                  json={"to_owner": "leaorg", "from_channel": "main", "to_channel": "x"}) == 403
    r = requests.post(f"{wharf.api}/copy/package/lea/lblpkg/1.0/", headers=auth(world["tok"]), timeout=10,
                      json={"to_owner": "leaorg", "from_channel": "main", "to_channel": "main"})
    assert r.status_code == 409 and "error" in r.json()

    # --update only adds the label to the file already there
    out = lea.out("copy", "lea/lblpkg/1.0", "--to-owner", "leaorg", "--to-label", "stable", "--update")
    assert "Copied 1 files" in out
    wait_for_repodata(repodata(wharf, "leaorg", label="stable"), p1)
    assert p1 in listed(repodata(wharf, "leaorg"))
    # --replace uploads it again (same bytes) with only the target label
    out = lea.out("copy", "lea/lblpkg/1.0", "--to-owner", "leaorg", "--to-label", "main", "--replace")
    assert f"Copied file: noarch/{p1}" in out
    wait_for_repodata(repodata(wharf, "leaorg", label="stable"), p1, present=False)
    assert p1 in listed(repodata(wharf, "leaorg"))
    [f] = [f for f in requests.get(f"{wharf.api}/package/leaorg/lblpkg", timeout=10).json()["files"]
           if f["version"] == "1.0"]
    assert f["labels"] == ["main"]
