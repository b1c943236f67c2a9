"""``IndexerService``: the indexer's facade (ARCHITECTURE.md "IndexerService").

``handle`` applies registry events per stream strictly in sequence order, in one transaction with the stream
position (locked on PostgreSQL, so replicas never apply one stream concurrently) and the dirty marks (channels,
their package names, PyPI projects); ``publish_pending`` rebuilds each dirty channel subdir and each dirty PyPI
page once, however many events touched it (coalescing).
"""
from __future__ import annotations

import copy
import logging
import re

from marshmallow import ValidationError
from packaging.utils import canonicalize_name

from services.kernel.errors import BadRequest, Unavailable
from services.kernel.events import DATA_SCHEMAS, EnvelopeSchema, Event
from services.kernel.ports import EventPublisher

from ..domain.keys import AUDIENCES, ROOT, ChannelKey, ProjectKey, ShardChange, event_file_name
from ..domain.ports import LogReader, UnitOfWork
from ..domain.records import epoch_millis
from .handlers import apply
from .publishing import build_index_files, store_index_files
from .pypi_publishing import build_pages
from .shard_publishing import rebuild_shards, shard_indexes

log = logging.getLogger("wharf.indexer")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def parse_event(wire: dict) -> Event:
    """``Event.from_wire``; an event of a type this kernel does not know (a newer registry) is returned with its
    raw data so its sequence can still be consumed. Invalid data of a known type is a ``BadRequest``."""
    try:
        return Event.from_wire(wire)
    except BadRequest:
        try:
            env = EnvelopeSchema().load(wire)
        except ValidationError as exc:
            raise BadRequest(f"invalid event envelope: {exc.messages}")
        if env["type"] in DATA_SCHEMAS:
            raise
        return Event(**env)


def _no_log(stream_id: str, after_sequence: int) -> list:
    return []


def _audience(audience: str) -> str:
    if audience not in AUDIENCES:
        raise BadRequest(f"unknown audience {audience!r}")
    return audience


class IndexerService:
    def __init__(self, uow: UnitOfWork, blobs, publisher: EventPublisher | None = None,
                 log_reader: LogReader | None = None):
        self.uow = uow
        self.blobs = blobs
        self.publisher = publisher
        self.log_reader = log_reader or _no_log

    def with_log_reader(self, log_reader: LogReader) -> "IndexerService":
        """The same service reading missing events through another port (nameko binds its RPC proxy per worker)."""
        clone = copy.copy(self)
        clone.log_reader = log_reader
        return clone

    # ------------------------------------------------------------------------------------------------ events
    def handle(self, event_wire: dict) -> None:
        event = parse_event(event_wire)
        with self.uow.begin() as repo:
            last = repo.lock_stream(event.stream_id)
            if event.sequence <= last:
                return      # duplicate delivery (at-least-once), already applied
            todo = self._missing(event, last) if event.sequence > last + 1 else []
            touched: set = set()
            stamps: dict[ChannelKey, tuple[int, int]] = {}   # newest occurred_at per channel: (any, public)
            for ev in todo + [event]:
                keys = apply(repo, ev)
                when = epoch_millis(ev.occurred_at) if keys else 0
                for k in keys:
                    if isinstance(k, ShardChange):
                        anyone, public = stamps.get(k.channel, (0, 0))
                        stamps[k.channel] = (max(anyone, when), max(public, when) if k.public else public)
                touched |= keys
            repo.set_stream(event.stream_id, event.sequence)
            repo.mark_dirty(stamps)
            repo.mark_names_dirty(k.shard for k in touched if isinstance(k, ShardChange))
            repo.mark_projects_dirty(k for k in touched if isinstance(k, ProjectKey))

    def _missing(self, event: Event, last: int) -> list[Event]:
        """Events last+1 .. event.sequence-1 of the stream, read from the registry's log."""
        out: list[Event] = []
        after = last
        while after < event.sequence - 1:
            progressed = False
            for wire in self.log_reader(event.stream_id, after):
                ev = parse_event(wire)
                if ev.stream_id != event.stream_id or ev.sequence <= after:
                    continue
                if ev.sequence != after + 1:
                    raise Unavailable(f"log of {event.stream_id} skips from {after} to {ev.sequence}")
                if ev.sequence >= event.sequence:
                    break
                out.append(ev)
                after, progressed = ev.sequence, True
            if not progressed and after < event.sequence - 1:
                raise Unavailable(f"events {after + 1}..{event.sequence - 1} of {event.stream_id} "
                                  "are not readable from the registry yet")
        return out

    # ---------------------------------------------------------------------------------------------- publishing
    def publish_pending(self) -> list[dict]:
        with self.uow.begin() as repo:
            work = repo.dirty()      # generations are read before the files they cover
            pages = repo.pypi_dirty()
        published = []
        for key, generation in work:
            published.extend(self._publish_one(key, generation))
        for key, generation in pages:
            published.extend(self._publish_page(key, generation))
        return published

    def _publish_one(self, key: ChannelKey, generation: int) -> list[dict]:
        with self.uow.begin() as repo:
            names = repo.dirty_names(key)      # read before the shard map: see ShardMixin / docs
            entries = repo.index_entries(key)
            rows = repo.shard_entries(key, names)
            current = {audience: repo.shard_map(key, audience) for audience in AUDIENCES}
            changed_at = repo.changed_at(key)
        files = build_index_files(key, entries)
        updates = rebuild_shards(self.blobs, names, rows)          # shards first, then the index naming them
        for audience, extra in shard_indexes(key, changed_at, current, updates).items():
            files[audience].update(extra)
        pointers = store_index_files(self.blobs, files)
        with self.uow.begin() as repo:
            if not repo.flip(key, generation, pointers, updates):
                return []    # another replica published this state or a newer one
        data = [{"owner": key.owner, "label": key.label, "subdir": key.subdir,
                 "files": {event_file_name(aud, fn): p for fn, p in sorted(pointers[aud].items())}}
                for aud in AUDIENCES]
        self._announce(data, lambda repo: repo.mark_dirty([key]))
        log.info("published %s/%s/%s generation %d (%d files, %d shards rebuilt)", *key, generation,
                 len(entries), len(names))
        return data

    def _publish_page(self, key: ProjectKey, generation: int) -> list[dict]:
        with self.uow.begin() as repo:
            pages = build_pages(repo, key)
        pointers = store_index_files(self.blobs, pages)
        with self.uow.begin() as repo:
            if not repo.pypi_flip(key, generation, pointers):
                return []
        data = [{"owner": key.owner, "label": key.label, "subdir": key.subdir,
                 "files": {event_file_name(aud, fn): p for fn, p in sorted(pointers.get(aud, {}).items())}}
                for aud in AUDIENCES]
        self._announce(data, lambda repo: repo.mark_projects_dirty([key]))
        log.info("published %s/%s/%s generation %d", key.owner, key.label, key.subdir, generation)
        return data

    def _announce(self, data: list[dict], redo) -> None:
        if self.publisher is None:
            return
        try:
            self.publisher.publish([Event.new("index_published", d["owner"], d) for d in data])
        except Unavailable:
            with self.uow.begin() as repo:   # rebuild (same bytes, no writes) and announce next round
                redo(repo)
            raise

    def publish_all(self) -> list[dict]:
        with self.uow.begin() as repo:
            names = repo.conda.all_touched()
            repo.mark_dirty({k.channel for k in names})
            repo.mark_names_dirty(k.shard for k in names)
            repo.mark_projects_dirty(repo.pypi_keys_with_files())
        return self.publish_pending()

    # ---------------------------------------------------------------------------------------------- queries
    def get_index(self, owner: str, label: str, subdir: str, audience: str) -> dict | None:
        """``{"files": {"repodata.json" | "repodata.json.zst" | "repodata_shards.msgpack.zst": {key, sha256,
        size}}}`` of the channel subdir for ``audience``, or None."""
        with self.uow.begin() as repo:
            files = repo.get_index(ChannelKey(owner.lower(), label, subdir), _audience(audience))
        return {"files": files} if files else None

    def get_shard(self, owner: str, label: str, subdir: str, audience: str, sha256: str) -> dict | None:
        """``{key, sha256, size}`` of the shard ``<sha256>.msgpack.zst`` if the channel's current shard index
        for ``audience`` lists it, else None (a private shard is never readable through ``public``)."""
        _audience(audience)
        if not isinstance(sha256, str) or not _SHA256.match(sha256):
            return None
        with self.uow.begin() as repo:
            return repo.get_shard(ChannelKey(owner.lower(), label, subdir), audience, sha256)

    def lookup_file(self, owner: str, label: str, subdir: str, filename: str, audience: str) -> dict | None:
        """The package file ``filename`` as the channel lists it for ``audience`` (the index a reader sees):
        ``{package, version, basename, sha256, size, blob_key}`` or None."""
        with self.uow.begin() as repo:
            return repo.lookup_file(ChannelKey(owner.lower(), label, subdir), filename, _audience(audience) == "public")

    def list_subdirs(self, owner: str, label: str) -> list[str]:
        with self.uow.begin() as repo:
            return repo.subdirs(owner.lower(), label)

    def get_pypi_page(self, owner: str, label: str, project: str | None, audience: str) -> dict | None:
        """``{"files": {"simple.json": {key, sha256, size}, "simple.html": {...}}}`` of a project's simple page
        (``project`` is canonicalized) or, for ``project=None``, of the label's project list; None if absent."""
        name = ROOT if project is None else canonicalize_name(project)
        if project is not None and not name:
            return None
        with self.uow.begin() as repo:
            files = repo.get_pypi_page(ProjectKey(owner.lower(), label, name), _audience(audience))
        return {"files": files} if files else None

    def lookup_pypi_file(self, owner: str, label: str, filename: str, audience: str) -> dict | None:
        """A wheel or sdist of the label visible to ``audience``: ``{package, version, basename, project, sha256,
        size, blob_key, core_metadata_key, core_metadata_sha256}`` (core metadata None for sdists) or None."""
        with self.uow.begin() as repo:
            return repo.lookup_pypi_file(owner.lower(), label, filename, _audience(audience) == "public")

    def reset(self) -> None:
        with self.uow.begin() as repo:
            repo.reset()
