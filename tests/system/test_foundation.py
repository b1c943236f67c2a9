"""The first end-to-end path, in both run modes: the real anaconda CLI logs in and uploads, the registry logs
events, the indexer publishes asynchronously, py-rattler solves and installs through the gateway, and
`wharf replay` reproduces the indexes byte for byte."""
from __future__ import annotations

import base64
import hashlib
import subprocess

import pytest
import requests

from tests.helpers.packages import make_conda_package

from .clients import AnacondaCLI, conda_meta, rattler_solve_install, wait_for_repodata
from .harness import WHARF
from .test_cli_support import concurrently

pytestmark = pytest.mark.system


@pytest.fixture(scope="module")
def pkgs(tmp_path_factory):
    d = tmp_path_factory.mktemp("pkgs")
    return {
        "demo1": make_conda_package(d / "a", "wharfdemo", "1.0", build="0", subdir="noarch", fmt=".conda"),
        "tool1": make_conda_package(d / "b", "wharftool", "1.0", build="0", subdir="linux-64", fmt=".tar.bz2",
                                    noarch=None),
        "demo2": make_conda_package(d / "c", "wharfdemo", "2.0", build="0", subdir="noarch", fmt=".conda"),
        "orgpkg": make_conda_package(d / "d", "orgthing", "0.1", build="0", subdir="noarch", fmt=".conda"),
    }


@pytest.fixture(scope="module")
def alice(wharf, tmp_path_factory):
    wharf.cli("user", "create", "alice", "--password", "alice-pw-123", "--email", "alice@example.com")
    wharf.cli("user", "create", "bob", "--password", "bob-pw-456")
    wharf.cli("org", "create", "acme", "--owner", "alice")
    cli = AnacondaCLI(wharf, tmp_path_factory.mktemp("alice-home"))
    out = cli.org("login", "--username", "alice", "--password", "alice-pw-123")
    assert "login successful" in (out.stdout + out.stderr)
    return cli


def test_whoami_and_head(wharf, alice):
    assert requests.head(wharf.api, timeout=5).status_code == 200
    out = alice.org("whoami")
    assert "alice" in out.stdout + out.stderr


def test_wharf_health_passes_for_every_service(wharf):
    """`wharf health` (the readiness probe of k8s/ and compose) passes against each process of a running Wharf:
    in distributed mode every service's database, broker, S3 and RPC ping; in embedded mode the gateway. (The
    harness waits for a distributed Wharf without it.)"""
    services = ["storage", "auth", "registry", "indexer", "gateway"] if wharf.mode == "distributed" else ["gateway"]
    # embedded: `wharf health gateway` looks on WHARF_HOST/WHARF_PORT (the harness passes --host/--port instead)
    env = dict(wharf.env, WHARF_HOST="127.0.0.1", WHARF_PORT=wharf.base_url.rsplit(":", 1)[1])

    def health(svc):
        return subprocess.run([WHARF, "health", svc], env=env, capture_output=True, text=True, timeout=120)
    for svc, r in zip(services, concurrently(*[lambda svc=svc: health(svc) for svc in services])):
        assert r.returncode == 0, (svc, r.stdout, r.stderr)
        assert f"{svc} process: ok" in r.stdout, (svc, r.stdout)


def test_an_idle_keep_alive_connection_stays_open(wharf):
    """A client that reuses its connection after a few idle seconds (the benchmark's watcher after a burst, a
    load balancer's pool) is answered, not reset: the gateway keeps idle connections longer than gunicorn's
    2 s default, whose close races a request already on its way."""
    import http.client
    import time
    from urllib.parse import urlsplit
    conn = http.client.HTTPConnection(urlsplit(wharf.base_url).netloc, timeout=10)
    try:
        for attempt in range(2):
            conn.request("GET", "/api/")
            r = conn.getresponse()
            r.read()
            assert r.status == 200 and not r.will_close, (attempt, r.status, r.getheaders())
            if attempt == 0:
                time.sleep(3.5)
    finally:
        conn.close()


def test_wrong_password_is_401(wharf, alice):
    r = requests.post(wharf.api + "/authentications", auth=("alice", "nope"), json={"note": "x"}, timeout=10)
    assert r.status_code == 401 and "error" in r.json()
    r = requests.get(wharf.api + "/user/nobody-here", timeout=10)
    assert r.status_code == 404


def test_upload_and_install_with_rattler(wharf, alice, pkgs, tmp_path):
    alice.run("upload", "-u", "alice", str(pkgs["demo1"]), str(pkgs["tool1"]))
    alice.run("upload", "-u", "alice", "-l", "dev", str(pkgs["demo2"]))
    main_noarch = wait_for_repodata(wharf.conda("alice") + "/noarch/repodata.json", pkgs["demo1"].name)
    wait_for_repodata(wharf.conda("alice") + "/linux-64/repodata.json", pkgs["tool1"].name)
    assert pkgs["demo2"].name not in main_noarch["packages.conda"]
    dev = wait_for_repodata(wharf.conda("alice", "dev") + "/noarch/repodata.json", pkgs["demo2"].name)
    rec = dev["packages.conda"][pkgs["demo2"].name]
    assert rec["sha256"] == hashlib.sha256(pkgs["demo2"].read_bytes()).hexdigest()
    assert rec["size"] == pkgs["demo2"].stat().st_size

    got = rattler_solve_install(wharf.conda("alice"), ["wharfdemo", "wharftool"], tmp_path / "env-main",
                                tmp_path / "cache")
    assert got == {"wharfdemo": "1.0", "wharftool": "1.0"}
    assert conda_meta(tmp_path / "env-main") == {"wharfdemo": "1.0", "wharftool": "1.0"}
    got = rattler_solve_install(wharf.conda("alice", "dev"), ["wharfdemo"], tmp_path / "env-dev",
                                tmp_path / "cache")
    assert got == {"wharfdemo": "2.0"}


def test_index_http_semantics(wharf, alice):
    url = wharf.conda("alice") + "/noarch/repodata.json"
    r = requests.get(url, timeout=10)
    assert r.status_code == 200 and r.headers["ETag"].startswith('"')
    assert "max-age=" in r.headers["Cache-Control"]
    assert requests.get(url, headers={"If-None-Match": r.headers["ETag"]}, timeout=10).status_code == 304
    assert requests.head(url, timeout=10).status_code == 200
    z = requests.get(url + ".zst", timeout=10)
    assert z.status_code == 200 and z.headers["ETag"] != r.headers["ETag"]
    import zstandard
    assert zstandard.ZstdDecompressor().decompressobj().decompress(z.content) == r.content
    part = requests.get(url, headers={"Range": "bytes=0-9"}, timeout=10)
    assert part.status_code == 206 and part.content == r.content[:10]
    assert requests.get(wharf.conda("alice") + "/osx-arm64/repodata.json", timeout=10).status_code == 404
    assert requests.get(wharf.conda("nobody") + "/noarch/repodata.json", timeout=10).status_code == 404
    # CEP-16: shard index and content-addressed shards; a missing one is 404 (never 403)
    idx = requests.get(wharf.conda("alice") + "/noarch/repodata_shards.msgpack.zst", timeout=10)
    assert idx.status_code == 200
    import msgpack
    doc = msgpack.unpackb(zstandard.ZstdDecompressor().decompressobj().decompress(idx.content))
    assert doc["info"]["subdir"] == "noarch" and "wharfdemo" in doc["shards"]
    sha = doc["shards"]["wharfdemo"].hex()
    sh = requests.get(f"{wharf.conda('alice')}/noarch/{doc['info']['shards_base_url'].strip('./')}/{sha}.msgpack.zst",
                      timeout=10)
    assert sh.status_code == 200 and hashlib.sha256(sh.content).hexdigest() == sha
    assert "immutable" in sh.headers["Cache-Control"]
    shard = msgpack.unpackb(zstandard.ZstdDecompressor().decompressobj().decompress(sh.content))
    assert set(shard["packages.conda"]) == {n for n in r.json()["packages.conda"] if n.startswith("wharfdemo-")}
    assert requests.get(f"{wharf.conda('alice')}/noarch/shards/{'0' * 64}.msgpack.zst",
                        timeout=10).status_code == 404
    assert requests.get(wharf.conda("alice") + "/osx-arm64/repodata_shards.msgpack.zst",
                        timeout=10).status_code == 404
    # channeldata.json (CEP-38 shape): every package of the label with its subdirs and newest version
    cd_url = wharf.conda("alice") + "/channeldata.json"
    cd = requests.get(cd_url, timeout=10)
    assert cd.status_code == 200 and cd.headers["Content-Type"] == "application/json"
    doc = cd.json()
    assert doc["channeldata_version"] == 1 and doc["subdirs"] == ["linux-64", "noarch"]
    assert doc["packages"]["wharfdemo"]["subdirs"] == ["noarch"] and doc["packages"]["wharfdemo"]["version"] == "1.0"
    assert doc["packages"]["wharftool"]["subdirs"] == ["linux-64"]
    assert requests.get(cd_url, headers={"If-None-Match": cd.headers["ETag"]}, timeout=10).status_code == 304
    dev = requests.get(wharf.conda("alice", "dev") + "/channeldata.json", timeout=10).json()
    assert dev["packages"]["wharfdemo"]["version"] == "2.0" and "wharftool" not in dev["packages"]
    assert requests.get(wharf.conda("nobody") + "/channeldata.json", timeout=10).status_code == 404
    # a token with characters no Wharf token has is refused before any lookup, wherever conda puts it
    for bad in ("bad!tok", "a%20b", "x" * 201):
        assert requests.get(f"{wharf.base_url}/conda/t/{bad}/alice/noarch/repodata.json",
                            timeout=10).status_code == 401
        assert requests.get(f"{wharf.base_url}/t/{bad}/conda/alice/noarch/repodata.json",
                            timeout=10).status_code == 401


def _shard_of(wharf, name: str, subdir: str = "noarch") -> str:
    import msgpack
    import zstandard
    idx = requests.get(f"{wharf.conda('alice')}/{subdir}/repodata_shards.msgpack.zst", timeout=10)
    assert idx.status_code == 200
    return msgpack.unpackb(zstandard.ZstdDecompressor().decompressobj().decompress(idx.content))["shards"][name].hex()


def test_a_shard_index_just_replaced_still_resolves(wharf, alice, tmp_path):
    """A client that read the shard index just before a publish fetches the shard it names afterwards: 200 (for
    WHARF_SHARD_GRACE seconds), not a 404 that would fail its solve."""
    alice.run("upload", "-u", "alice", str(make_conda_package(tmp_path / "1", "shardy", "1.0", build="0",
                                                              subdir="noarch", fmt=".conda")))
    wait_for_repodata(wharf.conda("alice") + "/noarch/repodata.json", "shardy-1.0-0.conda")
    old = _shard_of(wharf, "shardy")
    alice.run("upload", "-u", "alice", str(make_conda_package(tmp_path / "2", "shardy", "1.1", build="0",
                                                              subdir="noarch", fmt=".conda")))
    wait_for_repodata(wharf.conda("alice") + "/noarch/repodata.json", "shardy-1.1-0.conda")
    new = _shard_of(wharf, "shardy")
    assert new != old
    for sha in (old, new):
        r = requests.get(f"{wharf.conda('alice')}/noarch/shards/{sha}.msgpack.zst", timeout=10)
        assert r.status_code == 200 and hashlib.sha256(r.content).hexdigest() == sha


def test_upload_to_org_and_download(wharf, alice, pkgs, tmp_path):
    alice.run("upload", "-u", "acme", str(pkgs["orgpkg"]))
    wait_for_repodata(wharf.conda("acme") + "/noarch/repodata.json", pkgs["orgpkg"].name)
    r = requests.get(wharf.api + "/package/alice/wharfdemo", timeout=10)
    assert r.status_code == 200
    body = r.json()
    assert {f["basename"] for f in body["files"]} == {"noarch/" + pkgs["demo1"].name,
                                                      "noarch/" + pkgs["demo2"].name}
    d = requests.get(f"{wharf.api}/download/alice/wharfdemo/1.0/noarch/{pkgs['demo1'].name}", timeout=30)
    assert d.status_code == 200 and d.content == pkgs["demo1"].read_bytes()
    out = alice.run("download", "alice/wharftool", "-o", str(tmp_path / "dl"), check=False)
    assert out.returncode == 0, out.stderr


def test_bob_cannot_upload_to_alice(wharf, alice, pkgs, tmp_path):
    bob = AnacondaCLI(wharf, tmp_path / "bob-home")
    bob.org("login", "--username", "bob", "--password", "bob-pw-456")
    out = bob.run("upload", "-u", "alice", str(pkgs["orgpkg"]), check=False)
    assert out.returncode != 0
    assert requests.get(wharf.api + "/package/alice/orgthing", timeout=10).status_code == 404


def _token(wharf, login, pw):
    r = requests.post(wharf.api + "/authentications", auth=(login, pw), json={"note": "raw-test"}, timeout=10)
    assert r.status_code == 200
    return {"Authorization": f"token {r.json()['token']}"}


def _stage(wharf, h, owner, pkg, ver, basename, sha256, data):
    for path, body in ((f"/package/{owner}/{pkg}", {"public": True, "public_attrs": {"summary": "s"}}),
                       (f"/release/{owner}/{pkg}/{ver}", {})):
        requests.post(wharf.api + path, json=body, headers=h, timeout=10)
    r = requests.post(f"{wharf.api}/stage/{owner}/{pkg}/{ver}/{basename}", headers=h, timeout=10,
                      json={"distribution_type": "conda", "sha256": sha256, "channels": []})
    assert r.status_code == 200, r.text
    st = r.json()
    fields = dict(st["form_data"])
    fields["Content-Length"] = str(len(data))
    fields["Content-MD5"] = base64.b64encode(hashlib.md5(data).digest()).decode()
    up = requests.post(st["post_url"], data=fields, files={"file": (basename, data)}, timeout=30)
    return st, up


def test_bad_uploads_leave_nothing(wharf, alice, pkgs, tmp_path):
    h = _token(wharf, "alice", "alice-pw-123")
    good = pkgs["demo1"].read_bytes()
    # checksum mismatch: the sha256 sent at stage differs from the bytes
    st, up = _stage(wharf, h, "alice", "wharfdemo", "3.0", "noarch/wharfdemo-3.0-0.conda", "0" * 64, good)
    assert up.status_code == 201
    c = requests.post(f"{wharf.api}/commit/alice/wharfdemo/3.0/noarch/wharfdemo-3.0-0.conda",
                      json={"dist_id": st["dist_id"]}, headers=h, timeout=30)
    assert c.status_code == 400 and "error" in c.json()
    # corrupt package
    junk = b"this is not a conda package"
    st, up = _stage(wharf, h, "alice", "wharfdemo", "3.0", "noarch/wharfdemo-3.0-0.conda",
                    hashlib.sha256(junk).hexdigest(), junk)
    c = requests.post(f"{wharf.api}/commit/alice/wharfdemo/3.0/noarch/wharfdemo-3.0-0.conda",
                      json={"dist_id": st["dist_id"]}, headers=h, timeout=30)
    assert c.status_code == 400
    # name in URL disagrees with the package (a real wharfdemo 1.0 uploaded as 3.0)
    st, up = _stage(wharf, h, "alice", "wharfdemo", "3.0", "noarch/wharfdemo-3.0-0.conda",
                    hashlib.sha256(good).hexdigest(), good)
    c = requests.post(f"{wharf.api}/commit/alice/wharfdemo/3.0/noarch/wharfdemo-3.0-0.conda",
                      json={"dist_id": st["dist_id"]}, headers=h, timeout=30)
    assert c.status_code == 400
    # wrong Content-MD5 -> S3-style XML InvalidDigest
    r = requests.post(f"{wharf.api}/stage/alice/wharfdemo/3.0/noarch/wharfdemo-3.0-0.conda", headers=h,
                      json={"distribution_type": "conda", "channels": []}, timeout=10)
    fields = dict(r.json()["form_data"], **{"Content-MD5": base64.b64encode(b"0" * 16).decode()})
    up = requests.post(r.json()["post_url"], data=fields, files={"file": ("x", good)}, timeout=30)
    assert up.status_code == 400 and "<Code>InvalidDigest</Code>" in up.text
    # tampered policy -> 403 XML
    fields = dict(r.json()["form_data"], signature="0" * 64)
    up = requests.post(r.json()["post_url"], data=fields, files={"file": ("x", good)}, timeout=30)
    assert up.status_code == 403 and "<Error>" in up.text
    rel = requests.get(wharf.api + "/release/alice/wharfdemo/3.0", headers=h, timeout=10).json()
    assert rel["distributions"] == []
    doc = requests.get(wharf.conda("alice") + "/noarch/repodata.json", timeout=10).json()
    assert not any(k.startswith("wharfdemo-3.0") for k in doc["packages.conda"])


def test_replay_gives_identical_indexes(wharf, alice, tmp_path):
    """Byte-identical indexes after `wharf replay`. The replay packs the many shards of linux-64 (uploaded one by
    one, so stored one object each) into pack objects: every shard must still be served whole under its
    sha256, and rattler must solve from them."""
    from services.indexer.service_layer.shard_publishing import PACK_MIN

    from .api_upload import Uploader, login
    up = Uploader(wharf.base_url, login(wharf.base_url, "alice", "alice-pw-123"))
    names = [f"packme{i:02d}" for i in range(PACK_MIN + 2)]
    for name in names:
        path = make_conda_package(tmp_path / name, name, "1.0", build="0", subdir="linux-64", noarch=None)
        assert up.upload("alice", name, "1.0", path, subdir="linux-64").status_code == 200
    wait_for_repodata(wharf.conda("alice") + "/linux-64/repodata.json", f"{names[-1]}-1.0-0.conda")
    urls = [wharf.conda("alice") + "/noarch/repodata.json", wharf.conda("alice") + "/linux-64/repodata.json",
            wharf.conda("alice", "dev") + "/noarch/repodata.json", wharf.conda("acme") + "/noarch/repodata.json"]
    before = {u: requests.get(u, timeout=10).content for u in urls}
    before.update({u + ".zst": requests.get(u + ".zst", timeout=10).content for u in urls})
    shard_index = wharf.conda("alice") + "/linux-64/repodata_shards.msgpack.zst"
    before[shard_index] = requests.get(shard_index, timeout=10).content
    if wharf.mode == "embedded":
        wharf.stop("serve")
    out = wharf.cli("replay")
    assert "replayed" in out.stdout
    wharf.restart()
    if wharf.mode == "distributed":    # embedded: `wharf serve` started again, with empty caches
        import time
        time.sleep(6)  # let the gateway's caches expire (their TTL, 5 s) in case a notice was missed
    after = {u: requests.get(u, timeout=10).content for u in before}
    assert after == before
    for name in names:
        sha = _shard_of(wharf, name, "linux-64")
        r = requests.get(f"{wharf.conda('alice')}/linux-64/shards/{sha}.msgpack.zst", timeout=10)
        assert r.status_code == 200 and hashlib.sha256(r.content).hexdigest() == sha
        part = requests.get(f"{wharf.conda('alice')}/linux-64/shards/{sha}.msgpack.zst", timeout=10,
                            headers={"Range": "bytes=-5"})
        assert part.status_code == 206 and part.content == r.content[-5:]
    solved = rattler_solve_install(wharf.conda("alice"), [names[0], names[-1]], tmp_path / "env",
                                   tmp_path / "cache")
    assert {names[0], names[-1]} <= set(solved)
