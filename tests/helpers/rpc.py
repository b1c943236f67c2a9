"""``MessageProxy``: nameko's ClusterRpcProxy speaking the message transport, for entrypoint tests.

``rpc.<service>.<operation>(...)`` builds the service's message (services/kernel/messages/), sends its envelope to
the service's one ``dispatch`` RPC (as the gateway's client does) and returns the answer; domain errors arrive as
nameko's ``RemoteError`` carrying the error's class name, as on the wire. ``rpc.<service>.ping()`` is the probe.
"""
from __future__ import annotations

from nameko.standalone.rpc import ClusterRpcProxy

from services.kernel.messages import auth, indexer, registry, storage
from services.kernel.transport import envelope

TABLES = {t.service: t for t in (auth.MESSAGES, registry.MESSAGES, storage.MESSAGES, indexer.MESSAGES)}


class MessageProxy:
    def __init__(self, config: dict, timeout: float = 30.0):
        self._runner = ClusterRpcProxy(config, timeout=timeout)
        self._proxy = None

    def __enter__(self) -> "MessageProxy":
        self._proxy = self._runner.__enter__()
        return self

    def __exit__(self, *exc):
        return self._runner.__exit__(*exc)

    def __getattr__(self, service: str) -> "_Service":
        if service.startswith("_"):
            raise AttributeError(service)
        return _Service(getattr(self._proxy, service), TABLES[service])


class _Service:
    def __init__(self, proxy, table):
        self._proxy, self._table = proxy, table

    def ping(self):
        return self._proxy.ping()

    def __getattr__(self, operation: str):
        if operation.startswith("_"):
            raise AttributeError(operation)
        cls = self._table.by_name[operation]

        def call(*args, actor=None, correlation_id=None, **kwargs):
            return self._proxy.dispatch(envelope(cls(*args, **kwargs), actor, correlation_id))
        return call
