"""The import rules of ARCHITECTURE.md, checked by import-linter (contracts in pyproject.toml), and the
subscription table that drives both the in-memory bus and the nameko handlers."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_hold():
    exe = Path(sys.executable).parent / "lint-imports"
    r = subprocess.run([str(exe)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    assert "broken" in r.stdout and " 0 broken" in r.stdout


def test_embedded_bus_follows_the_subscription_table(tmp_path):
    from services.embedded import Embedded
    from services.kernel.settings import Settings
    from services.kernel.subscriptions import SUBSCRIPTIONS
    system = Embedded(Settings(data_dir=str(tmp_path)), start_threads=False)

    def subscribed(source):
        return {t for t, hs in system.buses[source]._handlers.items() if hs}
    try:
        assert set(system.buses) == {"registry", "indexer"}     # one bus per source, like the exchanges
        assert subscribed("registry") == set(SUBSCRIPTIONS["indexer"]["registry"])
        assert subscribed("indexer") == set()
        from services.gateway.index_cache import IndexCache
        system.subscribe_gateway(IndexCache())
        assert subscribed("indexer") == set(SUBSCRIPTIONS["gateway"]["indexer"]) == {"index_published"}
    finally:
        system.stop()
