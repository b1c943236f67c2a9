"""RegistryService: the registry's facade (one method per RPC call). Contract: ARCHITECTURE.md "RegistryService".

Every command runs in one unit of work: lock the owner's stream, load state, decide (``domain.commands``),
append the events to the log and project them onto the read tables, commit. A command that raises appends
nothing and changes nothing. Losing a race on a stream (``StaleStream``) retries the whole command.
"""
from __future__ import annotations

import json
import logging
import random
import threading
import time
from typing import Callable

from services.kernel import metrics, names
from services.kernel.errors import Conflict, NotFound, Unavailable, WharfError
from services.kernel.ports import EventPublisher

from ..domain import commands, locks, staging, views
from ..domain.errors import StaleStream
from .collaborators import CollaboratorMethods
from .collection import CollectionMethods
from .copying import CopyMethods
from .labels import LabelMethods
from .search import SearchMethods, grouped_by_package
from .uploads import UploadMethods

log = logging.getLogger("wharf.registry")
MAX_ATTEMPTS = 20
COMMITTED_STAGE_RETENTION = 86400.0   # seconds a retried commit of a dist_id still gets the file it created


class _StagedMoved(Exception):
    """The staged row changed owner (package transfer) between reading it and locking its stream."""


class _StageClosed(Exception):
    """The stage was committed (or discarded) by someone else while this commit waited for the stream lock."""


def _visible(pkg: dict | None, owner: str, package: str, private_ok: bool) -> dict:
    if pkg is None or (not pkg["public"] and not private_ok):
        raise NotFound(f"package {owner}/{package} not found")
    return pkg


class RegistryService(LabelMethods, CollaboratorMethods, CopyMethods, SearchMethods, CollectionMethods,
                      UploadMethods):
    """The registry facade. Label, collaborator, copy/transfer, search, gc and upload methods come from the mixins
    in service_layer/ (labels.py, collaborators.py, copying.py, search.py, collection.py, uploads.py)."""

    def __init__(self, uow_factory: Callable, publisher: EventPublisher | None = None,
                 on_commit: Callable[[], None] | None = None, stage_ttl: float = 21600, max_staged: int = 20,
                 clock: Callable[[], float] = time.time):
        self._uow = uow_factory
        self._publisher = publisher
        self._on_commit = on_commit
        self.stage_ttl, self.max_staged = stage_ttl, max_staged     # domain/staging.py
        self._clock = clock
        self._relay_turn = threading.Lock()     # one relay round at a time in this process

    # ------------------------------------------------------------------------------------------ plumbing
    def _command(self, stream_id: str | tuple, decide: Callable, result: Callable | None = None):
        """Run ``decide(uow) -> [Event]`` and ``result(uow)`` in one transaction, retrying lost races.
        ``stream_id`` may be several streams (copy and transfer across owners): they are locked in sorted order,
        so two commands on the same pair of owners cannot deadlock. Events that would change a locked label
        are refused (``domain.locks``) before anything is appended."""
        streams = sorted({stream_id} if isinstance(stream_id, str) else set(stream_id))
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                with self._uow() as uow:
                    for sid in streams:
                        uow.lock_stream(sid)
                    new_events = decide(uow)
                    if new_events:
                        self._check_locks(uow, new_events)
                        uow.append(new_events)
                    out = result(uow) if result is not None else None
                    uow.commit()
                break
            except StaleStream:
                if attempt == MAX_ATTEMPTS:
                    raise Conflict("too many concurrent changes to this namespace; try again")
                time.sleep(random.uniform(0, 0.01 * attempt))
        for ev in new_events or ():
            metrics.EVENTS_RECORDED.labels(ev.type).inc()
            log.info("recorded %s in %s", ev.type, ev.stream_id, extra={"correlation_id": ev.correlation_id})
        if new_events and self._on_commit is not None:
            try:
                self._on_commit()
            except Exception:  # noqa: BLE001 - waking the relay must never fail a committed command
                log.exception("on_commit callback failed")
        return out

    @staticmethod
    def _check_locks(uow, new_events) -> None:
        def file_labels(owner, package, version, basename):
            f = uow.repo.file(owner, package, version, basename)
            return f["labels"] if f is not None else []
        locks.check(new_events, uow.repo.locked_labels, file_labels, uow.repo.files)

    def _query(self, fn: Callable):
        with self._uow() as uow:
            return fn(uow)

    @staticmethod
    def _counted(uow, files: list[dict]) -> list[dict]:
        counts = uow.repo.download_counts([f["file_id"] for f in files])
        for f in files:
            f["ndownloads"] = counts.get(f["file_id"], 0)
        return files

    @classmethod
    def _detail(cls, uow, pkg: dict) -> dict:
        return views.package_detail(pkg, uow.repo.releases(pkg["owner"], pkg["name"]),
                                    cls._counted(uow, uow.repo.files(pkg["owner"], pkg["name"])))

    @classmethod
    def _release(cls, uow, pkg: dict, version: str) -> dict:
        rel = uow.repo.release(pkg["owner"], pkg["name"], version)
        if rel is None:
            raise NotFound(f"release {pkg['owner']}/{pkg['name']}/{version} not found")
        return views.release_view(pkg, rel, cls._counted(uow, uow.repo.files(pkg["owner"], pkg["name"], version)))

    # ------------------------------------------------------------------------------------------ packages
    def get_package(self, owner: str, package: str, private_ok: bool = False) -> dict:
        owner, package = names.owner(owner), names.package(package)
        return self._query(lambda uow: self._detail(
            uow, _visible(uow.repo.package(owner, package), owner, package, private_ok)))

    def list_packages(self, owner: str, private_ok: bool = False, viewer: str | None = None,
                      extra_packages=()) -> list[dict]:
        """Summaries of the owner's packages: public ones, plus every private one when ``private_ok``, else the
        private ones ``viewer`` collaborates on and those named in ``extra_packages`` (package names)."""
        owner = names.owner(owner)
        extra = {p for p in (extra_packages or ()) if isinstance(p, str)}

        def q(uow):
            allowed = extra | ({p for o, p in uow.repo.collaborations(names.login(viewer), owner)}
                               if viewer else set())
            rels, fls = grouped_by_package(uow, owner)
            return [views.package_summary(p, rels.get(p["name"], []), fls.get(p["name"], []))
                    for p in uow.repo.packages(owner) if p["public"] or private_ok or p["name"] in allowed]
        return self._query(q)

    def create_package(self, owner: str, package: str, public: bool = True, public_attrs: dict | None = None,
                       actor: str = "system", correlation_id: str | None = None) -> dict:
        owner, package = names.owner(owner), names.package(package)
        return self._command(
            owner,
            lambda uow: commands.create_package(uow.repo.package(owner, package), owner, package, public,
                                                public_attrs, actor, correlation_id),
            lambda uow: self._detail(uow, uow.repo.package(owner, package)))

    def update_package(self, owner: str, package: str, changes: dict, actor: str = "system",
                       correlation_id: str | None = None) -> dict:
        owner, package = names.owner(owner), names.package(package)
        return self._command(
            owner,
            lambda uow: commands.update_package(uow.repo.package(owner, package), changes, actor, correlation_id),
            lambda uow: self._detail(uow, uow.repo.package(owner, package)))

    def remove_package(self, owner: str, package: str, actor: str = "system",
                       correlation_id: str | None = None) -> None:
        owner, package = names.owner(owner), names.package(package)
        self._command(owner, lambda uow: commands.remove_package(
            uow.repo.package(owner, package), uow.repo.releases(owner, package), uow.repo.files(owner, package),
            actor, correlation_id))

    # ------------------------------------------------------------------------------------------ releases
    def get_release(self, owner: str, package: str, version: str, private_ok: bool = True) -> dict:
        owner, package, version = names.owner(owner), names.package(package), names.version(version)
        return self._query(lambda uow: self._release(
            uow, _visible(uow.repo.package(owner, package), owner, package, private_ok), version))

    def create_release(self, owner: str, package: str, version: str, attrs: dict | None = None,
                       actor: str = "system", correlation_id: str | None = None) -> dict:
        owner, package, version = names.owner(owner), names.package(package), names.version(version)
        return self._command(
            owner,
            lambda uow: commands.create_release(uow.repo.package(owner, package),
                                                uow.repo.release(owner, package, version), version, attrs,
                                                actor, correlation_id),
            lambda uow: self._release(uow, uow.repo.package(owner, package), version))

    def update_release(self, owner: str, package: str, version: str, attrs: dict, actor: str = "system",
                       correlation_id: str | None = None) -> dict:
        owner, package, version = names.owner(owner), names.package(package), names.version(version)
        return self._command(
            owner,
            lambda uow: commands.update_release(uow.repo.package(owner, package),
                                                uow.repo.release(owner, package, version), attrs, actor,
                                                correlation_id),
            lambda uow: self._release(uow, uow.repo.package(owner, package), version))

    def remove_release(self, owner: str, package: str, version: str, actor: str = "system",
                       correlation_id: str | None = None) -> None:
        owner, package, version = names.owner(owner), names.package(package), names.version(version)
        self._command(owner, lambda uow: commands.remove_release(
            uow.repo.package(owner, package), uow.repo.release(owner, package, version),
            uow.repo.files(owner, package, version), actor, correlation_id))

    # ------------------------------------------------------------------------------------------ files
    def get_file(self, owner: str, package: str, version: str, basename: str, private_ok: bool = True) -> dict:
        owner, package = names.owner(owner), names.package(package)
        version, basename = names.version(version), names.basename(basename)

        def q(uow):
            pkg = _visible(uow.repo.package(owner, package), owner, package, private_ok)
            f = uow.repo.file(owner, package, version, basename)
            if f is None:
                raise NotFound(f"file {owner}/{package}/{version}/{basename} not found")
            return views.file_view(pkg, self._counted(uow, [f])[0])
        return self._query(q)

    def stage(self, owner: str, package: str, version: str, basename: str, distribution_type: str,
              sha256: str | None = None, labels: list | None = None, attrs: dict | None = None,
              dependencies=None, description: str | None = None, actor: str = "system") -> dict:
        owner, package = names.owner(owner), names.package(package)
        version, basename = names.version(version), names.basename(basename)

        def decide(uow):
            row = commands.stage(uow.repo.package(owner, package), uow.repo.release(owner, package, version),
                                 uow.repo.file(owner, package, version, basename), basename, distribution_type,
                                 sha256, labels, attrs, dependencies, description, actor)
            locks.check_new_labels(owner, row["labels"] or ["main"], uow.repo.locked_labels(owner))
            now = self._clock()
            row["created_at"] = staging.iso(now)      # the clock that also decides when it expires
            staging.check_room(uow.repo.stage_times(actor, staging.iso(now - self.stage_ttl)), self.max_staged,
                               self.stage_ttl, now)
            uow.repo.add_staged(row)
            return {"dist_id": row["dist_id"]}
        with self._uow() as uow:
            out = decide(uow)
            uow.commit()
        return out

    def get_staged(self, dist_id: str) -> dict:
        """The open staged upload (owner, package, version, basename, distribution_type, sha256, labels, ...);
        ``StageExpired`` (410) once it is older than the stage TTL."""
        staged = self._query(lambda uow: uow.repo.staged(dist_id)) if isinstance(dist_id, str) else None
        if staged is None:
            raise NotFound(f"no staged upload {dist_id!r}")
        return staging.check_open(staged, self.stage_ttl, self._clock())

    def discard_staged(self, dist_id: str) -> None:
        """Forget a stage whose bytes storage refused (the upload can only start over); no event."""
        if not isinstance(dist_id, str):
            return
        with self._uow() as uow:
            uow.repo.delete_staged(dist_id)
            uow.commit()

    def commit(self, dist_id: str, blob_meta: dict, actor: str = "system",
               correlation_id: str | None = None) -> dict:
        """Record the staged upload as a file (``file_uploaded``) with storage's ``blob_meta``; returns the file
        (``views.file_view``). Idempotent per ``dist_id``: once the stage is committed, committing it again (a
        client retrying after the answer was lost) returns the file that commit created and records nothing
        (``committed_file``). Refused (expired stage, package or release gone, ...): its blobs are recorded as
        released, so ``wharf gc`` may reclaim them and ``wharf verify`` knows where they came from; the stage
        stays until it expires."""
        try:
            return self._commit(dist_id, blob_meta, actor, correlation_id)
        except Unavailable:
            raise
        except WharfError:
            self._release_refused(blob_meta)
            raise

    def _commit(self, dist_id: str, blob_meta: dict, actor: str, correlation_id: str | None) -> dict:
        for _ in range(MAX_ATTEMPTS):
            try:
                staged = self.get_staged(dist_id)
            except NotFound:
                return self.committed_file(dist_id)
            owner, package, version, basename = (staged[k] for k in ("owner", "package", "version", "basename"))

            def decide(uow):
                current = uow.repo.staged(dist_id)
                if current is None:  # committed by someone else while we waited for the stream lock
                    raise _StageClosed()
                if current["owner"] != owner:  # its package was transferred meanwhile: lock the new owner
                    raise _StagedMoved()
                staging.check_open(current, self.stage_ttl, self._clock())
                out = commands.commit(current, uow.repo.package(owner, package),
                                      uow.repo.release(owner, package, version),
                                      uow.repo.file(owner, package, version, basename), blob_meta, actor,
                                      correlation_id)
                now = self._clock()
                uow.repo.commit_staged(dist_id, out[0].event_id, staging.iso(now),
                                       staging.iso(now - COMMITTED_STAGE_RETENTION))
                return out
            try:
                return self._command(owner, decide, lambda uow: views.file_view(
                    uow.repo.package(owner, package), uow.repo.file(owner, package, version, basename)))
            except _StagedMoved:
                continue
            except _StageClosed:
                return self.committed_file(dist_id)
        raise Conflict("the staged upload keeps moving; try again")

    def committed_file(self, dist_id: str) -> dict:
        """The file that committing the stage ``dist_id`` created, as ``commit`` returned it. ``NotFound`` when
        ``dist_id`` was not committed (never staged, still open, discarded, or committed more than
        COMMITTED_STAGE_RETENTION ago) or its file has been removed since."""
        def q(uow):
            done = uow.repo.committed_stage(dist_id) if isinstance(dist_id, str) else None
            if done is None:
                raise NotFound(f"no staged upload {dist_id!r}")
            pkg = uow.repo.package(done["owner"], done["package"])
            f = uow.repo.file(done["owner"], done["package"], done["version"], done["basename"])
            if pkg is None or f is None or f["file_id"] != done["file_id"]:
                raise NotFound(f"the file committed from {dist_id!r} has been removed since")
            return views.file_view(pkg, f)
        return self._query(q)

    def remove_file(self, owner: str, package: str, version: str, basename: str, actor: str = "system",
                    correlation_id: str | None = None) -> dict:
        """Remove one file; returns it as it was."""
        owner, package = names.owner(owner), names.package(package)
        version, basename = names.version(version), names.basename(basename)
        removed = {}

        def decide(uow):
            pkg, f = uow.repo.package(owner, package), uow.repo.file(owner, package, version, basename)
            out = commands.remove_file(pkg, f, actor, correlation_id)
            removed.update(views.file_view(pkg, f))
            return out
        self._command(owner, decide)
        return removed

    def count_download(self, owner: str, package: str, version: str, basename: str) -> bool:
        """Count one download of a file (the gateway calls this when it serves the file's bytes). Not an event:
        a counter beside the read tables. False when no such file exists (nothing counted)."""
        owner, package = names.owner(owner), names.package(package)
        version, basename = names.version(version), names.basename(basename)
        for attempt in (1, 2):
            try:
                with self._uow() as uow:
                    f = uow.repo.file(owner, package, version, basename)
                    if f is None:
                        return False
                    uow.repo.count_download(f["file_id"])
                    uow.commit()
                return True
            except StaleStream:  # two first downloads raced on the INSERT: the second one updates
                if attempt == 2:
                    raise Conflict("download counter busy; try again")
        return False

    # ------------------------------------------------------------------------------------------ the log
    def read_stream(self, stream_id: str, after_sequence: int = 0, limit: int = 1000) -> list[dict]:
        return self._query(lambda uow: uow.read_stream(stream_id, int(after_sequence), int(limit)))

    def package_history(self, owner: str, package: str, limit: int = 200) -> list[dict]:
        """The events of ``owner``'s stream that name ``package`` (its own events, and label events listing its
        files), newest first, at most ``limit`` (wire dicts), of the package as it exists now only: a package of
        the same name that was deleted (or transferred away) before this one was created is another package,
        whose events may have been private. Visibility of this one is the caller's business."""
        owner, package = names.owner(owner), names.package(package)

        def mentions(ev: dict) -> bool:
            data = ev.get("data") or {}
            if data.get("package") == package:
                return True
            return any(isinstance(f, dict) and f.get("package") == package for f in data.get("files") or [])
        found = self._query(lambda uow: uow.read_stream_mentioning(owner, json.dumps(package)))
        current = []
        for ev in reversed(found):
            if not mentions(ev):
                continue
            if ev["type"] in ("package_removed", "package_transferred") and ev["data"].get("package") == package:
                break                   # the end of an earlier package of this name in this namespace
            current.append(ev)
            if ev["type"] in ("package_created", "package_received") and ev["data"].get("package") == package:
                break                   # its beginning
        return current[:max(0, int(limit))]

    def read_log(self, after_position: int = 0, limit: int = 1000) -> list[dict]:
        return self._query(lambda uow: uow.read_log(int(after_position), int(limit)))

    def stream_heads(self) -> dict[str, int]:
        """stream_id -> last sequence of every stream of the log (one query of one row per stream): what an
        indexer compares with its positions to catch up (``IndexerService.catch_up``)."""
        return self._query(lambda uow: uow.stream_heads())

    def relay_pending(self, limit: int = 500) -> int:
        """Publish the oldest unpublished events, in log order, through the EventPublisher; mark them relayed
        only once it returned, which it does once the events are durably queued (RabbitMQ: the broker confirmed
        the persistent messages) or, with the in-memory bus, applied by every consumer. Returns how many were
        relayed (0 when the transport is unavailable: they stay pending for the next round).

        The claimed rows stay locked while they are published, so other relays skip them and events leave once
        and in order. Except with a publisher that waits for its consumers (the in-memory bus waits for the
        indexer, which reads the registry's log to fill gaps and catch up) on SQLite, where a transaction holds
        the whole database even to read: there the claim is read, published and marked in two transactions.
        That is the embedded mode, one process, whose relays take turns (``_relay_turn``)."""
        if self._publisher is None:
            raise RuntimeError("RegistryService has no EventPublisher: pass publisher= to bootstrap()")
        with self._relay_turn:
            with self._uow() as uow:
                claimed = uow.claim_unpublished(int(limit))
                held = not (uow.holds_database and getattr(self._publisher, "waits_for_consumers", False))
                if claimed and held:
                    if not self._publish(claimed):
                        return 0
                    uow.mark_published([pos for pos, _ev in claimed])
                    uow.commit()
            if not claimed:
                return 0
            if not held:
                if not self._publish(claimed):
                    return 0
                with self._uow() as uow:
                    uow.mark_published([pos for pos, _ev in claimed])
                    uow.commit()
        metrics.EVENTS_RELAYED.inc(len(claimed))
        return len(claimed)

    def _publish(self, claimed: list) -> bool:
        try:
            self._publisher.publish([ev for _pos, ev in claimed])
        except Unavailable as exc:
            log.warning("relay: %s; %d events stay pending", exc, len(claimed))
            return False
        return True

    def verify_inventory(self) -> dict:
        """Read-only facts for ``wharf verify``: every file record's blob references, the head sequence of each
        stream, how many events wait for the relay and which uploads are staged."""
        def q(uow):
            return {"files": uow.repo.file_refs(), "streams": uow.log.stream_heads(),
                    "unpublished": uow.count_unpublished(), "staged": uow.repo.staged_ids()}
        return self._query(q)

    def rebuild_projections(self, each_page=None) -> int:
        """Empty the read tables and re-apply the whole log; returns the number of events applied.
        ``each_page(events, text)`` receives each page of validated events as it is applied, with the log's
        text of the page (see ``SqlUnitOfWork.rebuild``, ``wharf replay``)."""
        with self._uow() as uow:
            count = uow.rebuild(each_page=each_page)
            uow.commit()
        return count
