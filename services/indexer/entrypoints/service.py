"""nameko service ``indexer``: its queries (``services.kernel.messages.indexer``) through one RPC entrypoint
(``services/nameko_transport.py``), one durable queue for registry events, a publishing loop, and the
catch-up to the registry's log (at start and every ``WHARF_CATCH_UP_INTERVAL`` seconds)."""
from __future__ import annotations

import logging

import eventlet
import eventlet.event
from nameko.extensions import DependencyProvider
from nameko.rpc import RpcProxy

from services.kernel.adapters.amqp_publisher import AmqpEventPublisher
from services.kernel.errors import BadRequest
from services.kernel.messages.indexer import MESSAGES
from services.kernel.messages.registry import ReadStream, StreamHeads
from services.kernel.settings import Settings
from services.nameko_telemetry import Telemetry
from services.nameko_transport import MessageHandlers, MessageService, remote_call

from ..bootstrap import bootstrap
from .catch_up import catch_up_timer, timed
from .registry_events import registry_events

log = logging.getLogger("wharf.indexer")
logging.getLogger("pika").setLevel(logging.WARNING)   # its DEBUG chatter drowns the service log
PUBLISH_INTERVAL = 0.1   # longest wait between publish_pending() rounds (what other replicas marked dirty)
COALESCE_MAX = 1.0       # longest wait after a round that published while events are still being applied
STOP_WAIT = 30.0         # longest a stop waits for the publish round in progress


class IndexerFacade(DependencyProvider):
    """Provides the ``IndexerService``; runs ``publish_pending`` in a managed thread, after warming the rows
    cache (``IndexerService.warm``): when idle, as soon as this process applied a registry event (and every
    ``PUBLISH_INTERVAL`` for what other replicas marked dirty); after a round that published, once events have
    stopped arriving for ``PUBLISH_INTERVAL`` or ``COALESCE_MAX`` later (``_settle``), so that the events of a
    burst coalesce into few publishes."""

    def setup(self):
        settings = Settings.from_env(mode="distributed")
        self.publisher = AmqpEventPublisher(settings.amqp_uri)
        self.facade = bootstrap(settings, publisher=self.publisher)
        self._wake = eventlet.event.Event()
        self._running = False
        self._loop_done = None           # an Event while the publish loop runs

    def start(self):
        self._running = True
        self._loop_done = eventlet.event.Event()
        self.container.spawn_managed_thread(self._publish_loop, identifier="indexer.publish_loop")

    def stop(self):
        """Let the publish loop finish the round it is in (bounded by ``STOP_WAIT``), then close the broker
        connection: closing it under a publish in progress made a normal SIGTERM log pika's tracebacks (and the
        container killing the loop mid-publish would leave a half-done round to the next start)."""
        self._running = False
        self._poke()
        if self._loop_done is not None and not self._loop_done.ready():
            with eventlet.Timeout(STOP_WAIT, False):
                self._loop_done.wait()
        self.publisher.close()

    def kill(self):
        self.stop()

    def get_dependency(self, worker_ctx):
        return self.facade

    def worker_result(self, worker_ctx, result=None, exc_info=None):
        method = worker_ctx.entrypoint.method_name
        if exc_info is None and (method == "handle" or method == "catch_up" and result):
            self._poke()

    def _poke(self):
        if not self._wake.ready():
            self._wake.send(True)

    def _publish_loop(self):
        try:
            self._publish_rounds()
        finally:
            self._loop_done.send(True)

    def _publish_rounds(self):
        try:
            self.facade.warm()      # the first publish of a big channel after a start costs the change too
        except Exception:  # noqa: BLE001 - an optimisation: publishing works (slower) without it
            log.exception("warming the rows cache failed")
        while self._running:
            published = []
            try:
                published = self.facade.publish_pending()
            except Exception:  # noqa: BLE001 - dirty marks stay; the next round retries
                log.exception("publishing indexes failed")
                eventlet.sleep(1.0)
            if published:
                self._settle()
                continue
            with eventlet.Timeout(PUBLISH_INTERVAL, False):   # idle: publish as soon as an event is applied
                self._wake.wait()
            self._wake = eventlet.event.Event()

    def _settle(self):
        """After a round that published: let the event handlers apply what arrived meanwhile, PUBLISH_INTERVAL
        at a time while they are still applying events, for at most COALESCE_MAX. A publish costs O(subdir) and
        this process is one eventlet hub: with a fixed tenth of a second the loop published back to back during
        a burst, each publish covering few events (1,000 uploads by 8 clients: 118 publishes of the 100,000-record
        subdir; 86 with this)."""
        clock = self.facade.clock      # the indexer's Clock port (green sleep under nameko's monkey patching)
        deadline = clock.monotonic() + COALESCE_MAX
        while self._running:
            self._wake = eventlet.event.Event()
            clock.sleep(PUBLISH_INTERVAL)
            if not self._wake.ready() or clock.monotonic() >= deadline:
                return


class IndexerRpc(MessageService):
    name = "indexer"
    messages = MESSAGES

    indexer = IndexerFacade()
    handlers = MessageHandlers("indexer")
    telemetry = Telemetry()     # metrics endpoint, RPC timings, correlation id per worker
    registry = RpcProxy("registry")

    def _registry(self, message):
        return remote_call(self.registry, message)

    @catch_up_timer
    def catch_up(self):
        heads, read_stream = timed(self._registry(StreamHeads)), timed(self._registry(ReadStream))
        return self.indexer.with_log_reader(read_stream).catch_up(heads())

    @registry_events
    def handle(self, payload):
        try:
            self.indexer.with_log_reader(self._registry(ReadStream)).handle(payload)
        except BadRequest as exc:  # parked (dead letters) or without a valid envelope: acknowledged, never looped on
            log.warning("registry event not applied: %s", exc)
        except Exception:
            eventlet.sleep(0.5)   # back off before the message is requeued
            raise
