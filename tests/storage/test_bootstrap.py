"""bootstrap() picks the blob backend from the settings, and nothing else does."""
from __future__ import annotations

import io
import uuid

import pytest

from services.kernel.adapters.local_blobs import LocalBlobStore
from services.kernel.adapters.s3_blobs import S3BlobStore
from services.kernel.settings import Settings
from services.storage.bootstrap import bootstrap
from services.storage.service_layer.service import StorageService


def test_local_backend(tmp_path):
    svc = bootstrap(Settings(data_dir=str(tmp_path), secret_key="k"))
    assert isinstance(svc, StorageService) and isinstance(svc.blobs, LocalBlobStore)
    svc.put_staging("d", io.BytesIO(b"abc"), 3)
    assert (tmp_path / "blobs" / "staging" / "d").read_bytes() == b"abc"


def test_s3_backend_creates_its_bucket(tmp_path, s3_settings):
    settings = Settings(mode="distributed", data_dir=str(tmp_path), secret_key="k", blob_backend="s3",
                        **s3_settings)
    svc = bootstrap(settings)
    assert isinstance(svc.blobs, S3BlobStore)
    svc.put_staging("d", io.BytesIO(b"abc"), 3)       # the bucket exists: the put succeeds
    assert svc.blobs.stat("staging/d") == 3
    assert bootstrap(settings).blobs.stat("staging/d") == 3     # and a second bootstrap reuses it


def test_unknown_backend_and_missing_endpoint(tmp_path):
    with pytest.raises(RuntimeError, match="unknown blob backend"):
        bootstrap(Settings(data_dir=str(tmp_path), secret_key="k", blob_backend="ftp"))
    with pytest.raises(RuntimeError, match="WHARF_S3_ENDPOINT"):
        bootstrap(Settings(data_dir=str(tmp_path), secret_key="k", blob_backend="s3",
                           s3_bucket=f"b-{uuid.uuid4().hex[:8]}"))


def test_explicit_store_wins(tmp_path):
    store = LocalBlobStore(str(tmp_path / "elsewhere"))
    assert bootstrap(Settings(data_dir=str(tmp_path), secret_key="k"), blobs=store).blobs is store


def test_one_blob_store_factory_for_storage_and_indexer(tmp_path, monkeypatch):
    """Issue 16: storage and the indexer build their blob store with the kernel's one factory (they had two
    copies that drifted: the indexer's ignored WHARF_S3_PUBLIC_ENDPOINT and a missing endpoint)."""
    from services.indexer import bootstrap as indexer_bootstrap
    from services.kernel.adapters import blob_store
    from services.kernel.settings import ConfigurationError
    from services.storage import bootstrap as storage_bootstrap
    assert storage_bootstrap.make_blob_store is blob_store.make_blob_store
    assert indexer_bootstrap.make_blob_store is blob_store.make_blob_store
    settings = Settings(data_dir=str(tmp_path), secret_key="k", blob_backend="s3")
    with pytest.raises(ConfigurationError, match="WHARF_S3_ENDPOINT"):
        indexer_bootstrap.bootstrap(settings)
    with pytest.raises(ConfigurationError, match="WHARF_BLOB_BACKEND='ftp'"):
        blob_store.make_blob_store(Settings(data_dir=str(tmp_path), secret_key="k", blob_backend="ftp"))
