"""Observability of the embedded mode (`wharf serve` with WHARF_LOG_FORMAT=json): every log line is one JSON
object; one upload's X-Request-Id appears in the gateway's, storage's, registry's and indexer's lines; the
metrics (every service in one process, on WHARF_METRICS_PORT, never the public port) move with the traffic; health endpoint. The distributed
mode is covered by test_indexer_replicas.py (per-service metrics ports, several indexer replicas)."""
from __future__ import annotations

import json
import time
import uuid

import pytest
import requests

from tests.conftest import free_port
from tests.helpers.packages import make_conda_package

from .harness import start_embedded
from .test_cli_support import create_accounts, token, wait_for_repodata, repodata
from .test_indexer_replicas import json_lines, scrape, total, upload_with_request_id

pytestmark = pytest.mark.system


@pytest.fixture(scope="module")
def embedded(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("observed")
    w = start_embedded(workdir, free_port(), extra_env={"WHARF_LOG_FORMAT": "json"})
    yield w
    w.stop()


def test_one_upload_is_traced_and_counted(embedded, tmp_path):
    create_accounts(embedded, {"olga": "olga-password"})
    tok = token(embedded, "olga", "olga-password")
    # issue 15 item 13: per-route counts tell about private activity, so never on the public port
    public = requests.get(embedded.base_url + "/metrics", timeout=10)     # a (reserved) namespace name there
    assert public.status_code in (400, 404) and "wharf_http_request" not in public.text
    metrics = f"http://127.0.0.1:{embedded.metrics_ports['serve']}/metrics"
    before = scrape(metrics)
    pkg = make_conda_package(tmp_path, "observed", "1.0")
    request_id = f"emb-{uuid.uuid4().hex}"
    upload_with_request_id(embedded, tok, "olga", pkg, "observed", request_id)
    wait_for_repodata(repodata(embedded, "olga"), pkg.name)
    time.sleep(0.5)      # the access line of the last poll is written after its response

    after = scrape(metrics)
    commit = "/api/commit/<owner>/<package>/<version>/<path:basename>"
    assert total(after, "wharf_http_request_duration_seconds_count", route=commit, method="POST", status="200") \
        == total(before, "wharf_http_request_duration_seconds_count", route=commit, method="POST", status="200") + 1
    assert total(after, "wharf_upload_duration_seconds_count", outcome="ok") == \
        total(before, "wharf_upload_duration_seconds_count", outcome="ok") + 1
    assert total(after, "wharf_storage_finalize_duration_seconds_count", outcome="ok") == \
        total(before, "wharf_storage_finalize_duration_seconds_count", outcome="ok") + 1
    assert total(after, "wharf_registry_events_recorded_total", type="file_uploaded") == \
        total(before, "wharf_registry_events_recorded_total", type="file_uploaded") + 1
    assert total(after, "wharf_indexer_events_applied_total", type="file_uploaded") == \
        total(before, "wharf_indexer_events_applied_total", type="file_uploaded") + 1
    assert total(after, "wharf_indexer_publishes_total", kind="conda") > \
        total(before, "wharf_indexer_publishes_total", kind="conda")
    assert total(after, "wharf_indexer_publish_latency_seconds_count", kind="conda") > 0
    assert any(name == "wharf_indexer_queue_lag_seconds" for name, _ in after)

    raw = embedded.logs["serve"].read_text(errors="replace").splitlines()
    lines = json_lines(embedded.logs["serve"])
    assert len(lines) >= 10
    for line in raw[1:]:     # after the startup banner printed by `wharf serve` itself
        if line.strip() and not line.startswith(("Wharf (embedded)", "  ")):
            doc = json.loads(line)      # one JSON object per line
            assert {"time", "level", "service", "logger", "message", "correlation_id"} <= set(doc)
    traced = [ln for ln in lines if ln["correlation_id"] == request_id]
    loggers = {ln["logger"] for ln in traced}
    assert {"wharf.gateway.access", "wharf.storage", "wharf.registry", "wharf.indexer"} <= loggers, traced
    assert any(ln["message"].startswith("applied file_uploaded olga#") for ln in traced)
    assert any(ln["message"].startswith("POST /api/commit/olga/observed/1.0/") for ln in traced)


def test_request_ids_are_echoed_or_made_up(embedded):
    r = requests.get(embedded.base_url + "/healthz", headers={"X-Request-Id": "abc-123"}, timeout=10)
    assert r.status_code == 200 and r.json() == {"status": "ok"} and r.headers["X-Request-Id"] == "abc-123"
    made = requests.get(embedded.base_url + "/healthz", headers={"X-Request-Id": "bad id\u00e9<script>"},
                        timeout=10).headers["X-Request-Id"]
    assert len(made) == 32 and made.isalnum()       # unsafe text is never echoed into logs or events
    assert requests.get(embedded.base_url + "/healthz", timeout=10).headers["X-Request-Id"] != made


def test_tokens_in_paths_never_reach_the_logs(embedded):
    """conda and pip put tokens in URLs (/t/<token>/): the access line shows the path with the token redacted."""
    create_accounts(embedded, {"tara": "tara-password"})
    tok = token(embedded, "tara", "tara-password")
    for path in (f"/conda/t/{tok}/tara/noarch/repodata.json", f"/t/{tok}/conda/tara/noarch/repodata.json",
                 f"/pypi/t/{tok}/tara/simple/"):
        requests.get(embedded.base_url + path, headers={"X-Request-Id": "redact-check"}, timeout=10)
    time.sleep(0.5)
    text = embedded.logs["serve"].read_text(errors="replace")
    assert tok not in text
    traced = [ln["message"] for ln in json_lines(embedded.logs["serve"]) if ln["correlation_id"] == "redact-check"]
    assert "GET /conda/t/<token>/tara/noarch/repodata.json 200" in " ".join(traced), traced
