"""Listens for ``index_published`` on RabbitMQ (kombu) and drops the gateway's cached index metadata.

Each gateway process binds its own exclusive, auto-deleted queue to ``indexer.events`` so every replica hears
every notice. On connection loss it reconnects; while disconnected the cache's TTL bounds staleness."""
from __future__ import annotations

import json
import logging
import threading
import time

from kombu import Connection, Exchange, Queue

from services.kernel.subscriptions import EXCHANGES

log = logging.getLogger("wharf.gateway.listener")


class IndexListener:
    def __init__(self, amqp_uri: str, cache):
        self._uri, self._cache = amqp_uri, cache
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="wharf-index-listener", daemon=True)

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()

    def _on_message(self, body, message):
        try:
            payload = body if isinstance(body, dict) else json.loads(body)
            self._cache.on_event(payload)
        except Exception:  # noqa: BLE001
            log.exception("bad index_published message")
        message.ack()

    def _run(self):
        exchange = Exchange(EXCHANGES["indexer"], type="topic", durable=True, auto_delete=False)
        while not self._stop.is_set():
            try:
                with Connection(self._uri, heartbeat=30) as conn:
                    queue = Queue(exclusive=True, auto_delete=True, exchange=exchange,
                                  routing_key="index_published")
                    with conn.Consumer([queue], callbacks=[self._on_message], accept=["json"]):
                        self._cache.invalidate_all()  # we may have missed notices while away
                        while not self._stop.is_set():
                            try:
                                conn.drain_events(timeout=1)
                            except TimeoutError:
                                conn.heartbeat_check()
            except Exception as exc:  # noqa: BLE001
                log.warning("index listener reconnecting after %s", exc.__class__.__name__)
                time.sleep(1)
