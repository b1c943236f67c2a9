"""The upload as one operation of the registry: ``commit_upload`` finalizes the staged bytes in storage and
commits the file, idempotent per ``dist_id`` at every step (the gateway calls it once per client commit)."""
from __future__ import annotations

import logging
import time

from services.kernel import metrics
from services.kernel.errors import BadRequest, NotFound, PayloadTooLarge
from services.kernel.ports import UploadStorage

log = logging.getLogger("wharf.registry")
_REF = ("owner", "package", "version", "basename")


class UploadMethods:
    def commit_upload(self, dist_id: str, owner: str, package: str, version: str, basename: str,
                      storage: UploadStorage, actor: str = "system", correlation_id: str | None = None) -> dict:
        """Storage checks and stores the staged bytes (``finalize``), the registry commits the file; returns the
        file (``views.file_view``). The order is the consistency rule: bytes verified and stored under their
        content address first, then the event that names them.

        Idempotent per ``dist_id``, for a client retrying after the answer was lost: a stage already committed
        answers with the file it became (``committed_file``), finalizing nothing again; storage keeps the staged
        bytes until the registry has committed them (then ``drop_stage``), so a retry after a crash between the
        two finalizes the same bytes again and commits. A refusal by storage drops the stage (the bytes are not a
        package this upload may store): its retry gets 404. A refusal by the registry (a conflict, a lock, an
        expired stage) leaves the stage open with its bytes until it expires (then ``wharf gc`` removes both),
        so a retry is refused the same way; ``Unavailable`` keeps everything for the retry too."""
        started, outcome = time.perf_counter(), "error"
        ref = (owner, package, version, basename)
        try:
            try:
                staged = self.get_staged(dist_id)
            except NotFound:
                committed = self._committed_upload(dist_id, ref, storage)   # a retry of a commit that succeeded
                outcome = "ok"
                return committed
            if tuple(staged[k] for k in _REF) != ref:
                raise BadRequest("this dist_id was staged for another file")
            try:
                meta = storage.finalize(dist_id, owner, package, version, basename, staged["distribution_type"],
                                        staged.get("sha256"))
            except (BadRequest, PayloadTooLarge):
                self.discard_staged(dist_id)     # storage dropped the refused bytes: nothing is left staged
                raise
            except NotFound as no_bytes:   # never uploaded, or a concurrent commit of this stage just dropped them
                try:
                    committed = self._committed_upload(dist_id, ref, storage)
                except NotFound:
                    raise no_bytes from None
                outcome = "ok"
                return committed
            committed = self.commit(dist_id, meta, actor, correlation_id)
            _drop_stage(storage, dist_id)
            outcome = "ok"
            return committed
        finally:
            metrics.UPLOADS.labels(outcome).observe(time.perf_counter() - started)

    def _committed_upload(self, dist_id: str, ref: tuple, storage: UploadStorage) -> dict:
        """The file the commit of ``dist_id`` created (NotFound if it was not committed). Its staged bytes are
        dropped again: the crash that lost the first answer may have come before that."""
        committed = self.committed_file(dist_id)
        if tuple(committed[k] for k in _REF) != ref:
            raise BadRequest("this dist_id was staged for another file")
        _drop_stage(storage, dist_id)
        return committed


def _drop_stage(storage: UploadStorage, dist_id: str) -> None:
    """Delete the staged bytes of a committed upload. Best effort: the upload is committed, and bytes left behind
    are a closed stage's, which ``wharf gc`` deletes."""
    try:
        storage.drop_stage(dist_id)
    except Exception:  # noqa: BLE001
        log.warning("could not drop the staged bytes of %s", dist_id, exc_info=True)
