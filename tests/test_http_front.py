"""The gateway's HTTP front (services/http_front.py) with real sockets and a small WSGI app in this process: slow
and idle clients hold no application thread and are cut at their limits, normal clients are answered meanwhile,
a slow upload at a steady rate is not cut, a client that does not read its response frees its thread.
tests/system/test_serving.py does the same against `wharf serve` and `wharf run gateway`."""
from __future__ import annotations

import hashlib
import http.client
import os
import socket
import threading
import time

import pytest

from services.http_front import Front, Limits


ONE_BODY = os.urandom(9 * 1024 * 1024 + 7)      # one write, sent from its own memory (http_front._BytesBuffer)


def app(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/one":
        start_response("200 OK", [("Content-Type", "application/octet-stream"),
                                  ("Content-Length", str(len(ONE_BODY)))])
        return [ONE_BODY]
    if path == "/big":                                  # 64 MiB: more than waitress buffers for a client
        chunk = b"x" * (1024 * 1024)
        start_response("200 OK", [("Content-Type", "application/octet-stream"),
                                  ("Content-Length", str(64 * len(chunk)))])
        return (chunk for _ in range(64))
    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    out = b"%d" % len(body) if environ["REQUEST_METHOD"] == "POST" else b"ok"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(out)))])
    return [out]


class Running:
    def __init__(self, limits: Limits):
        self.front = Front(app, limits, host="127.0.0.1", port=0)
        self.host, self.port = self.front.address
        self.stopping = False
        self.cut: dict[str, int] = {}
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self):
        while not self.stopping:
            self.front.serve_once(0.2)

    def stop(self):
        self.stopping = True
        self.thread.join(10)
        self.front.close()

    def get(self, path: str = "/", timeout: float = 10.0) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            conn.request("GET", path)
            r = conn.getresponse()
            return r.status, r.read()
        finally:
            conn.close()

    def connect(self) -> socket.socket:
        return socket.create_connection((self.host, self.port), timeout=10)


@pytest.fixture
def server(request):
    limits = getattr(request, "param", Limits(header_timeout=2, body_timeout=2, keepalive=3, threads=4))
    s = Running(limits)
    yield s
    s.stop()


def closed_within(sock: socket.socket, seconds: float) -> bytes | None:
    """What the server sent before it closed ``sock`` (b"" for nothing), or None if still open after
    ``seconds``."""
    sock.settimeout(0.2)
    got = b""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            data = sock.recv(65536)
        except socket.timeout:
            continue
        except ConnectionResetError:
            return got
        if not data:
            return got
        got += data
    return None


def is_open(sock: socket.socket) -> bool:
    """Open, and nothing sent by the server (looked at without waiting)."""
    sock.setblocking(False)
    try:
        return not sock.recv(1, socket.MSG_PEEK)
    except BlockingIOError:
        return True
    except ConnectionResetError:
        return False
    finally:
        sock.setblocking(True)


def slow_clients(server: Running, n: int) -> list[tuple[str, socket.socket]]:
    """``n`` connections of each kind: connected and silent, half the headers, headers and half the body."""
    socks = []
    for _ in range(n):
        socks.append(("idle", server.connect()))
        s = server.connect()
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        socks.append(("headers", s))
        s = server.connect()
        s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n0123456789")
        socks.append(("body", s))
    return socks


def test_slow_clients_hold_no_thread_and_are_cut_at_their_limits(server):
    slow = slow_clients(server, 100)         # 300 connections against 4 application threads
    try:
        for _ in range(20):
            assert server.get() == (200, b"ok")
        results = []

        def client():
            results.append(server.get())

        threads = [threading.Thread(target=client) for _ in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(15)
        assert results == [(200, b"ok")] * 16
        # they were all still open while the normal requests were answered
        assert all(is_open(s) for _, s in slow)
        # then each is cut at its limit: no bytes at all, or the headers, within 2 s of the connection; a body
        # after 2 s without a byte. Those that were sending get a 408 on the way out
        for kind, s in slow:
            got = closed_within(s, 15)
            assert got is not None, kind
            assert got.startswith(b"HTTP/1.1 408 Request Timeout"), (kind, got[:60])
    finally:
        for _, s in slow:
            s.close()
    assert server.get() == (200, b"ok")


def test_a_slow_steady_upload_is_not_cut(server):
    """The body limit is on silence, not on the whole body: 12 pieces 0.5 s apart (6 s, three times the header
    and body limits of 2 s) arrive whole."""
    s = server.connect()
    try:
        s.sendall(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 12000\r\n\r\n")
        for _ in range(12):
            time.sleep(0.5)
            s.sendall(b"y" * 1000)
        got = b""
        s.settimeout(10)
        while b"\r\n\r\n" not in got or not got.endswith(b"12000"):
            data = s.recv(4096)
            assert data, got
            got += data
        assert got.startswith(b"HTTP/1.1 200 OK")
    finally:
        s.close()


def test_a_slow_request_line_is_cut_even_while_bytes_keep_coming(server):
    """One byte a second keeps a connection active for ever; the header limit counts from the first byte."""
    s = server.connect()
    try:
        got = None
        deadline = time.monotonic() + 15
        for byte in b"GET /some/long/path/that/never/ends":
            try:
                s.sendall(bytes([byte]))
            except OSError:      # cut: reset by the server's close
                got = b""
                break
            got = closed_within(s, 0.5)
            if got is not None or time.monotonic() > deadline:
                break
        assert got is not None and (got == b"" or got.startswith(b"HTTP/1.1 408"))
    finally:
        s.close()


def test_keep_alive_connections_are_reused_then_closed_when_idle(server):
    conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
    try:
        for _ in range(2):
            conn.request("GET", "/")
            r = conn.getresponse()
            assert (r.status, r.read(), r.will_close) == (200, b"ok", False)
            time.sleep(1.0)          # idle, within the keep-alive limit (3 s)
        assert closed_within(conn.sock, 15) == b""      # then closed after 3 s idle, silently
    finally:
        conn.close()


def test_a_client_that_does_not_read_its_response_frees_the_thread(server):
    """64 MiB asked for and never read: waitress's thread waits while more than its buffer limit is unsent.
    After 2 s without progress the connection is cut and the thread serves others again (4 threads, 6 such
    clients: without the cut the last normal request would wait for ever)."""
    readers = []
    try:
        for _ in range(6):
            s = server.connect()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.sendall(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
            readers.append(s)
        assert server.get(timeout=20) == (200, b"ok")
        deadline = time.monotonic() + 20     # and every reader is cut (reading them now would be progress)
        while server.front.channels() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert server.front.channels() == []
    finally:
        for s in readers:
            s.close()


def test_large_bodies_arrive_whole(server):
    """A large single write and a body of many 1 MiB writes, on one keep-alive connection, several times."""
    conn = http.client.HTTPConnection(server.host, server.port, timeout=30)
    try:
        for _ in range(3):
            conn.request("GET", "/one")
            r = conn.getresponse()
            assert hashlib.sha256(r.read()).digest() == hashlib.sha256(ONE_BODY).digest()
            conn.request("GET", "/big")
            r = conn.getresponse()
            assert r.read() == b"x" * (64 * 1024 * 1024)
    finally:
        conn.close()


def test_a_port_in_use_is_an_os_error():
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    try:
        with pytest.raises(OSError):
            Front(app, Limits(threads=1), host="127.0.0.1", port=taken.getsockname()[1])
    finally:
        taken.close()
