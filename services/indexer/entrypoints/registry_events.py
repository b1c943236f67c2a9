"""One durable queue for every registry event the indexer consumes.

nameko's ``EventHandler`` makes one queue per (source service, event type); the indexer must see all events of
a stream in one place to apply them in order, so this subclass declares a single queue,
``evt-registry--<service>.<method>``, bound to ``registry.events`` once per event type of
``SUBSCRIPTIONS[<service>]["registry"]``. Messages are requeued when the handler fails (at-least-once; the
facade deduplicates by stream sequence).
"""
from __future__ import annotations

from kombu import Exchange, Queue, binding
from nameko.events import EventHandler
from nameko.messaging import Consumer

from services.kernel.subscriptions import EXCHANGES, SUBSCRIPTIONS

SOURCE = "registry"


def registry_exchange() -> Exchange:
    """Identical to nameko's ``get_event_exchange("registry", ...)`` and to the AMQP publisher's declaration."""
    return Exchange(EXCHANGES[SOURCE], type="topic", durable=True, auto_delete=False, delivery_mode=2)


def registry_queue(service_name: str, method_name: str) -> Queue:
    exchange = registry_exchange()
    return Queue(f"evt-{SOURCE}--{service_name}.{method_name}",
                 bindings=[binding(exchange, routing_key=t) for t in SUBSCRIPTIONS[service_name][SOURCE]],
                 durable=True, auto_delete=False, exclusive=False)


class RegistryEventsHandler(EventHandler):
    def __init__(self, **kwargs):
        kwargs.setdefault("requeue_on_error", True)
        super().__init__(SOURCE, "*", **kwargs)

    def setup(self):
        self.queue = registry_queue(self.container.service_name, self.method_name)
        Consumer.setup(self)   # skip EventHandler.setup, which would build a per-type queue


registry_events = RegistryEventsHandler.decorator
