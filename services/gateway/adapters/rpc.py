"""Service clients over nameko RPC. Each gateway thread keeps its own ClusterRpcProxy (they are not
thread-safe); remote domain errors are rebuilt from their class name, so views see the same exceptions as in
embedded mode. Every call carries the request's correlation id as nameko context data (the
``nameko.correlation_id`` header), which the services' telemetry dependency puts back in their context."""
from __future__ import annotations

import logging
import threading
import types

from amqp.exceptions import AMQPError
from kombu.exceptions import KombuError
from nameko.exceptions import RemoteError, ReplyQueueExpiredWithPendingReplies, RpcTimeout, UnknownService
from nameko.standalone.rpc import ClusterRpcProxy

from services.kernel import context
from services.kernel.errors import ERROR_CLASSES, Unavailable, from_remote

log = logging.getLogger("wharf.gateway")


# What the proxy raises while the broker restarts or a service's queue is not (yet) declared again: the call
# did not get an answer, and a retry may well work, so the client gets a 503 and this thread a new proxy.
# RuntimeError is nameko's "This consumer has been disconnected, and can no longer be used".
BROKER_TROUBLE = (OSError, ConnectionError, AMQPError, KombuError, UnknownService,
                  ReplyQueueExpiredWithPendingReplies, RuntimeError)


class RpcClient:
    def __init__(self, service: str, amqp_uri: str, timeout: float = 30.0):
        self._service = service
        self._config = {"AMQP_URI": amqp_uri}
        self._timeout = timeout
        self._local = threading.local()

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

    def __getattr__(self, method: str):
        if method.startswith("_"):
            raise AttributeError(method)

        def call(*args, **kwargs):
            try:
                return getattr(self._proxy(), method)(*args, **kwargs)
            except RemoteError as exc:
                if exc.exc_type not in ERROR_CLASSES:
                    log.error("the %s service failed in %s: %s: %s", self._service, method, exc.exc_type,
                              exc.value)
                raise from_remote(exc.exc_type, exc.value) from None
            except RpcTimeout:
                self._reset()
                raise Unavailable(f"the {self._service} service did not answer in time")
            except BROKER_TROUBLE as exc:
                self._reset()
                raise Unavailable(f"the {self._service} service is unreachable: {exc.__class__.__name__}")
        return call


class RemoteStorage(RpcClient):
    """Storage over RPC; the byte-moving calls are served by presigned URLs instead (no bytes over AMQP)."""

    def put_staging(self, dist_id, stream, length):  # pragma: no cover - S3 always presigns
        raise Unavailable("staging uploads go through a presigned URL in distributed mode")

    def open_blob(self, key):  # pragma: no cover - S3 always presigns
        raise Unavailable("blobs are served through presigned URLs in distributed mode")


def remote_clients(amqp_uri: str, timeout: float = 30.0):
    return types.SimpleNamespace(auth=RpcClient("auth", amqp_uri, timeout),
                                 registry=RpcClient("registry", amqp_uri, timeout),
                                 storage=RemoteStorage("storage", amqp_uri, timeout),
                                 indexer=RpcClient("indexer", amqp_uri, timeout))
