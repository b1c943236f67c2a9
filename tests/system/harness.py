"""Run Wharf as real processes for system tests: embedded (`wharf serve`) or distributed (five `wharf run`
processes on RabbitMQ + PostgreSQL + moto S3)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

VENV_BIN = Path(sys.executable).parent
WHARF = str(VENV_BIN / "wharf")


def wait_http(url: str, timeout: float = 60.0, procs=()) -> None:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        for p in procs:
            if p.poll() is not None:
                raise RuntimeError(f"process exited early with {p.returncode}: {p.args}")
        try:
            r = requests.head(url, timeout=2)
            if r.status_code == 200:
                return
            last = r.status_code
        except requests.RequestException as exc:
            last = exc
        time.sleep(0.2)
    raise TimeoutError(f"{url} not ready: {last}")


class Wharf:
    """A running Wharf. ``env`` is what a `wharf` CLI call needs to reach the same state."""

    def __init__(self, mode: str, base_url: str, env: dict, workdir: Path):
        self.mode, self.base_url, self.env, self.workdir = mode, base_url, env, workdir
        self.procs: dict[str, subprocess.Popen] = {}
        self.logs: dict[str, Path] = {}
        self.metrics_ports: dict[str, int] = {}    # nameko process -> its WHARF_METRICS_PORT

    @property
    def api(self) -> str:
        return self.base_url + "/api"

    def conda(self, owner: str, label: str | None = None) -> str:
        return f"{self.base_url}/conda/{owner}" + (f"/label/{label}" if label else "")

    def spawn(self, name: str, args: list[str], env: dict | None = None) -> subprocess.Popen:
        """Start `wharf ARGS` as ``name``. Every service (`run`, and `serve`) gets a metrics port of its own, the
        same again when ``name`` is started anew (a respawn after kill -9): a port in use stops a service (issue
        15 item 17), and the default 9100 would be shared by every process of the host."""
        env = dict(env or {})
        if args[:1] in (["run"], ["serve"]) and "WHARF_METRICS_PORT" not in env:
            self.metrics_ports.setdefault(name, _free_port())
            env["WHARF_METRICS_PORT"] = str(self.metrics_ports[name])
        log = self.workdir / f"{name}.log"
        self.logs[name] = log
        p = subprocess.Popen([WHARF, *args], env={**self.env, **env}, stdout=open(log, "wb"),
                             stderr=subprocess.STDOUT, cwd=self.workdir, start_new_session=True)
        self.procs[name] = p
        return p

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        r = subprocess.run([WHARF, *args], env=self.env, capture_output=True, text=True, timeout=300,
                           cwd=self.workdir)
        if check and r.returncode != 0:
            raise AssertionError(f"wharf {' '.join(args)} failed: {r.stdout}\n{r.stderr}")
        return r

    def stop(self, name: str | None = None, timeout: float = 15.0) -> None:
        """SIGTERM to every process (or only ``name``) at once, then wait for all of them; whatever still runs
        ``timeout`` seconds after the signal gets SIGKILL. Each process group is signalled (a `wharf run` and its
        nameko child)."""
        procs = [p for p in (self.procs.pop(n, None) for n in ([name] if name else list(self.procs)))
                 if p is not None and p.poll() is None]
        for p in procs:
            _signal_group(p, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for p in procs:
            try:
                p.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(p, signal.SIGKILL)
                p.wait(5)

    def dump_logs(self) -> str:
        out = []
        for n, path in self.logs.items():
            if path.exists():
                out.append(f"----- {n} -----\n" + path.read_text(errors="replace")[-6000:])
        return "\n".join(out)


def _signal_group(p: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(p.pid, sig)
    except ProcessLookupError:    # it ended (and was reaped) meanwhile
        pass


def base_env(workdir: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WHARF_", "BINSTAR_", "ANACONDA_"))}
    env["HOME"] = str(workdir / "home")
    (workdir / "home").mkdir(parents=True, exist_ok=True)
    env["PYTHONUNBUFFERED"] = "1"
    env["PATH"] = f"{VENV_BIN}:{env.get('PATH', '')}"
    return env


def start_embedded(workdir: Path, port: int, extra_env: dict | None = None) -> Wharf:
    env = base_env(workdir)
    env.update(WHARF_DATA_DIR=str(workdir / "data"), WHARF_PUBLIC_URL=f"http://127.0.0.1:{port}")
    env.update(extra_env or {})
    w = Wharf("embedded", f"http://127.0.0.1:{port}", env, workdir)
    w.restart = lambda: _restart_embedded(w, port)
    _restart_embedded(w, port)
    return w


def _restart_embedded(w: Wharf, port: int) -> None:
    w.stop("serve")
    p = w.spawn("serve", ["serve", "--host", "127.0.0.1", "--port", str(port)])
    wait_http(w.api, procs=[p])


def _free_port() -> int:
    from tests.conftest import free_port
    return free_port()


def start_distributed(workdir: Path, port: int, amqp_uri: str, db_urls: dict, s3: dict, indexers: int = 1,
                      extra_env: dict | None = None) -> Wharf:
    """``indexers``: how many indexer processes (replicas ``indexer``, ``indexer-2``, ...) share the work.
    Every nameko process gets its own ``WHARF_METRICS_PORT`` (``Wharf.metrics_ports``)."""
    env = base_env(workdir)
    env.update(
        WHARF_MODE="distributed", WHARF_SECRET_KEY="test-secret-" + os.urandom(8).hex(),
        WHARF_PUBLIC_URL=f"http://127.0.0.1:{port}", WHARF_GATEWAY_BIND=f"127.0.0.1:{port}",
        WHARF_GATEWAY_WORKERS="2", WHARF_AMQP_URI=amqp_uri,
        WHARF_AUTH_DB_URL=db_urls["auth"], WHARF_REGISTRY_DB_URL=db_urls["registry"],
        WHARF_INDEXER_DB_URL=db_urls["indexer"], WHARF_BLOB_BACKEND="s3",
        WHARF_S3_ENDPOINT=s3["s3_endpoint"], WHARF_S3_ACCESS_KEY=s3["s3_access_key"],
        WHARF_S3_SECRET_KEY=s3["s3_secret_key"], WHARF_S3_BUCKET=s3["s3_bucket"],
        WHARF_DATA_DIR=str(workdir / "data"), WHARF_INDEX_MAX_AGE="1",
    )
    env.update(extra_env or {})
    w = Wharf("distributed", f"http://127.0.0.1:{port}", env, workdir)
    names = ["storage", "auth", "registry"] + ["indexer" if i == 1 else f"indexer-{i}" for i in range(1, indexers + 1)]
    for name in names:
        w.spawn(name, ["run", name.split("-")[0]], env={"WHARF_INSTANCE_ID": name})
    # ready: each service consumes its RPC queue (what `wharf health SERVICE` finally pings), further replicas
    # once their metrics endpoint answers. One `wharf health` run per service and start took about 1 s of CPU
    # each, mostly imports (several seconds of a start on a busy machine); test_foundation.py runs `wharf
    # health` against every service of a running distributed Wharf, and tests/deploy/test_health.py each check.
    _wait_consuming(w, ["storage", "auth", "registry", "indexer"])
    for name in names[4:]:
        _wait_metrics(w, name)
    gw = w.spawn("gateway", ["run", "gateway"])
    wait_http(w.api, procs=[gw])
    _check_is_the_gateway(w)
    w.restart = lambda: None
    return w


def _check_is_the_gateway(w: Wharf) -> None:
    """What answered on the gateway's port must be the gateway (its /api is JSON), not some other server that
    took the port first (once a metrics endpoint did: the tests then read Prometheus text as JSON)."""
    r = requests.get(w.api, timeout=10)
    if not r.headers.get("Content-Type", "").startswith("application/json"):
        raise RuntimeError(f"{w.api} is not the gateway (Content-Type {r.headers.get('Content-Type')!r}):\n"
                           f"{w.dump_logs()}")


def _wait_metrics(w: Wharf, name: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if w.procs[name].poll() is not None:
            raise RuntimeError(f"{name} exited: {w.dump_logs()}")
        try:
            if requests.get(f"http://127.0.0.1:{w.metrics_ports[name]}/metrics", timeout=2).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{name} never served its metrics:\n{w.dump_logs()}")


def _wait_consuming(w: Wharf, services: list[str], timeout: float = 90.0) -> None:
    """Until every service's nameko RPC queue ``rpc-<service>`` has a consumer on the Wharf's broker: nameko
    consumes all queues of a service (RPC, events, replies) at once, after its dependencies started (database
    migrated, blob store reached). Polled with a passive queue declaration (pika, no eventlet in this process)."""
    import pika
    deadline = time.monotonic() + timeout
    waiting = list(services)
    conn = None
    try:
        while waiting:
            for svc in waiting:
                if w.procs[svc].poll() is not None:
                    raise RuntimeError(f"{svc} exited: {w.dump_logs()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{', '.join(waiting)} never consumed RPCs:\n{w.dump_logs()}")
            try:
                if conn is None or not conn.is_open:
                    conn = pika.BlockingConnection(pika.URLParameters(w.env["WHARF_AMQP_URI"]))
                for svc in list(waiting):
                    channel = conn.channel()
                    try:
                        if channel.queue_declare(f"rpc-{svc}", passive=True).method.consumer_count:
                            waiting.remove(svc)
                        channel.close()
                    except pika.exceptions.ChannelClosedByBroker:    # 404: the service did not declare it yet
                        pass
            except pika.exceptions.AMQPConnectionError:
                conn = None
            if waiting:
                time.sleep(0.1)
    finally:
        if conn is not None and conn.is_open:
            conn.close()


def _wait_health(w: Wharf, svc: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if w.procs[svc].poll() is not None:
            raise RuntimeError(f"{svc} exited: {w.dump_logs()}")
        r = subprocess.run([WHARF, "health", svc], env=w.env, capture_output=True, timeout=60)
        if r.returncode == 0:
            return
        time.sleep(0.5)
    raise TimeoutError(f"{svc} never became healthy:\n{w.dump_logs()}")
