"""Moving an upload's bytes to storage: shared by the anaconda upload receiver and the PyPI legacy upload (twine).
Finalizing and committing them is one operation of the registry's (``commit_upload``)."""
from __future__ import annotations

from .adapters import blob_http


def stage_bytes(clients, dist_id: str, stream, size: int) -> None:
    """Hand an upload's bytes to storage: a presigned PUT to S3 (distributed) or in-process (embedded)."""
    url = clients.storage.staging_url(dist_id)
    if not url:
        clients.storage.put_staging(dist_id, stream, size)
        return
    blob_http.put(url, stream, size)
