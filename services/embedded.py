"""The embedded mode: every service's facade in one process, wired with in-memory buses.

Threads: a bus worker per source service (``registry``: its events to the indexer; ``indexer``:
``index_published`` to the gateway's cache), the registry's outbox relay (woken after each commit; it marks
events relayed once the indexer has applied them), the indexer's publisher (coalesces dirty subdirs,
debounced) and its catch-up (at start, then every ``catch_up_interval`` seconds: applies whatever the registry's
log holds beyond the indexer's positions). The gateway talks to the facades directly.
"""
from __future__ import annotations

import logging
import threading
import time
import types

from services.auth.bootstrap import bootstrap as auth_bootstrap
from services.indexer.bootstrap import bootstrap as indexer_bootstrap
from services.kernel.adapters.blob_store import make_blob_store
from services.kernel.bus import InMemoryBus
from services.kernel.errors import BadRequest
from services.kernel.events import Event
from services.kernel.messages import auth as auth_messages
from services.kernel.messages import indexer as indexer_messages
from services.kernel.messages import registry as registry_messages
from services.kernel.messages import storage as storage_messages
from services.kernel.private_files import private_dir
from services.kernel.settings import Settings
from services.kernel.subscriptions import EXCHANGES, SUBSCRIPTIONS
from services.kernel.transport import local_client
from services.registry.bootstrap import bootstrap as registry_bootstrap
from services.storage.bootstrap import bootstrap as storage_bootstrap

log = logging.getLogger("wharf.embedded")


class _Worker:
    """A daemon thread running ``first`` once, then ``fn`` whenever woken and every ``interval`` seconds."""

    def __init__(self, name: str, fn, interval: float = 1.0, debounce: float = 0.0, first=None):
        self._fn, self._interval, self._debounce, self._first = fn, interval, debounce, first
        self._wake = threading.Event()
        self._idle = threading.Event()
        self._stop = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self):
        self._thread.start()
        return self

    def wake(self):
        self._idle.clear()
        self._wake.set()

    def _run(self):
        if self._first is not None:
            try:
                self._first()
            except Exception:  # noqa: BLE001 - never fatal: warming a cache, or a round the loop repeats
                log.exception("%s failed to start", self._thread.name)
        while not self._stop:
            self._wake.wait(self._interval)
            self._wake.clear()
            if self._debounce:
                time.sleep(self._debounce)
            try:
                while self._fn():
                    pass
            except Exception:  # noqa: BLE001 - keep the worker alive; the next wake retries
                log.exception("%s failed", self._thread.name)
            if not self._wake.is_set():
                self._idle.set()

    def wait_idle(self, timeout: float) -> bool:
        return self._idle.wait(timeout)

    def stop(self):
        self._stop = True
        self._wake.set()


class Embedded:
    def __init__(self, settings: Settings, start_threads: bool = True):
        self.settings = settings
        private_dir(settings.data_dir)   # the server's alone (0700), also when an older Wharf made it 0755
        # one bus per source, as RabbitMQ has an exchange per source: an index_published notice never waits
        # behind the registry events the indexer is applying
        self.buses = {source: InMemoryBus(name=f"wharf-bus-{source}") for source in EXCHANGES}
        self.bus = self.buses["registry"]
        blobs = make_blob_store(settings)     # one store for storage and the indexer
        self.storage = storage_bootstrap(settings, blobs=blobs)
        self.auth = auth_bootstrap(settings)
        self.relay = _Worker("wharf-relay", lambda: self.registry.relay_pending() > 0, interval=1.0)
        self.registry = registry_bootstrap(settings, publisher=self.buses["registry"], on_commit=self.relay.wake)
        self.indexer = indexer_bootstrap(settings, publisher=self.buses["indexer"],
                                         log_reader=self.registry.read_stream, blobs=blobs)
        self.publisher = _Worker("wharf-index-publisher", lambda: bool(self.indexer.publish_pending()),
                                 interval=2.0, debounce=0.02, first=self.indexer.warm)
        self.catch_up = _Worker("wharf-catch-up", self._catch_up, interval=settings.catch_up_interval,
                                first=self._catch_up)
        # what the gateway calls: the same messages as over RPC, run in this process by each service's handlers
        storage = local_client(storage_messages.MESSAGES, self.storage)
        self.clients = types.SimpleNamespace(
            auth=local_client(auth_messages.MESSAGES, self.auth),
            registry=local_client(registry_messages.MESSAGES, self.registry, storage=storage),
            storage=storage,
            indexer=local_client(indexer_messages.MESSAGES, self.indexer))
        self._subscribe()
        if start_threads:
            self.catch_up.start()
            self.relay.start()
            self.publisher.start()

    def _catch_up(self) -> bool:
        """Catch the indexer up to the registry's log (see ``IndexerService.catch_up``); one round."""
        if self.indexer.catch_up(self.registry.stream_heads()):
            self.publisher.wake()
        return False

    def _subscribe(self):
        def to_indexer(ev: Event):
            try:
                self.indexer.handle(ev.to_wire())
            except BadRequest as exc:  # parked (dead letters) or no valid envelope: handled, as nameko acknowledges it
                log.warning("registry event not applied: %s", exc)
                return
            self.publisher.wake()

        for source, types_ in SUBSCRIPTIONS["indexer"].items():
            for t in types_:
                self.buses[source].subscribe(t, to_indexer)

    def subscribe_gateway(self, cache) -> None:
        for source, types_ in SUBSCRIPTIONS["gateway"].items():
            for t in types_:
                self.buses[source].subscribe(t, cache.on_event)

    def settle(self, timeout: float = 30.0) -> bool:
        """Wait until every committed event is relayed, delivered and indexed (tests, replay)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.relay.wake()
            self.relay.wait_idle(max(0.0, deadline - time.monotonic()))
            self.bus.drain(max(0.0, deadline - time.monotonic()))
            self.publisher.wake()
            self.publisher.wait_idle(max(0.0, deadline - time.monotonic()))
            if self.registry.relay_pending() == 0 and self.bus.drain(0.01) and not self.indexer.publish_pending():
                return True
        return False

    def stop(self):
        self.relay.stop()
        self.publisher.stop()
        self.catch_up.stop()
        for bus in self.buses.values():
            bus.stop()
