"""The nameko service over RabbitMQ: ``nameko run services.registry.entrypoints.service:RegistryRpc`` as a real
subprocess on PostgreSQL; RPC through ClusterRpcProxy; the outbox relay thread publishes ``package_created`` to
``registry.events``; domain errors cross RPC by class name."""
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from kombu import Connection, Exchange, Queue
from nameko.exceptions import RemoteError
from nameko.standalone.rpc import ClusterRpcProxy

from services.kernel.errors import Conflict, NotFound, from_remote

ROOT = Path(__file__).resolve().parents[2]
NAMEKO = str(Path(sys.executable).with_name("nameko"))


@pytest.fixture
def registry_process(pg_url, amqp_vhost_uri, tmp_path):
    env = dict(os.environ, WHARF_SECRET_KEY="test-secret", WHARF_REGISTRY_DB_URL=pg_url,
               WHARF_AMQP_URI=amqp_vhost_uri, WHARF_MODE="distributed", WHARF_DATA_DIR=str(tmp_path))
    log = open(tmp_path / "nameko.log", "wb")
    proc = subprocess.Popen([NAMEKO, "run", "services.registry.entrypoints.service:RegistryRpc",
                             "--broker", amqp_vhost_uri], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        log.close()


def wait_until_answering(rpc, proc, log_path, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, (Path(log_path).read_text(errors="replace"))[-3000:]
        try:
            return rpc.registry.ping()
        except Exception:  # noqa: BLE001 - not consuming yet (RPC timeout)
            time.sleep(0.5)
    pytest.fail("the registry service did not answer in time")


def test_rpc_and_relay_over_rabbitmq(registry_process, amqp_vhost_uri, tmp_path):
    exchange = Exchange("registry.events", type="topic", durable=True, auto_delete=False)
    queue = Queue(f"test-entry-{uuid.uuid4().hex[:8]}", exchange=exchange, routing_key="#", auto_delete=True)
    with Connection(amqp_vhost_uri) as conn:
        queue(conn.default_channel).declare()  # bound before any call
        with ClusterRpcProxy({"AMQP_URI": amqp_vhost_uri}, timeout=5) as rpc:
            assert wait_until_answering(rpc, registry_process, tmp_path / "nameko.log") == "pong"
            assert rpc.registry.read_log(0, 10) == []
            pkg = rpc.registry.create_package("alice", "demo", public=True,
                                              public_attrs={"summary": "Demo", "package_types": ["conda"]},
                                              actor="alice", correlation_id="req-42")
            assert pkg["full_name"] == "alice/demo" and pkg["package_types"] == ["conda"]
            rel = rpc.registry.create_release("alice", "demo", "1.0", {"description": "d"}, actor="alice")
            assert rel["full_name"] == "alice/demo/1.0"
            assert rpc.registry.get_package("alice", "demo", False)["versions"] == ["1.0"]
            with pytest.raises(RemoteError) as err:
                rpc.registry.create_package("alice", "demo", public=True, public_attrs={}, actor="alice")
            assert isinstance(from_remote(err.value.exc_type, err.value.value), Conflict)
            with pytest.raises(RemoteError) as err:
                rpc.registry.get_package("alice", "nope", False)
            assert isinstance(from_remote(err.value.exc_type, err.value.value), NotFound)
            log = rpc.registry.read_log(0, 100)
        got = []
        with conn.SimpleQueue(queue, no_ack=False) as sq:
            while len(got) < 2:
                msg = sq.get(block=True, timeout=20)  # the relay thread runs every 0.2 s
                got.append((msg.delivery_info["routing_key"], json.loads(msg.body)))
                msg.ack()
    assert [rk for rk, _ in got] == ["package_created", "release_created"]
    assert got[0][1]["data"]["package"] == "demo" and got[0][1]["correlation_id"] == "req-42"
    assert [body["event_id"] for _, body in got] == [e["event_id"] for e in log]
