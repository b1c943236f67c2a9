"""The one factory of blob stores: what ``WHARF_BLOB_BACKEND`` names, built from the settings.

Every process that needs the blobs builds them here: the storage and indexer bootstraps, and the tools that
wire both in one process (``wharf serve``, ``wharf gc``, ``wharf verify``), which share one store.
"""
from __future__ import annotations

from ..ports import BlobStore
from ..settings import ConfigurationError


def make_blob_store(settings) -> BlobStore:
    """``LocalBlobStore`` under ``settings.blobs_dir``, or ``S3BlobStore`` (its bucket created if missing; presigned
    URLs signed for ``s3_public_endpoint`` when set). An unusable backend is a ``ConfigurationError``."""
    if settings.blob_backend == "local":
        from .local_blobs import LocalBlobStore
        return LocalBlobStore(settings.blobs_dir)
    if settings.blob_backend == "s3":
        from .s3_blobs import S3BlobStore
        if not settings.s3_endpoint:
            raise ConfigurationError("WHARF_S3_ENDPOINT must be set when WHARF_BLOB_BACKEND=s3")
        store = S3BlobStore(settings.s3_endpoint, settings.s3_access_key, settings.s3_secret_key,
                            settings.s3_bucket, secure=settings.s3_secure, region=settings.s3_region,
                            public_endpoint=settings.s3_public_endpoint or None)
        store.ensure_bucket()
        return store
    raise ConfigurationError(f"WHARF_BLOB_BACKEND={settings.blob_backend!r}: unknown blob backend "
                             f"(expected 'local' or 's3')")
