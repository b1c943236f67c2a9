"""A private package must be invisible to anonymous readers and to unrelated users on EVERY read path, and
indistinguishable from a package that does not exist: same status, same error body (modulo the name the
requester typed), and nothing in any listing, search result, label, channel index or error message.

The private package ``leakyname`` of ``pia`` has files in noarch (labels main and ``hush``) and linux-64 (main);
``hush`` and linux-64 exist only through it. ``openpkg`` (public, noarch, main) makes the channel itself public.
"""
from __future__ import annotations

import json

import pytest
import requests
import zstandard

from tests.helpers.packages import make_conda_package

from .test_cli_support import (CLI, auth, create_accounts, fast_stop, raw_upload, repodata, sha256_of,  # noqa: F401
                               token, wait_for_repodata)

pytestmark = pytest.mark.system

SECRET = "leakyname"
GHOST = "ghostname"     # never existed: the reference answer
PW = {"pia": "pia-pw-12345", "eve": "eve-pw-12345"}


@pytest.fixture(scope="module")
def world(wharf, fast_stop, tmp_path_factory):
    create_accounts(wharf, PW)
    owner = token(wharf, "pia", PW["pia"])
    d = tmp_path_factory.mktemp("leaks")
    noarch = make_conda_package(d / "a", SECRET, "1.0")
    linux = make_conda_package(d / "b", SECRET, "1.0", subdir="linux-64", fmt=".tar.bz2")
    public = make_conda_package(d / "c", "openpkg", "1.0")
    raw_upload(wharf, owner, "pia", public, "openpkg", "1.0", f"noarch/{public.name}")
    # uploaded by the real CLI, as a user would
    pia = CLI(wharf, tmp_path_factory.mktemp("pia"), token=owner)
    pia.run("upload", "--private", "-l", "main", "-l", "hush", str(noarch))
    pia.run("upload", "--private", str(linux))
    h = auth(owner)
    wait_for_repodata(repodata(wharf, "pia"), noarch.name, headers=h)
    wait_for_repodata(repodata(wharf, "pia", label="hush"), noarch.name, headers=h)
    wait_for_repodata(repodata(wharf, "pia", "linux-64"), linux.name, headers=h)
    wait_for_repodata(repodata(wharf, "pia"), public.name)
    markers = [SECRET, sha256_of(noarch), sha256_of(linux), noarch.name, linux.name]
    return {"owner": owner, "eve": token(wharf, "eve", PW["eve"]), "noarch": noarch, "linux": linux,
            "markers": markers}


def _paths(wharf, name: str, noarch_fn: str, linux_fn: str) -> dict[str, str]:
    """Every read path that names the package (by ``name`` and its file names)."""
    a, c = wharf.api, f"{wharf.base_url}/conda/pia"
    return {
        "package": f"{a}/package/pia/{name}",
        "release": f"{a}/release/pia/{name}/1.0",
        "dist": f"{a}/dist/pia/{name}/1.0/noarch/{noarch_fn}",
        "dist linux": f"{a}/dist/pia/{name}/1.0/linux-64/{linux_fn}",
        "download": f"{a}/download/pia/{name}/1.0/noarch/{noarch_fn}",
        "collaborators": f"{a}/packages/pia/{name}/collaborators",
        "conda file": f"{c}/noarch/{noarch_fn}",
        "conda file label": f"{c}/label/hush/noarch/{noarch_fn}",
        "conda file linux": f"{c}/linux-64/{linux_fn}",
    }


def _listings(wharf) -> dict[str, str]:
    """Read paths that do not name the package: it must not show up in them."""
    a, c = wharf.api, f"{wharf.base_url}/conda/pia"
    return {
        "packages": f"{a}/packages/pia",
        "search": f"{a}/search?name=leaky",
        "search exact": f"{a}/search?name={SECRET}",
        "search conda": f"{a}/search?name=leaky&type=conda&platform=linux-64",
        "labels": f"{a}/channels/pia",
        "label main": f"{a}/channels/pia/main",
        "repodata": f"{c}/noarch/repodata.json",
        "repodata zst": f"{c}/noarch/repodata.json.zst",
        "channeldata": f"{c}/channeldata.json",
        "channeldata label": f"{c}/label/hush/channeldata.json",
        "user": f"{a}/user/pia",
    }


def _body(r: requests.Response) -> str:
    if r.headers.get("Content-Type", "").startswith("application/zstd") and r.status_code == 200:
        return zstandard.ZstdDecompressor().decompressobj().decompress(r.content).decode()
    return r.text


def _get(url: str, tok: str | None) -> requests.Response:
    return requests.get(url, headers=auth(tok), timeout=30, allow_redirects=False)


@pytest.mark.parametrize("who", ["anonymous", "eve"])
def test_named_paths_look_like_nothing(wharf, world, who):
    tok = world["eve"] if who == "eve" else None
    noarch_fn, linux_fn = world["noarch"].name, world["linux"].name
    secret = _paths(wharf, SECRET, noarch_fn, linux_fn)
    ghost = _paths(wharf, GHOST, noarch_fn.replace(SECRET, GHOST), linux_fn.replace(SECRET, GHOST))
    problems = {}
    for key, url in secret.items():
        r, ref = _get(url, tok), _get(ghost[key], tok)
        body = _body(r)
        if r.status_code != 404:
            problems[key] = f"status {r.status_code}"
        elif r.status_code != ref.status_code or body.replace(SECRET, GHOST) != _body(ref):
            problems[key] = f"differs from a missing package: {body!r} vs {_body(ref)!r}"
        for m in world["markers"][1:3]:  # sha256 values: never sent by the requester
            if m in body:
                problems[key] = f"leaks {m}"
        if body.count(SECRET) > url.count(SECRET):
            problems[key] = f"names {SECRET} more often than the request did: {body!r}"
    # the owner sees all of it (so the paths above are the right ones)
    for key in ("package", "release", "dist", "dist linux", "collaborators", "conda file", "conda file label",
                "conda file linux"):
        status = requests.get(secret[key], headers=auth(world["owner"]), timeout=30).status_code  # S3: via 302
        if status != 200:
            problems[f"owner {key}"] = f"status {status}"
    assert not problems, problems


@pytest.mark.parametrize("who", ["anonymous", "eve"])
def test_listings_do_not_mention_it(wharf, world, who):
    tok = world["eve"] if who == "eve" else None
    problems = {}
    for key, url in _listings(wharf).items():
        r = _get(url, tok)
        body = _body(r)
        if r.status_code != 200:
            problems[key] = f"status {r.status_code}"
        for m in world["markers"]:
            if m in body:
                problems[key] = f"mentions {m}"
    r = _get(f"{wharf.api}/channels/pia", tok)
    if "hush" in r.json():
        problems["labels"] = "lists hush, a label only private files carry"
    if "openpkg" not in _body(_get(f"{wharf.api}/packages/pia", tok)):
        problems["packages"] = "does not list the public package"
    # owner view, for contrast
    owner_view = _body(_get(f"{wharf.api}/packages/pia", world["owner"])) + \
        _body(_get(f"{wharf.api}/search?name=leaky", world["owner"])) + \
        json.dumps(_get(f"{wharf.api}/channels/pia", world["owner"]).json())
    if SECRET not in owner_view or "hush" not in owner_view:
        problems["owner"] = "the owner does not see the package in the listings"
    # channeldata: the owner's lists it in both subdirs; the reader's has the public package only
    owner_cd = _get(f"{wharf.base_url}/conda/pia/channeldata.json", world["owner"]).json()
    if owner_cd["packages"].get(SECRET, {}).get("subdirs") != ["linux-64", "noarch"]:
        problems["owner channeldata"] = owner_cd
    reader_cd = _get(f"{wharf.base_url}/conda/pia/channeldata.json", tok).json()
    if set(reader_cd["packages"]) != {"openpkg"} or reader_cd["subdirs"] != ["noarch"]:
        problems["channeldata"] = reader_cd
    assert not problems, problems


@pytest.mark.parametrize("who", ["anonymous", "eve", "eve /t/"])
def test_channel_indexes_look_like_nothing(wharf, world, who):
    """Index files of a label and a subdir that exist only through the private package answer exactly like a
    label and a subdir that never existed."""
    tok = None if who == "anonymous" else world["eve"]
    path_token = who == "eve /t/"

    def fetch(subdir, label=None, fname="repodata.json"):
        url = repodata(wharf, "pia", subdir, label, tok, path_token).replace("repodata.json", fname)
        r = requests.get(url, headers={} if path_token else auth(tok), timeout=30)
        return r.status_code, _body(r)

    problems = {}
    for fname in ("repodata.json", "repodata.json.zst"):
        pairs = {
            "hush label": (fetch("noarch", "hush", fname), fetch("noarch", "neverlabel", fname)),
            "hush label linux": (fetch("linux-64", "hush", fname), fetch("linux-64", "neverlabel", fname)),
            "linux-64 subdir": (fetch("linux-64", None, fname), fetch("osx-arm64", None, fname)),
        }
        for key, ((status, body), (ref_status, ref_body)) in pairs.items():
            if key == "linux-64 subdir":
                ref_body = ref_body.replace("osx-arm64", "linux-64")
            if (status, body) != (ref_status, ref_body):
                problems[f"{key} {fname}"] = f"{status} {body[:200]!r} vs {ref_status} {ref_body[:200]!r}"
            if any(m in body for m in world["markers"]):
                problems[f"{key} {fname}"] = "mentions the private package"
        status, body = fetch("noarch", None, fname)
        if status != 200 or SECRET in body or "openpkg" not in body:
            problems[f"main {fname}"] = f"{status} {body[:200]!r}"
    r = requests.get(f"{wharf.api}/channels/pia/hush", headers=auth(tok), timeout=30)
    ref = requests.get(f"{wharf.api}/channels/pia/neverlabel", headers=auth(tok), timeout=30)
    if r.status_code != 404 or r.text.replace("hush", "neverlabel") != ref.text:
        problems["api label hush"] = f"{r.status_code} {r.text[:200]!r} vs {ref.status_code} {ref.text[:200]!r}"
    assert not problems, problems


def test_private_bytes_are_never_publicly_cacheable(wharf, world):
    """Issue 15 item 3: a private file's bytes (API download, conda file, also through /t/<token>/) are answered
    with ``Cache-Control: private`` and ``Vary: Authorization``, or (S3) a ``private, no-store`` redirect to a
    presigned URL that S3 answers ``private`` too; a shared cache or CDN keeps none of them. Public bytes stay
    ``public, immutable``."""
    owner, noarch_fn = world["owner"], world["noarch"].name
    a, c = wharf.api, f"{wharf.base_url}/conda"
    private = {
        "download": (f"{a}/download/pia/{SECRET}/1.0/noarch/{noarch_fn}", auth(owner)),
        "conda file": (f"{c}/pia/noarch/{noarch_fn}", auth(owner)),
        "conda file /t/": (f"{c}/t/{owner}/pia/label/hush/noarch/{noarch_fn}", {}),
    }
    problems = {}
    for key, (url, headers) in private.items():
        r = requests.get(url, headers=headers, timeout=30, allow_redirects=False)
        if r.status_code == 302:
            if r.headers.get("Cache-Control") != "private, no-store":
                problems[key] = f"redirect Cache-Control {r.headers.get('Cache-Control')!r}"
            r = requests.get(r.headers["Location"], timeout=30)
        elif "Authorization" not in r.headers.get("Vary", ""):
            problems[f"{key} vary"] = r.headers.get("Vary")
        if r.status_code != 200 or not r.headers.get("Cache-Control", "").startswith("private"):
            problems[key] = f"{r.status_code} Cache-Control {r.headers.get('Cache-Control')!r}"
    public = requests.get(f"{c}/pia/noarch/openpkg-1.0-0.conda", timeout=30)
    if public.status_code != 200 or "public" not in public.headers.get("Cache-Control", ""):
        problems["public file"] = f"{public.status_code} {public.headers.get('Cache-Control')!r}"
    assert not problems, problems
