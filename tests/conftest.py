"""Shared fixtures: real PostgreSQL, RabbitMQ and an S3 server (moto) for the tests.

When PostgreSQL or RabbitMQ is unreachable, tests that need it are skipped with a plain reason, and the
session summary lists what was skipped; under CI=true a missing service fails the run instead.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import uuid

import pytest

PG_HOST = os.environ.get("WHARF_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("WHARF_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("WHARF_TEST_PG_USER", "postgres")
AMQP_HOST = os.environ.get("WHARF_TEST_AMQP_HOST", "127.0.0.1")
AMQP_PORT = int(os.environ.get("WHARF_TEST_AMQP_PORT", "5672"))
IN_CI = os.environ.get("CI", "").lower() == "true"

_SKIPPED_SERVICES: set[str] = set()


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def require_service(name: str, host: str, port: int) -> None:
    if _reachable(host, port):
        return
    msg = f"{name} is not reachable at {host}:{port}"
    if IN_CI:
        pytest.fail(f"{msg} (CI=true: a missing service is a failure)", pytrace=False)
    _SKIPPED_SERVICES.add(name)
    pytest.skip(f"SKIPPED because {msg}")


def pytest_terminal_summary(terminalreporter):
    if _SKIPPED_SERVICES:
        terminalreporter.write_line(
            "NOTE: tests needing " + ", ".join(sorted(_SKIPPED_SERVICES)) +
            " were SKIPPED because the service is not running on this machine.", yellow=True)


_PORTS_GIVEN: set[int] = set()


def free_port() -> int:
    """A free port below Linux's ephemeral range (32768-60999): a port the kernel hands out for port 0 can be
    taken again by any outgoing connection (the services open many) before the server that was told to use it
    binds it, which once failed a gateway start with "Address already in use".

    A port is handed out once per test process: a stack picks all its ports (gateway, then one metrics port per
    nameko process) before any of them is bound, so a free-but-already-promised port must not come back. That
    happened once in CI: a metrics endpoint took the gateway's port and the tests read Prometheus text as JSON."""
    import random
    for _ in range(400):
        port = random.randint(20000, 32000)
        if port in _PORTS_GIVEN:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _PORTS_GIVEN.add(port)
        return port
    raise RuntimeError("no free port left in 20000-32000")


# ------------------------------------------------------------------------------------------------ PostgreSQL
class PgDatabases:
    """Empty PostgreSQL databases for the tests: ``create(prefix)`` gives the URL of one. A database handed back
    with ``release(url)`` (pg_url does at the end of its test) is emptied and given to a later ``create`` (renamed
    to its prefix) instead of a new one: every DROP DATABASE forces a checkpoint of the whole server, and dropping
    the session's ~500 databases at its end took 2-3 minutes. Emptied means as a new database from template1 is:
    every schema but the system ones dropped, ``public`` created again as template1 has it (owner, privileges,
    comment), no other connection to it; a database that cannot be emptied so is dropped at the end instead.
    The tests and services create nothing outside their schemas (no roles, settings or extensions)."""

    PUBLIC = ("CREATE SCHEMA public AUTHORIZATION pg_database_owner",
              "GRANT USAGE ON SCHEMA public TO PUBLIC",
              "COMMENT ON SCHEMA public IS 'standard public schema'")

    def __init__(self):
        import pg8000.native
        self._connect = lambda database: pg8000.native.Connection(PG_USER, host=PG_HOST, port=PG_PORT,
                                                                  database=database)
        self.conn = self._connect("postgres")
        self.created: list[str] = []      # dropped at the end of the session
        self.free: list[str] = []         # emptied, ready for the next create()

    @staticmethod
    def url(name: str) -> str:
        return f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"

    def __call__(self, prefix: str = "wharf_test") -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        while self.free:
            old = self.free.pop()
            try:
                self.conn.run(f'ALTER DATABASE "{old}" RENAME TO "{name}"')
            except Exception:  # noqa: BLE001 - e.g. still in use: left to the drop at the end
                continue
            self.created[self.created.index(old)] = name
            return self.url(name)
        self.conn.run(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        return self.url(name)

    def release(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        if name in self.created and name not in self.free and self._empty(name):
            self.free.append(name)

    def _others(self, name: str) -> int:
        return self.conn.run("SELECT count(*) FROM pg_stat_activity WHERE datname = :n AND pid <> pg_backend_pid()",
                             n=name)[0][0]

    def _empty(self, name: str) -> bool:
        import time
        try:
            self.conn.run("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n "
                          "AND pid <> pg_backend_pid()", n=name)
            deadline = time.monotonic() + 5
            while self._others(name) and time.monotonic() < deadline:
                time.sleep(0.05)
            if self._others(name):
                return False
            db = self._connect(name)
            try:
                for (schema,) in db.run("SELECT nspname FROM pg_namespace WHERE nspname <> 'information_schema' "
                                        "AND nspname NOT LIKE 'pg\\_%'"):
                    db.run(f'DROP SCHEMA "{schema}" CASCADE')
                for statement in self.PUBLIC:
                    db.run(statement)
                left = db.run("SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                              "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')")[0][0]
            finally:
                db.close()
            return left == 0 and not self._others(name)
        except Exception:  # noqa: BLE001 - dropped at the end of the session instead
            return False

    def drop_all(self) -> None:
        for name in self.created:
            try:
                self.conn.run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            except Exception:  # noqa: BLE001
                pass
        self.conn.close()


@pytest.fixture(scope="session")
def pg_admin():
    """Factory of empty PostgreSQL databases (``pg_admin(prefix)`` -> URL), all dropped at the end of the
    session; ``pg_admin.release(url)`` hands one back for reuse once nothing uses it any more."""
    require_service("PostgreSQL", PG_HOST, PG_PORT)
    databases = PgDatabases()
    yield databases
    databases.drop_all()


@pytest.fixture
def pg_url(pg_admin):
    """A fresh, empty PostgreSQL database URL for one test."""
    url = pg_admin()
    yield url
    pg_admin.release(url)


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request, tmp_path):
    """Runs a test once on SQLite and once on PostgreSQL (contract suites)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.db'}"
    return request.getfixturevalue("pg_url")


# ------------------------------------------------------------------------------------------------ RabbitMQ
@pytest.fixture(scope="session")
def amqp_vhosts():
    """Factory of AMQP URIs, each on a fresh RabbitMQ vhost (all deleted at the end), so tests never see each
    other's durable queues or leftover messages."""
    require_service("RabbitMQ", AMQP_HOST, AMQP_PORT)
    ctl = shutil.which("rabbitmqctl")
    made: list[str] = []

    def create() -> str:
        vhost = f"wharf-test-{uuid.uuid4().hex[:8]}"
        if ctl and subprocess.run([ctl, "add_vhost", vhost], capture_output=True, timeout=60).returncode == 0:
            subprocess.run([ctl, "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"],
                           capture_output=True, timeout=60, check=True)
            made.append(vhost)
            return f"amqp://guest:guest@{AMQP_HOST}:{AMQP_PORT}/{vhost}"
        if IN_CI:
            pytest.fail("cannot create a RabbitMQ vhost (rabbitmqctl missing or refused)", pytrace=False)
        return f"amqp://guest:guest@{AMQP_HOST}:{AMQP_PORT}/"

    yield create
    for vhost in made:
        subprocess.run([ctl, "delete_vhost", vhost], capture_output=True, timeout=60)


@pytest.fixture
def amqp_vhost_uri(amqp_vhosts):
    """An AMQP URI on a fresh RabbitMQ vhost for one test."""
    return amqp_vhosts()


# ------------------------------------------------------------------------------------------------ S3 (moto)
@pytest.fixture(scope="session")
def s3_server():
    """A real S3 server (moto's) on a free local port; yields its ``host:port``."""
    from moto.server import ThreadedMotoServer
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3_settings(s3_server):
    """Keyword arguments for S3BlobStore / Settings on a fresh bucket."""
    return dict(s3_endpoint=s3_server, s3_access_key="testing", s3_secret_key="testing",
                s3_bucket=f"wharf-{uuid.uuid4().hex[:10]}", s3_secure=False, s3_region="us-east-1")


@pytest.fixture
def s3_store(s3_settings):
    from services.kernel.adapters.s3_blobs import S3BlobStore
    store = S3BlobStore(s3_settings["s3_endpoint"], s3_settings["s3_access_key"], s3_settings["s3_secret_key"],
                        s3_settings["s3_bucket"])
    store.ensure_bucket()
    return store


@pytest.fixture(params=["local", "s3"])
def blob_store(request, tmp_path):
    """Runs a test once on the local-disk store and once on S3 (contract suites)."""
    if request.param == "local":
        from services.kernel.adapters.local_blobs import LocalBlobStore
        return LocalBlobStore(str(tmp_path / "blobs"))
    return request.getfixturevalue("s3_store")


def _add_tier_markers(item) -> None:
    """The markers `make test-fast` deselects, added where a test's place or fixtures say so, so that a new test
    lands in the right tier by default: everything under tests/system and tests/benchmarks is ``system``; a test
    that uses PostgreSQL (``pg_admin``, ``pg_url``, or the "postgres" side of a parametrized fixture such as
    ``db_url``) is ``postgres``; one
    that uses RabbitMQ (``amqp_vhosts``) is ``rabbitmq``. (``processes`` is set by the modules themselves.)"""
    path = str(item.path).replace("\\", "/")
    if "/tests/system/" in path or "/tests/benchmarks/" in path:
        item.add_marker(pytest.mark.system)
    names = set(getattr(item, "fixturenames", ()))
    params = getattr(getattr(item, "callspec", None), "params", {})
    if "pg_admin" in names or "pg_url" in names or any(isinstance(v, str) and v == "postgres"
                                                       for v in params.values()):
        item.add_marker(pytest.mark.postgres)
    if "amqp_vhosts" in names or "amqp_vhost_uri" in names:
        item.add_marker(pytest.mark.rabbitmq)


def pytest_collection_modifyitems(session, config, items):
    """The in-process gateway tests (tests/gateway: Flask test client over embedded facades) run first, and the
    tests that drive nameko's standalone RPC proxy in this process (tests/*/test_entrypoint.py) run last, so the
    cheap checks report early and the only in-process users of eventlet come after everything else. (A hang once
    blamed on that proxy was eventlet.wsgi rebinding ``http.server``: see services/nameko_telemetry.py.)"""
    def where(item) -> int:
        path = str(item.path).replace("\\", "/")
        if "/tests/gateway/" in path:
            return 0
        if path.endswith("/test_entrypoint.py"):   # the only in-process users of eventlet (nameko's RPC proxy)
            return 2
        return 1
    items.sort(key=where)   # stable: order within each group is kept
    for item in items:
        _add_tier_markers(item)
