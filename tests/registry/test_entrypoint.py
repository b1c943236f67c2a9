"""The nameko service over RabbitMQ: ``nameko run services.registry.entrypoints.service:RegistryRpc`` as a real
subprocess on PostgreSQL; RPC through the message transport (tests/helpers/rpc.py); the outbox relay thread publishes ``package_created`` to
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
from tests.helpers.rpc import MessageProxy

from services.kernel.errors import BadRequest, Conflict, NotFound, from_remote

from .conftest import blob_meta

pytestmark = pytest.mark.processes   # starts processes (see pyproject.toml's markers)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def relay_poll():
    return "0.2"


@pytest.fixture
def registry_process(pg_url, amqp_vhost_uri, tmp_path, relay_poll):
    env = dict(os.environ,  # no metrics endpoint: a port in use would stop the service
               WHARF_METRICS_PORT="0", WHARF_SECRET_KEY="test-secret", WHARF_REGISTRY_DB_URL=pg_url,
               WHARF_AMQP_URI=amqp_vhost_uri, WHARF_MODE="distributed", WHARF_DATA_DIR=str(tmp_path),
               WHARF_RELAY_POLL=relay_poll)
    log = open(tmp_path / "nameko.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "services.nameko_main", "run",
                             "services.registry.entrypoints.service:RegistryRpc",
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
        with MessageProxy({"AMQP_URI": amqp_vhost_uri}, timeout=5) as rpc:
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
    # the Conflict and the NotFound were answers to the caller, not failures: no warning, no traceback
    text = (tmp_path / "nameko.log").read_text(errors="replace")
    assert "(expected) error" not in text and "Traceback" not in text, text[-3000:]


def remote_error(call):
    with pytest.raises(RemoteError) as err:
        call()
    return from_remote(err.value.exc_type, err.value.value)


def test_anaconda_org_rpcs(registry_process, amqp_vhost_uri, tmp_path):
    """Collaborators, copy, transfer, search and locks over RPC, called the way the gateway calls them."""
    with MessageProxy({"AMQP_URI": amqp_vhost_uri}, timeout=10) as rpc:
        wait_until_answering(rpc, registry_process, tmp_path / "nameko.log")
        reg = rpc.registry
        reg.create_package("alice", "demo", public=False, public_attrs={}, actor="alice")
        reg.create_release("alice", "demo", "1.0", {}, actor="alice")
        st = reg.stage("alice", "demo", "1.0", "demo-1.0.tar.gz", "pypi", None, [], {}, None, None, actor="alice")
        reg.commit(st["dist_id"], blob_meta(b"sdist", "demo-1.0.tar.gz"), actor="alice")
        assert reg.add_collaborator("alice", "demo", "carol", actor="alice") is None
        assert reg.list_collaborators("alice", "demo") == [{"login": "carol"}]
        assert reg.is_collaborator("alice", "demo", "carol") is True
        assert reg.collaborator_packages("alice", "carol") == ["demo"]
        assert [p["name"] for p in reg.list_packages("alice", False, viewer="carol", extra_packages=[])] == ["demo"]
        found = reg.search("DEM", package_type="PyPI", platform=None, viewer=None, private_owners=[],
                           private_packages=[["alice", "demo"]])
        assert [p["full_name"] for p in found] == ["alice/demo"]
        copied = reg.copy_files("alice", "demo", "1.0", None, to_owner="bob", from_label="main", to_label="main",
                                mode="add", actor="bob")
        assert [f["basename"] for f in copied] == ["demo-1.0.tar.gz"] and copied[0]["owner"] == "bob"
        assert isinstance(remote_error(lambda: reg.copy_files("alice", "demo", "1.0", None, to_owner="bob",
                                                              mode="add", actor="bob")), Conflict)
        reg.lock_label("alice", "main", True, actor="alice")
        err = remote_error(lambda: reg.transfer_package("alice", "demo", "acme", actor="alice"))
        assert isinstance(err, Conflict) and "label main is locked" in str(err)
        reg.lock_label("alice", "main", False, actor="alice")
        assert isinstance(remote_error(lambda: reg.transfer_package("alice", "demo", "alice", actor="a")),
                          BadRequest)
        moved = reg.transfer_package("alice", "demo", "acme", actor="alice")
        assert moved["full_name"] == "acme/demo" and reg.list_collaborators("acme", "demo") == [{"login": "carol"}]
        assert isinstance(remote_error(lambda: reg.get_package("alice", "demo", True)), NotFound)
        reg.remove_collaborator("acme", "demo", "carol", actor="acme")
        assert reg.collaborator_packages("acme", "carol") == []


@pytest.mark.parametrize("relay_poll", ["60"])
def test_a_commit_wakes_the_relay_at_once(registry_process, amqp_vhost_uri, tmp_path, relay_poll):
    """The relay polls only every 60 s here: the event of a command still reaches the exchange within seconds,
    because the command's commit wakes the relay."""
    exchange = Exchange("registry.events", type="topic", durable=True, auto_delete=False)
    queue = Queue(f"test-wake-{uuid.uuid4().hex[:8]}", exchange=exchange, routing_key="#", auto_delete=True)
    with Connection(amqp_vhost_uri) as conn:
        queue(conn.default_channel).declare()
        with MessageProxy({"AMQP_URI": amqp_vhost_uri}, timeout=5) as rpc:
            wait_until_answering(rpc, registry_process, tmp_path / "nameko.log")
            time.sleep(1.0)        # the relay's first round (at start) is over: it now waits up to 60 s
            rpc.registry.create_package("alice", "woken", public=True, public_attrs={}, actor="alice")
            sent = time.monotonic()
        with conn.SimpleQueue(queue, no_ack=True) as sq:
            msg = sq.get(block=True, timeout=15)     # well before the relay's next 60 s round
        assert time.monotonic() - sent < 15
        assert json.loads(msg.body)["data"]["package"] == "woken"
