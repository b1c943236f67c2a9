"""PyPI through the gateway, in both modes: twine uploads (legacy API, --skip-existing), pip and uv install
from the PEP 503/691 simple index (public, and private through /pypi/t/<token>/), PEP 658 metadata, content
negotiation and caching headers; `anaconda upload` of a wheel lands in the same package as twine's."""
from __future__ import annotations

import hashlib
import subprocess
import sys
import time

import pytest
import requests

from tests.helpers.packages import make_sdist, make_wheel

from .clients import AnacondaCLI
from .harness import VENV_BIN

pytestmark = pytest.mark.system
JSON = "application/vnd.pypi.simple.v1+json"


@pytest.fixture(scope="module")
def dists(tmp_path_factory):
    d = tmp_path_factory.mktemp("dists")
    return {"whl1": make_wheel(d, "wharfpy", "1.0", requires_python=">=3.8"),
            "sdist1": make_sdist(d, "wharfpy", "1.0"),
            "whl2": make_wheel(d / "v2", "wharfpy", "2.0"),
            "secret": make_wheel(d / "s", "secretpy", "0.1")}


@pytest.fixture(scope="module")
def carol(wharf):
    wharf.cli("user", "create", "carol", "--password", "carol-pw-789")
    r = requests.post(wharf.api + "/authentications", auth=("carol", "carol-pw-789"),
                      json={"note": "pypi-tests"}, timeout=30)
    return r.json()["token"]


def twine(wharf, *args, check=True):
    r = subprocess.run([str(VENV_BIN / "twine"), "upload", "--non-interactive", "--disable-progress-bar",
                        "--repository-url", f"{wharf.base_url}/pypi/carol/", *args],
                       capture_output=True, text=True, timeout=300, env=wharf.env)
    if check:
        assert r.returncode == 0, r.stdout + r.stderr
    return r


def wait_page(url, filename, headers=None, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = requests.get(url, headers={"Accept": JSON, **(headers or {})}, timeout=10)
        if r.status_code == 200 and filename in {f["filename"] for f in r.json()["files"]}:
            return r
        time.sleep(0.2)
    raise AssertionError(f"{filename} never appeared on {url}")


def test_twine_upload_and_skip_existing(wharf, carol, dists):
    twine(wharf, "-u", "carol", "-p", "carol-pw-789", str(dists["whl1"]), str(dists["sdist1"]))
    page = wait_page(f"{wharf.base_url}/pypi/carol/simple/wharfpy/", dists["sdist1"].name).json()
    files = {f["filename"]: f for f in page["files"]}
    assert files[dists["whl1"].name]["hashes"]["sha256"] == hashlib.sha256(dists["whl1"].read_bytes()).hexdigest()
    assert files[dists["whl1"].name]["requires-python"] == ">=3.8"
    assert page["name"] == "wharfpy" and "1.0" in page["versions"]
    # twine 7 refuses --skip-existing for any repository but pypi.org on the client side, so what it relies on
    # is checked directly: an identical re-upload succeeds (Warehouse behaviour), different bytes under an
    # existing name are refused with "File already exists" (what --skip-existing recognises)
    twine(wharf, "-u", "__token__", "-p", carol, str(dists["whl1"]))
    other = make_wheel(dists["whl1"].parent / "other", "wharfpy", "1.0", summary="different bytes")
    again = twine(wharf, "-u", "carol", "-p", "carol-pw-789", str(other), check=False)
    assert again.returncode != 0 and "already exists" in (again.stdout + again.stderr)
    bad = twine(wharf, "-u", "carol", "-p", "wrong", str(dists["whl2"]), check=False)
    assert bad.returncode != 0


def test_pip_and_uv_install(wharf, carol, dists, tmp_path):
    index = f"{wharf.base_url}/pypi/carol/simple"
    wait_page(index + "/wharfpy/", dists["whl1"].name)
    r = subprocess.run([sys.executable, "-m", "pip", "install", "--no-cache-dir", "--disable-pip-version-check",
                        "--index-url", index, "--target", str(tmp_path / "pip"), "wharfpy==1.0"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert (tmp_path / "pip" / "wharfpy" / "__init__.py").exists()
    r = subprocess.run([str(VENV_BIN / "uv"), "pip", "install", "--no-cache", "--index-url", index,
                        "--target", str(tmp_path / "uv"), "--python", sys.executable, "wharfpy==1.0"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert (tmp_path / "uv" / "wharfpy" / "__init__.py").exists()


def test_simple_api_details(wharf, carol, dists):
    base = f"{wharf.base_url}/pypi/carol/simple"
    page = wait_page(base + "/wharfpy/", dists["whl1"].name)
    assert page.headers["Content-Type"] == JSON and "Accept" in page.headers["Vary"]
    assert requests.get(base + "/wharfpy/", headers={"Accept": JSON, "If-None-Match": page.headers["ETag"]},
                        timeout=10).status_code == 304
    html = requests.get(base + "/wharfpy/", timeout=10)
    assert html.status_code == 200 and html.headers["Content-Type"].startswith("text/html")
    assert f'>{dists["whl1"].name}</a>' in html.text and "data-core-metadata" in html.text
    assert html.headers["ETag"] != page.headers["ETag"]
    entry = {f["filename"]: f for f in page.json()["files"]}[dists["whl1"].name]
    meta = requests.get(f"{base}/wharfpy/{dists['whl1'].name}.metadata", timeout=10)
    assert meta.status_code == 200
    assert hashlib.sha256(meta.content).hexdigest() == entry["core-metadata"]["sha256"]
    assert b"Name: wharfpy" in meta.content
    assert requests.get(base + "/wharfpy/", headers={"Accept": "application/json"}, timeout=10).status_code == 406
    assert requests.get(base + "/no-such-project/", timeout=10).status_code == 404
    moved = requests.get(base + "/WharfPy/", allow_redirects=False, timeout=10)
    assert moved.status_code == 301 and moved.headers["Location"].endswith("/simple/wharfpy/")
    root = requests.get(base + "/", headers={"Accept": JSON}, timeout=10).json()
    assert {"name": "wharfpy"} in root["projects"]


def test_anaconda_upload_lands_in_the_same_package(wharf, carol, dists, tmp_path):
    cli = AnacondaCLI(wharf, tmp_path / "home")
    cli.run("-t", carol, "upload", "-u", "carol", str(dists["whl2"]))
    wait_page(f"{wharf.base_url}/pypi/carol/simple/wharfpy/", dists["whl2"].name)
    pkg = requests.get(wharf.api + "/package/carol/wharfpy", timeout=10).json()
    assert {f["basename"] for f in pkg["files"]} >= {dists["whl1"].name, dists["whl2"].name}


def test_private_project_needs_a_token(wharf, carol, dists, tmp_path):
    h = {"Authorization": f"token {carol}"}
    r = requests.post(wharf.api + "/package/carol/secretpy", headers=h, timeout=10,
                      json={"public": False, "public_attrs": {"summary": "secret"}})
    assert r.status_code == 200, r.text
    twine(wharf, "-u", "carol", "-p", "carol-pw-789", str(dists["secret"]))
    private_index = f"{wharf.base_url}/pypi/t/{carol}/carol/simple"
    wait_page(private_index + "/secretpy/", dists["secret"].name)
    assert requests.get(f"{wharf.base_url}/pypi/carol/simple/secretpy/", timeout=10).status_code == 404
    root = requests.get(f"{wharf.base_url}/pypi/carol/simple/", headers={"Accept": JSON}, timeout=10).json()
    assert {"name": "secretpy"} not in root["projects"]
    r = subprocess.run([sys.executable, "-m", "pip", "install", "--no-cache-dir", "--disable-pip-version-check",
                        "--index-url", private_index, "--target", str(tmp_path / "p"), "secretpy"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    bad = requests.get(f"{wharf.base_url}/pypi/t/wt-0000/carol/simple/", timeout=10)
    assert bad.status_code == 401


README = "# Hatch\n\nA *Markdown* description.\n"
HATCHLING = {"Metadata-Version": "2.4", "License-Expression": "MIT", "License-File": "LICENSE",
             "Description-Content-Type": "text/markdown", "Project-URL": "Homepage, https://example.org/hatch"}


@pytest.mark.parametrize("metadata_version,how", [("2.4", "twine"), ("2.5", "anaconda")])
def test_metadata_2_4_and_2_5_license_and_description_reach_the_api(wharf, carol, tmp_path, metadata_version,
                                                                     how):
    """A hatchling-style wheel (License-Expression, Markdown description): the API shows its license, home page,
    description and the description's content type (issue 15 item 19), uploaded with twine or anaconda."""
    name = f"hatch{how}"
    whl = make_wheel(tmp_path, name, "1.0", description=README,
                     metadata_overrides=dict(HATCHLING, **{"Metadata-Version": metadata_version}))
    if how == "twine":
        twine(wharf, "-u", "carol", "-p", "carol-pw-789", str(whl))
    else:
        AnacondaCLI(wharf, tmp_path / "home").run("-t", carol, "upload", "-u", "carol", str(whl))
    pkg = requests.get(f"{wharf.api}/package/carol/{name}", timeout=10).json()
    license_ = pkg["license"]["name"] if isinstance(pkg["license"], dict) else pkg["license"]   # anaconda's shape
    assert license_ == "MIT" and pkg["home"] == "https://example.org/hatch", pkg
    assert pkg["description"].strip() == README.strip() and pkg["summary"] == "A test package"
    rel = requests.get(f"{wharf.api}/release/carol/{name}/1.0", timeout=10).json()
    assert rel["public_attrs"]["description"].strip() == README.strip()      # what `anaconda show` prints
    assert rel["public_attrs"]["description_content_type"] == "text/markdown"
    shown = AnacondaCLI(wharf, tmp_path / "home2").run("show", f"carol/{name}/1.0")
    assert "A *Markdown* description." in shown.stdout + shown.stderr
