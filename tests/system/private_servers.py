"""A PostgreSQL cluster and a RabbitMQ node of the test's own, on their own ports and data directories, so a
test can really stop and restart them (crash included) without touching the machine's shared services that
every other suite uses.

Both run as the system user their packages install (``postgres``, ``rabbitmq``) when the tests run as root, as
the current user otherwise. Where the binaries are missing the test is skipped with a plain reason; under
CI=true that is a failure, as for a missing shared service."""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from tests.conftest import IN_CI, free_port


def _missing(what: str) -> None:
    msg = f"{what} is not installed on this machine"
    if IN_CI:
        pytest.fail(f"{msg} (CI=true: a missing service is a failure)", pytrace=False)
    pytest.skip(f"SKIPPED because {msg}")


def _as(user: str) -> list[str]:
    """Prefix that runs a command as the package's system user when we are root (initdb refuses root)."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam(user)
    except KeyError:
        return []
    return ["runuser", "-u", user, "--"]


def _own(path: Path, user: str) -> None:
    if os.geteuid() == 0:
        try:
            entry = pwd.getpwnam(user)
        except KeyError:
            return
        os.chown(path, entry.pw_uid, entry.pw_gid)


def _private_dir(root: Path | None, prefix: str) -> Path:
    """A directory the server's user can reach: pytest's tmp_path is under a 0700 directory of ours."""
    if root is None:
        root = Path(tempfile.mkdtemp(prefix=prefix))
        root.chmod(0o755)
    root.mkdir(parents=True, exist_ok=True)
    return root


def _wait_port(port: int, up: bool, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                if up:
                    return True
        except OSError:
            if not up:
                return True
        time.sleep(0.2)
    return False


class PrivatePostgres:
    """``initdb`` into a temporary directory and ``pg_ctl`` on a free port, trust auth for ``postgres``."""

    def __init__(self, root: Path | None = None):
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl")) or ([shutil.which("pg_ctl")]
                                                                         if shutil.which("pg_ctl") else [])
        if not bins:
            _missing("PostgreSQL's server binaries (pg_ctl, initdb)")
        self.bindir = Path(bins[-1]).parent
        self.root = root = _private_dir(root, "wharf-pg-")
        _own(root, "postgres")
        self.data = root / "data"
        self.port = free_port()
        try:
            self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync")
            self.start()
        except BaseException:
            self.close()
            raise

    def _run(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        r = subprocess.run(_as("postgres") + [str(self.bindir / tool), *args], capture_output=True, text=True,
                           timeout=120, cwd=self.root)
        if check and r.returncode != 0:
            raise RuntimeError(f"{tool} {' '.join(args)} failed: {r.stdout}{r.stderr}\n{self.log_tail()}")
        return r

    def log_tail(self) -> str:
        log = self.root / "server.log"
        return log.read_text(errors="replace")[-3000:] if log.exists() else ""

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"), "-w", "-t", "60", "-o",
                  f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c max_connections=200", "start")

    def stop(self, mode: str = "fast") -> None:
        """``mode="immediate"`` is a crash as far as the data goes: no checkpoint, WAL recovery at the next
        start."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop", check=False)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, prefix: str) -> str:
        import pg8000.native
        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        conn = pg8000.native.Connection("postgres", host="127.0.0.1", port=self.port, database="postgres")
        try:
            conn.run(f'CREATE DATABASE "{name}"')
        finally:
            conn.close()
        return self.url(name)

    def close(self) -> None:
        self.stop("fast")
        shutil.rmtree(self.root, ignore_errors=True)


class PrivateRabbitMQ:
    """A second RabbitMQ node (its own node name, AMQP and distribution ports, Mnesia directory); guest/guest
    on the default vhost. ``stop()`` shuts the whole node down, ``start()`` boots it again from its data."""

    def __init__(self, root: Path | None = None):
        server = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")
        if not server.exists():
            found = shutil.which("rabbitmq-server")
            if not found:
                _missing("RabbitMQ's server (rabbitmq-server)")
            server = Path(found)
        self.server, self.ctl = server, server.with_name("rabbitmqctl")
        self.root = root = _private_dir(root, "wharf-rabbitmq-")
        _own(root, "rabbitmq")
        self.port = free_port()
        self.node = f"wharftest{uuid.uuid4().hex[:8]}@localhost"
        home = pwd.getpwnam("rabbitmq").pw_dir if _as("rabbitmq") else os.environ.get("HOME", str(root))
        self.env = {**os.environ, "HOME": home, "RABBITMQ_NODENAME": self.node,
                    "RABBITMQ_NODE_PORT": str(self.port), "RABBITMQ_DIST_PORT": str(free_port()),
                    "RABBITMQ_MNESIA_BASE": str(root / "mnesia"), "RABBITMQ_LOG_BASE": str(root / "log"),
                    "RABBITMQ_PID_FILE": str(root / "node.pid"),
                    "RABBITMQ_ENABLED_PLUGINS_FILE": str(root / "enabled_plugins"),
                    # our own config: the machine's rabbitmq.conf may pin the listener to the shared port
                    "RABBITMQ_CONFIG_FILE": str(root / "rabbitmq.conf")}
        (root / "enabled_plugins").write_text("[].\n")
        (root / "rabbitmq.conf").write_text(f"listeners.tcp.local = 127.0.0.1:{self.port}\n")
        for name in ("enabled_plugins", "rabbitmq.conf"):
            _own(root / name, "rabbitmq")
        try:
            self.start()
        except BaseException:
            self.close()
            raise

    def _env_cmd(self, *cmd: str) -> list[str]:
        keep = ("HOME", "RABBITMQ_NODENAME", "RABBITMQ_NODE_PORT", "RABBITMQ_DIST_PORT", "RABBITMQ_MNESIA_BASE",
                "RABBITMQ_LOG_BASE", "RABBITMQ_PID_FILE", "RABBITMQ_ENABLED_PLUGINS_FILE", "RABBITMQ_CONFIG_FILE")
        return _as("rabbitmq") + ["env", *(f"{k}={self.env[k]}" for k in keep), *cmd]

    def log_tail(self) -> str:
        out = []
        for f in sorted((self.root / "log").glob("*.log")) if (self.root / "log").exists() else []:
            out.append(f.read_text(errors="replace")[-2000:])
        return "\n".join(out)

    def start(self, timeout: float = 90.0) -> None:
        subprocess.run(self._env_cmd(str(self.server), "-detached"), capture_output=True, timeout=60,
                       cwd=self.root, check=True)
        if not _wait_port(self.port, up=True, timeout=timeout):
            raise RuntimeError(f"RabbitMQ node {self.node} did not open port {self.port}\n{self.log_tail()}")

    def stop(self) -> None:
        subprocess.run(self._env_cmd(str(self.ctl), "-n", self.node, "stop", str(self.root / "node.pid")),
                       capture_output=True, timeout=120, cwd=self.root)
        _wait_port(self.port, up=False, timeout=30)

    @property
    def amqp_uri(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
