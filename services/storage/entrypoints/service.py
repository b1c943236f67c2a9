"""nameko service ``storage``: every message of ``services.kernel.messages.storage`` through one RPC entrypoint
(``services/nameko_transport.py``), handled by the ``StorageService`` facade.

Bytes never travel over RPC: the gateway PUTs uploads to ``staging_url`` and redirects downloads to ``blob_url``.
"""
from __future__ import annotations

from nameko.extensions import DependencyProvider

from services.kernel.messages.storage import MESSAGES
from services.kernel.settings import Settings
from services.nameko_telemetry import Telemetry
from services.nameko_transport import MessageHandlers, MessageService

from ..bootstrap import bootstrap


class Storage(DependencyProvider):
    def setup(self):
        self.facade = bootstrap(Settings.from_env(mode="distributed"))

    def get_dependency(self, worker_ctx):
        return self.facade


class StorageRpc(MessageService):
    name = "storage"
    messages = MESSAGES
    storage = Storage()
    handlers = MessageHandlers("storage")
    telemetry = Telemetry()     # metrics endpoint, RPC timings, correlation id per worker
