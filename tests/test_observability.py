"""Unit checks of the shared observability pieces: the correlation-id context, the JSON log format, events
stamped with the current correlation id, the metrics exposition and its WSGI endpoint (/metrics, /healthz)."""
from __future__ import annotations

import io
import os
import json
import logging
import subprocess
import sys
import threading

import pytest

from services.kernel import context, logs, metrics
from services.kernel.events import Event


def _logger(fmt: str) -> tuple[logging.Logger, io.StringIO]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(logs.CorrelationFilter("registry"))
    handler.setFormatter(logs.JsonFormatter() if fmt == "json" else logging.Formatter(logs.TEXT_FORMAT))
    logger = logging.getLogger(f"test.observability.{fmt}")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger, out


def test_json_lines_carry_the_current_correlation_id():
    logger, out = _logger("json")
    with context.correlated("req-1"):
        logger.info("recorded %s", "file_uploaded")
        logger.info("from an event", extra={"correlation_id": "req-2"})    # the record's own id wins
    logger.info("outside any request")
    try:
        raise ValueError("boom")
    except ValueError:
        logger.exception("failed")
    docs = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [d["correlation_id"] for d in docs] == ["req-1", "req-2", None, None]
    assert docs[0]["message"] == "recorded file_uploaded" and docs[0]["service"] == "registry"
    assert docs[0]["level"] == "INFO" and docs[0]["logger"] == "test.observability.json"
    assert docs[0]["time"].endswith("Z")
    assert "ValueError: boom" in docs[3]["exc_info"]


def test_text_lines_show_the_correlation_id():
    logger, out = _logger("text")
    with context.correlated("req-9"):
        logger.info("hello")
    assert "[req-9] hello" in out.getvalue()


def test_dict_config_follows_wharf_log_format(monkeypatch):
    monkeypatch.setenv("WHARF_LOG_FORMAT", "json")
    assert logs.dict_config("indexer")["formatters"]["wharf"] == {"()": "services.kernel.logs.JsonFormatter"}
    monkeypatch.setenv("WHARF_LOG_FORMAT", "text")
    assert "format" in logs.dict_config("indexer")["formatters"]["wharf"]


def test_context_is_per_thread_and_restored():
    seen = {}
    with context.correlated("outer"):
        t = threading.Thread(target=lambda: seen.setdefault("thread", context.current()))
        t.start()
        t.join()
        with context.correlated("inner"):
            assert context.current() == "inner"
        assert context.current() == "outer"
    assert context.current() is None and seen["thread"] is None


def test_request_ids_are_sanitised():
    assert context.accept("abc-DEF_1.2:3") == "abc-DEF_1.2:3"
    for bad in (None, "", "has space", "x" * 129, "quote\"", "new\nline"):
        made = context.accept(bad)
        assert made != bad and len(made) == 32


def test_new_events_record_the_current_correlation_id():
    data = {"owner": "alice", "package": "numpy", "public": True, "public_attrs": {}}
    with context.correlated("req-7"):
        stamped = Event.new("package_created", "alice", data)
        explicit = Event.new("package_created", "alice", data, correlation_id="given")
    assert stamped.correlation_id == "req-7" and explicit.correlation_id == "given"
    assert Event.new("package_created", "alice", data).correlation_id is None
    assert Event.from_wire(stamped.to_wire()).correlation_id == "req-7"


def test_metrics_wsgi_endpoint():
    metrics.EVENTS_APPLIED.labels("unit_test").inc()
    metrics.QUEUE_LAG.labels(str(metrics.partition_of("alice"))).set(0.25)
    app = metrics.wsgi_app("indexer")
    status = {}

    def start(s, headers):
        status["s"], status["h"] = s, dict(headers)

    body = b"".join(app({"PATH_INFO": "/metrics"}, start)).decode()
    assert status["s"] == "200 OK" and status["h"]["Content-Type"].startswith("text/plain")
    assert 'wharf_indexer_events_applied_total{type="unit_test"}' in body
    assert f'wharf_indexer_queue_lag_seconds{{partition="{metrics.partition_of("alice")}"}} 0.25' in body
    health = json.loads(b"".join(app({"PATH_INFO": "/healthz"}, start)))
    assert health == {"status": "ok", "service": "indexer"}


def test_partitions_are_stable_and_bounded():
    assert metrics.partition_of("alice", 16) == metrics.partition_of("alice", 16)
    assert {metrics.partition_of(f"user{i}", 4) for i in range(100)} == {0, 1, 2, 3}


def test_nameko_telemetry_leaves_http_server_real():
    """Importing the telemetry glue (eventlet.wsgi) must not leave ``http.server`` bound to eventlet's green copy:
    it did, and a later ThreadingHTTPServer in the same process started green threads that never ran, hanging
    the test run at the server's shutdown()."""
    code = ("import http.server, socketserver, sys, threading\n"
            "import services.nameko_telemetry\n"
            "assert http.server is sys.modules['http.server'], http.server\n"
            "assert http.server.socketserver is socketserver, http.server.socketserver\n"
            "assert socketserver.threading is threading\n")
    out = subprocess.run([sys.executable, "-W", "ignore", "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr


def _json_process_stderr(code: str) -> list[str]:
    import subprocess
    import sys
    env = {**os.environ, "WHARF_LOG_FORMAT": "json", "PYTHONWARNINGS": "default"}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stderr.splitlines()


def test_warnings_are_json_lines_before_and_after_logging_is_configured():
    """A library's warning at import time (before the process configures logging) and one after are both one
    JSON object per line; nothing else reaches stderr (the CI failure of issue 15: dnspython's DSA warning as
    bare text in the storage process's JSON log)."""
    lines = _json_process_stderr(
        "import services, warnings\n"
        "warnings.warn('early warning', UserWarning)\n"
        "from services.kernel import logs\n"
        "logs.configure('storage')\n"
        "warnings.warn('late warning', UserWarning)\n")
    docs = [json.loads(line) for line in lines]
    assert [d["logger"] for d in docs] == ["py.warnings", "py.warnings"]
    assert "early warning" in docs[0]["message"] and "late warning" in docs[1]["message"]
    assert docs[1]["service"] == "storage"


def test_known_unactionable_warnings_are_silenced_deliberately():
    """eventlet (imported by every nameko process) imports dnspython, whose DSA types make cryptography warn;
    with cryptography installed that was 4-12 lines per process. Other warnings of the same kind still show."""
    pytest.importorskip("cryptography")
    lines = _json_process_stderr("import services\nimport eventlet\nimport dns.dnssecalgs\n"
                                 "import warnings\nwarnings.warn('DSA is deprecated', UserWarning)\n")
    assert len(lines) == 1 and "DSA is deprecated" in json.loads(lines[0])["message"]   # only ours, not dns's


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_no_token_or_password_reaches_a_log_line(fmt, monkeypatch):
    """Issue 15 item 7: the error log wrote /t/<token>/ paths in full. Every handler of dict_config redacts
    tokens in paths, Wharf tokens anywhere, Authorization values and URI passwords, in messages, their
    arguments and exception texts, whatever logged them."""
    import logging.config
    monkeypatch.setenv("WHARF_LOG_FORMAT", fmt)
    token = "wt-" + "0123456789abcdef" * 3
    cfg = logs.dict_config("gateway")
    out = io.StringIO()
    cfg["handlers"]["console"]["stream"] = out
    cfg["root"] = {"level": "INFO", "handlers": ["console"]}
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    logging.config.dictConfig(cfg)
    try:
        log = logging.getLogger("wharf.gateway")
        log.error("unhandled error on %s %s", "GET", f"/conda/t/{token}/acme/noarch/repodata.json")
        log.warning("pypi /pypi/t/short-tok/acme/simple/ and Authorization: Bearer abc.def")
        log.info("broker amqp://guest:hunter2@rabbit:5672/ db postgresql://wharf:s3cret@db/wharf")
        try:
            raise ValueError(f"bad request headers {{'Authorization': 'token {token}'}}")
        except ValueError:
            log.exception("while handling %s", f"/t/{token}/conda/acme/x")
    finally:
        root.handlers[:], _ = saved[0], root.setLevel(saved[1])
    text = out.getvalue()
    for secret in (token, "short-tok", "abc.def", "hunter2", "s3cret"):
        assert secret not in text, (secret, text)
    assert text.count("<token>") == 3 and "ValueError" in text


def test_a_credential_is_never_taken_as_a_request_id():
    """A client sending its token as X-Request-Id would have had it printed on every log line of the request
    and stored in every event it recorded (the correlation id is not a message: the redaction skipped it)."""
    for value in ("wt-" + "ab" * 24, "WT-" + "ab" * 24, "ws-" + "cd" * 24):
        assert context.accept(value) != value
    assert context.accept("build-42:step.3") == "build-42:step.3"
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "m", None, None)
    record.correlation_id = "wt-" + "ab" * 24
    logs.RedactingFilter().filter(record)
    assert "ab" * 24 not in record.correlation_id
