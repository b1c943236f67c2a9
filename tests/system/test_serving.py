"""Serving under slow and idle clients, in both modes (`wharf serve`, and `wharf run gateway`'s gunicorn workers):
300 connections that send nothing, half their headers or half their body keep no normal request waiting, and
each is cut at its limit (issue 15 item 6). Before, waitress's 100-connection limit stopped `wharf serve`
accepting for 300 s, and gunicorn's gthread workers gave each such connection a thread (10 were enough to leave
some requests unanswered). Also what the distributed processes leave behind and log: no gunicorn control socket
in the home directory, no traceback for an expected 404, none for a normal stop of the indexer."""
from __future__ import annotations

import base64
import hashlib
import os
import signal
import socket
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from tests.helpers.packages import make_conda_package

from .api_upload import Uploader, login
from .test_cli_support import create_accounts
from .clients import wait_for_repodata

pytestmark = pytest.mark.system

HEADER_TIMEOUT = 10      # seconds: long enough that the normal requests below are done well before any cut
BODY_TIMEOUT = 10
SLOW_PER_KIND = 100


@pytest.fixture(scope="module")
def wharf_extra_env() -> dict:
    return {"WHARF_GATEWAY_HEADER_TIMEOUT": str(HEADER_TIMEOUT), "WHARF_GATEWAY_BODY_TIMEOUT": str(BODY_TIMEOUT)}


def _address(wharf) -> tuple[str, int]:
    u = urlsplit(wharf.base_url)
    return u.hostname, u.port


def _open_slow_clients(wharf) -> list[tuple[str, socket.socket]]:
    host, port = _address(wharf)
    socks = []
    for _ in range(SLOW_PER_KIND):
        socks.append(("idle", socket.create_connection((host, port), timeout=10)))
        s = socket.create_connection((host, port), timeout=10)
        s.sendall(b"GET /api/ HTTP/1.1\r\nHost: x\r\n")
        socks.append(("headers", s))
        s = socket.create_connection((host, port), timeout=10)
        s.sendall(b"POST /api/authentications HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 1000\r\n\r\n{\"note\":")
        socks.append(("body", s))
    return socks


def _is_open(sock: socket.socket) -> bool:
    """Open, and nothing sent by the server (looked at without waiting)."""
    sock.setblocking(False)
    try:
        return not sock.recv(1, socket.MSG_PEEK)    # b"": closed; data: a response (here: the cut's 408)
    except BlockingIOError:
        return True
    except ConnectionResetError:
        return False
    finally:
        sock.setblocking(True)


def _closed_within(sock: socket.socket, seconds: float) -> bytes | None:
    """What the server sent before closing ``sock`` (b"" for nothing), or None while it stays open."""
    sock.settimeout(0.2)
    got, deadline = b"", time.monotonic() + seconds
    while True:
        try:
            data = sock.recv(65536)
            if not data:
                return got
            got += data
        except socket.timeout:
            pass
        except ConnectionResetError:
            return got
        if time.monotonic() >= deadline:
            return None


def test_slow_and_idle_clients_keep_no_normal_request_waiting(wharf):
    slow = _open_slow_clients(wharf)
    try:
        for _ in range(10):        # one after the other, each on a new connection
            r = requests.get(wharf.api + "/", timeout=10)
            assert r.status_code == 200 and r.json(), r.text
        answers = []

        def client():
            s = requests.Session()
            for _ in range(5):
                answers.append(s.get(wharf.api + "/", timeout=10).status_code)
            r = s.post(wharf.api + "/_upload", data={"key": "k", "policy": "p", "signature": "s"},
                       files={"file": ("f", b"bytes of a forged upload")}, timeout=10)     # a body, read
            answers.append(r.status_code)

        threads = [threading.Thread(target=client) for _ in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert sorted(answers) == [200] * 80 + [403] * 16
        still_open = sum(_is_open(s) for _, s in slow)
        assert still_open == len(slow), f"{len(slow) - still_open} slow connections were closed meanwhile"

        # each slow client is cut at its limit (connection or first byte + header limit; body: that long
        # silent) with a 408
        for kind, s in slow:
            got = _closed_within(s, HEADER_TIMEOUT + BODY_TIMEOUT + 10)
            assert got is not None, f"a slow client ({kind}) still connected"
            assert got.startswith(b"HTTP/1.1 408"), (kind, got[:80])
    finally:
        for _, s in slow:
            s.close()
    assert requests.get(wharf.api + "/", timeout=10).status_code == 200


def test_a_slow_upload_at_a_steady_rate_is_accepted(wharf, tmp_path):
    """The form POST of an upload trickles in (10 pieces a second apart): longer than nothing but within both
    limits per piece; the upload completes and commits."""
    create_accounts(wharf, {"sally": "sally-password"})
    up = Uploader(wharf.base_url, login(wharf.base_url, "sally", "sally-password"))
    pkg = make_conda_package(tmp_path, "trickle", "1.0")
    data = pkg.read_bytes()
    up.ensure_package("sally", "trickle")
    up.ensure_release("sally", "trickle", "1.0")
    staged = up.stage("sally", "trickle", "1.0", f"noarch/{pkg.name}", data).json()
    fields = dict(staged["form_data"], **{"Content-Length": str(len(data)),
                                          "Content-MD5": base64.b64encode(hashlib.md5(data).digest()).decode()})
    body, ctype = _multipart(fields, data)
    u = urlsplit(staged["post_url"])
    s = socket.create_connection((u.hostname, u.port), timeout=30)
    try:
        s.sendall(f"POST {u.path} HTTP/1.1\r\nHost: {u.netloc}\r\nContent-Type: {ctype}\r\n"
                  f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode())
        step = -(-len(body) // 10)
        for i in range(0, len(body), step):
            time.sleep(1.0)
            s.sendall(body[i:i + step])
        answer = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            answer += chunk
    finally:
        s.close()
    assert answer.startswith(b"HTTP/1.1 201"), answer[:300]
    c = up.commit("sally", "trickle", "1.0", f"noarch/{pkg.name}", staged["dist_id"])
    assert c.status_code == 200, c.text
    wait_for_repodata(wharf.conda("sally") + "/noarch/repodata.json", pkg.name)


def _multipart(fields: dict, data: bytes) -> tuple[bytes, str]:
    boundary = "wharf-trickle-" + os.urandom(8).hex()
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
             for k, v in fields.items()]
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="upload"\r\n'
                 f"Content-Type: application/octet-stream\r\n\r\n".encode() + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def test_no_gunicorn_control_socket(wharf):
    """gunicorn >= 25 opened ~/.gunicorn/gunicorn.ctl, the same path for every gateway of a user on the host."""
    if wharf.mode != "distributed":
        pytest.skip("gunicorn runs the distributed gateway only")
    home = Path(wharf.env["HOME"])
    assert not (home / ".gunicorn").exists()
    assert "Control socket" not in wharf.logs["gateway"].read_text(errors="replace")


def test_expected_404s_leave_no_traceback_in_the_services_logs(wharf):
    if wharf.mode != "distributed":
        pytest.skip("the services log to files of their own in distributed mode")
    for path in ("/package/nobody-here/nothing", "/release/nobody-here/nothing/1.0", "/user/nobody-here"):
        assert requests.get(wharf.api + path, timeout=10).status_code == 404
    assert requests.get(wharf.conda("nobody-here") + "/noarch/repodata.json", timeout=10).status_code == 404
    time.sleep(1.0)         # the services' log lines of those calls are written
    for name in ("auth", "registry", "indexer", "storage"):
        text = wharf.logs[name].read_text(errors="replace")
        assert "Traceback" not in text and "(expected) error" not in text, f"{name}:\n{text[-3000:]}"


def test_stopping_the_indexer_mid_burst_is_clean(wharf, tmp_path):
    """SIGTERM to the indexer's process group (a terminal's Ctrl-C, `kill -- -PGID`, the harness's stop: the
    nameko process gets the signal directly and once more from `wharf run`) while it applies and publishes a
    burst of uploads: it stops within the bound, exit 0, without a traceback. Before, the second signal started a
    second concurrent stop of the container, which never finished. Last test of the module: the indexer stays
    down."""
    if wharf.mode != "distributed":
        pytest.skip("the indexer is a process of its own in distributed mode")
    create_accounts(wharf, {"ivan": "ivan-password"})
    up = Uploader(wharf.base_url, login(wharf.base_url, "ivan", "ivan-password"))
    first = make_conda_package(tmp_path / "first", "stopping", "1.0")
    assert up.upload("ivan", "stopping", "1.0", first, subdir="noarch").status_code == 200
    wait_for_repodata(wharf.conda("ivan") + "/noarch/repodata.json", first.name)   # it has published once
    pkgs = [make_conda_package(tmp_path / f"p{i}", f"burst{i}", "1.0", subdir="linux-64", noarch=None)
            for i in range(8)]
    answers = []
    threads = [threading.Thread(target=lambda p=p: answers.append(
        up.upload("ivan", p.name.split("-")[0], "1.0", p, subdir="linux-64").status_code)) for p in pkgs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert answers == [200] * len(pkgs)
    proc = wharf.procs.pop("indexer")
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        assert proc.wait(60) == 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    text = wharf.logs["indexer"].read_text(errors="replace")
    assert "stopping services: indexer" in text
    assert "Traceback" not in text, text[-4000:]
