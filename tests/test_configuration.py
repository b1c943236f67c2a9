"""Issue 16 "configuration is spread": every ``WHARF_*`` variable is read in services/kernel/settings.py and
nowhere else, each is documented in README's configuration table, and a value that cannot be used stops
`wharf serve` / `wharf run` with one line naming the variable and exit 78 (no traceback)."""
from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

from services.kernel.settings import ConfigurationError, LogSettings, Settings, server_data_dir
from tests.test_cli import clean_env, wharf

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = ROOT / "services" / "kernel" / "settings.py"
# prometheus_client's own variable: set by `wharf run gateway` for its workers, read by the library
NOT_OURS = {"PROMETHEUS_MULTIPROC_DIR"}


def environment_reads(source: str) -> list[tuple[int, str]]:
    """(line, what) of every access to the process environment in ``source``: ``os.environ`` (any use),
    ``os.getenv``, a bare ``environ``/``getenv`` imported from os, except accesses to a key of ``NOT_OURS``."""
    tree = ast.parse(source)
    from_os = {alias.asname or alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
               and node.module == "os" for alias in node.names if alias.name in ("environ", "getenv", "environb")}
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}

    def key_of(node) -> str | None:
        parent = parents.get(node)
        if isinstance(parent, ast.Subscript) and isinstance(parent.slice, ast.Constant):
            return parent.slice.value
        if isinstance(parent, ast.Attribute):        # os.environ.get("X") / .setdefault / .pop
            call = parents.get(parent)
            if isinstance(call, ast.Call) and call.args and isinstance(call.args[0], ast.Constant):
                return call.args[0].value
        if isinstance(parent, ast.Call) and parent.func is node and parent.args \
                and isinstance(parent.args[0], ast.Constant):  # getenv("X")
            return parent.args[0].value
        return None

    found = []
    for node in ast.walk(tree):
        env = (isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv", "environb")
               and isinstance(node.value, ast.Name) and node.value.id == "os") \
            or (isinstance(node, ast.Name) and node.id in from_os)
        if env and key_of(node) not in NOT_OURS:
            found.append((node.lineno, ast.unparse(parents.get(node, node))))
    return found


def test_the_scanner_finds_every_way_of_reading_the_environment():
    bad = ('import os\nfrom os import environ, getenv as ge\n'
           'a = os.environ.get("WHARF_X")\nb = os.environ["WHARF_Y"]\nc = os.getenv("WHARF_Z")\n'
           'd = environ.get("WHARF_W")\ne = ge("WHARF_V")\nf = dict(os.environ)\n'
           'g = os.environ.get("PROMETHEUS_MULTIPROC_DIR")\nos.environ["PROMETHEUS_MULTIPROC_DIR"] = "x"\n')
    assert sorted(line for line, _ in environment_reads(bad)) == [3, 4, 5, 6, 7, 8]


def test_the_environment_is_read_in_settings_only():
    """Before: WHARF_RELAY_POLL at import time in the registry's entrypoint, WHARF_GATEWAY_* and WHARF_HOST/PORT
    in cli.py, WHARF_MAX_WORKERS in nameko_main.py, WHARF_METRICS_* and WHARF_INDEXER_PARTITIONS in metrics.py,
    WHARF_LOG_* in logs.py, WHARF_MODE/DATA_DIR/AUTH_DB_URL in cli_accounts.py."""
    offenders = []
    for path in sorted((ROOT / "services").rglob("*.py")):
        if path == SETTINGS:
            continue
        for line, what in environment_reads(path.read_text()):
            offenders.append(f"{path.relative_to(ROOT)}:{line}: {what}")
    assert not offenders, "read the environment in services/kernel/settings.py only:\n" + "\n".join(offenders)


def settings_variables() -> set[str]:
    """The WHARF_* names settings.py reads (string constants that are exactly a variable's name)."""
    tree = ast.parse(SETTINGS.read_text())
    return {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
            and re.fullmatch(r"WHARF_[A-Z0-9_]+", n.value)}


def test_every_variable_is_documented_in_the_readme_configuration_table():
    names = settings_variables()
    assert {"WHARF_RELAY_POLL", "WHARF_MAX_WORKERS", "WHARF_GATEWAY_BIND", "WHARF_HOST", "WHARF_PORT",
            "WHARF_METRICS_PORT", "WHARF_METRICS_ADDR", "WHARF_INDEXER_PARTITIONS", "WHARF_LOG_FORMAT",
            "WHARF_LOG_LEVEL", "WHARF_SERVICE", "WHARF_PUBLIC_URL", "WHARF_GATEWAY_WORKERS"} <= names
    readme = (ROOT / "README.md").read_text()
    table = readme.split("## Configuration (environment variables)", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    documented = {name for row in rows for name in re.findall(r"`(WHARF_[A-Z0-9_]+)`", row.split(" | ")[0])}
    assert sorted(names - documented) == []
    assert sorted(documented - names) == [], "documented but never read"


@pytest.mark.parametrize("variable, value, says", [
    ("WHARF_RELAY_POLL", "soon", "not a number of seconds"),
    ("WHARF_RELAY_POLL", "0", "positive number of seconds"),
    ("WHARF_MAX_WORKERS", "ten", "not a whole number"),
    ("WHARF_MAX_WORKERS", "0", "at least 1"),
    ("WHARF_GATEWAY_WORKERS", "two", "not a whole number"),
    ("WHARF_GATEWAY_THREADS", "0", "at least 1"),
    ("WHARF_GATEWAY_BIND", "8080", "host:port"),
    ("WHARF_PORT", "eighty", "not a whole number"),
    ("WHARF_PORT", "70000", "0 to 65535"),
    ("WHARF_METRICS_PORT", "x", "not a whole number"),
    ("WHARF_INDEXER_PARTITIONS", "0", "at least 1"),
    ("WHARF_LOG_FORMAT", "xml", "text, json"),
    ("WHARF_LOG_LEVEL", "loud", "DEBUG, INFO"),
])
def test_an_unusable_value_is_a_configuration_error_naming_the_variable(tmp_path, variable, value, says):
    env = {"HOME": str(tmp_path), "WHARF_DATA_DIR": str(tmp_path / "data"), variable: value}
    with pytest.raises(ConfigurationError, match=rf"^{variable}={value!r}.*{says}"):
        Settings.from_env(env)


def test_defaults_and_values(tmp_path):
    base = {"HOME": str(tmp_path), "WHARF_DATA_DIR": str(tmp_path / "data")}
    s = Settings.from_env(base)
    assert (s.relay_poll, s.max_workers, s.gateway_bind, s.gateway_workers, s.gateway_threads, s.host, s.port,
            s.metrics_port, s.metrics_addr, s.indexer_partitions, s.log_format, s.log_level) == \
        (0.2, 10, "0.0.0.0:8080", 2, 8, "127.0.0.1", 8080, 0, "0.0.0.0", 16, "text", "INFO")
    assert s.public_url == "http://127.0.0.1:8080"
    d = Settings.from_env(dict(base, WHARF_SECRET_KEY="k"), mode="distributed")
    assert d.metrics_port == 9100 and d.public_url == "http://127.0.0.1:8080"
    assert Settings.from_env(dict(base, WHARF_METRICS_PORT=""), mode="distributed", secret_key="k") \
        .metrics_port == 0                        # set but empty: off, as before
    # `wharf serve` is reached where it listens (--host/--port win over WHARF_HOST/WHARF_PORT)
    assert Settings.from_env(dict(base, WHARF_PORT="8081")).public_url == "http://127.0.0.1:8081"
    assert Settings.from_env(dict(base, WHARF_PORT="8081"), host="0.0.0.0", port=9000).public_url == \
        "http://0.0.0.0:9000"
    assert Settings.from_env(dict(base, WHARF_PUBLIC_URL="https://x.org/", WHARF_PORT="1")).public_url == \
        "https://x.org"
    assert LogSettings.from_env({"WHARF_LOG_LEVEL": "debug", "WHARF_LOG_FORMAT": "JSON"}) == \
        LogSettings("json", "DEBUG", "")
    assert LogSettings.from_env({"WHARF_LOG_LEVEL": "loud", "WHARF_LOG_FORMAT": "xml"}, strict=False) == \
        LogSettings()
    assert server_data_dir(None, dict(base)) == str(tmp_path / "data")
    assert server_data_dir("/x", dict(base, WHARF_MODE="distributed")) is None


# ------------------------------------------------------------------------------------------------ processes
@pytest.mark.parametrize("args, variable, value", [
    (("serve",), "WHARF_PORT", "eighty"),
    (("serve",), "WHARF_LOG_LEVEL", "loud"),
    (("run", "gateway"), "WHARF_GATEWAY_WORKERS", "many"),
    (("run", "registry"), "WHARF_RELAY_POLL", "soon"),
    (("run", "indexer"), "WHARF_INDEXER_PARTITIONS", "0"),
    (("run", "auth"), "WHARF_LOG_FORMAT", "xml"),
])
def test_wharf_exits_78_with_one_line_naming_the_variable(tmp_path, args, variable, value):
    env = clean_env(tmp_path, WHARF_SECRET_KEY="k", WHARF_METRICS_PORT="0", **{variable: value})
    r = wharf(env, *args, timeout=60)
    assert r.returncode == 78, r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {variable}={value!r}"), r.stderr


def test_a_service_started_directly_exits_78_naming_the_variable(tmp_path):
    """``python -m services.nameko_main service NAME`` (what `wharf run` supervises) checks the nameko settings
    too: WHARF_MAX_WORKERS was read with int() when the container was configured."""
    env = clean_env(tmp_path, WHARF_SECRET_KEY="k", WHARF_METRICS_PORT="0", WHARF_MAX_WORKERS="lots")
    r = subprocess.run([sys.executable, "-m", "services.nameko_main", "service", "storage"], env=env, cwd=ROOT,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 78, r.stdout + r.stderr
    assert "storage cannot start: WHARF_MAX_WORKERS='lots' is not a whole number" in r.stderr
    assert "Traceback" not in r.stderr
    env = clean_env(tmp_path, WHARF_SECRET_KEY="k", WHARF_METRICS_PORT="0", WHARF_LOG_LEVEL="loud")
    r = subprocess.run([sys.executable, "-m", "services.nameko_main", "service", "storage"], env=env, cwd=ROOT,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 78 and "storage cannot start: WHARF_LOG_LEVEL='loud'" in r.stderr, r.stderr
