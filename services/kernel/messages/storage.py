"""The storage service's operations (``StorageService``). Bytes never travel in a message: ``put_staging`` and
``open_blob`` exist only in-process (embedded mode); in distributed mode presigned URLs carry the bytes."""
from __future__ import annotations

from . import Command, MessageTable, Query, collect, message


@message
class UploadForm(Query):
    dist_id: str


@message
class CheckUpload(Query):
    form: dict


@message
class StagingUrl(Query):
    dist_id: str


@message
class Finalize(Command):
    dist_id: str
    owner: str
    package: str
    version: str
    basename: str
    distribution_type: str
    sha256: str | None = None


@message
class DropStage(Command):
    dist_id: str


@message
class BlobUrl(Query):
    key: str
    filename: str | None = None
    internal: bool = False
    private: bool = False


MESSAGES = MessageTable("storage", collect(globals()), in_process_only=('put_staging', 'open_blob'))
