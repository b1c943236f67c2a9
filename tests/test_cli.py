"""The `wharf` command as an operator meets it (issue 15 items 17 and 21): what it prints, what it leaves behind,
when it gives up. Real processes: `wharf serve`, `wharf run` of nameko services on RabbitMQ."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import free_port

pytestmark = pytest.mark.processes   # starts processes (see pyproject.toml's markers)

WHARF = str(Path(sys.executable).with_name("wharf"))


def clean_env(tmp_path: Path, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WHARF_")}
    env.update(HOME=str(tmp_path / "home"), TMPDIR=str(tmp_path / "tmp"), WHARF_DATA_DIR=str(tmp_path / "data"))
    (tmp_path / "home").mkdir(exist_ok=True)
    (tmp_path / "tmp").mkdir(exist_ok=True)
    env.update(extra)
    return env


def wharf(env: dict, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([WHARF, *args], env=env, capture_output=True, text=True, timeout=timeout)


class Process:
    def __init__(self, env: dict, args: list[str], log: Path):
        self.log = log
        self.proc = subprocess.Popen([WHARF, *args], env=env, stdout=open(log, "wb"), stderr=subprocess.STDOUT,
                                     start_new_session=True)

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> int | None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        return self.proc.returncode


def wait_for(url: str, proc: Process, timeout: float = 90) -> requests.Response:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.proc.poll() is None, proc.text()[-3000:]
        try:
            r = requests.get(url, timeout=2)
            if r.ok:
                return r
        except requests.RequestException:
            pass
        time.sleep(0.3)
    pytest.fail(f"{url} did not answer:\n{proc.text()[-3000:]}")


# ------------------------------------------------------------------------------------------------ embedded
def test_commands_print_their_result_not_alembic_lines(tmp_path):
    """Every command printed 13 or more alembic INFO lines (plugins set up, DDL mode assumed, on every run); now
    `wharf migrate` prints its result (and a migration that ran is at most one log line), the next commands
    nothing but theirs."""
    env = clean_env(tmp_path)
    migrate = wharf(env, "migrate", "all")
    assert migrate.returncode == 0, migrate.stderr
    assert [line.split(":")[0] for line in migrate.stdout.splitlines()] == ["auth", "registry", "indexer"]
    assert all(": none -> " in line for line in migrate.stdout.splitlines())
    assert "alembic" not in migrate.stderr
    assert all("wharf.migrations" in line for line in migrate.stderr.splitlines())
    user = wharf(env, "user", "create", "ada", "--password", "ada-password")
    assert user.returncode == 0, user.stderr
    assert (user.stdout.strip(), user.stderr) == ("created user ada", "")
    org = wharf(env, "org", "create", "acme", "--owner", "ada")
    assert (org.stdout.strip(), org.stderr) == ("created organization acme owned by ada", "")


def test_serve_on_a_port_in_use_says_what_to_do(tmp_path):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    try:
        r = wharf(clean_env(tmp_path), "serve", "--host", "127.0.0.1", "--port", str(port), timeout=60)
    finally:
        taken.close()
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert f"127.0.0.1:{port}" in r.stderr and "in use" in r.stderr
    assert "--port" in r.stderr and "make serve PORT=" in r.stderr


def test_health_of_the_embedded_gateway_checks_no_broker(tmp_path):
    """`wharf serve` has no RabbitMQ: `wharf health gateway` in embedded mode checked the broker (and port 8080
    whatever `wharf serve` was told). It checks the gateway on WHARF_HOST/WHARF_PORT."""
    port = free_port()
    env = clean_env(tmp_path, WHARF_PORT=str(port), WHARF_AMQP_URI="amqp://guest:guest@127.0.0.1:1/")
    serve = Process(env, ["serve"], tmp_path / "serve.log")
    try:
        wait_for(f"http://127.0.0.1:{port}/healthz", serve)
        for args in (("health", "gateway"), ("health", "gateway", "--live")):
            r = wharf(env, *args, timeout=60)
            assert r.returncode == 0, r.stdout + r.stderr
            assert r.stdout.strip() == f"gateway process: ok (http://127.0.0.1:{port}/healthz)"
        r = wharf(env, "health", "registry", timeout=60)
        assert r.returncode == 2 and "embedded mode" in r.stderr
    finally:
        serve.stop()


# ------------------------------------------------------------------------------------------------ wharf run
def distributed_env(tmp_path: Path, amqp_uri: str, **extra: str) -> dict:
    return clean_env(tmp_path, WHARF_MODE="distributed", WHARF_SECRET_KEY="cli-test", WHARF_AMQP_URI=amqp_uri,
                     WHARF_BLOB_BACKEND="local", **extra)


def test_run_leaves_no_configuration_file_with_the_broker_password(tmp_path, amqp_vhost_uri):
    """`wharf run` wrote the nameko configuration, AMQP URI and password included, to a temporary
    wharf-<service>-*.yaml per start and never removed it."""
    port = free_port()
    env = distributed_env(tmp_path, amqp_vhost_uri, WHARF_METRICS_PORT=str(port))
    password = amqp_vhost_uri.split("@")[0].rsplit(":", 1)[1]
    storage = Process(env, ["run", "storage"], tmp_path / "storage.log")
    try:
        assert wait_for(f"http://127.0.0.1:{port}/healthz", storage).json()["service"] == "storage"
        leftovers = [p for p in (tmp_path / "tmp").rglob("*") if p.is_file()]
        assert not [p for p in leftovers if p.name.startswith("wharf-storage-")]
        assert not [p for p in leftovers if password in p.read_text(errors="replace")]
    finally:
        assert storage.stop() == 0
    assert not list((tmp_path / "tmp").glob("wharf-*.yaml"))


@pytest.mark.parametrize("problem", ["metrics port in use", "database URL"])
def test_run_gives_up_on_a_configuration_it_cannot_start_with(tmp_path, amqp_vhost_uri, problem):
    """A second service on a metrics port another one serves (before: both listened, SO_REUSEPORT, and scrapes
    reached either at random), or a database URL no driver reads (before: restarted for ever): `wharf run`
    tries a few times, says why in one line naming the variable, and exits 78."""
    port = free_port()
    first = None
    if problem == "metrics port in use":
        first = Process(distributed_env(tmp_path, amqp_vhost_uri, WHARF_METRICS_PORT=str(port)),
                        ["run", "storage"], tmp_path / "storage.log")
        wait_for(f"http://127.0.0.1:{port}/healthz", first)
        env = distributed_env(tmp_path, amqp_vhost_uri, WHARF_METRICS_PORT=str(port))
        variable = "WHARF_METRICS_PORT"
    else:
        env = distributed_env(tmp_path, amqp_vhost_uri, WHARF_METRICS_PORT="0",
                              WHARF_AUTH_DB_URL="nosuchdatabase://wharf/auth")
        variable = "WHARF_AUTH_DB_URL"
    second = Process(env, ["run", "auth"], tmp_path / "auth.log")
    try:
        try:
            rc = second.proc.wait(120)
        except subprocess.TimeoutExpired:
            pytest.fail(f"`wharf run auth` still running:\n{second.text()[-3000:]}")
        out = second.text()
        assert rc == 78, out[-3000:]
        assert "Traceback" not in out, out[-3000:]
        assert out.count(f"auth cannot start: {variable}") == 3
        assert "not starting it again" in out.splitlines()[-1]
        if first is not None:     # the first one keeps its port, alone
            for _ in range(5):
                assert requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).json()["service"] == "storage"
    finally:
        second.stop()
        if first is not None:
            assert first.stop() == 0


# ------------------------------------------------------------------------------------------------ README recipe
def readme_block(name: str) -> str:
    """The fenced block ```bash NAME of README.md."""
    import re
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    m = re.search(rf"^```\w+ {re.escape(name)}\n(.*?)^```[ \t]*$", text, re.M | re.S)
    assert m, f"no block {name!r} in README.md"
    return m.group(1)


def test_the_local_processes_recipe_runs_as_written(tmp_path, amqp_vhost_uri, s3_server):
    """README "Distributed mode as local processes": the block runs with bash as written, only its database
    names, bucket, broker vhost and ports swapped for this test's; every service then answers on its own
    metrics port and the gateway serves."""
    import uuid
    import pg8000.native
    from tests.conftest import PG_HOST, PG_PORT, PG_USER, require_service
    require_service("PostgreSQL", PG_HOST, PG_PORT)
    tag = uuid.uuid4().hex[:8]
    ports = {p: free_port() for p in ("8080", "9101", "9102", "9103", "9104", "9105")}
    script = readme_block("local-processes")
    for svc in ("auth", "registry", "indexer"):
        script = script.replace(f"wharf_{svc}", f"wharf_recipe_{tag}_{svc}")
    for default, port in ports.items():
        script = script.replace(f"127.0.0.1:{default}", f"127.0.0.1:{port}").replace(f"={default} ", f"={port} ")
    script = (script.replace("amqp://guest:guest@127.0.0.1:5672/", amqp_vhost_uri)
              .replace("127.0.0.1:9000", s3_server)
              .replace("WHARF_S3_BUCKET=wharf ", f"WHARF_S3_BUCKET=wharf-recipe-{tag} ")
              .replace(".venv/bin/", f"{Path(sys.executable).parent}/"))
    assert script.count(amqp_vhost_uri) == 1 and script.count(s3_server) == 1
    env = {k: v for k, v in clean_env(tmp_path).items() if k != "WHARF_DATA_DIR"}
    proc = subprocess.Popen(["bash", "-euo", "pipefail", "-c", script], env=env, cwd=tmp_path,
                            stdout=open(tmp_path / "recipe.log", "wb"), stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        try:
            assert proc.wait(240) == 0, (tmp_path / "recipe.log").read_text()
        except subprocess.TimeoutExpired:
            pytest.fail("the recipe did not finish:\n" + "\n".join(
                f"--- {p.name}\n{p.read_text(errors='replace')[-2000:]}" for p in tmp_path.glob("*.log")))
        ready = [line for line in (tmp_path / "recipe.log").read_text().splitlines() if line.endswith(" ready")]
        assert ready == [f"{svc} ready" for svc in ("auth", "registry", "storage", "indexer", "gateway")]
        for default, svc in (("9101", "auth"), ("9102", "registry"), ("9103", "storage"), ("9104", "indexer"),
                             ("9105", "gateway")):
            assert requests.get(f"http://127.0.0.1:{ports[default]}/healthz", timeout=5).json()["service"] == svc
        r = requests.get(f"http://127.0.0.1:{ports['8080']}/api/", timeout=10)
        assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/json")
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)       # the recipe's `kill $(jobs -p)`, from outside its shell
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                os.killpg(proc.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.5)
        else:
            os.killpg(proc.pid, signal.SIGKILL)
        conn = pg8000.native.Connection(PG_USER, host=PG_HOST, port=PG_PORT, database="postgres")
        try:
            for svc in ("auth", "registry", "indexer"):
                conn.run(f'DROP DATABASE IF EXISTS "wharf_recipe_{tag}_{svc}" WITH (FORCE)')
        finally:
            conn.close()
