"""Files only the server's own user may read: the embedded data directory (0700) and the SQLite files in it
(0600; they hold argon2 hashes, token digests and private package records).

Modes are set explicitly, whatever the umask, and a looser mode found on an existing file or directory is
tightened (data made by an older Wharf was 0644/0755)."""
from __future__ import annotations

import os
import stat
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


def private_dir(path: str | os.PathLike) -> Path:
    """Create ``path`` (and its parents) if needed; the directory itself ends up 0700."""
    p = Path(path)
    p.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    _tighten(p, DIR_MODE)
    return p


def private_file(path: str | os.PathLike) -> Path:
    """Create ``path`` empty with mode 0600 if it does not exist, else tighten it to 0600."""
    p = Path(path)
    try:
        fd = os.open(p, os.O_CREAT | os.O_EXCL | os.O_WRONLY, FILE_MODE)
        os.close(fd)
    except FileExistsError:
        pass
    _tighten(p, FILE_MODE)
    return p


def private_sqlite(path: str | os.PathLike) -> None:
    """The database file 0600 before SQLite opens it (SQLite gives its -wal and -shm files the mode of the
    database file), and side files left by an older run tightened too."""
    private_file(path)
    for suffix in SQLITE_SIDE_FILES:
        side = Path(str(path) + suffix)
        if side.exists():
            _tighten(side, FILE_MODE)


def _tighten(p: Path, mode: int) -> None:
    try:
        current = stat.S_IMODE(p.stat().st_mode)
        if current & ~mode:
            p.chmod(current & mode)
    except (FileNotFoundError, PermissionError):
        pass    # not ours to change (then the operator chose its mode)
