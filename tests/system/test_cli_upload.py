"""`anaconda upload` against a running Wharf (both modes): conda (.conda, .tar.bz2), PyPI wheel and sdist,
plain files; `-u` (own namespace, organization, someone else's), `-l` repeated, `--private`, `-s`, `-d`, and
the three modes for a file that exists (default: conflict, `--skip-existing`, `--force`)."""
from __future__ import annotations

import hashlib

import pytest
import requests

from tests.helpers.packages import make_conda_package, make_sdist, make_wheel

from .test_cli_support import (CLI, auth, concurrently, create_accounts, eventually, fast_stop, listed,  # noqa: F401
                               repodata, sha256_of, token, wait_for_repodata)

pytestmark = pytest.mark.system

PW = {"uma": "uma-pw-12345", "vic": "vic-pw-12345"}


@pytest.fixture(scope="module")
def world(wharf, fast_stop, tmp_path_factory):
    create_accounts(wharf, PW, {"umaorg": "uma"})
    tok = token(wharf, "uma", PW["uma"])
    uma = CLI(wharf, tmp_path_factory.mktemp("uma"), token=tok)
    vic = CLI(wharf, tmp_path_factory.mktemp("vic"), token=token(wharf, "vic", PW["vic"]))
    return {"uma": uma, "vic": vic, "tok": tok, "tmp": tmp_path_factory}


def _get(wharf, path, tok=None):
    r = requests.get(wharf.api + path, headers=auth(tok), timeout=30)
    return r.status_code, (r.json() if r.headers.get("Content-Type", "").startswith("application/json") else None)


def test_conda_both_formats(wharf, world):
    d = world["tmp"].mktemp("conda")
    a = make_conda_package(d / "a", "upconda", "1.0", build="0", subdir="noarch", fmt=".conda")
    b = make_conda_package(d / "b", "upconda", "1.0", build="0", subdir="linux-64", fmt=".tar.bz2")
    out = world["uma"].out("upload", "-u", "uma", str(a), str(b))
    assert "upconda" in out
    noarch = wait_for_repodata(repodata(wharf, "uma", "noarch"), a.name)
    linux = wait_for_repodata(repodata(wharf, "uma", "linux-64"), b.name)
    assert noarch["packages.conda"][a.name]["sha256"] == sha256_of(a)
    assert linux["packages"][b.name]["sha256"] == sha256_of(b)
    assert linux["packages"][b.name]["subdir"] == "linux-64"
    status, pkg = _get(wharf, "/package/uma/upconda")
    assert status == 200 and pkg["package_types"] == ["conda"] and pkg["public"] is True
    assert {f["basename"] for f in pkg["files"]} == {f"noarch/{a.name}", f"linux-64/{b.name}"}
    assert all(f["labels"] == ["main"] for f in pkg["files"])
    assert pkg["summary"] == "A test package"


def test_pypi_wheel_and_sdist(wharf, world):
    d = world["tmp"].mktemp("pypi")
    whl = make_wheel(d, "up-wheelie", "0.3.1", summary="Wheels and sdists")
    sdist = make_sdist(d, "up-wheelie", "0.3.1", summary="Wheels and sdists")
    world["uma"].run("upload", str(whl), str(sdist))
    status, pkg = _get(wharf, "/package/uma/up-wheelie")
    assert status == 200, pkg
    assert "pypi" in pkg["package_types"] and pkg["summary"] == "Wheels and sdists"
    files = {f["basename"]: f for f in pkg["files"]}
    assert set(files) == {whl.name, sdist.name}
    assert {f["type"] for f in files.values()} == {"pypi"}
    assert files[whl.name]["attrs"]["packagetype"] == "bdist_wheel"
    assert files[sdist.name]["attrs"]["packagetype"] == "sdist"
    for path in (whl, sdist):
        r = requests.get(f"{wharf.api}/download/uma/up-wheelie/0.3.1/{path.name}", timeout=30)
        assert r.status_code == 200 and r.content == path.read_bytes()


def test_plain_file(wharf, world):
    csv = world["tmp"].mktemp("file") / "numbers.csv"
    csv.write_text("quarter,amount\nq1,10\nq2,20\n")
    world["uma"].run("upload", "-t", "file", "-p", "upnumbers", "-v", "2024.1", "-s", "Quarterly numbers",
                     str(csv))
    status, pkg = _get(wharf, "/package/uma/upnumbers")
    assert status == 200 and pkg["summary"] == "Quarterly numbers" and pkg["package_types"] == ["file"]
    [f] = pkg["files"]
    assert (f["basename"], f["version"], f["type"]) == ("numbers.csv", "2024.1", "file")
    assert f["sha256"] == sha256_of(csv)
    r = requests.get(f"{wharf.api}/download/uma/upnumbers/2024.1/numbers.csv", timeout=30)
    assert r.status_code == 200 and r.content == csv.read_bytes()


def test_labels_private_summary_description(wharf, world):
    d = world["tmp"].mktemp("labels")
    pkg = make_conda_package(d, "upsecret", "2.0")
    world["uma"].run("upload", "-l", "dev", "-l", "test", "--private", "-s", "Hidden things",
                     "-d", "Only for us", str(pkg))
    tok = world["tok"]
    for label in ("dev", "test"):
        wait_for_repodata(repodata(wharf, "uma", label=label), pkg.name, headers=auth(tok))
        assert pkg.name not in listed(repodata(wharf, "uma", label=label))  # anonymous: private
    assert pkg.name not in listed(repodata(wharf, "uma"), auth(tok))       # no main label
    status, body = _get(wharf, "/package/uma/upsecret", tok)
    assert status == 200 and body["public"] is False and body["summary"] == "Hidden things"
    [f] = body["files"]
    assert sorted(f["labels"]) == ["dev", "test"] and f["description"] == "Only for us"
    status, dist = _get(wharf, f"/dist/uma/upsecret/2.0/noarch/{pkg.name}", tok)
    assert status == 200 and dist["description"] == "Only for us"
    assert _get(wharf, "/package/uma/upsecret")[0] == 404
    assert _get(wharf, "/release/uma/upsecret/2.0")[0] == 404


def test_upload_to_org_and_to_someone_else(wharf, world):
    d = world["tmp"].mktemp("owners")
    pkg = make_conda_package(d, "upshared", "1.0")
    world["uma"].run("upload", "-u", "umaorg", str(pkg))
    wait_for_repodata(repodata(wharf, "umaorg"), pkg.name)
    assert _get(wharf, "/package/umaorg/upshared")[1]["owner"]["login"] == "umaorg"
    # someone else: the package cannot be created in uma's namespace (404, as for a private package), and
    # a new file of umaorg's existing public package is refused (403); an unknown owner is reported as such
    other = make_conda_package(d / "other", "upshared", "1.1")
    to_uma, to_org, nobody = concurrently(lambda: world["vic"].fails("upload", "-u", "uma", str(pkg)),
                                          lambda: world["vic"].fails("upload", "-u", "umaorg", str(other)),
                                          lambda: world["uma"].fails("upload", "-u", "nobody-here", str(pkg)))
    assert "NotFound" in to_uma and "404" in to_uma
    assert "403" in to_org
    assert "nobody-here" in nobody and "does not exist" in nobody
    assert _get(wharf, "/release/umaorg/upshared/1.1")[0] == 404
    assert _get(wharf, "/package/uma/upshared")[0] == 404
    assert _get(wharf, "/package/umaorg/upshared")[1]["files"][0]["uploader"] == "uma"


def test_existing_file_conflict_skip_force(wharf, world):
    d = world["tmp"].mktemp("force")
    first = make_conda_package(d / "v1", "upforce", "1.0", build="0")
    world["uma"].run("upload", str(first))
    wait_for_repodata(repodata(wharf, "uma"), first.name)

    # same name, version and build, different bytes
    second = make_conda_package(d / "v2", "upforce", "1.0", build="0",
                                files={"share/upforce/README.txt": "the second build of the same file\n"})
    assert second.name == first.name and sha256_of(second) != sha256_of(first)

    r = world["uma"].run("upload", str(second), check=False)
    assert r.returncode != 0 and "already exists" in r.stdout + r.stderr
    assert _get(wharf, f"/dist/uma/upforce/1.0/noarch/{first.name}")[1]["sha256"] == sha256_of(first)

    r = world["uma"].run("upload", "--skip-existing", str(second))
    assert _get(wharf, f"/dist/uma/upforce/1.0/noarch/{first.name}")[1]["sha256"] == sha256_of(first)
    assert listed(repodata(wharf, "uma")) >= {first.name}

    world["uma"].run("upload", "--force", str(second))
    assert _get(wharf, f"/dist/uma/upforce/1.0/noarch/{first.name}")[1]["sha256"] == sha256_of(second)

    def new_sha():
        rec = requests.get(repodata(wharf, "uma"), timeout=10).json()["packages.conda"].get(second.name)
        assert rec and rec["sha256"] == sha256_of(second)  # (absent for a moment: --force removes, then uploads)
    eventually(new_sha)
    r = requests.get(f"{wharf.base_url}/conda/uma/noarch/{second.name}", timeout=30)
    assert r.status_code == 200 and hashlib.sha256(r.content).hexdigest() == sha256_of(second)
    [f] = _get(wharf, "/package/uma/upforce")[1]["files"]
    assert f["sha256"] == sha256_of(second)
