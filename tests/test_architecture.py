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


# each deliberate wrong import: (file to add, its source, the contract that must report it)
WRONG_IMPORTS = [
    ("services/registry/domain/wrong_import.py", "import services.kernel.adapters.db\n",
     "Domain and service layers reach shared backends only through kernel ports"),
    ("services/indexer/adapters/wrong_import.py", "from services.indexer.service_layer import service\n",
     "Inside a service: entrypoints -> bootstrap -> (service_layer | adapters) -> domain"),
    ("services/gateway/views/wrong_import.py", "import requests\n",
     "HTTP clients (requests) only in adapters"),
    ("services/gateway/adapters/wrong_import.py", "from services.gateway import views\n",
     "Inside the gateway: app -> views -> web -> access -> identity -> adapters"),
]


def test_a_wrong_import_breaks_the_contract_that_forbids_it(tmp_path):
    """Issue 16: the contracts are not kept by accident. A copy of the package with one wrong import per rule
    (a domain module importing a kernel adapter, an adapter importing its service layer, a gateway view importing
    requests, a gateway adapter importing the views) fails lint-imports, each contract naming its own."""
    import os
    import re
    import shutil

    shutil.copytree(ROOT / "services", tmp_path / "services",
                    ignore=shutil.ignore_patterns("__pycache__", "static", "templates"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    for path, source, _ in WRONG_IMPORTS:
        (tmp_path / path).write_text(source)
    exe = Path(sys.executable).parent / "lint-imports"
    env = dict(os.environ, COLUMNS="1000", PYTHONPATH=str(tmp_path))     # the copy, not the installed package
    r = subprocess.run([str(exe), "--no-cache"], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                       env=env)
    out = re.sub(r"\s+", " ", r.stdout)
    assert r.returncode != 0, out[-3000:]
    for path, _, contract in WRONG_IMPORTS:
        module = path[:-3].replace("/", ".")
        assert f"{contract} BROKEN" in out, out[-4000:]
        assert f"{module} -> " in out, (module, out[-4000:])
