"""BlobStore on S3 (MinIO in docker-compose and Kubernetes, moto's server in the tests) through ``minio``.

S3 PUTs are atomic per object, so ``put`` needs no temp key. Every minio/urllib3 error is translated:
missing keys become ``BlobNotFound``, anything else ``Unavailable`` (S3 unreachable -> the gateway answers 503).
"""
from __future__ import annotations

import io
import time
from datetime import timedelta
from typing import BinaryIO, Iterator

from minio import Minio
from minio.commonconfig import CopySource
from minio.error import S3Error

from ..errors import BlobNotFound, Unavailable, WharfError

_MISSING = {"NoSuchKey", "NoSuchObject", "NotFound", "ResourceNotFound"}
# connections kept open to the S3 endpoint: at least as many as the requests one process makes at once (a
# service's nameko workers, the indexer's parallel stores, the gateway's threads). urllib3's default is one: every
# concurrent request beyond it opened a connection of its own and closed it afterwards ("Connection pool is full,
# discarding connection"), hundreds of times per minute in the storage service and the indexer under a burst.
POOL_CONNECTIONS = 32


class S3BlobStore:
    def __init__(self, endpoint: str, access_key: str, secret_key: str, bucket: str, secure: bool = False,
                 region: str = "us-east-1", public_endpoint: str | None = None):
        import urllib3
        http = urllib3.PoolManager(timeout=urllib3.Timeout(connect=5, read=60), maxsize=POOL_CONNECTIONS,
                                   retries=urllib3.Retry(total=2, backoff_factor=0.2,
                                                         status_forcelist=[500, 502, 503, 504]))
        self.client = Minio(endpoint, access_key=access_key, secret_key=secret_key, secure=secure,
                            region=region, http_client=http)
        # presigned URLs are signed for the host clients will use
        self.signer = Minio(public_endpoint or endpoint, access_key=access_key, secret_key=secret_key,
                            secure=secure, region=region)
        self.bucket = bucket

    def _call(self, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except S3Error as exc:
            if exc.code in _MISSING:
                raise BlobNotFound(f"no blob {args[1] if len(args) > 1 else ''}")
            raise Unavailable(f"S3 error {exc.code}")
        except WharfError:
            raise  # e.g. raised by the caller's stream (PayloadTooLarge): not a backend failure
        except Exception as exc:  # urllib3 MaxRetryError, connection refused, timeouts
            raise Unavailable(f"S3 unreachable: {exc.__class__.__name__}")

    def ensure_bucket(self) -> None:
        if not self._call(self.client.bucket_exists, self.bucket):
            try:
                self.client.make_bucket(self.bucket)
            except S3Error as exc:
                if exc.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                    raise Unavailable(f"S3 error {exc.code}")

    def put(self, key: str, stream: BinaryIO, length: int | None = None,
            content_type: str = "application/octet-stream") -> None:
        if length is None:
            self._call(self.client.put_object, self.bucket, key, stream, -1, content_type=content_type,
                       part_size=16 * 1024 * 1024)
        else:
            self._call(self.client.put_object, self.bucket, key, stream, length, content_type=content_type)

    def put_bytes(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        self.put(key, io.BytesIO(data), len(data), content_type)

    def open(self, key: str) -> BinaryIO:
        resp = self._call(self.client.get_object, self.bucket, key)
        return _ResponseFile(resp)

    def read_range(self, key: str, offset: int, length: int) -> bytes:
        def get(bucket, key):
            resp = self.client.get_object(bucket, key, offset=offset, length=length)
            try:
                return resp.read()
            finally:
                resp.close()
                resp.release_conn()
        data = self._call(get, self.bucket, key)
        if len(data) != length:
            raise Unavailable(f"blob {key} is shorter than {offset}+{length} bytes")
        return data

    def stat(self, key: str) -> int | None:
        try:
            return self._call(self.client.stat_object, self.bucket, key).size
        except BlobNotFound:
            return None

    def delete(self, key: str) -> None:
        self._call(self.client.remove_object, self.bucket, key)

    def copy(self, src: str, dst: str) -> None:
        self._call(self.client.copy_object, self.bucket, dst, CopySource(self.bucket, src))

    def keys(self, prefix: str = "") -> Iterator[str]:
        objs = self._call(lambda: list(self.client.list_objects(self.bucket, prefix=prefix, recursive=True)))
        return iter(sorted(o.object_name for o in objs))

    def entries(self, prefix: str = "") -> Iterator[tuple[str, int, float]]:
        objs = self._call(lambda: list(self.client.list_objects(self.bucket, prefix=prefix, recursive=True)))
        now = time.time()       # a server that gives no time: the object counts as just written (kept longest)
        return iter(sorted((o.object_name, int(o.size or 0), o.last_modified.timestamp() if o.last_modified else now)
                           for o in objs))

    def url(self, key: str, method: str = "GET", expires: int = 600, filename: str | None = None,
            internal: bool = False, cache_control: str | None = None) -> str | None:
        headers = {}
        if filename and method == "GET":
            headers["response-content-disposition"] = f'attachment; filename="{filename}"'
        if cache_control and method == "GET":
            headers["response-cache-control"] = cache_control     # S3 answers with this Cache-Control
        headers = headers or None
        signer = self.client if internal else self.signer
        return self._call(signer.get_presigned_url, method, self.bucket, key,
                          expires=timedelta(seconds=expires), response_headers=headers)


class _ResponseFile(io.RawIOBase):
    """A file object over a urllib3 response that releases the connection on close."""

    def __init__(self, resp):
        self._resp = resp

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        data = self._resp.read(len(b))
        n = len(data)
        b[:n] = data
        return n

    def read(self, n: int = -1) -> bytes:
        return self._resp.read() if n is None or n < 0 else self._resp.read(n)

    def close(self) -> None:
        if not self.closed:
            try:
                self._resp.close()
                self._resp.release_conn()
            finally:
                super().close()
