"""Moving an upload's bytes to storage and committing it: shared by the anaconda upload receiver/commit and the
PyPI legacy upload (twine). The order is the consistency rule: bytes staged, then verified and stored under
their content address by storage, then the registry commits the event that names them."""
from __future__ import annotations

import logging
import time

from services.kernel import metrics
from services.kernel.errors import BadRequest, NotFound, PayloadTooLarge

from .adapters import blob_http

log = logging.getLogger("wharf.gateway")


def stage_bytes(clients, dist_id: str, stream, size: int) -> None:
    """Hand an upload's bytes to storage: a presigned PUT to S3 (distributed) or in-process (embedded)."""
    url = clients.storage.staging_url(dist_id)
    if not url:
        clients.storage.put_staging(dist_id, stream, size)
        return
    blob_http.put(url, stream, size)


def finalize_and_commit(clients, dist_id: str, owner: str, package: str, version: str, basename: str,
                        actor: str, correlation_id: str | None) -> dict:
    """Storage checks and stores the staged bytes (finalize), the registry commits the file; returns the file.

    Idempotent per ``dist_id``, for a client retrying after the answer was lost: a stage already committed
    answers with the file it became (``registry.committed_file``), finalizing nothing again; storage keeps the
    staged bytes until the registry has committed them (then ``drop_stage``), so a retry after a crash between
    the two finalizes the same bytes again and commits. A refusal by storage drops the stage (the bytes are not
    a package this upload may store): its retry gets 404. A refusal by the registry (a conflict, a lock, an
    expired stage) leaves the stage open with its bytes until it expires (then ``wharf gc`` removes both), so a
    retry is refused the same way; ``Unavailable`` keeps everything for the retry too."""
    started, outcome = time.perf_counter(), "error"
    ref = (owner, package, version, basename)
    try:
        try:
            staged = clients.registry.get_staged(dist_id)
        except NotFound:
            committed = _committed(clients, dist_id, ref)    # a retry of a commit that succeeded
            outcome = "ok"
            return committed
        if tuple(staged[k] for k in ("owner", "package", "version", "basename")) != ref:
            raise BadRequest("this dist_id was staged for another file")
        try:
            meta = clients.storage.finalize(dist_id, owner, package, version, basename,
                                            staged["distribution_type"], staged.get("sha256"))
        except (BadRequest, PayloadTooLarge):
            clients.registry.discard_staged(dist_id)   # storage dropped the refused bytes: nothing is left staged
            raise
        except NotFound:     # no bytes: never uploaded, or a concurrent commit of this stage has just dropped them
            committed = _committed_or_none(clients, dist_id, ref)
            if committed is None:
                raise
            outcome = "ok"
            return committed
        committed = clients.registry.commit(dist_id, meta, actor=actor, correlation_id=correlation_id)
        _drop_stage(clients, dist_id)
        outcome = "ok"
        return committed
    finally:
        metrics.UPLOADS.labels(outcome).observe(time.perf_counter() - started)


def _committed(clients, dist_id: str, ref: tuple) -> dict:
    """The file the commit of ``dist_id`` created (NotFound if it was not committed). Its staged bytes are
    dropped again: the crash that lost the first answer may have come before that."""
    committed = clients.registry.committed_file(dist_id)
    if tuple(committed[k] for k in ("owner", "package", "version", "basename")) != ref:
        raise BadRequest("this dist_id was staged for another file")
    _drop_stage(clients, dist_id)
    return committed


def _committed_or_none(clients, dist_id: str, ref: tuple) -> dict | None:
    try:
        return _committed(clients, dist_id, ref)
    except NotFound:
        return None


def _drop_stage(clients, dist_id: str) -> None:
    """Delete the staged bytes of a committed upload. Best effort: the upload is committed, and bytes left behind
    are a closed stage's, which ``wharf gc`` deletes."""
    try:
        clients.storage.drop_stage(dist_id)
    except Exception:  # noqa: BLE001
        log.warning("could not drop the staged bytes of %s", dist_id, exc_info=True)
