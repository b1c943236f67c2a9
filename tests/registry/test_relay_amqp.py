"""The outbox relay over real RabbitMQ: publish through AmqpEventPublisher (pika, confirms) on a fresh vhost and
consume with kombu from a queue bound to ``registry.events`` with routing key ``#``: every event arrives once,
in log order, with the wire payload and the event type as routing key."""
import json
import uuid

import pytest
from kombu import Connection, Exchange, Queue

from services.kernel.adapters.amqp_publisher import AmqpEventPublisher
from services.kernel.events import Event

from .conftest import upload


@pytest.fixture
def amqp_queue(amqp_vhost_uri):
    """A queue bound to registry.events/# before anything is published; yields a function draining it."""
    exchange = Exchange("registry.events", type="topic", durable=True, auto_delete=False)
    queue = Queue(f"test-registry-{uuid.uuid4().hex[:8]}", exchange=exchange, routing_key="#",
                  auto_delete=True)
    with Connection(amqp_vhost_uri) as conn:
        queue(conn.default_channel).declare()

        def drain(expected: int, timeout: float = 15.0) -> list:
            got = []
            with conn.SimpleQueue(queue, no_ack=False) as sq:
                while len(got) < expected:
                    msg = sq.get(block=True, timeout=timeout)
                    got.append((msg.delivery_info["routing_key"], json.loads(msg.body), msg.properties))
                    msg.ack()
                try:
                    extra = sq.get(block=True, timeout=0.5)
                    got.append((extra.delivery_info["routing_key"], json.loads(extra.body), extra.properties))
                except sq.Empty:
                    pass
            return got
        yield drain


def test_relay_over_rabbitmq_in_order(make_registry, amqp_vhost_uri, amqp_queue, engine):
    publisher = AmqpEventPublisher(amqp_vhost_uri)
    reg = make_registry(pub=publisher)
    try:
        reg.create_package("alice", "demo", public=True, public_attrs={"summary": "s"}, actor="alice",
                           correlation_id="req-1")
        reg.create_release("alice", "demo", "1.0", {}, actor="alice")
        reg.create_package("bob", "tool", public=True, public_attrs={}, actor="bob")
        upload(reg, "alice", "demo", "1.0", "linux-64/demo-1.0-0.conda")
        reg.remove_release("alice", "demo", "1.0", actor="alice")
        log = reg.read_log(0)
        assert reg.relay_pending(limit=3) == 3
        assert reg.relay_pending() == len(log) - 3
        assert reg.relay_pending() == 0
        got = amqp_queue(len(log))
    finally:
        publisher.close()
    assert len(got) == len(log)  # nothing extra, nothing missing
    assert [body["event_id"] for _, body, _ in got] == [e["event_id"] for e in log]
    for (routing_key, body, props), wire in zip(got, log):
        assert routing_key == wire["type"]
        assert body == {k: v for k, v in wire.items() if k != "position"}
        assert Event.from_wire(body).sequence == wire["sequence"]
    assert got[0][2].get("application_headers", {}).get("nameko.correlation_id") == "req-1"
