"""Wiring of the storage service: the only place its blob backend is chosen."""
from __future__ import annotations

from services.kernel.ports import BlobStore

from .service_layer.service import StorageService


def make_blob_store(settings) -> BlobStore:
    """``LocalBlobStore`` under ``settings.blobs_dir`` or ``S3BlobStore`` (bucket created if missing)."""
    if settings.blob_backend == "local":
        from services.kernel.adapters.local_blobs import LocalBlobStore
        return LocalBlobStore(settings.blobs_dir)
    if settings.blob_backend == "s3":
        from services.kernel.adapters.s3_blobs import S3BlobStore
        if not settings.s3_endpoint:
            raise RuntimeError("WHARF_S3_ENDPOINT must be set when WHARF_BLOB_BACKEND=s3")
        store = S3BlobStore(settings.s3_endpoint, settings.s3_access_key, settings.s3_secret_key,
                            settings.s3_bucket, secure=settings.s3_secure, region=settings.s3_region,
                            public_endpoint=getattr(settings, "s3_public_endpoint", None) or None)
        store.ensure_bucket()
        return store
    raise RuntimeError(f"unknown blob backend {settings.blob_backend!r} (expected 'local' or 's3')")


def bootstrap(settings, blobs: BlobStore | None = None) -> StorageService:
    return StorageService(blobs if blobs is not None else make_blob_store(settings), settings)
