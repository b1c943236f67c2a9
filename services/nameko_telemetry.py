"""Telemetry of the nameko services (distributed mode): one dependency every service class declares.

- starts the process's Prometheus endpoint (``WHARF_METRICS_PORT``: ``/metrics``, and ``/healthz`` for HTTP
  liveness probes; services/kernel/metrics.py) when the container starts; a port another process holds is a
  ``ConfigurationError`` (the service does not start; `wharf run` says why and gives up after a few tries);
- keeps domain errors answered over RPC out of the log (``DomainErrorFilter``);
- per worker (RPC call or event): puts the caller's correlation id (nameko context data, i.e. the
  ``nameko.correlation_id`` header the gateway's RPC client and the event publisher set) into
  ``services.kernel.context`` so log lines and recorded events carry it, and observes the handling time in
  ``wharf_rpc_duration_seconds{service, method, outcome}``.

Lives outside the five service packages because it is framework glue shared by all of them (nameko is not
allowed in the kernel).
"""
from __future__ import annotations

import http
import logging
import sys
import time

import eventlet

_http_server = sys.modules.get("http.server")
import eventlet.wsgi  # noqa: E402 - must follow the line above

# eventlet.wsgi imports eventlet.green.BaseHTTPServer, which re-imports http.server with green socketserver and
# threading (patcher.inject) and leaves the ``http`` package's ``server`` attribute pointing at that green copy.
# Any later ``http.server.ThreadingHTTPServer`` in the same process (tests, tools) then starts green threads
# that never run without a hub, and its shutdown() parks the caller in eventlet's hub for ever. Put it back.
if _http_server is not None:
    http.server = _http_server
elif getattr(http, "server", None) is not None and "http.server" not in sys.modules:
    del http.server         # the next ``import http.server`` loads (and binds) the real module
from nameko.extensions import DependencyProvider
from nameko.rpc import Rpc

from services.kernel import context, metrics
from services.kernel.errors import WharfError
from services.kernel.settings import ConfigurationError, Settings
from services.kernel.transport import operation_name


log = logging.getLogger("wharf.metrics")


class _Quiet:
    def write(self, _data):      # eventlet.wsgi's access log: scrapes are not worth a line each
        pass


_PREBOUND: dict = {}     # (addr, port) -> the socket bind_metrics_port() bound before the container started


def listen_for_metrics(addr: str, port: int):
    try:
        # no SO_REUSEPORT (eventlet.listen's default): with it a second process on the same port shared it
        # silently, and each scrape reached one of them at random
        return eventlet.listen((addr, port), reuse_port=False)
    except OSError as exc:
        raise ConfigurationError(
            f"WHARF_METRICS_PORT={port}: cannot listen on {addr}:{port} for /metrics ({exc.strerror or exc}); "
            f"another process (another Wharf service on this host?) has it. Give every process its own "
            f"WHARF_METRICS_PORT, or 0 to turn its metrics endpoint off") from None


def bind_metrics_port(settings: Settings) -> None:
    """Take ``WHARF_METRICS_PORT`` before the service starts (services/nameko_main.py), so a port in use stops
    it before it touches its database or the broker; ``Telemetry.start`` then serves on this socket."""
    if settings.metrics_port:
        addr, port = settings.metrics_addr, settings.metrics_port
        _PREBOUND[(addr, port)] = listen_for_metrics(addr, port)


class DomainErrorFilter(logging.Filter):
    """Drops nameko's line about an RPC that raised a domain error (``WharfError``: NotFound, Forbidden,
    Conflict...). That is the service's answer to its caller, not a failure: nameko logged each one as a warning
    with a traceback (``expected_exceptions``) or as an error, so every expected 404 of the registry left a
    traceback in its log. The gateway's access line shows the answer and ``wharf_rpc_duration_seconds
    {outcome="refused"}`` counts it. Event handlers are not RPCs: their errors are still logged."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if not isinstance(exc, WharfError):
            return True
        worker_ctx = record.args[0] if isinstance(record.args, tuple) and record.args else None
        return not isinstance(getattr(worker_ctx, "entrypoint", None), Rpc)

    @classmethod
    def install(cls, logger_name: str = "nameko.containers") -> None:
        logger = logging.getLogger(logger_name)
        if not any(isinstance(f, cls) for f in logger.filters):
            logger.addFilter(cls())


class Telemetry(DependencyProvider):
    def setup(self):
        self._workers: dict = {}
        self._sock = self._server = None
        DomainErrorFilter.install()

    def start(self):
        settings = Settings.from_env(mode="distributed")     # what the service's own dependency reads
        addr, port = settings.metrics_addr, settings.metrics_port
        if not port:
            return
        self._sock = _PREBOUND.pop((addr, port), None) or listen_for_metrics(addr, port)
        log.info("metrics on http://%s:%d/metrics", addr, port)
        app = metrics.wsgi_app(self.container.service_name)
        self._server = self.container.spawn_managed_thread(
            lambda: eventlet.wsgi.server(self._sock, app, log=_Quiet(), log_output=False),
            identifier="telemetry.metrics_server")

    def stop(self):
        if self._server is not None:
            self._server.kill()
            self._server = None
        if self._sock is not None:
            try:
                self._sock.close()
            except OSError:
                pass
            self._sock = None

    def kill(self):
        self.stop()

    def get_dependency(self, worker_ctx):
        return None

    def worker_setup(self, worker_ctx):
        token = context.set_current(worker_ctx.data.get("correlation_id"))
        self._workers[worker_ctx] = (token, time.perf_counter())

    def worker_result(self, worker_ctx, result=None, exc_info=None):
        token, started = self._workers.get(worker_ctx, (None, time.perf_counter()))
        if exc_info is None:
            outcome = "ok"
        elif isinstance(exc_info[1], WharfError):
            outcome = "refused"      # a domain answer (NotFound, Forbidden...), not a crash
        else:
            outcome = "error"
        metrics.RPC_CALLS.labels(self.container.service_name, self._operation(worker_ctx),
                                 outcome).observe(time.perf_counter() - started)

    def _operation(self, worker_ctx) -> str:
        """The entrypoint's name; for the message transport's ``dispatch``, the message it carried (one of the
        service's table, else ``unknown``: the label set stays bounded)."""
        method = worker_ctx.entrypoint.method_name
        table = getattr(self.container.service_cls, "messages", None)
        if method == "dispatch" and table is not None:
            return operation_name(table, worker_ctx.args[0] if worker_ctx.args else worker_ctx.kwargs.get("payload"))
        return method

    def worker_teardown(self, worker_ctx):
        token, _ = self._workers.pop(worker_ctx, (None, None))
        if token is not None:
            try:
                context.reset(token)
            except ValueError:     # set in another context: the greenthread ends anyway
                pass
