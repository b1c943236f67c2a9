"""The benchmark script must keep running: a tiny run in distributed mode prints every figure (no timing
assertions: speed is judged from the figures the script prints, see README "Performance")."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.system, pytest.mark.postgres, pytest.mark.rabbitmq]

FIGURES = [
    "records / package files", "seed (bulk append to the event log)", "replay of 60 records",
    "first repodata.json GET", "repodata.json.zst size", "publish latency p50", "publish latency p99",
    "commit sent -> index flipped by the indexer", "index flipped -> seen through the gateway",
    "burst: 12 uploads by 3 clients", "burst: all visible after the last commit",
    "serving repodata.json 200", "serving repodata.json 304", "replay of 75 records (full rebuild)",
    "replayed repodata.json byte-identical", "rattler index_fs, initial, 60 packages",
    "rattler index_fs after adding one package",
]


def _bench_databases() -> set[str]:
    import pg8000.native

    from tests.conftest import PG_HOST, PG_PORT, PG_USER
    admin = pg8000.native.Connection(PG_USER, host=PG_HOST, port=PG_PORT, database="postgres")
    try:
        return {row[0] for row in admin.run("SELECT datname FROM pg_database WHERE datname LIKE 'wharf_bench_%'")}
    finally:
        admin.close()


def test_benchmark_prints_every_figure(pg_admin, amqp_vhosts, tmp_path):
    # pg_admin / amqp_vhosts: skip (or, under CI=true, fail) when PostgreSQL or RabbitMQ is missing
    before = _bench_databases()
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "channel_bench.py"), "--records", "60",
                        "--samples", "3", "--burst", "12", "--burst-clients", "3", "--load-seconds", "0.5",
                        "--load-procs", "1", "--load-threads", "2", "--cache", str(tmp_path / "cache"),
                        "--workdir", str(tmp_path / "work")],
                       capture_output=True, text=True, timeout=480, cwd=ROOT)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]
    results = r.stdout.split("\nResults (", 1)
    assert len(results) == 2, r.stdout[-4000:]
    table = results[1]
    for figure in FIGURES:
        line = next((ln for ln in table.splitlines() if figure in ln), None)
        assert line is not None, f"{figure!r} missing from:\n{table}"
        assert "nan" not in line and "NOT" not in line and "NO " not in line + " ", line
    assert any("byte-identical" in ln and ln.rstrip().endswith("yes") for ln in table.splitlines()), table
    assert _bench_databases() <= before, "the benchmark left its databases behind"


def test_upload_rpc_count_prints_each_service(pg_admin, amqp_vhosts):
    """benchmarks/upload_rpcs.py keeps working: one `anaconda upload` through a distributed Wharf, counted."""
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "upload_rpcs.py"), "--uploads", "1"],
                       capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]
    lines = {ln.split(":")[0].strip(): ln for ln in r.stdout.splitlines() if ":" in ln}
    for svc in ("auth", "registry", "storage"):
        assert "RPCs" in lines[svc], r.stdout
    assert "commit_upload 1" in lines["registry"] and "finalize 1" in lines["storage"], r.stdout
    total = float(lines["synchronous RPCs in total"].split(":")[1])
    assert total > 0, r.stdout
