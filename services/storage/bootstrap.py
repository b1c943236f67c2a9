"""Wiring of the storage service (its blob backend: ``services.kernel.adapters.blob_store``)."""
from __future__ import annotations

from services.kernel.adapters.blob_store import make_blob_store
from services.kernel.ports import BlobStore

from .service_layer.service import StorageService


def bootstrap(settings, blobs: BlobStore | None = None) -> StorageService:
    return StorageService(blobs if blobs is not None else make_blob_store(settings), settings)
