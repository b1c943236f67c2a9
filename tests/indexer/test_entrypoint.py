"""The nameko service ``indexer``: its queue bindings match the kernel's subscription table, and a real
``nameko run`` process indexes events published to RabbitMQ and answers ``get_index`` over RPC."""
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import zstandard

from services.indexer.entrypoints.registry_events import RegistryEventsHandler
from services.indexer.entrypoints.service import IndexerRpc
from services.kernel.events import Event
from services.kernel.subscriptions import SUBSCRIPTIONS
from tests.helpers.rpc import MessageProxy

from .support import RegistryLog, read_pointer, shard_index

pytestmark = pytest.mark.processes   # starts processes (see pyproject.toml's markers)

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("busy_rounds, sleeps", [(0, 1), (3, 4), (1000, 8)])
def test_after_a_publish_the_loop_waits_while_events_keep_being_applied(monkeypatch, busy_rounds, sleeps):
    """``_settle``: PUBLISH_INTERVAL at a time while the handlers applied an event during the last one (here
    ``busy_rounds`` of them), never longer than COALESCE_MAX in all (the indexer's fake clock, advanced by each
    sleep)."""
    import types

    import eventlet.event

    from services.indexer.entrypoints import service as entry
    from services.kernel.clock import FakeClock

    facade = entry.IndexerFacade()
    facade._running, facade._wake = True, eventlet.event.Event()

    class Busy(FakeClock):
        def sleep(self, seconds):
            super().sleep(seconds)
            if len(self.slept) <= busy_rounds:
                facade._poke()          # what worker_result does when a handler has applied an event

    clock = Busy()
    facade.facade = types.SimpleNamespace(clock=clock)       # the IndexerService's clock port
    monkeypatch.setattr(entry, "PUBLISH_INTERVAL", 0.125)        # binary fractions: the clock adds up exactly
    monkeypatch.setattr(entry, "COALESCE_MAX", 1.0)
    facade._settle()
    assert clock.slept == [0.125] * sleeps


def test_handler_bindings_equal_the_subscription_table():
    from nameko.containers import ServiceContainer
    from nameko.testing.utils import get_extension

    container = ServiceContainer(IndexerRpc, {"AMQP_URI": "memory://"})
    handler = get_extension(container, RegistryEventsHandler)
    handler.setup()
    queue = handler.queue
    assert queue.name == "evt-registry--indexer.handle"
    assert queue.durable and not queue.auto_delete and not queue.exclusive
    assert sorted(b.routing_key for b in queue.bindings) == sorted(SUBSCRIPTIONS["indexer"]["registry"])
    for b in queue.bindings:
        ex = b.exchange
        assert (ex.name, ex.type, ex.durable, bool(ex.auto_delete)) == ("registry.events", "topic", True, False)
    assert handler.requeue_on_error
    assert len([e for e in container.entrypoints if isinstance(e, RegistryEventsHandler)]) == 1


def test_the_catch_up_runs_at_start_then_every_interval_and_soon_again_after_a_failure(monkeypatch):
    """``catch_up`` is a timer entrypoint: eager (a round as the service starts), its interval read from
    WHARF_CATCH_UP_INTERVAL when the service is set up; a failed round is tried again after RETRY seconds,
    doubling while it fails, never later than the interval."""
    from nameko.containers import ServiceContainer
    from nameko.testing.utils import get_extension

    from services.indexer.entrypoints.catch_up import RETRY, CatchUpTimer

    monkeypatch.setenv("WHARF_SECRET_KEY", "test-secret")
    monkeypatch.setenv("WHARF_CATCH_UP_INTERVAL", "12.5")
    container = ServiceContainer(IndexerRpc, {"AMQP_URI": "memory://"})
    [timer] = [e for e in container.entrypoints if isinstance(e, CatchUpTimer)]
    assert timer is get_extension(container, CatchUpTimer) and timer.method_name == "catch_up" and timer.eager
    timer.setup()
    assert timer.interval == 12.5
    delays = []
    for failed in (True, True, True, True, False, True):
        timer.handle_result(None, None, (RuntimeError, RuntimeError("registry unreachable"), None) if failed
                            else None)
        timer.worker_complete.reset()
        delays.append(timer.next_delay())
    assert delays == [RETRY, 2 * RETRY, 4 * RETRY, 12.5, 12.5, RETRY]


def test_a_catch_up_round_does_not_wait_forever_for_the_registry():
    """nameko's RPC waits for its reply forever; a reply lost (a broker restart) must not stop the rounds."""
    import eventlet

    from services.indexer.entrypoints.catch_up import timed
    from services.kernel.errors import Unavailable

    assert timed(lambda x: x + 1, 5)(1) == 2
    with pytest.raises(Unavailable, match="no answer in 0.05 s"):
        timed(lambda: eventlet.sleep(5), 0.05)()


@pytest.fixture
def indexer_process(tmp_path, pg_url, amqp_vhost_uri):
    env = dict(os.environ,  # no metrics endpoint: a port in use would stop the service
               WHARF_METRICS_PORT="0",
               WHARF_MODE="distributed", WHARF_INDEXER_DB_URL=pg_url, WHARF_BLOB_BACKEND="local",
               WHARF_DATA_DIR=str(tmp_path / "data"), WHARF_SECRET_KEY="test-secret", WHARF_AMQP_URI=amqp_vhost_uri)
    logfile = open(tmp_path / "indexer.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "services.nameko_main", "run",
                             "services.indexer.entrypoints.service:IndexerRpc",
                             "--broker", amqp_vhost_uri], cwd=ROOT, env=env, stdout=logfile,
                            stderr=subprocess.STDOUT)
    try:
        yield proc, tmp_path / "data"
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        logfile.close()


def _wait_rpc(rpc, proc, log_path, timeout=60):
    from nameko.exceptions import RpcTimeout
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, log_path.read_text(errors="replace")
        try:
            assert rpc.indexer.ping() == "pong"
            return rpc.indexer.list_subdirs("alice", "main")
        except (RpcTimeout, Exception):  # noqa: BLE001 - UnknownService until the service's queue exists
            time.sleep(0.5)
    raise AssertionError("indexer did not answer: " + log_path.read_text(errors="replace"))


def test_nameko_indexer_over_rabbitmq(indexer_process, amqp_vhost_uri, tmp_path):
    import pika

    from services.kernel.adapters.amqp_publisher import AmqpEventPublisher
    from services.kernel.adapters.local_blobs import LocalBlobStore

    proc, data_dir = indexer_process
    # listen for index_published like the gateway does
    conn = pika.BlockingConnection(pika.URLParameters(amqp_vhost_uri))
    chan = conn.channel()
    chan.exchange_declare("indexer.events", exchange_type="topic", durable=True, auto_delete=False)
    notices = chan.queue_declare("", exclusive=True).method.queue
    chan.queue_bind(notices, "indexer.events", routing_key="index_published")

    log = RegistryLog()
    first = log.upload("alice", "numpy", "2.0.1", "linux-64", "py312h1a2b3c4_0")
    second = log.upload("alice", "numpy", "2.0.1", "linux-64", "py311h1a2b3c4_0", public=False)
    wheel = log.pypi("alice", "Holy.Grail", "1.0", "holy_grail-1.0-py3-none-any.whl")
    with MessageProxy({"AMQP_URI": amqp_vhost_uri}, timeout=10) as rpc:
        assert _wait_rpc(rpc, proc, tmp_path / "indexer.log") == []
        publisher = AmqpEventPublisher(amqp_vhost_uri)
        publisher.publish([Event.from_wire(first), Event.from_wire(second), Event.from_wire(wheel)])
        publisher.close()
        deadline, index = time.monotonic() + 60, None
        while time.monotonic() < deadline:
            index = rpc.indexer.get_index("alice", "main", "linux-64", "private")
            if index and index["files"]["repodata.json"]["size"] > 0:
                doc = json.loads(read_pointer(LocalBlobStore(str(data_dir / "blobs")),
                                              index["files"]["repodata.json"]))
                # noarch is published in the same round, right after linux-64
                if len(doc["packages.conda"]) == 2 and len(rpc.indexer.list_subdirs("alice", "main")) == 2:
                    break
            time.sleep(0.2)
        assert index is not None, (tmp_path / "indexer.log").read_text(errors="replace")
        public = rpc.indexer.get_index("alice", "main", "linux-64", "public")
        subdirs = rpc.indexer.list_subdirs("alice", "main")
        hit = rpc.indexer.lookup_file("alice", "main", "linux-64", "numpy-2.0.1-py311h1a2b3c4_0.conda", "public")
        shard_shas = shard_index(LocalBlobStore(str(data_dir / "blobs")), index["files"])["shards"]
        shard = rpc.indexer.get_shard("alice", "main", "linux-64", "private", shard_shas["numpy"])
        hidden = rpc.indexer.get_shard("alice", "main", "linux-64", "public", shard_shas["numpy"])
        while time.monotonic() < deadline and rpc.indexer.get_pypi_page("alice", "main", None, "public") is None:
            time.sleep(0.2)
        simple = rpc.indexer.get_pypi_page("alice", "main", "holy-grail", "public")
        root = rpc.indexer.get_pypi_page("alice", "main", None, "public")
        dist = rpc.indexer.lookup_pypi_file("alice", "main", "holy_grail-1.0-py3-none-any.whl", "public")

    blobs = LocalBlobStore(str(data_dir / "blobs"))
    raw = read_pointer(blobs, index["files"]["repodata.json"])
    assert hashlib.sha256(raw).hexdigest() == index["files"]["repodata.json"]["sha256"]
    doc = json.loads(raw)
    assert doc["info"] == {"subdir": "linux-64"}
    assert set(doc["packages.conda"]) == {"numpy-2.0.1-py312h1a2b3c4_0.conda", "numpy-2.0.1-py311h1a2b3c4_0.conda"}
    assert raw == json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
    zst = blobs.open(index["files"]["repodata.json.zst"]["key"]).read()
    assert zstandard.ZstdDecompressor().decompress(zst) == raw
    pub_doc = json.loads(read_pointer(blobs, public["files"]["repodata.json"]))
    assert set(pub_doc["packages.conda"]) == {"numpy-2.0.1-py312h1a2b3c4_0.conda"}
    assert subdirs == ["linux-64", "noarch"]
    assert hit is None
    assert set(index["files"]) == {"repodata.json", "repodata.json.zst", "repodata_shards.msgpack.zst"}
    assert shard["sha256"] == shard_shas["numpy"] and hashlib.sha256(blobs.open(shard["key"]).read()).hexdigest() \
        == shard["sha256"]
    assert hidden is None          # the public numpy shard differs (one file fewer): the private one is not listed
    assert set(simple["files"]) == {"simple.json", "simple.html"} and root is not None
    page = json.loads(blobs.open(simple["files"]["simple.json"]["key"]).read())
    assert page["name"] == "holy-grail" and [f["filename"] for f in page["files"]] == [wheel["data"]["filename"]]
    assert dist["sha256"] == wheel["data"]["sha256"] and dist["core_metadata_sha256"] == \
        wheel["data"]["metadata"]["core_metadata_sha256"]

    seen = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not any(
            s["data"]["subdir"] == "linux-64" and "private/repodata.json" in s["data"]["files"] and
            s["data"]["files"]["private/repodata.json"]["sha256"] == index["files"]["repodata.json"]["sha256"]
            for s in seen):
        method, _props, body = chan.basic_get(notices, auto_ack=True)
        if method is None:
            time.sleep(0.1)
            continue
        seen.append(json.loads(body))
    assert seen and all(s["type"] == "index_published" for s in seen)
    assert any(s["data"]["files"].get("private/repodata.json", {}).get("sha256") ==
               index["files"]["repodata.json"]["sha256"] for s in seen)
    conn.close()


def test_nameko_indexer_parks_what_it_cannot_apply_and_keeps_consuming(indexer_process, amqp_vhost_uri, pg_url,
                                                                         tmp_path):
    """Over RabbitMQ and PostgreSQL: an event of a newer version and a malformed one are acknowledged (no requeue
    loop), not applied, and parked in the indexer's dead letters; the events of other streams are applied."""
    import dataclasses

    import pika

    from services.indexer.adapters.uow import SqlUnitOfWork
    from services.kernel.adapters.amqp_publisher import AmqpEventPublisher
    from services.kernel.adapters.db import make_engine
    from services.kernel.events import CURRENT_VERSION

    proc, _data_dir = indexer_process
    log = RegistryLog()
    newer = Event(**dict(log.upload("alice", "a", "1.0", "noarch", "0"),
                         version=CURRENT_VERSION["file_uploaded"] + 1))
    poison = dataclasses.replace(Event.from_wire(log.append("file_removed", "carol", {
        "owner": "carol", "package": "x", "version": "1", "basename": "noarch/x-1-0.conda"})),
        data={"owner": "carol"})
    fine = Event.from_wire(log.upload("bob", "tool", "1.0", "noarch", "0"))
    with MessageProxy({"AMQP_URI": amqp_vhost_uri}, timeout=10) as rpc:
        _wait_rpc(rpc, proc, tmp_path / "indexer.log")
        publisher = AmqpEventPublisher(amqp_vhost_uri)
        publisher.publish([newer, poison, fine])
        publisher.close()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and rpc.indexer.get_index("bob", "main", "noarch", "private") is None:
            time.sleep(0.2)
        assert rpc.indexer.get_index("bob", "main", "noarch", "private") is not None, \
            (tmp_path / "indexer.log").read_text(errors="replace")
        assert rpc.indexer.get_index("alice", "main", "noarch", "private") is None
    uow = SqlUnitOfWork(make_engine(pg_url))
    deadline = time.monotonic() + 30
    while True:
        with uow.begin() as repo:
            letters = {(d["stream_id"], d["sequence"], d["reason"]) for d in repo.dead_letters()}
            positions = repo.stream_positions()
        if len(letters) == 2 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert letters == {("alice", 1, "newer_version"), ("carol", 1, "malformed")}
    assert positions == {"alice": 0, "bob": 1, "carol": 0}
    conn = pika.BlockingConnection(pika.URLParameters(amqp_vhost_uri))
    queue = conn.channel().queue_declare("evt-registry--indexer.handle", passive=True)
    conn.close()
    assert queue.method.message_count == 0          # acknowledged, not requeued over and over
    assert proc.poll() is None
