"""The nameko side of the message transport (services/kernel/transport.py): one RPC method per service.

A service class inherits ``MessageService``, names its ``MessageTable`` (``messages``) and declares
``handlers = MessageHandlers("<facade dependency>")``. Its one RPC entrypoint, ``dispatch(envelope)``, loads the
envelope and runs the message's handler; the gateway's ``RpcClient``, ``proxy_client`` (a
handler's collaborator) and ``remote_call`` below send to it.
Domain errors (``WharfError``) are answers, not crashes: nameko sends them back by class name (the gateway
rebuilds them with ``errors.from_remote``) without logging them as failures (``nameko_telemetry``).

Lives outside the service packages, like nameko_telemetry.py, because it is framework glue they all share.
"""
from __future__ import annotations

import eventlet
from amqp.exceptions import AMQPError
from kombu.exceptions import KombuError
from nameko.exceptions import RemoteError, UnknownService
from nameko.extensions import DependencyProvider
from nameko.rpc import rpc

from services.kernel.errors import ERROR_CLASSES, Unavailable, WharfError, from_remote
from services.kernel.messages import Message, MessageTable
from services.kernel.settings import Settings
from services.kernel.transport import Handlers, client_class, envelope


class MessageHandlers(DependencyProvider):
    """The service's ``Handlers``: its message table bound to the facade the dependency named ``facade_attr``
    provides, built and checked once when the container starts (a message without a fitting handler stops the
    service at start, not at the first call). ``timeout``: how long a handler waits for a collaborator's answer
    (``WHARF_RPC_TIMEOUT``)."""

    def __init__(self, facade_attr: str):
        self.facade_attr = facade_attr
        self.handlers: Handlers | None = None
        self.timeout = 30.0

    def setup(self):
        self.timeout = Settings.from_env(mode="distributed").rpc_timeout

    def start(self):
        self._build()

    def _build(self) -> Handlers:
        if self.handlers is None:
            provider = next(d for d in self.container.dependencies if d.attr_name == self.facade_attr)
            service_cls = self.container.service_cls
            self.handlers = Handlers(service_cls.messages, provider.get_dependency(None),
                                     collaborators=tuple(getattr(service_cls, "collaborators", {})))
        return self.handlers

    def get_dependency(self, worker_ctx):
        self._build()
        return self


class MessageService:
    """Base of the nameko service classes: ``dispatch`` (every message of ``messages``) and ``ping``.
    ``collaborators`` maps the name a handler takes another service's client by to (the attribute of this class's
    ``RpcProxy`` of that service, that service's ``MessageTable``): each call gets a client speaking through the
    worker's proxy."""
    messages: MessageTable
    collaborators: dict = {}

    @rpc(expected_exceptions=(WharfError,))
    def dispatch(self, payload):
        clients = {name: proxy_client(table, getattr(self, attr), self.handlers.timeout)
                   for name, (attr, table) in self.collaborators.items()}
        return self.handlers.handlers.handle(payload, clients)

    @rpc
    def ping(self):
        return "pong"     # `wharf health SERVICE` (probes)


# what a call through the broker raises when the other service is not there to answer (its queue undeclared,
# the broker restarting): the call got no answer, a retry may work, so the caller gets Unavailable (503)
BROKER_TROUBLE = (OSError, ConnectionError, AMQPError, KombuError, UnknownService)


class _ProxySender:
    """Sends messages through a nameko ``RpcProxy``: domain errors come back as the kernel's exceptions, rebuilt
    from the remote class name, as in the gateway's client; no answer within ``timeout`` seconds (nameko's
    RpcProxy would wait for ever), an unknown service or broker trouble is ``Unavailable``, so a service that is
    down never holds its callers' workers."""

    def __init__(self, proxy, timeout: float):
        self._proxy, self._timeout = proxy, timeout

    def send(self, message: Message, *, actor: str | None = None, correlation_id: str | None = None):
        service = getattr(self._proxy, "service_name", "other")
        try:
            with eventlet.Timeout(self._timeout):
                return self._proxy.dispatch(envelope(message, actor, correlation_id))
        except eventlet.Timeout:
            raise Unavailable(f"the {service} service did not answer {message.operation} in time") from None
        except RemoteError as exc:
            if exc.exc_type in ERROR_CLASSES:
                raise from_remote(exc.exc_type, exc.value) from None
            raise
        except BROKER_TROUBLE as exc:
            raise Unavailable(f"the {service} service is unreachable: {exc.__class__.__name__}") from None


_PROXY_CLIENTS: dict[str, type] = {}


def proxy_client(table: MessageTable, proxy, timeout: float):
    """A client of ``table``'s service (one method per message) speaking through ``proxy``."""
    cls = _PROXY_CLIENTS.get(table.service)
    if cls is None:
        cls = _PROXY_CLIENTS[table.service] = client_class(table, _ProxySender)
    return cls(proxy, timeout)


def remote_call(proxy, cls: type[Message]):
    """A function sending ``cls`` messages through a nameko ``RpcProxy`` to that service (service to service
    calls, e.g. the indexer reading the registry's log); the proxy's errors pass through unchanged."""
    def call(*args, **kwargs):
        return proxy.dispatch(envelope(cls(*args, **kwargs)))
    call.__name__ = cls.operation
    return call
