"""nameko service ``registry``: every message of ``services.kernel.messages.registry`` through one RPC
entrypoint (``services/nameko_transport.py``), handled by the ``RegistryService`` facade.

``RegistryDependency`` bootstraps the facade from ``WHARF_*`` variables (distributed mode) and runs the outbox
relay in a managed thread: ``relay_pending()`` as soon as a command of this process committed events, every
0.2 s otherwise (what other replicas committed), at once again while there is a backlog; it publishes through
the pika publisher with confirms.
"""
from __future__ import annotations

import logging
import threading

from nameko.extensions import DependencyProvider
from nameko.rpc import RpcProxy

from services.kernel.adapters.amqp_publisher import AmqpEventPublisher
from services.kernel.messages import storage as storage_messages
from services.kernel.messages.registry import MESSAGES
from services.kernel.settings import Settings
from services.nameko_telemetry import Telemetry
from services.nameko_transport import MessageHandlers, MessageService

from ..bootstrap import bootstrap

log = logging.getLogger("wharf.registry.relay")
STOP_WAIT = 30.0    # longest a stop waits for the relay's round in progress


class RegistryDependency(DependencyProvider):
    def setup(self):
        settings = Settings.from_env(mode="distributed")
        self.publisher = AmqpEventPublisher(settings.amqp_uri)
        self.relay_interval = settings.relay_poll      # seconds between rounds when not woken (WHARF_RELAY_POLL)
        self._wake = threading.Event()      # green under `nameko run` (eventlet-patched)
        self.service = bootstrap(settings, publisher=self.publisher, on_commit=self._wake.set)
        self._running = False
        self._loop_done = threading.Event()
        self._loop_done.set()            # until the loop runs

    def start(self):
        self._running = True
        self._loop_done.clear()
        self.container.spawn_managed_thread(self._relay_loop, identifier="registry.outbox_relay")

    def stop(self):
        """The relay finishes the round it is in and closes its broker connection itself (within
        ``STOP_WAIT``); the container would otherwise kill it mid-publish, inside pika."""
        self._running = False
        self._wake.set()
        self._loop_done.wait(STOP_WAIT)

    def kill(self):
        self.stop()

    def _relay_loop(self):
        try:
            while self._running:
                published = 0
                try:
                    published = self.service.relay_pending()
                except Exception:  # noqa: BLE001 - the relay must outlive database or broker hiccups
                    log.exception("outbox relay failed; retrying")
                if not published and self._running:
                    self._wake.wait(self.relay_interval)
                    self._wake.clear()
            self.publisher.close()
        finally:
            self._loop_done.set()

    def get_dependency(self, worker_ctx):
        return self.service


class RegistryRpc(MessageService):
    name = "registry"
    messages = MESSAGES
    registry = RegistryDependency()
    handlers = MessageHandlers("registry")
    storage_rpc = RpcProxy("storage")       # commit_upload finalizes and drops the staged bytes through it
    collaborators = {"storage": ("storage_rpc", storage_messages.MESSAGES)}
    telemetry = Telemetry()     # metrics endpoint, RPC timings, correlation id per worker
