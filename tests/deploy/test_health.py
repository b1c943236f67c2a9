"""`wharf health SERVICE` (the readiness probe of k8s/ and docker-compose.yml) checks the service's real
dependencies (database, RabbitMQ, S3) and then that the service answers; `--live` (liveness) checks only the
service. A real indexer runs against PostgreSQL, RabbitMQ and moto's S3; each dependency is then broken in turn."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.processes   # starts processes (see pyproject.toml's markers)

WHARF = str(Path(sys.executable).with_name("wharf"))


def health(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([WHARF, "health", *args], env=env, capture_output=True, text=True, timeout=60)


@pytest.fixture
def indexer_env(tmp_path, pg_url, amqp_vhost_uri, s3_store, s3_settings):
    env = {k: v for k, v in os.environ.items() if not k.startswith("WHARF_")}
    env.update(WHARF_MODE="distributed", WHARF_SECRET_KEY="health-test", WHARF_AMQP_URI=amqp_vhost_uri,
               WHARF_INDEXER_DB_URL=pg_url, WHARF_REGISTRY_DB_URL=pg_url, WHARF_BLOB_BACKEND="s3",
               WHARF_S3_ENDPOINT=s3_settings["s3_endpoint"], WHARF_S3_ACCESS_KEY="testing",
               WHARF_S3_SECRET_KEY="testing", WHARF_S3_BUCKET=s3_settings["s3_bucket"],
               WHARF_DATA_DIR=str(tmp_path / "data"),
               WHARF_METRICS_PORT="0")   # the default 9100 may be another process's: a port in use stops a service
    log = open(tmp_path / "indexer.log", "w")
    proc = subprocess.Popen([WHARF, "run", "indexer"], env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 90
        while health(env, "indexer", "--live").returncode != 0:
            assert proc.poll() is None, (tmp_path / "indexer.log").read_text()
            assert time.monotonic() < deadline, (tmp_path / "indexer.log").read_text()
            time.sleep(0.5)
        yield env
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(60)          # a graceful nameko stop; slow on a loaded machine
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        log.close()


def test_readiness_checks_each_dependency_of_a_running_indexer(indexer_env, pg_admin):
    ok = health(indexer_env, "indexer")
    assert ok.returncode == 0, ok.stderr
    for check in ("database", "broker", "s3", "process"):
        assert f"indexer {check}: ok" in ok.stdout

    # PostgreSQL unreachable (a database that does not exist): unready, but still live
    missing_db = pg_admin("wharf_gone").rsplit("/", 1)[0] + "/wharf_no_such_database"
    r = health({**indexer_env, "WHARF_INDEXER_DB_URL": missing_db}, "indexer")
    assert r.returncode == 1 and "indexer database: FAILED" in r.stderr
    assert "indexer process: ok" in r.stdout
    assert health({**indexer_env, "WHARF_INDEXER_DB_URL": missing_db}, "indexer", "--live").returncode == 0

    # the bucket is gone
    r = health({**indexer_env, "WHARF_S3_BUCKET": "wharf-no-such-bucket"}, "indexer")
    assert r.returncode == 1 and "indexer s3: FAILED" in r.stderr and "does not exist" in r.stderr

    # RabbitMQ unreachable: the broker check fails fast and the RPC ping is not attempted
    r = health({**indexer_env, "WHARF_AMQP_URI": "amqp://guest:guest@127.0.0.1:1/"}, "indexer")
    assert r.returncode == 1 and "indexer broker: FAILED" in r.stderr and "process" not in r.stdout


def test_a_service_that_is_not_running_is_not_ready(tmp_path, amqp_vhost_uri):
    env = {k: v for k, v in os.environ.items() if not k.startswith("WHARF_")}
    env.update(WHARF_MODE="distributed", WHARF_SECRET_KEY="x", WHARF_AMQP_URI=amqp_vhost_uri,
               WHARF_BLOB_BACKEND="local", WHARF_DATA_DIR=str(tmp_path))
    r = health(env, "storage")
    assert r.returncode == 1
    assert "storage broker: ok" in r.stdout and "storage process: FAILED" in r.stderr
