"""Moving an upload's bytes to storage and committing it: shared by the anaconda upload receiver/commit and the
PyPI legacy upload (twine). The order is the consistency rule: bytes staged, then verified and stored under
their content address by storage, then the registry commits the event that names them."""
from __future__ import annotations

import time

from services.kernel import metrics
from services.kernel.errors import BadRequest, PayloadTooLarge

from .adapters import blob_http


def stage_bytes(clients, dist_id: str, stream, size: int) -> None:
    """Hand an upload's bytes to storage: a presigned PUT to S3 (distributed) or in-process (embedded)."""
    url = clients.storage.staging_url(dist_id)
    if not url:
        clients.storage.put_staging(dist_id, stream, size)
        return
    blob_http.put(url, stream, size)


def finalize_and_commit(clients, dist_id: str, owner: str, package: str, version: str, basename: str,
                        actor: str, correlation_id: str | None) -> dict:
    started, outcome = time.perf_counter(), "error"
    try:
        staged = clients.registry.get_staged(dist_id)
        try:
            meta = clients.storage.finalize(dist_id, owner, package, version, basename,
                                            staged["distribution_type"], staged.get("sha256"))
        except (BadRequest, PayloadTooLarge):
            clients.registry.discard_staged(dist_id)   # storage dropped the refused bytes: nothing is left staged
            raise
        committed = clients.registry.commit(dist_id, meta, actor=actor, correlation_id=correlation_id)
        outcome = "ok"
        return committed
    finally:
        metrics.UPLOADS.labels(outcome).observe(time.perf_counter() - started)
