"""``wharf user create`` run from another directory reaches the data ``wharf serve`` uses (issue 15 item 18): the
embedded default data directory no longer depends on the working directory, and an administration command
pointed at a directory without the server's data refuses and says where it looked, instead of creating a new
one. Real processes: ``wharf serve`` without ``--data``, the CLI from elsewhere, a login over HTTP."""
from __future__ import annotations

import os
import stat
import subprocess

import pytest
import requests

from tests.conftest import free_port

from .harness import WHARF, Wharf, base_env, wait_http

pytestmark = pytest.mark.system


def run(env, cwd, *args):
    return subprocess.run([WHARF, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=300)


def test_commands_from_anywhere_reach_the_servers_data(tmp_path):
    home = tmp_path / "home"
    env = base_env(tmp_path)                 # no WHARF_* at all: every default applies
    env["HOME"] = str(home)
    env.pop("XDG_DATA_HOME", None)
    port = free_port()
    serve_dir, other_dir = tmp_path / "a", tmp_path / "b"
    serve_dir.mkdir()
    other_dir.mkdir()
    w = Wharf("embedded", f"http://127.0.0.1:{port}", env, serve_dir)
    p = w.spawn("serve", ["serve", "--host", "127.0.0.1", "--port", str(port)])
    try:
        wait_http(w.api, procs=[p])
        created = run(env, other_dir, "user", "create", "wanda", "--password", "wanda-pw-12345")
        assert created.returncode == 0, created.stderr
        r = requests.post(f"{w.api}/authentications", auth=("wanda", "wanda-pw-12345"), json={"note": "x"},
                          timeout=30)
        assert r.status_code == 200, r.text                          # the server sees the user
        assert not (other_dir / "data").exists() and not (serve_dir / "data").exists()
        data = home / ".local" / "share" / "wharf"
        assert (data / "auth.db").exists()
        assert stat.S_IMODE(os.stat(data).st_mode) == 0o700
        assert stat.S_IMODE(os.stat(data / "auth.db").st_mode) == 0o600
        # pointed at a directory without the server's data: refused, nothing created, the path named
        empty = tmp_path / "nowhere"
        refused = run(env, other_dir, "user", "list", "--data", str(empty))
        assert refused.returncode == 2 and str(empty) in refused.stderr and "wharf serve" in refused.stderr
        assert not empty.exists()
    finally:
        w.stop()
