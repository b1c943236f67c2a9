"""Service clients over nameko RPC, derived from each service's message table (services/kernel/messages/), sending
the envelopes of services/kernel/transport.py. Each gateway thread keeps its own ClusterRpcProxy (they are not
thread-safe); remote domain errors are rebuilt from their class name, so views see the same exceptions as in
embedded mode. Every call carries the request's correlation id as nameko context data (the
``nameko.correlation_id`` header), which the services' telemetry dependency puts back in their context."""
from __future__ import annotations

import logging
import threading
import types

from nameko.exceptions import RemoteError, ReplyQueueExpiredWithPendingReplies, RpcTimeout
from nameko.standalone.rpc import ClusterRpcProxy

from services.kernel import context
from services.kernel.errors import ERROR_CLASSES, Unavailable, from_remote
from services.kernel.messages import Message, MessageTable, auth, indexer, registry, storage
from services.kernel.transport import client_class, envelope
from services.nameko_transport import BROKER_TROUBLE as ANY_PROXY_TROUBLE

log = logging.getLogger("wharf.gateway")


# What the proxy raises while the broker restarts or a service's queue is not (yet) declared again: the call
# did not get an answer, and a retry may well work, so the client gets a 503 and this thread a new proxy. Beyond
# what any RPC proxy raises then (nameko_transport.BROKER_TROUBLE), the gateway's standalone proxy has its own:
# RuntimeError is nameko's "This consumer has been disconnected, and can no longer be used".
BROKER_TROUBLE = ANY_PROXY_TROUBLE + (ReplyQueueExpiredWithPendingReplies, RuntimeError)


class RpcClient:
    """Sends a service's messages over nameko RPC to its ``dispatch`` entrypoint (services/nameko_transport.py).
    The per-message methods come from the service's ``MessageTable`` (``transport.client_class``); operations
    the table marks in-process only (byte streams) are Unavailable here: presigned URLs carry the bytes."""

    table: MessageTable

    def __init__(self, amqp_uri: str, timeout: float = 30.0):
        self._service = self.table.service
        self._config = {"AMQP_URI": amqp_uri}
        self._timeout = timeout
        self._local = threading.local()
        for name in self.table.in_process_only:
            setattr(self, name, self._in_process_only(name))

    def _in_process_only(self, name: str):
        def call(*_args, **_kwargs):
            raise Unavailable(f"{self._service}.{name} exists only in-process; distributed mode presigns URLs")
        return call

    def _proxy(self):
        proxy = getattr(self._local, "proxy", None)
        if proxy is None:
            # nameko keeps this very dict as the proxy's context data and sends it with every call
            self._local.context_data = {}
            self._local.runner = ClusterRpcProxy(self._config, context_data=self._local.context_data,
                                                 timeout=self._timeout)
            proxy = self._local.proxy = self._local.runner.start()
        cid = context.current()
        if cid:
            self._local.context_data["correlation_id"] = cid
        else:
            self._local.context_data.pop("correlation_id", None)
        return getattr(proxy, self._service)

    def _reset(self):
        runner = getattr(self._local, "runner", None)
        self._local.proxy = self._local.runner = None
        if runner is not None:
            try:
                runner.stop()
            except Exception:  # noqa: BLE001
                pass

    def send(self, message: Message, *, actor: str | None = None, correlation_id: str | None = None):
        payload = envelope(message, actor, correlation_id)
        try:
            return self._proxy().dispatch(payload)
        except RemoteError as exc:
            if exc.exc_type not in ERROR_CLASSES:
                log.error("the %s service failed in %s: %s: %s", self._service, message.operation, exc.exc_type,
                          exc.value)
            raise from_remote(exc.exc_type, exc.value) from None
        except RpcTimeout:
            self._reset()
            raise Unavailable(f"the {self._service} service did not answer in time")
        except BROKER_TROUBLE as exc:
            self._reset()
            raise Unavailable(f"the {self._service} service is unreachable: {exc.__class__.__name__}")


def rpc_client(table: MessageTable, amqp_uri: str, timeout: float = 30.0) -> RpcClient:
    return client_class(table, RpcClient)(amqp_uri, timeout)


def remote_clients(amqp_uri: str, timeout: float = 30.0):
    return types.SimpleNamespace(**{t.service: rpc_client(t, amqp_uri, timeout)
                                    for t in (auth.MESSAGES, registry.MESSAGES, storage.MESSAGES, indexer.MESSAGES)})
