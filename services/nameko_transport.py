"""The nameko side of the message transport (services/kernel/transport.py): one RPC method per service.

A service class inherits ``MessageService``, names its ``MessageTable`` (``messages``) and declares
``handlers = MessageHandlers("<facade dependency>")``. Its one RPC entrypoint, ``dispatch(envelope)``, loads the
envelope and runs the message's handler; the gateway's ``RpcClient`` and ``registry_call`` below send to it.
Domain errors (``WharfError``) are answers, not crashes: nameko sends them back by class name (the gateway
rebuilds them with ``errors.from_remote``) without logging them as failures (``nameko_telemetry``).

Lives outside the service packages, like nameko_telemetry.py, because it is framework glue they all share.
"""
from __future__ import annotations

from nameko.extensions import DependencyProvider
from nameko.rpc import rpc

from services.kernel.errors import WharfError
from services.kernel.messages import Message, MessageTable
from services.kernel.transport import Handlers, envelope


class MessageHandlers(DependencyProvider):
    """The service's ``Handlers``: its message table bound to the facade the dependency named ``facade_attr``
    provides, built and checked once when the container starts (a message without a fitting handler stops the
    service at start, not at the first call)."""

    def __init__(self, facade_attr: str):
        self.facade_attr = facade_attr
        self.handlers: Handlers | None = None

    def start(self):
        provider = next(d for d in self.container.dependencies if d.attr_name == self.facade_attr)
        self.handlers = Handlers(self.container.service_cls.messages, provider.get_dependency(None))

    def get_dependency(self, worker_ctx):
        return self.handlers


class MessageService:
    """Base of the nameko service classes: ``dispatch`` (every message of ``messages``) and ``ping``."""
    messages: MessageTable

    @rpc(expected_exceptions=(WharfError,))
    def dispatch(self, payload):
        return self.handlers.handle(payload)

    @rpc
    def ping(self):
        return "pong"     # `wharf health SERVICE` (probes)


def remote_call(proxy, cls: type[Message]):
    """A function sending ``cls`` messages through a nameko ``RpcProxy`` to that service (service to service
    calls, e.g. the indexer reading the registry's log); the proxy's errors pass through unchanged."""
    def call(*args, **kwargs):
        return proxy.dispatch(envelope(cls(*args, **kwargs)))
    call.__name__ = cls.operation
    return call
