"""Prometheus metrics of every Wharf process (prometheus-client). ARCHITECTURE.md "Observability" lists them.

The gateway serves them on ``/metrics`` (under gunicorn with several workers, through prometheus-client's
multiprocess mode: ``PROMETHEUS_MULTIPROC_DIR``, set by ``wharf run gateway``); every nameko service serves
them on ``WHARF_METRICS_PORT`` (``Settings.metrics_port``; ``wsgi_app``, served by services/nameko_telemetry.py). The embedded mode has
every service in one process, so its ``/metrics`` holds them all. Only this module imports prometheus_client.
"""
from __future__ import annotations

import logging
import os
import zlib

from prometheus_client import (CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest,
                               multiprocess)

log = logging.getLogger("wharf.metrics")

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
PUBLISH_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0)

# gateway
HTTP_REQUESTS = Histogram("wharf_http_request_duration_seconds", "HTTP request latency by route",
                          ("route", "method", "status"), buckets=LATENCY_BUCKETS)
UPLOADS = Histogram("wharf_upload_duration_seconds",
                    "Upload finalize+commit latency (storage verifies and stores the bytes, the registry commits)",
                    ("outcome",), buckets=LATENCY_BUCKETS)
# every nameko service
RPC_CALLS = Histogram("wharf_rpc_duration_seconds", "Handling time of nameko entrypoints (RPC and events)",
                      ("service", "method", "outcome"), buckets=LATENCY_BUCKETS)
# storage
FINALIZE = Histogram("wharf_storage_finalize_duration_seconds",
                     "storage.finalize: hash, inspect and store one staged upload", ("outcome",),
                     buckets=LATENCY_BUCKETS)
FINALIZE_BYTES = Counter("wharf_storage_finalized_bytes", "Bytes of uploads stored by storage.finalize")
# registry
EVENTS_RECORDED = Counter("wharf_registry_events_recorded", "Events appended to the registry's log", ("type",))
EVENTS_RELAYED = Counter("wharf_registry_events_relayed", "Events the outbox relay published to the broker")
# indexer
EVENTS_APPLIED = Counter("wharf_indexer_events_applied", "Registry events applied by this indexer replica",
                         ("type",))
EVENTS_DUPLICATE = Counter("wharf_indexer_events_duplicate",
                           "Deliveries skipped because their sequence was already applied")
EVENTS_GAP_FILLED = Counter("wharf_indexer_events_gap_filled",
                            "Events read from the registry's log to fill a gap before a later one")
EVENTS_READ_AHEAD = Counter("wharf_indexer_events_read_ahead",
                            "Events read from the registry's log past the one delivered, by a replica that is "
                            "behind (catching up in one transaction); their own deliveries are then duplicates")
EVENTS_CAUGHT_UP = Counter("wharf_indexer_events_caught_up",
                           "Events applied by the catch-up (at start and every WHARF_CATCH_UP_INTERVAL) from the "
                           "registry's log, because their streams were behind its head")
QUEUE_LAG = Gauge("wharf_indexer_queue_lag_seconds",
                  "Per stream partition: seconds from the registry commit (occurred_at) of the last applied event "
                  "to its application", ("partition",), multiprocess_mode="max")
STREAMS_STUCK = Gauge("wharf_stream_stuck",
                      "Registry streams the indexer is stopped at a parked event (dead letter: malformed, or of a "
                      "newer version than its code knows); `wharf events list-stuck` names them",
                      multiprocess_mode="max")
APPLY_LAG = Histogram("wharf_indexer_apply_lag_seconds",
                      "Seconds from an event's registry commit (occurred_at) to its application",
                      buckets=PUBLISH_BUCKETS)
PUBLISH_LATENCY = Histogram("wharf_indexer_publish_latency_seconds",
                            "Seconds from the registry commit (occurred_at) of the newest change an index includes "
                            "to the pointer flip that makes it visible", ("kind",), buckets=PUBLISH_BUCKETS)
PUBLISH_STAGE = Histogram("wharf_indexer_publish_stage_seconds",
                          "Seconds each stage of a conda index publish took: read (rows from the database), build "
                          "(repodata.json and .zst), shards (build and store), store (index files), flip",
                          ("stage",), buckets=PUBLISH_BUCKETS)
PUBLISHES = Counter("wharf_indexer_publishes", "Indexes published (pointer flips) by this replica", ("kind",))
PUBLISH_SKIPPED = Counter("wharf_indexer_publishes_skipped",
                          "Dirty indexes this replica left alone: 'busy' (another replica holds the index's lock), "
                          "'stale' (a newer generation was flipped meanwhile)", ("kind", "reason"))

PARTITIONS = 16      # default of WHARF_INDEXER_PARTITIONS (Settings.indexer_partitions)


def partition_of(stream_id: str, partitions: int = PARTITIONS) -> int:
    """Stable partition of an owner stream (crc32 modulo ``partitions``, ``Settings.indexer_partitions``): the
    label of the per-partition metrics and of the publication log."""
    return zlib.crc32(stream_id.encode("utf-8")) % partitions


def render() -> tuple[bytes, str]:
    """The exposition text of this process (of every gunicorn worker in multiprocess mode)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    from prometheus_client import REGISTRY
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def serve_in_thread(service: str, port: int, addr: str):
    """Serve ``wsgi_app(service)`` on ``addr:port`` from a daemon thread (the gateway, which runs no eventlet:
    ``wharf serve`` and the gunicorn master of ``wharf run gateway``). Never on the public port: the counts of
    requests per route and status tell about private activity. A port in use is a ``ConfigurationError``."""
    import threading
    from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

    from .settings import ConfigurationError

    class _Quiet(WSGIRequestHandler):
        def log_message(self, *args):        # scrapes are not traffic
            pass

    class _Server(WSGIServer):
        allow_reuse_address = False           # a second process on the port must fail, not share or steal it

    try:
        server = make_server(addr, port, wsgi_app(service), server_class=_Server, handler_class=_Quiet)
    except OSError as exc:
        raise ConfigurationError(
            f"WHARF_METRICS_PORT={port}: cannot listen on {addr}:{port} for /metrics ({exc.strerror or exc}); "
            f"another process has it. Give every process its own WHARF_METRICS_PORT, or 0 to turn its metrics "
            f"endpoint off") from None
    threading.Thread(target=server.serve_forever, name="wharf-metrics", daemon=True).start()
    return server


def wsgi_app(service: str = "wharf"):
    """A WSGI app answering ``/metrics`` with ``render()`` and ``/healthz`` with ``{"status": "ok"}`` (HTTP
    liveness probe: the process serves requests); nameko services serve it with eventlet.wsgi
    (prometheus-client's own threaded server would block eventlet's hub)."""
    def app(environ, start_response):
        if environ.get("PATH_INFO", "/").rstrip("/") == "/healthz":
            body = ('{"status": "ok", "service": "%s"}' % service).encode()
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        body, content_type = render()
        start_response("200 OK", [("Content-Type", content_type), ("Content-Length", str(len(body)))])
        return [body]
    return app


def mark_process_dead(pid: int) -> None:
    """gunicorn ``child_exit`` hook in multiprocess mode."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(pid)
