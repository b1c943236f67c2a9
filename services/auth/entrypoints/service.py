"""nameko service ``auth``: every message of ``services.kernel.messages.auth`` through one RPC entrypoint
(``services/nameko_transport.py``), handled by the ``AuthService`` facade.

Domain errors travel as nameko RemoteError carrying the class name (``exc_type``), which the gateway rebuilds
with ``errors.from_remote``; they are declared expected so nameko does not log them as crashes.
"""
from __future__ import annotations

from nameko.extensions import DependencyProvider

from services.kernel.messages.auth import MESSAGES
from services.kernel.settings import Settings
from services.nameko_telemetry import Telemetry
from services.nameko_transport import MessageHandlers, MessageService

from ..bootstrap import bootstrap


class AuthFacade(DependencyProvider):
    """Builds the facade once per container from the WHARF_* environment (distributed mode)."""

    def setup(self):
        self.facade = bootstrap(Settings.from_env(mode="distributed"))

    def get_dependency(self, worker_ctx):
        return self.facade


class AuthRpc(MessageService):
    name = "auth"
    messages = MESSAGES
    auth = AuthFacade()
    handlers = MessageHandlers("auth")
    telemetry = Telemetry()     # metrics endpoint, RPC timings, correlation id per worker
