"""Fixtures of the storage tests: a StorageService over the parametrised ``blob_store`` (local disk + S3)."""
from __future__ import annotations

import hashlib
import pathlib
import sys

import pytest

# ``tests`` has no __init__.py, so ``tests.helpers`` needs the repository root on sys.path; a no-op once the
# pytest configuration adds it (pythonpath = ["."]).
_ROOT = str(pathlib.Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from services.kernel.settings import Settings
from services.storage.bootstrap import bootstrap


@pytest.fixture
def settings(tmp_path):
    return Settings(mode="embedded", data_dir=str(tmp_path / "data"), secret_key="storage-test-secret",
                    public_url="http://wharf.test:8080/")


@pytest.fixture
def storage(blob_store, settings):
    return bootstrap(settings, blobs=blob_store)


@pytest.fixture
def pkgdir(tmp_path) -> pathlib.Path:
    d = tmp_path / "pkgs"
    d.mkdir()
    return d


def stage(storage, dist_id: str, path_or_bytes) -> bytes:
    """Put a file (or raw bytes) into the stage ``dist_id``; returns the bytes staged."""
    data = path_or_bytes if isinstance(path_or_bytes, bytes) else pathlib.Path(path_or_bytes).read_bytes()
    import io
    storage.put_staging(dist_id, io.BytesIO(data), len(data))
    return data


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
