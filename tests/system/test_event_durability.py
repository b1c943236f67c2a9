"""A committed event is always applied eventually, whatever happened to its delivery (real processes).

- Embedded: `wharf serve` killed with SIGKILL right after a commit was acknowledged, while the indexer had not
  applied the upload yet (its database held by this test, as a slow disk or a long publish would), then
  restarted: the upload is listed without any later event, and `wharf verify` is clean.
- Distributed: events the broker never queued for the indexer (its queue deleted while the indexer was down;
  its bindings gone for a while with the indexer running) are applied from the registry's log: at the
  indexer's start, and by its periodic catch-up (``WHARF_CATCH_UP_INTERVAL``), again without any later event.
"""
from __future__ import annotations

import contextlib
import sqlite3
import time
import uuid

import pika
import pytest
from sqlalchemy import text

from services.kernel.adapters.db import make_engine
from services.kernel.subscriptions import SUBSCRIPTIONS
from tests.conftest import free_port
from tests.helpers.packages import make_conda_package

from .api_upload import Uploader, login
from .clients import wait_for_repodata
from .faults import kill9, respawn, verify
from .harness import start_distributed, start_embedded

pytestmark = pytest.mark.system
OWNER = "durable"
PASSWORD = "durable-pw-123"
INDEXER_QUEUE = "evt-registry--indexer.handle"


def unrelayed(registry_db_url: str) -> int:
    engine = make_engine(registry_db_url)
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT count(*) FROM events WHERE NOT published")).scalar_one()
    finally:
        engine.dispose()


def wait_relayed(registry_db_url: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if unrelayed(registry_db_url) == 0:
            return True
        time.sleep(0.1)
    return False


@contextlib.contextmanager
def held(sqlite_path) -> None:
    """Hold the write lock of a SQLite database: its other writers wait (the indexer cannot apply events)."""
    conn = sqlite3.connect(str(sqlite_path), isolation_level=None, timeout=60)
    try:
        conn.execute("BEGIN IMMEDIATE")
        yield
    finally:
        conn.rollback()
        conn.close()


def upload(w, tmp_path, package: str, version: str = "1.0"):
    up = Uploader(w.base_url, login(w.base_url, OWNER, PASSWORD))
    pkg = make_conda_package(tmp_path, package, version, subdir="noarch", fmt=".conda")
    r = up.upload(OWNER, package, version, pkg, subdir="noarch")
    assert r.status_code == 200, r.text
    return pkg


def assert_listed_and_verified(w, pkg) -> None:
    wait_for_repodata(w.conda(OWNER) + "/noarch/repodata.json", pkg.name, timeout=90)
    report = verify(w, wait=60)
    assert report["ok"], report["problems"]


# ------------------------------------------------------------------------------------------------ embedded
def test_embedded_kill9_right_after_an_acknowledged_commit(tmp_path, request):
    w = start_embedded(tmp_path, free_port())
    try:
        w.cli("user", "create", OWNER, "--password", PASSWORD)
        registry_db = f"sqlite:///{tmp_path / 'data' / 'registry.db'}"
        with held(tmp_path / "data" / "indexer.db"):
            pkg = upload(w, tmp_path / "pkgs", "survivor")      # acknowledged: 200
            # Before the fix the relay marked the events relayed as soon as the in-memory bus had queued them,
            # milliseconds after the commit; now they stay unrelayed until the indexer has applied them. Either
            # way the process dies with the upload not applied: waiting here only gives the old relay its
            # chance to mark them (what made the upload vanish), it asserts nothing.
            wait_relayed(registry_db, timeout=5)
            kill9(w, "serve")
        w.restart()
        assert_listed_and_verified(w, pkg)
    finally:
        if request.node.session.testsfailed:
            print(w.dump_logs())
        w.stop()


# ------------------------------------------------------------------------------------------------ distributed
@pytest.fixture(scope="module")
def dist(tmp_path_factory, amqp_vhosts, pg_admin, s3_server, request):
    workdir = tmp_path_factory.mktemp("wharf-durability")
    s3 = dict(s3_endpoint=s3_server, s3_access_key="testing", s3_secret_key="testing",
              s3_bucket=f"wharf-{uuid.uuid4().hex[:10]}")
    dbs = {svc: pg_admin(f"wharf_{svc}") for svc in ("auth", "registry", "indexer")}
    w = start_distributed(workdir, free_port(), amqp_vhosts(), dbs, s3,
                          extra_env={"WHARF_CATCH_UP_INTERVAL": "1"})
    w.cli("user", "create", OWNER, "--password", PASSWORD)
    yield w
    if request.node.session.testsfailed:
        print(w.dump_logs())
    w.stop()


@contextlib.contextmanager
def broker(w):
    conn = pika.BlockingConnection(pika.URLParameters(w.env["WHARF_AMQP_URI"]))
    try:
        yield conn.channel()
    finally:
        conn.close()


def test_distributed_events_lost_while_the_indexer_was_down_are_applied_at_its_start(dist, tmp_path):
    kill9(dist, "indexer")
    with broker(dist) as chan:
        chan.queue_delete(INDEXER_QUEUE)      # what the broker held for the indexer is gone
    pkg = upload(dist, tmp_path, "restarted")
    # the broker confirmed each event (unroutable, so dropped): the relay has marked them all
    assert wait_relayed(dist.env["WHARF_REGISTRY_DB_URL"], timeout=60)
    respawn(dist, "indexer")
    assert_listed_and_verified(dist, pkg)


def test_distributed_events_lost_while_the_indexer_runs_are_applied_by_its_periodic_catch_up(dist, tmp_path):
    keys = SUBSCRIPTIONS["indexer"]["registry"]
    with broker(dist) as chan:
        for key in keys:
            chan.queue_unbind(INDEXER_QUEUE, "registry.events", routing_key=key)
        try:
            pkg = upload(dist, tmp_path, "periodic")
            assert wait_relayed(dist.env["WHARF_REGISTRY_DB_URL"], timeout=60)
        finally:
            for key in keys:
                chan.queue_bind(INDEXER_QUEUE, "registry.events", routing_key=key)
    assert_listed_and_verified(dist, pkg)
