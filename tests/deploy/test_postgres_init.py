"""deploy/postgres-init/01-wharf-databases.sql, run the way the postgres image runs it (psql, ON_ERROR_STOP)
against this machine's PostgreSQL: it creates the three databases and is idempotent."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = [pytest.mark.postgres, pytest.mark.processes]

SQL = Path(__file__).resolve().parents[2] / "deploy/postgres-init/01-wharf-databases.sql"
DATABASES = {"wharf_auth", "wharf_registry", "wharf_indexer"}
PG_HOST = os.environ.get("WHARF_TEST_PG_HOST", "127.0.0.1")
PG_PORT = os.environ.get("WHARF_TEST_PG_PORT", "5432")
PG_USER = os.environ.get("WHARF_TEST_PG_USER", "postgres")


def _existing(conn) -> set[str]:
    return {r[0] for r in conn.run("SELECT datname FROM pg_database")}


@pytest.fixture
def admin(pg_admin):  # pg_admin: skips (or fails under CI) when PostgreSQL is not reachable
    import pg8000.native
    conn = pg8000.native.Connection(PG_USER, host=PG_HOST, port=int(PG_PORT), database="postgres")
    before = _existing(conn)
    yield conn
    for name in DATABASES - before:  # drop only what this test created
        conn.run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    conn.close()


@pytest.mark.skipif(shutil.which("psql") is None, reason="SKIPPED because psql is not installed")
def test_init_script_creates_the_databases_and_is_idempotent(admin):
    cmd = ["psql", "-v", "ON_ERROR_STOP=1", "--no-psqlrc", "-h", PG_HOST, "-p", PG_PORT, "-U", PG_USER,
           "-d", "postgres", "-f", str(SQL)]
    for _ in range(2):
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
    assert DATABASES <= _existing(admin)


def test_a_broken_script_fails_under_on_error_stop(admin, tmp_path):
    if shutil.which("psql") is None:
        pytest.skip("SKIPPED because psql is not installed")
    bad = tmp_path / "bad.sql"
    bad.write_text(SQL.read_text().replace("CREATE DATABASE wharf_auth", "CREATE DATABSE wharf_auth"))
    r = subprocess.run(["psql", "-v", "ON_ERROR_STOP=1", "--no-psqlrc", "-h", PG_HOST, "-p", PG_PORT,
                        "-U", PG_USER, "-d", "postgres", "-f", str(bad)], capture_output=True, text=True,
                       timeout=60)
    if "wharf_auth" in _existing(admin):
        assert r.returncode == 0  # the broken statement is never generated when the database exists
    else:
        assert r.returncode != 0 and "syntax error" in r.stderr
