"""Distributed mode with 2, then 3 indexer replicas (separate processes on one queue): a burst of uploads
across many owners and channels; then every published index equals a replay of the registry's log, every
channel's publications are in generation order, each replica applied and published part of the work, and the
metrics endpoints of all services moved. The same run shows one upload's correlation id in the JSON log lines
of the gateway, storage, registry and an indexer replica.

Prints per-replica counts (run with ``-s`` to see them)."""
from __future__ import annotations

import hashlib
import json
import os
import time
import uuid
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from services.kernel.adapters.db import make_engine
from tests.conftest import free_port
from tests.helpers.packages import make_conda_package

from .harness import start_distributed
from .test_cli_support import auth, create_accounts, raw_upload, token

pytestmark = [pytest.mark.system, pytest.mark.postgres, pytest.mark.rabbitmq]

OWNERS = 8
UPLOADS_PER_OWNER = 6
CHANNELS = [("noarch", "main"), ("linux-64", "main"), ("noarch", "dev"), ("linux-64", "dev")]


# ---------------------------------------------------------------------------------------------------- helpers
def scrape(url: str) -> dict[tuple[str, tuple], float]:
    """{(sample name, sorted labels): value} of a Prometheus endpoint."""
    r = requests.get(url, timeout=10)
    assert r.status_code == 200, (url, r.status_code)
    out = {}
    for fam in text_string_to_metric_families(r.text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def total(samples: dict, name: str, **labels) -> float:
    return sum(v for (n, lab), v in samples.items()
               if n == name and all(dict(lab).get(k) == want for k, want in labels.items()))


def metrics_url(wharf, name: str) -> str:
    return f"http://127.0.0.1:{wharf.metrics_ports[name]}/metrics"


def replicas(wharf) -> list[str]:
    return sorted(n for n in wharf.metrics_ports if n.startswith("indexer"))


def settle(indexer_db, registry_db, timeout: float = 120.0) -> None:
    """Wait until every event is relayed, every stream fully applied and no channel is dirty, twice in a row."""
    deadline = time.monotonic() + timeout
    calm = 0
    while time.monotonic() < deadline:
        with registry_db.connect() as c:
            unpublished = c.execute(text("SELECT count(*) FROM events WHERE NOT published")).scalar()
            heads = dict(c.execute(text("SELECT stream_id, max(sequence) FROM events GROUP BY stream_id")).all())
        with indexer_db.connect() as c:
            applied = dict(c.execute(text("SELECT stream_id, last_sequence FROM indexer_stream_positions")).all())
            dirty = c.execute(text("SELECT count(*) FROM indexer_dirty WHERE generation > published_generation")
                              ).scalar()
        done = unpublished == 0 and dirty == 0 and all(applied.get(s, 0) == q for s, q in heads.items())
        calm = calm + 1 if done else 0
        if calm >= 3:
            return
        time.sleep(0.3)
    raise AssertionError(f"not settled: unpublished={unpublished} dirty={dirty} "
                         f"behind={ {s: (applied.get(s), q) for s, q in heads.items() if applied.get(s) != q} }")


def replay_pointers(wharf, tmp: Path) -> dict:
    """Feed the registry's whole log to a fresh indexer (SQLite, local blobs) and publish everything: the
    {(owner, label, subdir, audience, filename): sha256} it produces."""
    from services.indexer.bootstrap import bootstrap as indexer_bootstrap
    from services.kernel.settings import Settings
    from services.registry.bootstrap import bootstrap as registry_bootstrap
    registry = registry_bootstrap(Settings.from_env(dict(wharf.env)))
    indexer = indexer_bootstrap(Settings(mode="embedded", data_dir=str(tmp)), log_reader=registry.read_stream)
    after = 0
    while True:
        batch = registry.read_log(after, 1000)
        if not batch:
            break
        for ev in batch:
            indexer.handle(ev)
        after = batch[-1]["position"]
    while indexer.publish_pending():
        pass
    with indexer.uow.engine.connect() as c:
        return {tuple(r[:5]): r[5] for r in c.execute(text(
            "SELECT owner, label, subdir, audience, filename, sha256 FROM indexer_published"))}


def live_pointers(indexer_db) -> dict:
    with indexer_db.connect() as c:
        return {tuple(r[:5]): r[5] for r in c.execute(text(
            "SELECT owner, label, subdir, audience, filename, sha256 FROM indexer_published"))}


def upload_with_request_id(wharf, tok, owner, path: Path, package, request_id: str) -> None:
    """One upload whose every request carries ``X-Request-Id: request_id``."""
    h = {**auth(tok), "X-Request-Id": request_id}
    api, data = wharf.api, path.read_bytes()
    basename = f"noarch/{path.name}"
    assert requests.post(f"{api}/package/{owner}/{package}", headers=h, json={"public": True},
                         timeout=60).status_code == 200
    assert requests.post(f"{api}/release/{owner}/{package}/1.0", headers=h, json={}, timeout=60).status_code == 200
    r = requests.post(f"{api}/stage/{owner}/{package}/1.0/{basename}", headers=h, timeout=60,
                      json={"distribution_type": "conda", "sha256": hashlib.sha256(data).hexdigest()})
    assert r.status_code == 200, r.text
    assert r.headers["X-Request-Id"] == request_id
    st = r.json()
    up = requests.post(st["post_url"], data=dict(st["form_data"]), files={"file": (basename, data)},
                       headers={"X-Request-Id": request_id}, timeout=60)
    assert up.status_code == 201, up.text
    c = requests.post(f"{api}/commit/{owner}/{package}/1.0/{basename}", json={"dist_id": st["dist_id"]},
                      headers=h, timeout=60)
    assert c.status_code == 200, c.text


def json_lines(path: Path) -> list[dict]:
    out = []
    for line in path.read_text(errors="replace").splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
    return out


# ---------------------------------------------------------------------------------------------------- the test
@pytest.fixture(scope="module")
def packages(tmp_path_factory):
    d = tmp_path_factory.mktemp("replica-pkgs")
    out = {}
    for i in range(UPLOADS_PER_OWNER):
        subdir, label = CHANNELS[i % len(CHANNELS)]
        out[i] = (make_conda_package(d / str(i), f"p{i}", "1.0", subdir=subdir,
                                     fmt=".conda" if i % 2 else ".tar.bz2"), subdir, label)
    out["corr"] = make_conda_package(d / "corr", "traced", "1.0")
    return out


@pytest.mark.parametrize("n_replicas", [2, 3])
def test_replicas_share_the_work_in_order(n_replicas, packages, tmp_path, amqp_vhosts, pg_admin, s3_server):
    s3 = dict(s3_endpoint=s3_server, s3_access_key="testing", s3_secret_key="testing",
              s3_bucket=f"wharf-{uuid.uuid4().hex[:10]}")
    dbs = {svc: pg_admin(f"wharf_{svc}") for svc in ("auth", "registry", "indexer")}
    wharf = start_distributed(tmp_path, free_port(), amqp_vhosts(), dbs, s3, indexers=n_replicas,
                              extra_env={"WHARF_LOG_FORMAT": "json"})
    ok = False
    try:
        _check(wharf, n_replicas, packages, dbs, tmp_path)
        ok = True
    finally:
        if not ok:
            print(wharf.dump_logs())
        wharf.stop()


def _check(wharf, n, packages, dbs, tmp_path):
    names = replicas(wharf)
    assert len(names) == n
    owners = [f"u{i}" for i in range(OWNERS)]
    create_accounts(wharf, {o: f"{o}-password" for o in owners})
    tokens = {o: token(wharf, o, f"{o}-password") for o in owners}
    before = {name: scrape(metrics_url(wharf, name)) for name in wharf.metrics_ports}
    public = requests.get(wharf.base_url + "/metrics", timeout=10)       # not on the public port
    assert public.status_code in (400, 404) and "wharf_http_request" not in public.text
    gateway_before = scrape(metrics_url(wharf, "gateway"))

    # ---- the burst: every owner uploads to four channels at once, 8 uploads in flight
    jobs = [(o, i) for i in range(UPLOADS_PER_OWNER) for o in owners]

    def one(job):
        owner, i = job
        path, subdir, label = packages[i]
        raw_upload(wharf, tokens[owner], owner, path, f"p{i}", "1.0", f"{subdir}/{path.name}", labels=[label])

    started = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, jobs))
    burst = time.monotonic() - started

    # ---- one traced upload
    request_id = f"trace-{uuid.uuid4().hex}"
    upload_with_request_id(wharf, tokens["u0"], "u0", packages["corr"], "traced", request_id)

    indexer_db, registry_db = make_engine(dbs["indexer"]), make_engine(dbs["registry"])
    try:
        settle(indexer_db, registry_db)
        with registry_db.connect() as c:
            n_events = c.execute(text("SELECT count(*) FROM events")).scalar()
            recorded_ids = {r[0] for r in c.execute(text(
                "SELECT correlation_id FROM events WHERE stream_id = 'u0' AND type = 'file_uploaded'"))}
        live = live_pointers(indexer_db)
        with indexer_db.connect() as c:
            pubs = [dict(r._mapping) for r in c.execute(text(
                "SELECT id, owner, label, subdir, generation, replica, latency_ms FROM indexer_publications "
                "ORDER BY id"))]
            final_generation = {(o, lb, s): g for o, lb, s, g in c.execute(text(
                "SELECT owner, label, subdir, published_generation FROM indexer_dirty"))}
    finally:
        indexer_db.dispose()
        registry_db.dispose()

    # ---- every index equals the replay of the log
    replayed = replay_pointers(wharf, tmp_path / "replay")
    assert set(live) == set(replayed)
    differing = sorted(k for k in live if live[k] != replayed[k])
    assert not differing, f"published indexes differ from the replay: {differing[:10]}"
    channels = {(o, lb, s) for o, lb, s, _a, _f in live}
    assert {(o, lb, s) for o in owners for s, lb in CHANNELS} <= channels
    # ... and is what the gateway serves
    for owner in owners[:3]:
        for subdir, label in CHANNELS:
            r = requests.get(f"{wharf.conda(owner, label)}/{subdir}/repodata.json", timeout=30)
            assert r.status_code == 200
            assert hashlib.sha256(r.content).hexdigest() == live[(owner, label, subdir, "public", "repodata.json")]

    # ---- per channel, publications in generation order, ending at the published generation
    by_channel = defaultdict(list)
    for p in pubs:
        by_channel[(p["owner"], p["label"], p["subdir"])].append(p)
    for ch, seq in by_channel.items():
        gens = [p["generation"] for p in seq]
        assert gens == sorted(gens) and len(set(gens)) == len(gens), f"{ch} published out of order: {gens}"
        assert gens[-1] == final_generation[ch]
    assert set(by_channel) == channels

    # ---- the work was shared: every replica applied events and published indexes
    after = {name: scrape(metrics_url(wharf, name)) for name in wharf.metrics_ports}
    applied = {r: int(total(after[r], "wharf_indexer_events_applied_total")) for r in names}
    published = {r: sum(1 for p in pubs if p["replica"] == r) for r in names}
    gap_filled = {r: int(total(after[r], "wharf_indexer_events_gap_filled_total")) for r in names}
    dups = {r: int(total(after[r], "wharf_indexer_events_duplicate_total")) for r in names}
    ahead = {r: int(total(after[r], "wharf_indexer_events_read_ahead_total")) for r in names}
    print(f"\n{n} indexer replicas, {len(jobs) + 1} uploads ({burst:.1f} s burst), {n_events} events, "
          f"{len(channels)} channels, {len(pubs)} publications")
    for r in names:
        print(f"  {r:10s} applied {applied[r]:4d} (gap-filled {gap_filled[r]:3d}, read ahead {ahead[r]:3d}, "
              f"duplicates skipped {dups[r]:3d})  published {published[r]:4d}")
    lag_sum = sum(total(after[r], "wharf_indexer_apply_lag_seconds_sum") for r in names)
    lag_count = sum(total(after[r], "wharf_indexer_apply_lag_seconds_count") for r in names)
    print(f"  apply lag (commit -> event applied) mean {1000 * lag_sum / max(lag_count, 1):.0f} ms")
    latencies = sorted(p["latency_ms"] for p in pubs if p["latency_ms"] is not None)
    if latencies:
        print(f"  publish latency (commit -> index visible) ms: median {latencies[len(latencies) // 2]}, "
              f"max {latencies[-1]}")
    assert sum(applied.values()) == n_events, "each event is applied exactly once across the replicas"
    assert all(v > 0 for v in applied.values()), f"a replica applied nothing: {applied}"
    assert all(v > 0 for v in published.values()), f"a replica published nothing: {published}"
    assert sum(published.values()) == len(pubs)

    # ---- metrics moved on every service
    for r in names:
        assert total(after[r], "wharf_indexer_publishes_total", kind="conda") == published[r]
        assert total(after[r], "wharf_indexer_publish_latency_seconds_count") > 0 or published[r] == 0
        assert any(n == "wharf_indexer_queue_lag_seconds" for n, _ in after[r])
        assert total(after[r], "wharf_rpc_duration_seconds_count", service="indexer", method="handle") > \
            total(before[r], "wharf_rpc_duration_seconds_count", service="indexer", method="handle")
    uploads = len(jobs) + 1
    assert total(after["storage"], "wharf_storage_finalize_duration_seconds_count", outcome="ok") - \
        total(before["storage"], "wharf_storage_finalize_duration_seconds_count", outcome="ok") == uploads
    assert total(after["registry"], "wharf_registry_events_recorded_total") - \
        total(before["registry"], "wharf_registry_events_recorded_total") == n_events
    assert total(after["registry"], "wharf_registry_events_relayed_total") >= n_events
    assert total(after["registry"], "wharf_rpc_duration_seconds_count", service="registry", method="commit_upload",
                 outcome="ok") == uploads
    assert total(after["registry"], "wharf_upload_duration_seconds_count", outcome="ok") - \
        total(before["registry"], "wharf_upload_duration_seconds_count", outcome="ok") == uploads
    assert total(after["auth"], "wharf_rpc_duration_seconds_count", service="auth") > \
        total(before["auth"], "wharf_rpc_duration_seconds_count", service="auth")
    gateway = scrape(metrics_url(wharf, "gateway"))   # both gunicorn workers, added up (served by the master)
    commit_route = "/api/commit/<owner>/<package>/<version>/<path:basename>"
    assert total(gateway, "wharf_http_request_duration_seconds_count", route=commit_route, method="POST",
                 status="200") - total(gateway_before, "wharf_http_request_duration_seconds_count",
                                       route=commit_route, method="POST", status="200") == uploads

    # ---- one upload's correlation id, from the HTTP request through every event it caused
    assert request_id in recorded_ids
    seen = {}
    for name, path in wharf.logs.items():
        raw = [ln for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
        assert all(ln.startswith("{") for ln in raw), (name, [ln for ln in raw if not ln.startswith("{")][:3])
        lines = json_lines(path)
        assert len(lines) == len(raw)         # one JSON object per line, nothing else
        assert lines, f"{name} wrote no JSON log lines"
        for line in lines:
            assert {"time", "level", "service", "logger", "message", "correlation_id"} <= set(line), line
        seen[name] = [ln for ln in lines if ln["correlation_id"] == request_id]
    assert any("/api/commit/" in ln["message"] for ln in seen["gateway"]), seen["gateway"]
    assert any(ln["message"].startswith("stored u0/traced") for ln in seen["storage"]), seen["storage"]
    assert any(ln["message"].startswith("recorded file_uploaded") for ln in seen["registry"]), seen["registry"]
    indexer_lines = [ln for r in names for ln in seen[r] if ln["message"].startswith("applied file_uploaded u0#")]
    assert indexer_lines, {r: seen[r] for r in names}
    print(f"  correlation id {request_id}: " + ", ".join(f"{k} {len(v)} lines" for k, v in seen.items() if v))
