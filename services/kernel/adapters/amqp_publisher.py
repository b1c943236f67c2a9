"""EventPublisher over RabbitMQ with pika and publisher confirms.

Messages are shaped exactly like nameko's EventDispatcher output (topic exchange ``<service>.events``, routing
key = event type, JSON body, persistent), so nameko ``@event_handler`` consumers receive them unchanged. With
``confirm_delivery`` every ``basic_publish`` blocks until the broker confirms; a nack or a broken connection
raises ``Unavailable`` and the caller (the outbox relay) retries later.
"""
from __future__ import annotations

import json
import logging
import threading

import pika
from pika.exceptions import AMQPError

from ..errors import Unavailable
from ..events import Event
from ..subscriptions import EXCHANGES, source_of

log = logging.getLogger("wharf.amqp")


class AmqpEventPublisher:
    def __init__(self, amqp_uri: str):
        self._params = pika.URLParameters(amqp_uri)
        self._params.heartbeat = 60
        self._params.blocked_connection_timeout = 30
        self._conn = None
        self._chan = None
        self._declared: set[str] = set()
        self._lock = threading.Lock()

    def _channel(self):
        if self._conn is None or self._conn.is_closed or self._chan is None or self._chan.is_closed:
            self._conn = pika.BlockingConnection(self._params)
            self._chan = self._conn.channel()
            self._chan.confirm_delivery()
            self._declared.clear()
        return self._chan

    def _exchange(self, chan, name: str) -> None:
        if name not in self._declared:
            # identical to nameko's get_event_exchange(): topic, durable, not auto-deleted
            chan.exchange_declare(name, exchange_type="topic", durable=True, auto_delete=False)
            self._declared.add(name)

    def publish(self, events: list[Event]) -> None:
        with self._lock:
            try:
                chan = self._channel()
                for ev in events:
                    exchange = EXCHANGES[source_of(ev.type)]
                    self._exchange(chan, exchange)
                    headers = {"nameko.correlation_id": ev.correlation_id} if ev.correlation_id else {}
                    chan.basic_publish(
                        exchange=exchange, routing_key=ev.type,
                        body=json.dumps(ev.to_wire()).encode(),
                        properties=pika.BasicProperties(content_type="application/json",
                                                        content_encoding="utf-8", delivery_mode=2,
                                                        message_id=ev.event_id, headers=headers))
            except (AMQPError, OSError) as exc:
                self.close()
                raise Unavailable(f"event broker unavailable: {exc.__class__.__name__}")

    def close(self) -> None:
        try:
            if self._conn is not None and self._conn.is_open:
                self._conn.close()
        except Exception:  # noqa: BLE001
            pass
        self._conn = self._chan = None
