"""Fault-injection tools shared by tests/system/test_faults.py and benchmarks/fault_soak.py: a TCP proxy that
can be cut (S3 unreachable without touching the shared services), kill -9 / respawn of a Wharf process, a
second indexer, duplicated events, and a concurrent upload load that retries until each upload is committed
(as a real client would) and counts what it saw."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import requests

from tests.helpers.packages import make_conda_package

from .api_upload import Uploader
from .harness import WHARF, Wharf, _wait_health


# ------------------------------------------------------------------------------------------------ TCP proxy
class TcpProxy:
    """``127.0.0.1:<port>`` -> ``target``. ``cut()`` closes every connection and refuses new ones (the target
    is unreachable: connection refused at once); ``restore()`` accepts again on the same port."""

    def __init__(self, target: str):
        host, port = target.rsplit(":", 1)
        self.target = (host, int(port))
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._up = False
        self.restore()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def restore(self) -> None:
        if self._up:
            return
        if self._listener is None:
            self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self._listener.bind(("127.0.0.1", self.port))
        self._listener.listen(128)
        self._up = True
        threading.Thread(target=self._accept, args=(self._listener,), daemon=True).start()

    def cut(self) -> None:
        self._up = False
        listener, self._listener = self._listener, None
        if listener is not None:
            try:
                listener.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            listener.close()
        with self._lock:
            conns, self._conns = self._conns, set()
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            c.close()

    def close(self) -> None:
        self.cut()

    def _accept(self, listener: socket.socket) -> None:
        while self._up:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns |= {client, upstream}
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            with self._lock:
                self._conns.discard(src)
                self._conns.discard(dst)


# ------------------------------------------------------------------------------------------------ processes
def kill9(wharf: Wharf, name: str) -> None:
    p = wharf.procs.pop(name)
    os.killpg(p.pid, signal.SIGKILL)
    p.wait(10)


def respawn(wharf: Wharf, name: str, service: str | None = None) -> None:
    """Start ``name`` again, on the metrics port it had (a port in use stops a service; 9100 may be)."""
    port = wharf.metrics_ports.get(name)
    wharf.spawn(name, ["run", service or name], env={"WHARF_METRICS_PORT": str(port)} if port else None)
    if (service or name) != "gateway":
        _wait_health_named(wharf, name, service or name)


def _wait_health_named(wharf: Wharf, name: str, service: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if wharf.procs[name].poll() is not None:
            raise RuntimeError(f"{name} exited: {wharf.dump_logs()}")
        r = subprocess.run([WHARF, "health", service], env=wharf.env, capture_output=True, timeout=60)
        if r.returncode == 0:
            return
        time.sleep(0.5)
    raise TimeoutError(f"{name} never became healthy")


def duplicate_all_events(wharf: Wharf) -> int:
    """Publish every event of the registry's log once more to the broker (what a relay that crashed between
    the broker's confirm and marking the rows would do, for the whole log at once)."""
    from services.kernel.adapters.amqp_publisher import AmqpEventPublisher
    from services.kernel.events import Event
    from services.kernel.settings import Settings
    from services.registry.bootstrap import bootstrap
    settings = Settings.from_env(dict(wharf.env))
    registry = bootstrap(settings)
    publisher = AmqpEventPublisher(settings.amqp_uri)
    after, n = 0, 0
    while True:
        batch = registry.read_log(after, 500)
        if not batch:
            return n
        publisher.publish([Event.from_wire({k: v for k, v in w.items() if k != "position"}) for w in batch])
        n += len(batch)
        after = batch[-1]["position"]


def verify(wharf: Wharf, wait: float = 180.0) -> dict:
    import json
    r = wharf.cli("verify", "--json", "--wait", str(wait), check=False)
    if r.returncode not in (0, 1):
        raise AssertionError(f"wharf verify failed to run: {r.stdout}\n{r.stderr}")
    return json.loads(r.stdout)


# ------------------------------------------------------------------------------------------------ load
_BUILD_LOCK = threading.Lock()

class Load:
    """``threads`` uploaders, each uploading new versions of its own package until stopped; an upload that gets
    a 5xx, a timeout or a connection error is retried from the start (new stage) until it is committed."""

    def __init__(self, wharf: Wharf, token: str, owner: str, workdir: Path, threads: int = 4,
                 prefix: str = "load", request_timeout: float = 60.0):
        self.wharf, self.token, self.owner, self.workdir = wharf, token, owner, workdir
        self.threads, self.prefix, self.request_timeout = threads, prefix, request_timeout
        self.committed: list[tuple[str, str, str]] = []      # (package, version, filename)
        self.retries = 0
        self.errors: dict[str, int] = {}
        self.samples: dict[str, list[str]] = {}      # status -> what the server answered (first line of each)
        self.slowest = 0.0
        self._stop = threading.Event()
        self._workers: list[threading.Thread] = []
        self._lock = threading.Lock()
        self.started = self.stopped = 0.0

    def start(self) -> "Load":
        self.started = time.monotonic()
        for i in range(self.threads):
            t = threading.Thread(target=self._run, args=(i,), daemon=True)
            t.start()
            self._workers.append(t)
        return self

    def stop(self, timeout: float = 600.0) -> None:
        self._stop.set()
        for t in self._workers:
            t.join(timeout)
        self.stopped = time.monotonic()
        assert not any(t.is_alive() for t in self._workers), "an uploader never finished its upload"

    def wait_for(self, n: int, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.committed) < n and time.monotonic() < deadline:
            time.sleep(0.1)

    @property
    def rate(self) -> float:
        end = self.stopped or time.monotonic()
        return len(self.committed) / max(end - self.started, 1e-9)

    def _note(self, what: str, sample: str = "") -> None:
        with self._lock:
            self.errors[what] = self.errors.get(what, 0) + 1
            if sample:
                self.samples.setdefault(what, []).append(sample)

    def _run(self, i: int) -> None:
        package = f"{self.prefix}{i}"
        up = Uploader(self.wharf.base_url, self.token, timeout=self.request_timeout)
        version = 0
        while not self._stop.is_set():
            version += 1
            v = f"1.{version}"
            with _BUILD_LOCK:      # conda-package-handling changes the working directory while it builds
                path = make_conda_package(self.workdir / f"{package}-{v}", package, v, subdir="noarch",
                                          fmt=".conda")
            t0 = time.monotonic()
            while True:        # retry this upload until it is committed (the stop flag waits for it)
                try:
                    r = up.upload(self.owner, package, v, path, subdir="noarch")
                    if r.status_code == 200:
                        break
                    if r.status_code == 409 and "already exists" in r.text:
                        break      # an earlier attempt was committed but its answer was lost
                    self._note(str(r.status_code), f"{r.request.method} {r.request.path_url.split('?')[0]}: "
                                                   f"{r.text[:300]}")
                    if r.status_code < 500 and r.status_code not in (404, 409):
                        raise AssertionError(f"upload refused: {r.status_code} {r.text[:300]}")
                except requests.RequestException as exc:
                    self._note(exc.__class__.__name__)
                with self._lock:
                    self.retries += 1
                time.sleep(0.5)
            with self._lock:
                self.committed.append((package, v, path.name))
                self.slowest = max(self.slowest, time.monotonic() - t0)


def all_listed(wharf: Wharf, owner: str, load: Load, timeout: float = 120.0) -> list[str]:
    """Filenames committed by ``load`` that the channel's index does not list (after waiting)."""
    deadline = time.monotonic() + timeout
    missing = [fn for _p, _v, fn in load.committed]
    while time.monotonic() < deadline:
        r = requests.get(f"{wharf.base_url}/conda/{owner}/noarch/repodata.json", timeout=30)
        if r.status_code == 200:
            listed = r.json().get("packages.conda", {})
            missing = [fn for _p, _v, fn in load.committed if fn not in listed]
            if not missing:
                return []
        time.sleep(0.5)
    return missing
