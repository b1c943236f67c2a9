"""The embedded data directory: the same wherever a command runs (issue 15 item 18), and readable by the server's
own user only (item 13): the directory 0700, the SQLite files (argon2 hashes, token digests) and the secret key
0600, also when the umask is the usual 022 and when an older Wharf left them 0755/0644."""
from __future__ import annotations

import os
import sqlite3
import stat

import pytest

from services.embedded import Embedded
from services.kernel.settings import Settings


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def _files(data):
    return [data / "auth.db", data / "registry.db", data / "indexer.db", data / "secret_key"]


def test_a_new_data_directory_is_private(tmp_path, umask_022):
    data = tmp_path / "data"
    system = Embedded(Settings(data_dir=str(data)), start_threads=False)
    try:
        system.auth.create_user("alice", "alice-password")
        assert mode(data) == 0o700
        for f in _files(data):
            assert mode(f) == 0o600, f
        # while a connection is open SQLite keeps -wal and -shm beside the file, with the file's mode
        with sqlite3.connect(data / "auth.db") as conn:
            conn.execute("CREATE TABLE scratch (x)")
            side = sorted(data.glob("auth.db-*"))
            assert len(side) == 2 and all(mode(f) == 0o600 for f in side), side
    finally:
        system.stop()


def test_an_older_data_directory_is_tightened(tmp_path, umask_022):
    data = tmp_path / "data"
    system = Embedded(Settings(data_dir=str(data)), start_threads=False)
    system.stop()
    os.chmod(data, 0o755)
    for f in data.iterdir():
        if f.is_file():
            os.chmod(f, 0o644)
    system = Embedded(Settings(data_dir=str(data)), start_threads=False)
    try:
        assert mode(data) == 0o700
        for f in _files(data):
            assert mode(f) == 0o600, f
    finally:
        system.stop()


def test_the_default_data_directory_does_not_depend_on_the_working_directory(tmp_path, monkeypatch):
    env = {"HOME": str(tmp_path / "home")}
    here = Settings.from_env(env, mode="distributed", secret_key="x").data_dir
    monkeypatch.chdir(tmp_path)
    there = Settings.from_env(env, mode="distributed", secret_key="x").data_dir
    assert here == there == str(tmp_path / "home" / ".local" / "share" / "wharf")
    assert Settings.from_env({**env, "XDG_DATA_HOME": str(tmp_path / "xdg")}, mode="distributed",
                             secret_key="x").data_dir == str(tmp_path / "xdg" / "wharf")
    assert Settings.from_env({**env, "WHARF_DATA_DIR": "/srv/wharf"}, mode="distributed",
                             secret_key="x").data_dir == "/srv/wharf"


def test_data_of_the_old_default_is_pointed_at(tmp_path, monkeypatch):
    """./data was the default before: `wharf serve` notes it, and a refused administration command names it."""
    import types

    from services.cli_accounts import NoServerData, legacy_data_hint, require_server_data
    monkeypatch.chdir(tmp_path)
    for var in ("WHARF_AUTH_DB_URL", "WHARF_MODE", "WHARF_DATA_DIR"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    assert legacy_data_hint(Settings(data_dir=str(tmp_path / "new"), secret_key="x")) is None
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "auth.db").write_bytes(b"")
    hint = legacy_data_hint(Settings(data_dir=str(tmp_path / "new"), secret_key="x"))
    assert hint and str(tmp_path / "data") in hint and "--data" in hint
    with pytest.raises(NoServerData) as err:
        require_server_data(types.SimpleNamespace(data=None))
    assert str(tmp_path / "home" / ".local" / "share" / "wharf") in err.value.message
    assert f"--data {tmp_path / 'data'}" in err.value.message
    require_server_data(types.SimpleNamespace(data=str(tmp_path / "data")))     # there: accepted
