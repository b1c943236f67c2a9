"""Hostile input, in both run modes: each case gets a clear 4xx, leaves nothing stored (no file record, no
staged upload or staged bytes, no new blob) and the service keeps working (a normal upload succeeds after it).

The Wharf of this module runs with a 2 MB upload limit (``WHARF_MAX_UPLOAD_SIZE``) and low login rate limits
(3 per account, 8 per address per 10 minutes; the module's own login is the first of the address)."""
from __future__ import annotations

import base64
import hashlib
import http.client
import io
import itertools
import json
import tarfile
import time
import urllib.parse
import zipfile

import pytest
import requests
import zstandard

from services.kernel import signing
from services.kernel.settings import Settings
from services.registry.bootstrap import bootstrap as registry_bootstrap
from services.kernel.adapters.blob_store import make_blob_store
from tests.helpers import hostile_archives as ha
from tests.helpers.packages import make_conda_package, make_sdist, make_wheel

from .api_upload import Uploader, login
from .clients import wait_for_repodata

pytestmark = pytest.mark.system

LIMIT = 2_000_000
OWNER = "hugo"


@pytest.fixture(scope="module")
def wharf_extra_env():
    return {"WHARF_MAX_UPLOAD_SIZE": str(LIMIT), "WHARF_LOGIN_RATE_ACCOUNT": "3",
            "WHARF_LOGIN_RATE_ADDRESS": "8", "WHARF_LOGIN_RATE_WINDOW": "600"}


# ------------------------------------------------------------------------------------------------ builders
def tar_bytes(members: dict, mode: str = "w:bz2") -> bytes:
    """A tar archive; a value is bytes (a file), or ("symlink"|"hardlink", target)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as tar:
        for name, value in members.items():
            info = tarfile.TarInfo(name)
            if isinstance(value, tuple):
                info.type = tarfile.SYMTYPE if value[0] == "symlink" else tarfile.LNKTYPE
                info.linkname = value[1]
                tar.addfile(info)
            else:
                info.size = len(value)
                tar.addfile(info, io.BytesIO(value))
    return buf.getvalue()


def index_json(name="hostile", version="1.0", subdir="noarch", **extra) -> bytes:
    doc = {"name": name, "version": version, "build": "0", "build_number": 0, "depends": [], "subdir": subdir,
           "license": "MIT", "noarch": "generic"} if subdir == "noarch" else \
        {"name": name, "version": version, "build": "0", "build_number": 0, "depends": [], "subdir": subdir}
    doc.update(extra)
    return json.dumps(doc).encode()


def conda_zip(stem: str, info: dict, pkg: dict) -> bytes:
    """A .conda (zip of metadata.json and two zstd tars) built by hand, so its members can be anything."""
    def zst_tar(members):
        return zstandard.ZstdCompressor().compress(tar_bytes(members, "w"))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr("metadata.json", json.dumps({"conda_pkg_format_version": 2}))
        zf.writestr(f"pkg-{stem}.tar.zst", zst_tar(pkg))
        zf.writestr(f"info-{stem}.tar.zst", zst_tar(info))
    return buf.getvalue()


class BombTar(io.RawIOBase):
    """Zeros streamed into a tar member without holding them in memory."""

    def __init__(self, n):
        self.left = n

    def readable(self):
        return True

    def readinto(self, b):
        n = min(len(b), self.left)
        b[:n] = bytes(n)
        self.left -= n
        return n


def bomb_tar_bz2(size: int) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:bz2") as tar:
        info = tarfile.TarInfo("info/index.json")
        data = index_json()
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
        info = tarfile.TarInfo("share/zeros.bin")
        info.size = size
        tar.addfile(info, io.BufferedReader(BombTar(size)))
    return buf.getvalue()


def zip_bomb_wheel(size: int) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("hostile-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: hostile\nVersion: 1.0\n")
        with zf.open("hostile/zeros.bin", "w", force_zip64=True) as f:
            chunk = bytes(1024 * 1024)
            for _ in range(size // len(chunk)):
                f.write(chunk)
    return buf.getvalue()


# ------------------------------------------------------------------------------------------------ fixtures
class World:
    def __init__(self, wharf, up: Uploader, token: str, settings: Settings, tmp):
        self.wharf, self.up, self.token, self.settings, self.tmp = wharf, up, token, settings, tmp
        self.blobs = make_blob_store(settings)
        self.registry = registry_bootstrap(settings)
        self.versions = itertools.count(1)
        self.baseline = self.package_blobs()
        self.staged = set(self.registry.verify_inventory()["staged"])

    def package_blobs(self) -> set[str]:
        return set(self.blobs.keys("blobs/"))

    def assert_nothing_stored(self, commit_refused: bool = False) -> None:
        """No staged bytes and no new blob; after a refused commit also no staged row (a stage whose form POST
        was refused stays open: the client may still POST the right bytes until its policy expires)."""
        staged = set(self.registry.verify_inventory()["staged"])
        if commit_refused:
            assert staged <= self.staged, "a refused commit left its staged row"
        self.staged = staged
        assert list(self.blobs.keys("staging/")) == [], "a refused upload left staged bytes"
        assert self.package_blobs() == self.baseline, "a refused upload left a blob"

    def assert_still_works(self) -> None:
        v = f"9.{next(self.versions)}"
        pkg = make_conda_package(self.tmp / v, "hostile", v, subdir="noarch", fmt=".conda")
        r = self.up.upload(OWNER, "hostile", v, pkg, subdir="noarch")
        assert r.status_code == 200, r.text
        self.baseline = self.package_blobs()

    def refused(self, r: requests.Response, *statuses: int) -> None:
        assert r.status_code in statuses, (r.status_code, r.text[:500])
        self.assert_nothing_stored(commit_refused="/api/commit/" in r.request.url)
        self.assert_still_works()


@pytest.fixture(scope="module")
def world(wharf, tmp_path_factory):
    wharf.cli("user", "create", OWNER, "--password", "hugo-pw-123")
    token = login(wharf.base_url, OWNER, "hugo-pw-123")
    up = Uploader(wharf.base_url, token)
    w = World(wharf, up, token, Settings.from_env(dict(wharf.env)), tmp_path_factory.mktemp("hostile"))
    w.assert_still_works()
    return w


def upload(world, basename: str, data: bytes, version: str = "1.0", package: str = "hostile",
           dtype: str = "conda") -> requests.Response:
    return world.up.upload(OWNER, package, version, basename=basename, data=data, dtype=dtype)


# ------------------------------------------------------------------------------------------------ archives
def test_corrupt_and_truncated_conda(world, tmp_path):
    good = make_conda_package(tmp_path, "hostile", "1.0", subdir="noarch", fmt=".conda").read_bytes()
    world.refused(upload(world, "noarch/hostile-1.0-0.conda", b"PK\x03\x04" + b"\x00garbage" * 100), 400)
    world.refused(upload(world, "noarch/hostile-1.0-0.conda", good[: len(good) // 2]), 400)
    world.refused(upload(world, "noarch/hostile-1.0-0.conda", good[:-30]), 400)


def test_corrupt_and_truncated_tar_bz2(world, tmp_path):
    good = make_conda_package(tmp_path, "hostile", "1.0", subdir="noarch", fmt=".tar.bz2").read_bytes()
    world.refused(upload(world, "noarch/hostile-1.0-0.tar.bz2", b"BZh9" + b"\x17" * 500), 400)
    world.refused(upload(world, "noarch/hostile-1.0-0.tar.bz2", good[: len(good) // 2]), 400)
    flipped = bytearray(good)
    flipped[len(good) // 2] ^= 0xFF
    world.refused(upload(world, "noarch/hostile-1.0-0.tar.bz2", bytes(flipped)), 400)


def test_corrupt_wheel_and_sdist(world, tmp_path):
    whl = make_wheel(tmp_path, "hostile", "1.0").read_bytes()
    world.refused(upload(world, "hostile-1.0-py3-none-any.whl", whl[: len(whl) // 2], dtype="pypi"), 400)
    world.refused(upload(world, "hostile-1.0-py3-none-any.whl", b"not a zip at all", dtype="pypi"), 400)
    sdist = make_sdist(tmp_path, "hostile", "1.0").read_bytes()
    world.refused(upload(world, "hostile-1.0.tar.gz", sdist[: len(sdist) // 2], dtype="pypi"), 400)
    world.refused(upload(world, "hostile-1.0.tar.gz", b"\x1f\x8b" + b"\x00" * 50, dtype="pypi"), 400)


def test_index_json_missing_invalid_or_disagreeing(world, tmp_path):
    fn = "noarch/hostile-1.0-0.tar.bz2"
    world.refused(upload(world, fn, tar_bytes({"info/about.json": b"{}", "share/x": b"x"})), 400)
    world.refused(upload(world, fn, tar_bytes({"info/index.json": b"{not json", "share/x": b"x"})), 400)
    world.refused(upload(world, fn, tar_bytes({"info/index.json": b"[1, 2]"})), 400)
    world.refused(upload(world, fn, tar_bytes({"info/index.json": index_json(name="other")})), 400)
    world.refused(upload(world, fn, tar_bytes({"info/index.json": index_json(version="2.0")})), 400)
    world.refused(upload(world, fn, tar_bytes({"info/index.json": index_json(subdir="linux-64")})), 400)
    other = make_conda_package(tmp_path, "other", "1.0", subdir="noarch", fmt=".conda",
                               filename="hostile-1.0-0.conda")
    world.refused(upload(world, "noarch/hostile-1.0-0.conda", other.read_bytes()), 400)


@pytest.mark.parametrize("member", ["../evil.txt", "/etc/evil", "share/../../evil", ("symlink", "../../etc/passwd"),
                                    ("hardlink", "/etc/passwd")])
def test_members_escaping_their_root(world, member):
    if isinstance(member, tuple):
        members = {"info/index.json": index_json(), "share/link": member}
    else:
        members = {"info/index.json": index_json(), member: b"pwned"}
    world.refused(upload(world, "noarch/hostile-1.0-0.tar.bz2", tar_bytes(members)), 400)
    info = {"info/index.json": index_json()}
    pkg = {"share/link": member} if isinstance(member, tuple) else {member: b"pwned"}
    world.refused(upload(world, "noarch/hostile-1.0-0.conda", conda_zip("hostile-1.0-0", info, pkg)), 400)
    wheel = io.BytesIO()
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("hostile-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: hostile\nVersion: 1.0\n")
        zf.writestr(member if isinstance(member, str) else "../x", b"pwned")
    world.refused(upload(world, "hostile-1.0-py3-none-any.whl", wheel.getvalue(), dtype="pypi"), 400)


def test_decompression_bombs(world):
    bomb = bomb_tar_bz2(300 * 1024 * 1024)          # 300 MiB of zeros in a few hundred bytes
    assert len(bomb) < LIMIT
    world.refused(upload(world, "noarch/hostile-1.0-0.tar.bz2", bomb), 400)
    wheel = zip_bomb_wheel(300 * 1024 * 1024)
    assert len(wheel) < LIMIT
    world.refused(upload(world, "hostile-1.0-py3-none-any.whl", wheel, dtype="pypi"), 400)


def test_entry_count_bombs(world):
    """400,000 empty directories in a few KB (issue 15 item 2): refused at the entry limit, after 17,000-30,000
    members (the walk stops there; tests/storage/test_archive_limits.py shows where), not accepted after a minute."""
    for basename, data in (("noarch/hostile-1.0-0.tar.bz2", ha.entry_bomb_tar_bz2(400_000)),
                           ("noarch/hostile-1.0-0.conda", ha.entry_bomb_conda(400_000))):
        assert len(data) < 20_000
        r = upload(world, basename, data)
        assert "entry limit" in r.text, r.text[:300]
        world.refused(r, 400)


def test_oversized_tar_header(world):
    """A pax header of 16 MiB of zeros in a few hundred bytes: tarfile would read it into memory whole."""
    r = upload(world, "noarch/hostile-1.0-0.tar.bz2", ha.pax_bomb_tar_bz2(16 * 1024 * 1024))
    assert "headers take more than" in r.text, r.text[:300]
    world.refused(r, 400)


@pytest.mark.parametrize("links", [{"lib/root": ("symlink", ".."), "lib/root/up": ("symlink", "..")},
                                   {"l1": ("symlink", "b/.."), "b": ("symlink", ".")}], ids=["chain", "later"])
def test_symlink_chains_escaping_the_prefix(world, links):
    """Each link resolves inside on its own; followed through the links before (or after) it, one leads out
    (issue 15 item 10)."""
    for fmt in (".tar.bz2", ".conda"):
        world.refused(upload(world, f"noarch/hostile-1.0-0{fmt}", ha.conda_with_links(fmt, links)), 400)
    world.refused(upload(world, "hostile-1.0.tar.gz", ha.sdist_with_members(links), dtype="pypi"), 400)


def test_index_json_fields_of_the_wrong_type(world, tmp_path):
    """One record rattler cannot read made the owner's whole repodata.json unreadable (issue 15 item 5): each is
    a 400 at upload, and the channel's index stays readable by rattler."""
    fn = "noarch/hostile-1.0-0.tar.bz2"
    for extra in ({"timestamp": "yesterday"}, {"noarch": 123}, {"license": {"name": "MIT"}}):
        world.refused(upload(world, fn, tar_bytes({"info/index.json": index_json(**extra)})), 400)
    world.refused(upload(world, "noarch/hostile-1.0+-0.tar.bz2", tar_bytes(
        {"info/index.json": index_json(version="1.0+")}), version="1.0+"), 400)
    v = f"9.{next(world.versions) - 1}"          # the last good upload of assert_still_works
    doc = wait_for_repodata(f"{world.wharf.base_url}/conda/{OWNER}/noarch/repodata.json", f"hostile-{v}-0.conda")
    (tmp_path / "repodata.json").write_text(json.dumps(doc))
    from rattler import Channel, RepoData
    records = RepoData.from_path(tmp_path / "repodata.json").into_repo_data(Channel("hostile"))
    assert f"hostile-{v}-0.conda" in {r.file_name for r in records}


def test_upload_over_the_size_limit(world):
    big = b"\x00" * (LIMIT + 10)
    world.refused(upload(world, "noarch/hostile-1.0-0.conda", big), 413)


# ------------------------------------------------------------------------------------------------ checksums
def test_md5_and_sha256_mismatch(world, tmp_path):
    data = make_conda_package(tmp_path, "hostile", "1.0", subdir="noarch", fmt=".conda").read_bytes()
    up = world.up
    up.ensure_package(OWNER, "hostile")
    up.ensure_release(OWNER, "hostile", "1.0")
    staged = up.stage(OWNER, "hostile", "1.0", "noarch/hostile-1.0-0.conda", data).json()
    r = up.post_form(staged, data, md5=hashlib.md5(b"other").digest())
    assert r.status_code == 400 and "InvalidDigest" in r.text
    world.assert_nothing_stored()        # no bytes staged; this stage stays open for a correct POST
    # the stage is still open: a correct POST then a commit would work, but a wrong sha256 is refused
    staged = up.stage(OWNER, "hostile", "1.0", "noarch/hostile-1.0-0.conda", data, sha256="ab" * 32).json()
    assert up.post_form(staged, data).status_code == 201
    world.refused(up.commit(OWNER, "hostile", "1.0", "noarch/hostile-1.0-0.conda", staged["dist_id"]), 400)


# ------------------------------------------------------------------------------------------------ policies
def test_tampered_expired_and_replayed_policies(world, tmp_path):
    data = make_conda_package(tmp_path, "hostile", "1.0", subdir="noarch", fmt=".conda").read_bytes()
    up = world.up
    up.ensure_package(OWNER, "hostile")
    up.ensure_release(OWNER, "hostile", "1.0")
    staged = up.stage(OWNER, "hostile", "1.0", "noarch/hostile-1.0-0.conda", data).json()
    form = staged["form_data"]
    sig = form["signature"]
    bad_sig = ("0" if sig[0] != "0" else "1") + sig[1:]
    assert up.post_form(staged, data, form_overrides={"signature": bad_sig}).status_code == 403
    doc = json.loads(base64.urlsafe_b64decode(form["policy"]))
    doc["max_size"] = 10 ** 12
    forged = base64.urlsafe_b64encode(json.dumps(doc, sort_keys=True).encode()).decode()
    assert up.post_form(staged, data, form_overrides={"policy": forged}).status_code == 403
    payload = {k: v for k, v in doc.items() if k != "exp"}
    expired, esig = signing.sign_policy(world.settings.secret_key, payload, -5)
    assert up.post_form(staged, data, form_overrides={"policy": expired, "signature": esig}).status_code == 403
    assert list(world.blobs.keys("staging/")) == []
    # the genuine policy works once; replayed after the commit it stores nothing
    assert up.post_form(staged, data).status_code == 201
    assert up.commit(OWNER, "hostile", "1.0", "noarch/hostile-1.0-0.conda", staged["dist_id"]).status_code == 200
    world.baseline = world.package_blobs()
    world.refused(up.post_form(staged, data), 403, 404)
    r = requests.delete(f"{world.wharf.base_url}/api/dist/{OWNER}/hostile/1.0/noarch/hostile-1.0-0.conda",
                        headers={"Authorization": f"token {world.token}"}, timeout=30)
    assert r.status_code == 200


def test_a_forged_policy_is_refused_before_the_file_is_read(world):
    """Issue 15 item 13: the receiver parsed the whole multipart body (up to the upload limit, spooled to disk)
    before it looked at the policy. Now the fields before the file are checked first: a client announcing a
    1.9 MB file under a forged policy gets its 403 after sending the fields and 64 KB, and nothing is staged.
    Both modes now serve through waitress (services/http_front.py, issue 15 item 6), which reads a request's
    whole body before any application thread sees it (that is what keeps slow clients from holding threads):
    the answer comes after the body, and nothing is staged either way. The receiver (services/gateway/
    form_stream.py) still checks the fields before it reads the file, but the early answer the gthread gateway
    gave is gone."""
    import socket
    boundary = "wharfboundary"
    fields = {"key": "staging/" + "a" * 32, "policy": "e30", "signature": "0" * 64}
    head = "".join(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
                   for k, v in fields.items())
    head += f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="x.conda"\r\n' \
            "Content-Type: application/octet-stream\r\n\r\n"
    total = len(head) + 1_900_000 + len(f"\r\n--{boundary}--\r\n")
    parts = urllib.parse.urlsplit(world.wharf.base_url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=30)
    try:
        sock.sendall((f"POST /api/_upload HTTP/1.1\r\nHost: {parts.hostname}\r\nContent-Length: {total}\r\n"
                      f"Content-Type: multipart/form-data; boundary={boundary}\r\n\r\n" + head).encode())
        sock.sendall(b"x" * 1_900_000 + f"\r\n--{boundary}--\r\n".encode())
        answer = sock.recv(65536).decode("latin-1")
    finally:
        sock.close()
    assert answer.startswith("HTTP/1.1 403"), answer[:300]
    world.assert_nothing_stored()
    world.assert_still_works()


# ------------------------------------------------------------------------------------------------ names
ODD = ["..", "../etc", "%2e%2e", "a%00b", "a%0ab", "a%1bb", "a%2f..%2fb", "v\u0435rify", "x" * 300, "a b",
       "con%5cx"]


def raw(method: str, url: str, body: dict | None = None, headers: dict | None = None) -> int:
    """Send ``url`` exactly as written (requests/urllib3 would resolve ``..`` segments away)."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        data = json.dumps(body).encode() if body is not None else None
        hdrs = dict(headers or {})
        if data is not None:
            hdrs["Content-Type"] = "application/json"
        conn.request(method, parts.path + (f"?{parts.query}" if parts.query else ""), body=data, headers=hdrs)
        resp = conn.getresponse()
        if resp.status in (307, 308):       # "//" merged by the router: what it redirects to must refuse too
            return raw(method, urllib.parse.urljoin(url, resp.getheader("Location")), body, headers)
        return resp.status
    finally:
        conn.close()


@pytest.mark.parametrize("odd", ODD)
def test_odd_names_in_every_position(world, odd):
    base, h = world.wharf.base_url, {"Authorization": f"token {world.token}"}
    odd = urllib.parse.quote(odd, safe="%./")
    body = {"distribution_type": "conda"}
    urls = [f"{base}/api/stage/{odd}/hostile/1.0/noarch/hostile-1.0-0.conda",
            f"{base}/api/stage/{OWNER}/{odd}/1.0/noarch/{odd}-1.0-0.conda",
            f"{base}/api/stage/{OWNER}/hostile/{odd}/noarch/hostile-{odd}-0.conda",
            f"{base}/api/stage/{OWNER}/hostile/1.0/noarch/{odd}.conda",
            f"{base}/api/stage/{OWNER}/hostile/1.0/{odd}/hostile-1.0-0.conda",
            f"{base}/api/stage/{OWNER}/hostile/1.0/{odd}"]
    for url in urls:
        status = raw("POST", url, body, h)
        assert 400 <= status < 500, (url, status)
    r = requests.post(f"{base}/api/stage/{OWNER}/hostile/1.0/noarch/hostile-1.0-0.conda", headers=h,
                      json={**body, "channels": [requests.utils.unquote(odd)]}, timeout=30)
    assert r.status_code == 400, r.text
    assert 400 <= raw("POST", f"{base}/api/package/{OWNER}/{odd}", {}, h) < 500
    for url in (f"{base}/conda/{odd}/noarch/repodata.json", f"{base}/conda/{OWNER}/label/{odd}/noarch/repodata.json",
                f"{base}/pypi/{odd}/simple/", f"{base}/api/package/{odd}/hostile"):
        status = raw("GET", url)
        assert 400 <= status < 500, (url, status)
    world.assert_nothing_stored()
    world.assert_still_works()


# ------------------------------------------------------------------------------------------------ bodies
def test_invalid_and_oversized_json_bodies(world):
    base, h = world.wharf.base_url, {"Authorization": f"token {world.token}"}
    r = requests.post(f"{base}/api/package/{OWNER}/jsonpkg", data=b"{not json",
                      headers={**h, "Content-Type": "application/json"}, timeout=30)
    assert r.status_code == 400, r.text
    assert requests.get(f"{base}/api/package/{OWNER}/jsonpkg", headers=h, timeout=30).status_code == 404
    r = requests.post(f"{base}/api/package/{OWNER}/jsonpkg", data=b'["a list"]',
                      headers={**h, "Content-Type": "application/json"}, timeout=30)
    assert r.status_code == 400, r.text
    for constant in (b"NaN", b"Infinity", b"-Infinity"):     # Python's json reads them; JSON has none
        r = requests.post(f"{base}/api/package/{OWNER}/jsonpkg",
                          data=b'{"public": true, "public_attrs": {"x": ' + constant + b'}}',
                          headers={**h, "Content-Type": "application/json"}, timeout=30)
        assert r.status_code == 400, (constant, r.text)
    big = json.dumps({"public": True, "public_attrs": {"x": "y" * (3 * 1024 * 1024)}}).encode()
    r = requests.post(f"{base}/api/package/{OWNER}/jsonpkg", data=big,
                      headers={**h, "Content-Type": "application/json"}, timeout=60)
    assert r.status_code == 413, r.text[:300]
    assert requests.get(f"{base}/api/package/{OWNER}/jsonpkg", headers=h, timeout=30).status_code == 404
    r = requests.post(f"{base}/api/stage/{OWNER}/hostile/1.0/noarch/hostile-1.0-0.conda", data=b"\xff\xfe",
                      headers={**h, "Content-Type": "application/json"}, timeout=30)
    assert r.status_code == 400
    world.assert_nothing_stored()
    world.assert_still_works()


def test_mistyped_and_deep_json_is_a_400_never_a_500(world):
    """Issue 15 item 9: JSON nested 100,000 deep was a RecursionError (500); ``PATCH {"summary": ["x"]}`` was a
    500; ``PATCH {"public_attrs": {"home": 5}}`` was accepted and then made the package page a 500 for every
    visitor; a login ``next=`` with CR/LF was a 500 (header injection refused by werkzeug, unhandled)."""
    base, h = world.wharf.base_url, {"Authorization": f"token {world.token}", "Content-Type": "application/json"}
    pkg = f"{base}/api/package/{OWNER}/typedpkg"
    assert requests.post(pkg, json={"public": True, "public_attrs": {"summary": "typed", "home": "https://x.org"}},
                         headers=h, timeout=30).status_code == 200
    before = requests.get(pkg, headers=h, timeout=30).json()
    deep = [b"[" * 100_000 + b"]" * 100_000, b'{"a":' * 200 + b"1" + b"}" * 200]
    typed = [b'{"public_attrs": {"home": 5}}', b'{"public_attrs": {"summary": {"a": 1}}}',
             b'{"public_attrs": {"license": [1, 2]}}', b'{"public_attrs": {"extra": ' + b"[" * 10 + b"]" * 10 + b"}}",
             b'{"public": "yes"}']
    cases = {("PATCH", pkg): deep + typed + [b'{"summary": ["x"]}', b'{"home": {"deep": [[[[[1]]]]]}}'],
             ("POST", f"{base}/api/package/{OWNER}/typedpkg2"): deep + typed,
             ("POST", f"{base}/api/release/{OWNER}/typedpkg/1.0"): deep + [b'{"summary": ["x"]}',
                                                                          b'{"description": 5}'],
             ("PATCH", f"{base}/api/release/{OWNER}/typedpkg/1.0"): deep + [b'{"summary": ["x"]}']}
    for (method, url), bodies in cases.items():
        for body in bodies:
            r = requests.request(method, url, data=body, headers=h, timeout=60)
            assert r.status_code in (400, 404), (method, url, body[:60], r.status_code, r.text[:300])
    assert requests.get(pkg, headers=h, timeout=30).json() == before
    assert requests.get(f"{base}/api/package/{OWNER}/typedpkg2", headers=h, timeout=30).status_code == 404
    assert requests.get(f"{base}/{OWNER}/typedpkg", timeout=30).status_code == 200      # the page still renders
    for nxt in ("/x%0d%0aSet-Cookie:%20a=b", "/x\r\nLocation: //evil", "%0a", "/login", "/login?next=/login"):
        r = requests.get(f"{base}/login", params={"next": nxt}, timeout=30)
        assert r.status_code == 200, (nxt, r.status_code)
        assert 'name="next" value="/"' in r.text, (nxt, r.text[:2000])
    world.assert_nothing_stored()


# ------------------------------------------------------------------------------------------------ headers
def test_bad_range_and_accept_headers(world):
    base = world.wharf.base_url
    world.assert_still_works()
    time.sleep(0.1)
    v = f"9.{next(world.versions) - 1}"
    dl = f"{base}/api/download/{OWNER}/hostile/{v}/noarch/hostile-{v}-0.conda"
    size = len(requests.get(dl, timeout=30).content)
    assert size > 0
    r = requests.get(dl, headers={"Range": f"bytes={size + 100}-{size + 200}"}, timeout=30)
    assert r.status_code == 416
    r = requests.get(dl, headers={"Range": "bytes=5-2"}, timeout=30)     # unsatisfiable/invalid: whole file or 416
    assert r.status_code in (200, 416)
    repodata = f"{base}/conda/{OWNER}/noarch/repodata.json"
    deadline = time.monotonic() + 30
    while requests.get(repodata, timeout=30).status_code != 200 and time.monotonic() < deadline:
        time.sleep(0.2)
    n = len(requests.get(repodata, timeout=30).content)
    assert requests.get(repodata, headers={"Range": f"bytes={n + 10}-"}, timeout=30).status_code == 416
    assert requests.get(repodata, headers={"Range": "bytes=0-9"}, timeout=30).status_code == 206
    for accept in ("%%%", "text/html;q=abc", "application/vnd.pypi.simple.v1+json;q=2", "*/*;;;", "\x7f"):
        r = requests.get(f"{base}/pypi/{OWNER}/simple/", headers={"Accept": accept}, timeout=30)
        assert r.status_code in (200, 400, 406), (accept, r.status_code)     # never a 5xx
        r = requests.get(repodata, headers={"Accept": accept}, timeout=30)
        assert r.status_code in (200, 400, 406), (accept, r.status_code)
    r = requests.get(f"{base}/pypi/{OWNER}/simple/", headers={"Accept": "image/png"}, timeout=30)
    assert r.status_code == 406
    world.assert_nothing_stored()


# ------------------------------------------------------------------------------------------------ login floods
def test_login_and_token_creation_are_rate_limited(world):
    base = world.wharf.base_url
    for login in ("rl1", "rl2", "rl3"):
        world.wharf.cli("user", "create", login, "--password", f"{login}-password")

    def attempt(login, password):
        return requests.post(f"{base}/api/authentications", auth=(login, password), json={"note": "rl"},
                             timeout=30)
    for _ in range(3):                                            # address: 2, 3, 4
        assert attempt("rl1", "wrong").status_code == 401
    r = attempt("rl1", "rl1-password")                            # the account is over: 429 before any check
    assert r.status_code == 429 and 0 < int(r.headers["Retry-After"]) <= 600, (r.status_code, r.text)
    r = requests.get(f"{base}/pypi/{OWNER}/simple/", auth=("rl1", "rl1-password"), timeout=30)
    assert r.status_code == 429 and r.headers["Retry-After"]     # twine/pip password logins too
    for _ in range(3):                                            # address: 6, 7, 8
        assert attempt("rl2", "rl2-password").status_code == 200
    r = attempt("rl3", "rl3-password")                            # a fresh account, but the address is over
    assert r.status_code == 429 and "address" in r.json()["error"]
    # tokens keep working: rate limits apply to password logins only
    world.assert_still_works()
