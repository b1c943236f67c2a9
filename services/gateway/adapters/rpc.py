"""Service clients over nameko RPC. Each gateway thread keeps its own ClusterRpcProxy (they are not
thread-safe); remote domain errors are rebuilt from their class name, so views see the same exceptions as in
embedded mode."""
from __future__ import annotations

import threading
import types

from nameko.exceptions import RemoteError, RpcTimeout
from nameko.standalone.rpc import ClusterRpcProxy

from services.kernel.errors import Unavailable, from_remote


class RpcClient:
    def __init__(self, service: str, amqp_uri: str, timeout: float = 30.0):
        self._service = service
        self._config = {"AMQP_URI": amqp_uri}
        self._timeout = timeout
        self._local = threading.local()

    def _proxy(self):
        proxy = getattr(self._local, "proxy", None)
        if proxy is None:
            self._local.runner = ClusterRpcProxy(self._config, timeout=self._timeout)
            proxy = self._local.proxy = self._local.runner.start()
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
                raise from_remote(exc.exc_type, exc.value) from None
            except RpcTimeout:
                self._reset()
                raise Unavailable(f"the {self._service} service did not answer in time")
            except (OSError, ConnectionError) as exc:
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
