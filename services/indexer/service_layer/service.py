"""``IndexerService``: the indexer's facade (ARCHITECTURE.md "IndexerService").

``handle`` applies registry events per stream strictly in sequence order, in one transaction with the stream
position (locked on PostgreSQL, so replicas never apply one stream concurrently) and the dirty marks;
``publish_pending`` rebuilds each dirty channel subdir once, however many events touched it (coalescing).
"""
from __future__ import annotations

import copy
import logging

from marshmallow import ValidationError

from services.kernel.errors import BadRequest, Unavailable
from services.kernel.events import DATA_SCHEMAS, EnvelopeSchema, Event
from services.kernel.ports import EventPublisher

from ..domain.keys import AUDIENCES, ChannelKey, event_file_name
from ..domain.ports import LogReader, UnitOfWork
from .handlers import apply
from .publishing import build_index_files, store_index_files

log = logging.getLogger("wharf.indexer")


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
            affected: set[ChannelKey] = set()
            for ev in todo + [event]:
                affected |= apply(repo, ev)
            repo.set_stream(event.stream_id, event.sequence)
            repo.mark_dirty(affected)

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
        published = []
        for key, generation in work:
            data = self._publish_one(key, generation)
            published.extend(data)
        return published

    def _publish_one(self, key: ChannelKey, generation: int) -> list[dict]:
        with self.uow.begin() as repo:
            entries = repo.index_entries(key)
        pointers = store_index_files(self.blobs, build_index_files(key, entries))
        with self.uow.begin() as repo:
            if not repo.flip(key, generation, pointers):
                return []    # another replica published this state or a newer one
        data = [{"owner": key.owner, "label": key.label, "subdir": key.subdir,
                 "files": {event_file_name(aud, fn): p for fn, p in sorted(pointers[aud].items())}}
                for aud in AUDIENCES]
        if self.publisher is not None:
            try:
                self.publisher.publish([Event.new("index_published", key.owner, d) for d in data])
            except Unavailable:
                with self.uow.begin() as repo:   # rebuild (same bytes, no writes) and announce next round
                    repo.mark_dirty([key])
                raise
        log.info("published %s/%s/%s generation %d (%d files)", *key, generation, len(entries))
        return data

    def publish_all(self) -> list[dict]:
        with self.uow.begin() as repo:
            repo.mark_dirty(repo.channels_with_files())
        return self.publish_pending()

    # ---------------------------------------------------------------------------------------------- queries
    def get_index(self, owner: str, label: str, subdir: str, audience: str) -> dict | None:
        if audience not in AUDIENCES:
            raise BadRequest(f"unknown audience {audience!r}")
        with self.uow.begin() as repo:
            files = repo.get_index(ChannelKey(owner.lower(), label, subdir), audience)
        return {"files": files} if files else None

    def lookup_file(self, owner: str, label: str, subdir: str, filename: str, audience: str) -> dict | None:
        """The package file ``filename`` as the channel lists it for ``audience`` (the index a reader sees):
        ``{package, version, basename, sha256, size, blob_key}`` or None."""
        if audience not in AUDIENCES:
            raise BadRequest(f"unknown audience {audience!r}")
        with self.uow.begin() as repo:
            return repo.lookup_file(ChannelKey(owner.lower(), label, subdir), filename, audience == "public")

    def list_subdirs(self, owner: str, label: str) -> list[str]:
        with self.uow.begin() as repo:
            return repo.subdirs(owner.lower(), label)

    def reset(self) -> None:
        with self.uow.begin() as repo:
            repo.reset()
