"""The storage facade: upload forms, the staging area, finalizing (inspect + content-address) and blob URLs.

Every method maps to one RPC call (except ``put_staging`` and ``open_blob``, which move bytes and exist only
in-process). Arguments and results are JSON-serialisable; errors are kernel errors.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import time
from typing import BinaryIO

import zstandard

from services.kernel import metrics, names, signing
from services.kernel.errors import (BadRequest, BlobNotFound, ChecksumMismatch, NotFound, PayloadTooLarge,
                                    Unavailable, WharfError)
from services.kernel.blob_gc import write_once
from services.kernel.ports import BlobStore

from ..domain.inspect import inspect_upload
from ..domain.inspection import Digests
from ..domain.spool import BoundedReader, spool
from ..domain.upload_form import check_dist_id, check_form, make_form
from .collection import CollectionMethods

log = logging.getLogger("wharf.storage")


class StorageService(CollectionMethods):
    """The storage facade; what ``wharf gc`` asks of storage comes from ``CollectionMethods``."""

    def __init__(self, blobs: BlobStore, settings):
        self.blobs = blobs
        self.settings = settings

    # ------------------------------------------------------------------------------------------ upload forms
    def upload_form(self, dist_id: str) -> dict:
        """``{post_url, form_data}`` for a staged file: the client POSTs form_data plus the file to post_url."""
        s = self.settings
        return {"post_url": f"{s.public_url}/api/_upload",
                "form_data": make_form(s.secret_key, dist_id, s.max_upload_size, s.upload_policy_ttl)}

    def check_upload(self, form: dict) -> dict:
        """``{dist_id, max_size}`` of a posted form; ``Forbidden`` when forged, tampered with or expired."""
        return check_form(self.settings.secret_key, form)

    # ------------------------------------------------------------------------------------------ staging
    def put_staging(self, dist_id: str, stream: BinaryIO, length: int | None) -> None:
        """Store an upload's bytes under the stage (in-process only; distributed gateways use staging_url)."""
        key = signing.staging_key_for(check_dist_id(dist_id))
        limit = self.settings.max_upload_size
        if length is not None and length > limit:
            raise PayloadTooLarge(f"upload exceeds the maximum size of {limit} bytes")
        reader = BoundedReader(stream, limit)
        try:
            self.blobs.put(key, reader, length)
        except Unavailable:
            if reader.exceeded:      # the S3 adapter reports any error raised by the stream as Unavailable
                raise PayloadTooLarge(f"upload exceeds the maximum size of {limit} bytes")
            raise

    def staging_url(self, dist_id: str) -> str | None:
        """A presigned PUT URL for the stage, or None when the backend cannot presign (local disk)."""
        key = signing.staging_key_for(check_dist_id(dist_id))
        return self.blobs.url(key, method="PUT", expires=self.settings.presign_ttl, internal=True)

    # ------------------------------------------------------------------------------------------ finalize
    def finalize(self, dist_id: str, owner: str, package: str, version: str, basename: str,
                 distribution_type: str, sha256: str | None = None) -> dict:
        """``_finalize``, timed (``wharf_storage_finalize_duration_seconds{outcome}``) and logged."""
        started, outcome = time.perf_counter(), "error"
        try:
            meta = self._finalize(dist_id, owner, package, version, basename, distribution_type, sha256)
            outcome = "ok"
            metrics.FINALIZE_BYTES.inc(int(meta.get("size") or 0))
            log.info("stored %s/%s/%s/%s (%s bytes)", owner, package, version, basename, meta.get("size"))
            return meta
        except WharfError:
            outcome = "refused"
            raise
        finally:
            metrics.FINALIZE.labels(outcome).observe(time.perf_counter() - started)

    def _finalize(self, dist_id: str, owner: str, package: str, version: str, basename: str,
                  distribution_type: str, sha256: str | None = None) -> dict:
        """Check and inspect the staged bytes and store them content-addressed; see ARCHITECTURE.md.

        Any refusal (bad name, too large, checksum, invalid package) deletes the staged blob, so nothing is left
        half-written; backend failures (``Unavailable``) keep it so the caller can retry. Success keeps it too,
        until the caller has committed the upload (``drop_stage``): a commit retried after a crash between this
        and the registry's commit finalizes the same bytes again (the blob is not written twice)."""
        staged = signing.staging_key_for(check_dist_id(dist_id))
        if self.blobs.stat(staged) is None:
            raise NotFound("nothing was uploaded for this stage")
        with self._refusal_drops(staged, basename):
            names.basename(basename)
            try:
                with self.blobs.open(staged) as source:
                    spooled = spool(source, self.settings.max_upload_size)
            except BlobNotFound:
                raise NotFound("nothing was uploaded for this stage")
        with spooled.file as fileobj:
            with self._refusal_drops(staged, basename):
                if sha256 is not None and str(sha256).strip().lower() != spooled.sha256:
                    raise ChecksumMismatch(f"sha256 of the uploaded bytes is {spooled.sha256}, not {sha256}")
                found = inspect_upload(fileobj, basename=basename, package=package, version=version,
                                       distribution_type=distribution_type,
                                       digests=Digests(spooled.sha256, spooled.md5, spooled.size))
            for key, data in found.extra_blobs.items():
                write_once(self.blobs, key, len(data),
                           lambda key=key, data=data: self.blobs.put(key, io.BytesIO(data), len(data)))
            blob_key = signing.blob_key_for(spooled.sha256)

            def write_package():
                # store the bytes we hashed, not a server-side copy of the stage (which could change in between)
                fileobj.seek(0)
                self.blobs.put(blob_key, fileobj, spooled.size)
            # already stored (the same file elsewhere): freshened instead, so a `wharf gc` running now keeps it
            write_once(self.blobs, blob_key, spooled.size, write_package)
        return {"blob_key": blob_key, "sha256": spooled.sha256, "md5": spooled.md5, "size": spooled.size,
                "filename": found.filename, "subdir": found.subdir, "record": found.record,
                "metadata": found.metadata}

    def drop_stage(self, dist_id: str) -> None:
        """Delete a stage's bytes once the registry has committed its upload (nothing happens if they are gone;
        bytes left by a crash before this are a closed stage's, which ``wharf gc`` deletes)."""
        self.drop_staged([signing.staging_key_for(check_dist_id(dist_id))])

    @contextlib.contextmanager
    def _refusal_drops(self, staged: str, basename):
        try:
            yield
        except (BadRequest, PayloadTooLarge) as exc:   # InvalidName, InvalidPackage, ChecksumMismatch...
            log.info("refused upload %r: %s", basename, exc)
            self.blobs.delete(staged)
            raise

    # ------------------------------------------------------------------------------------------ reading
    def blob_url(self, key: str, filename: str | None = None, internal: bool = False,
                 private: bool = False) -> str | None:
        """A presigned GET URL (with a download file name), or None on local disk. ``internal`` URLs are for
        services inside the cluster (the gateway loading index bytes), the others for clients. S3 answers the
        URL of a ``private`` file with ``Cache-Control: private`` (no shared cache keeps its bytes), of a public
        one with ``public, immutable`` (blobs are content-addressed: the bytes under a key never change)."""
        cache_control = (f"private, max-age={self.settings.presign_ttl}" if private
                         else "public, max-age=31536000, immutable")
        return self.blobs.url(key, method="GET", expires=self.settings.presign_ttl, filename=filename,
                              internal=internal, cache_control=cache_control)

    def open_blob(self, key: str) -> BinaryIO:
        """A readable file object (in-process only); ``BlobNotFound`` when absent."""
        return self.blobs.open(key)


    # ------------------------------------------------------------------------------------------ verify
    def list_blobs(self, prefix: str = "") -> list[str]:
        """Every stored key under ``prefix`` (``wharf verify``: orphans, staging leftovers)."""
        return list(self.blobs.keys(prefix))

    def blob_digest(self, key: str, hash_bytes: bool = True, offset: int | None = None,
                    length: int | None = None, encoding: str | None = None) -> dict | None:
        """``{size, sha256}`` of a stored blob read back in full (``sha256`` None when ``hash_bytes`` is
        false: size only), or None when it is absent. With ``offset`` and ``length``: of that byte range (a
        shard in a pack; ``size`` is what of the range the object holds). With ``encoding`` ("zstd"): of the
        decoded bytes (read and decoded even when ``hash_bytes`` is false: the size is inside)."""
        if encoding is not None and encoding != "zstd":
            raise BadRequest(f"unknown encoding {encoding!r}")
        if offset is not None:
            total = self.blobs.stat(key)
            if total is None:
                return None
            size = max(0, min(int(length), total - int(offset)))
            if not hash_bytes or size < int(length):
                return {"size": size, "sha256": None}
            data = self.blobs.read_range(key, int(offset), int(length))
            return {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        if not hash_bytes and encoding is None:
            size = self.blobs.stat(key)
            return None if size is None else {"size": size, "sha256": None}
        try:
            with self.blobs.open(key) as f:
                size, sha256 = _read_digest(zstandard.ZstdDecompressor().stream_reader(f) if encoding else f)
        except BlobNotFound:
            return None
        except zstandard.ZstdError:
            return {"size": 0, "sha256": "undecodable"}
        return {"size": size, "sha256": sha256 if hash_bytes else None}


def _read_digest(f) -> tuple[int, str]:
    """(size, sha256) of what ``f`` reads, in 1 MB chunks."""
    h, size = hashlib.sha256(), 0
    while True:
        chunk = f.read(1024 * 1024)
        if not chunk:
            return size, h.hexdigest()
        h.update(chunk)
        size += len(chunk)
