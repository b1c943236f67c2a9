"""``IndexerService``: the indexer's facade (ARCHITECTURE.md "IndexerService").

``handle`` applies registry events per stream strictly in sequence order, in one transaction with the stream
position (locked on PostgreSQL, so replicas never apply one stream concurrently) and the dirty marks (channels,
their package names, PyPI projects); ``publish_pending`` rebuilds each dirty channel subdir and each dirty PyPI
page once, however many events touched it (coalescing).
"""
from __future__ import annotations

import copy
import logging
import os
import re
import socket

from marshmallow import ValidationError
from packaging.utils import canonicalize_name

from services.kernel import context, metrics
from services.kernel.errors import BadRequest, Unavailable
from services.kernel.clock import SYSTEM_CLOCK
from services.kernel.events import DATA_SCHEMAS, EnvelopeSchema, Event, NewerVersion, check_version
from services.kernel.ports import Clock, EventPublisher

from ..domain.keys import AUDIENCES, REPODATA, ROOT, ChannelKey, ProjectKey, ShardChange, event_file_name
from ..domain.ports import LogReader, UnitOfWork
from ..domain.records import epoch_millis
from .dead_letters import Unreadable, cut
from .handlers import HANDLERS, apply, fresh_uploads
from .channel_rows import MAX_CACHED_ROWS, ChannelRows, RowsCache
from .publishing import build_index_files, store_index_files
from .pypi_publishing import build_pages
from .shard_publishing import merged_shard_maps, rebuild_shards, shard_indexes

log = logging.getLogger("wharf.indexer")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
CATCH_UP_LAG = 1.0     # seconds: an event delivered this long after its commit means the queue is behind
CATCH_UP_MAX = 1000    # events read ahead at most per delivery (the registry's read_stream page)
_ENVELOPE = EnvelopeSchema()


class _Stages:
    """Durations of the stages of one publish: observed in ``PUBLISH_STAGE`` and shown in the publish log line."""

    def __init__(self, clock: Clock):
        self.clock = clock
        self.t = clock.monotonic()
        self.took: dict[str, float] = {}

    def done(self, stage: str) -> None:
        now = self.clock.monotonic()
        self.took[stage] = now - self.t
        self.t = now
        metrics.PUBLISH_STAGE.labels(stage).observe(self.took[stage])

    def __str__(self) -> str:
        return " ".join(f"{k} {v:.3f}s" for k, v in self.took.items())


def parse_event(wire: dict) -> Event:
    """``Event.from_wire``; an event of a type this kernel does not know (a newer registry) is returned with its
    raw data so its sequence can still be consumed. Invalid data of a known type, or a version of a known type
    newer than this code's, is ``Unreadable`` (its stream is stopped there: dead_letters.py); an invalid
    envelope is a ``BadRequest``. The data of a type no indexer handler reads (package and release creation,
    ...) is not validated: only its stream and sequence matter here (its version still must be known)."""
    if isinstance(wire, dict) and wire.get("type") not in HANDLERS:
        try:
            env = _ENVELOPE.load(wire)
        except ValidationError as exc:
            raise BadRequest(f"invalid event envelope: {exc.messages}")
        try:
            check_version(env["type"], env["version"])
        except NewerVersion as exc:
            raise Unreadable(env, wire, exc) from None
        return Event(**env)
    try:
        return Event.from_wire(wire)
    except BadRequest as exc:
        try:
            env = EnvelopeSchema().load(wire)
        except ValidationError as bad:
            raise BadRequest(f"invalid event envelope: {bad.messages}")
        if env["type"] in DATA_SCHEMAS:
            raise Unreadable(env, wire, exc) from None
        return Event(**env)


def _stamp(stamps: dict, keys: set, ev: Event) -> None:
    """Keep per channel the newest ``occurred_at`` of the events touching it: (any file, a public file)."""
    when = epoch_millis(ev.occurred_at) if keys else 0
    for k in keys:
        if isinstance(k, ShardChange):
            anyone, public = stamps.get(k.channel, (0, 0))
            stamps[k.channel] = (max(anyone, when), max(public, when) if k.public else public)


def _apply_in_order(repo, events: list[Event]) -> tuple[set, dict[ChannelKey, tuple[int, int]]]:
    """Apply ``events`` in order: runs of uploads of files the indexer does not hold yet in bulk
    (``fresh_uploads``: the same rows and keys as one by one), a lone event by its handler (no lookup of held
    files). Returns the keys they touched and, per channel, the newest ``occurred_at`` (any, public)."""
    touched: set = set()
    stamps: dict[ChannelKey, tuple[int, int]] = {}
    i = 0
    while i < len(events):
        applied = [(events[0], apply(repo, events[0]))] if len(events) == 1 else fresh_uploads(repo, events[i:])
        for ev, keys in applied:
            _stamp(stamps, keys, ev)
            touched |= keys
        i += max(1, len(applied))
    return touched, stamps


def _mark_dirty(repo, touched: set, stamps: dict) -> None:
    """Mark what applied events touched: channels (with their ``changed_at`` stamps), shard names, PyPI pages."""
    repo.mark_dirty(stamps)
    repo.mark_names_dirty(k.shard for k in touched if isinstance(k, ShardChange))
    repo.mark_projects_dirty(k for k in touched if isinstance(k, ProjectKey))


def _report_applied(applied: list[Event], how, now: float) -> float:
    """Count and log events once their transaction committed (once, however often a delivery is retried);
    ``how(event)`` says how each came (" (gap filled)", ...); ``now``: epoch seconds. Returns the apply lag of
    the last one."""
    lag = 0.0
    for ev in applied:
        lag = max(0.0, now - epoch_millis(ev.occurred_at) / 1000.0)
        metrics.EVENTS_APPLIED.labels(ev.type).inc()
        metrics.APPLY_LAG.observe(lag)
        log.info("applied %s %s#%d%s", ev.type, ev.stream_id, ev.sequence, how(ev),
                 extra={"correlation_id": ev.correlation_id})
    return lag


def _no_log(stream_id: str, after_sequence: int) -> list:
    return []


def _audience(audience: str) -> str:
    if audience not in AUDIENCES:
        raise BadRequest(f"unknown audience {audience!r}")
    return audience


class IndexerService:
    def __init__(self, uow: UnitOfWork, blobs, publisher: EventPublisher | None = None,
                 log_reader: LogReader | None = None, replica: str | None = None, shard_grace: float = 600,
                 cache_rows: int = MAX_CACHED_ROWS, catch_up_lag: float | None = None,
                 partitions: int = metrics.PARTITIONS, clock: Clock = SYSTEM_CLOCK):
        """``catch_up_lag``: an event delivered at least this many seconds after its commit makes ``handle``
        read its stream ahead from the log and apply what follows too (``_ahead``); None: never.
        ``partitions``: of the queue-lag gauge (``WHARF_INDEXER_PARTITIONS``). ``clock``: every time the indexer
        reads (lags, shard retirement and grace, publish stage durations)."""
        self.uow = uow
        self.clock = clock
        self.partitions = partitions
        self.catch_up_lag = catch_up_lag
        self.shard_grace_ms = max(0, int(shard_grace * 1000))   # how long a replaced shard stays readable
        self.blobs = blobs
        self.publisher = publisher
        self.log_reader = log_reader or _no_log
        self.replica = replica or f"{socket.gethostname()}:{os.getpid()}"   # names this replica's publications
        self._rows = RowsCache(cache_rows)    # the rows (and repodata) of recently published channels
        self._stuck_changed = False           # a stream resumed: wharf_stream_stuck is to be counted again

    def _now_ms(self) -> int:
        return int(self.clock.time() * 1000)

    def with_log_reader(self, log_reader: LogReader) -> "IndexerService":
        """The same service reading missing events through another port (nameko binds its RPC proxy per worker)."""
        clone = copy.copy(self)
        clone.log_reader = log_reader
        return clone

    # ------------------------------------------------------------------------------------------------ events
    def handle(self, event_wire: dict) -> None:
        """Apply one delivered event (see ``_apply``). An event this code cannot apply (``Unreadable``) is parked
        (its stream stops there: dead_letters.py) and raised again once parked; a delivery of a stream stopped
        at an earlier event is not applied (it waits in the registry's log)."""
        try:
            event = parse_event(event_wire)
        except Unreadable as bad:
            event = bad
        with context.correlated(event.correlation_id or context.current()):
            applied, poison = self._apply(event)
            try:
                self._report_delivery(event, applied, poison)
            finally:
                if poison is not None:
                    self._parked(poison)
                if self._stuck_changed:
                    self.count_stuck()
            if poison is event:
                raise event

    def _report_delivery(self, event, applied: list[Event] | None, poison: Unreadable | None) -> None:
        if applied is None:     # held behind its stream's parked event
            return
        if not applied:
            if poison is None:
                metrics.EVENTS_DUPLICATE.inc()
                log.debug("skipped duplicate %s %s#%d", event.type, event.stream_id, event.sequence)
            return
        lag = _report_applied(applied, lambda ev: "" if ev is event else " (gap filled)"
                              if ev.sequence < event.sequence else " (read ahead)", self.clock.time())
        before = sum(1 for ev in applied if ev.sequence < event.sequence)
        if before:
            metrics.EVENTS_GAP_FILLED.inc(before)
        ahead = sum(1 for ev in applied if ev.sequence > event.sequence)
        if ahead:
            metrics.EVENTS_READ_AHEAD.inc(ahead)
        metrics.QUEUE_LAG.labels(str(metrics.partition_of(event.stream_id, self.partitions))).set(lag)

    def _apply(self, event: Event | Unreadable) -> tuple[list[Event] | None, Unreadable | None]:
        """Apply ``event`` (after the missing ones before it and, when behind, the ones after it: ``_ahead``)
        in one transaction; the events applied, and the one the stream stopped at if one could not be (parked
        in the same transaction; the events after it are not applied). A stream stopped at an event before
        this one applies nothing (None, None): the event waits in the registry's log."""
        with self.uow.begin() as repo:
            last = repo.lock_stream(event.stream_id)
            if event.sequence <= last:
                return [], None   # duplicate delivery (at-least-once), already applied
            stopped = repo.parked_at(event.stream_id)
            if stopped is not None and event.sequence > stopped:
                log.info("held %s %s#%d: its stream is stopped at #%d (wharf events list-stuck)", event.type,
                         event.stream_id, event.sequence, stopped)
                return None, None
            todo = self._missing(event, last) if event.sequence > last + 1 else []
            todo.append(event)
            if isinstance(event, Event) and self._behind(event):
                todo.extend(self._ahead(event))
            todo, poison = cut(todo)
            self._progress(repo, event.stream_id, todo, poison, stopped)
        return todo, poison

    def _progress(self, repo, stream_id: str, todo: list[Event], poison: Unreadable | None,
                  stopped: int | None) -> None:
        """Apply ``todo`` (events of one stream, in order, after its position), advance the position, mark what
        changed; park ``poison`` (the event after them, which cannot be applied), or drop the stream's dead
        letter once the events applied passed it."""
        if todo:
            touched, stamps = _apply_in_order(repo, todo)
            repo.set_stream(stream_id, todo[-1].sequence)
            _mark_dirty(repo, touched, stamps)
        if poison is not None:
            poison.new = poison.park(repo)
        elif stopped is not None and todo and todo[-1].sequence >= stopped:
            repo.unpark(stream_id)
            log.warning("stream %s resumed: #%d applied", stream_id, stopped)
            self._stuck_changed = True

    def _parked(self, poison: Unreadable) -> None:
        """Report a parked event (a warning the first time, then at debug level) and count stuck streams."""
        if getattr(poison, "new", False):
            log.warning("parked %s; stream %s stops there until it applies (wharf events list-stuck, retry)",
                        poison, poison.stream_id)
            self.count_stuck()
        else:
            log.debug("still parked: %s", poison)

    def count_stuck(self) -> int:
        """Set ``wharf_stream_stuck`` from the dead-letter table (shared by every replica)."""
        with self.uow.begin() as repo:
            stuck = repo.stuck_streams()
        metrics.STREAMS_STUCK.set(stuck)
        self._stuck_changed = False
        return stuck

    def _behind(self, event: Event) -> bool:
        return self.catch_up_lag is not None and \
            self.clock.time() - epoch_millis(event.occurred_at) / 1000.0 >= self.catch_up_lag

    def _ahead(self, event: Event) -> list[Event]:
        """The events that follow ``event`` in its stream, read from the registry's log (at most CATCH_UP_MAX,
        up to the first that cannot be read or parsed). A replica whose queue is behind (a restart after
        downtime, a sustained overload) applies them now, in the same transaction and in bulk, instead of one
        transaction per delivery (about a dozen statements each: 15 ms on an idle machine, 30-40 ms under
        load); their deliveries are then duplicates. Only an optimisation: if the log cannot be read, nothing
        is read ahead."""
        try:
            wires = self.log_reader(event.stream_id, event.sequence)
        except Exception as exc:  # noqa: BLE001 - the delivered event is applied all the same
            log.warning("could not read %s ahead of #%d: %s", event.stream_id, event.sequence, exc)
            return []
        out: list[Event] = []
        after = event.sequence
        for wire in wires:
            try:
                ev = parse_event(wire)
            except BadRequest:
                break             # left to its own delivery (which reports it)
            if ev.stream_id != event.stream_id or ev.sequence <= after:
                continue
            if ev.sequence != after + 1 or len(out) >= CATCH_UP_MAX:
                break
            out.append(ev)
            after = ev.sequence
        return out

    def handle_many(self, event_wires: list[dict | Event]) -> None:
        """``handle`` of each event in order, in one transaction (replay feeds the log through this in pages).
        Runs of uploads of files the indexer does not hold yet are inserted in bulk (``fresh_uploads``); every
        other event goes through its handler. The effects are exactly those of handling the events one by one:
        same rows, stream positions, dirty marks and ``changed_at`` stamps. ``Event`` items are taken as
        validated already (replay hands over what the registry's rebuild just loaded from the log)."""
        events = [w if isinstance(w, Event) else parse_event(w) for w in event_wires]
        with self.uow.begin() as repo:
            last: dict[str, int] = {}
            todo: list[Event] = []
            for event in events:
                sid = event.stream_id
                if sid not in last:
                    last[sid] = repo.lock_stream(sid)
                if event.sequence <= last[sid]:
                    continue
                if event.sequence > last[sid] + 1:
                    missing, poison = cut(self._missing(event, last[sid]))
                    if poison is not None:
                        raise poison      # replay stops at an event it cannot apply, as before
                    todo.extend(missing)
                todo.append(event)
                last[sid] = event.sequence
            touched, stamps = _apply_in_order(repo, todo)
            for sid in sorted(last):
                repo.set_stream(sid, last[sid])
            _mark_dirty(repo, touched, stamps)

    def _missing(self, event: Event | Unreadable, last: int) -> list:
        """Events last+1 .. event.sequence-1 of the stream, read from the registry's log (ending with an
        ``Unreadable`` one if one is: see ``_page``)."""
        out: list = []
        after = last
        while after < event.sequence - 1:
            page = self._page(event.stream_id, after, before=event.sequence)
            if not page:
                raise Unavailable(f"events {after + 1}..{event.sequence - 1} of {event.stream_id} "
                                  "are not readable from the registry yet")
            out.extend(page)
            if isinstance(page[-1], Unreadable):
                break
            after = page[-1].sequence
        return out

    def _page(self, stream_id: str, after: int, before: int | None = None) -> list:
        """The events after ``after`` of one read of the stream from the registry's log (``log_reader``: up to
        a page), in sequence order and without a hole, stopping before ``before``. A log that skips a sequence
        is ``Unavailable``; an event whose envelope cannot be parsed is ``BadRequest``; an event this code cannot
        apply (``Unreadable``) ends the page (it is its last item)."""
        out: list = []
        for wire in self.log_reader(stream_id, after):
            try:
                ev = parse_event(wire)
            except Unreadable as bad:
                ev = bad
            if ev.stream_id != stream_id or ev.sequence <= after:
                continue
            if before is not None and ev.sequence >= before:
                break
            if ev.sequence != after + 1:
                raise Unavailable(f"log of {stream_id} skips from {after} to {ev.sequence}")
            out.append(ev)
            if isinstance(ev, Unreadable):
                break
            after = ev.sequence
        return out

    # ------------------------------------------------------------------------------------------------ catching up
    def catch_up(self, log_heads: dict[str, int]) -> int:
        """Apply whatever the registry's log holds beyond this indexer's stream positions, whether or not it
        was ever delivered (an event marked relayed whose delivery was lost: a crash, a queue the broker
        dropped). ``log_heads`` is the registry's ``stream_heads()`` (stream_id -> last sequence, one query of
        one row per stream); with the positions here (one query too) it tells which streams are behind, so
        when none is, nothing else is read. Each stream behind is read from its position a page at a time and
        applied like a delivery (``_apply_in_order`` in one transaction per page, with its position locked, so
        concurrent deliveries and replicas skip what it applied as duplicates). A stream that cannot be read
        or applied is logged and left to the next round; the others go on. A stream stopped at a parked event
        (dead_letters.py) is behind too, so every round tries that event again from the log: once it applies,
        the stream resumes. Returns the events applied."""
        with self.uow.begin() as repo:
            positions = repo.stream_positions()
        behind = sorted(sid for sid, head in log_heads.items() if positions.get(sid, 0) < int(head))
        applied = 0
        for sid in behind:
            try:
                applied += self._catch_up_stream(sid, int(log_heads[sid]))
            except Exception as exc:  # noqa: BLE001 - one stream's trouble must not hold back the others
                log.warning("could not catch up %s: %s: %s", sid, exc.__class__.__name__, exc)
        if behind:
            log.info("caught up %d events of %d streams behind the registry's log", applied, len(behind))
        self.count_stuck()
        return applied

    def _catch_up_stream(self, stream_id: str, head: int) -> int:
        done = 0
        while True:
            with self.uow.begin() as repo:
                last = repo.lock_stream(stream_id)
                if last >= head:
                    return done
                stopped = repo.parked_at(stream_id)
                todo = self._page(stream_id, last)
                if not todo:
                    raise Unavailable(f"events {last + 1}..{head} of {stream_id} are not readable from the "
                                      "registry")
                todo, poison = cut(todo)
                self._progress(repo, stream_id, todo, poison, stopped)
            _report_applied(todo, lambda ev: " (caught up)", self.clock.time())
            metrics.EVENTS_CAUGHT_UP.inc(len(todo))
            done += len(todo)
            if poison is not None:
                self._parked(poison)
                return done

    def dead_letters(self, stream_id: str | None = None) -> list[dict]:
        """The parked events (``wharf events list-stuck``): per stopped stream ``{stream_id, sequence,
        event_type, version, event_id, reason ("malformed" | "newer_version"), error, parked_at, tried_at (epoch
        ms), attempts, payload}``, oldest first."""
        with self.uow.begin() as repo:
            return repo.dead_letters(stream_id)

    def retry_parked(self, log_heads: dict[str, int], stream_id: str | None = None) -> list[dict]:
        """Try the parked event of every stopped stream (or of ``stream_id``) again now, reading the stream from
        the registry's log as a catch-up round does (``wharf events retry``), after a code fix or a new
        upcaster. ``log_heads``: the registry's ``stream_heads()``. A dead letter of an event the registry's log
        does not hold (a message the registry never wrote) is discarded. Returns per stream ``{stream_id,
        sequence, applied, stuck, error}``: ``stuck`` with the (new) error if it still cannot be applied."""
        out = []
        for letter in self.dead_letters(stream_id):
            sid, seq = letter["stream_id"], letter["sequence"]
            head = int(log_heads.get(sid, 0))
            applied, error = 0, None
            if head < seq:
                with self.uow.begin() as repo:
                    if repo.lock_stream(sid) < seq and repo.parked_at(sid) == seq:
                        repo.unpark(sid)
                log.warning("discarded the dead letter of %s#%d: the registry's log ends at #%d", sid, seq, head)
            else:
                try:
                    applied = self._catch_up_stream(sid, head)
                except Exception as exc:  # noqa: BLE001 - reported; the stream stays stopped
                    error = f"{exc.__class__.__name__}: {exc}"
            now = self.dead_letters(sid)
            if now and error is None:
                error = now[0]["error"]
            out.append({"stream_id": sid, "sequence": seq, "applied": applied, "stuck": bool(now),
                        "error": error if now or error else None})
        self.count_stuck()
        return out

    # ---------------------------------------------------------------------------------------------- publishing
    def publish_pending(self) -> list[dict]:
        with self.uow.begin() as repo:
            work = repo.dirty()      # generations are read before the files they cover
            pages = repo.pypi_dirty()
        published = []
        for key, generation in work:
            published.extend(self._publish_one(key, generation))
        # project pages before the project lists that name them: a client following a list finds the page
        for key, generation in sorted(pages, key=lambda kg: (kg[0].project == ROOT, kg[0])):
            published.extend(self._publish_page(key, generation))
        return published

    def _exclusively(self, kind: str, key, publish) -> list[dict]:
        """``publish()`` while holding the index's publishing lock: replicas never build one index at once; a
        replica that finds the lock taken leaves the index to its holder (it stays dirty if it changes again
        meanwhile, so the next round of whichever replica gets the lock publishes it)."""
        with self.uow.exclusive(f"{kind}:{key.owner}/{key.label}/{key.subdir}") as mine:
            if not mine:
                metrics.PUBLISH_SKIPPED.labels(kind, "busy").inc()
                return []
            return publish()

    def _publish_one(self, key: ChannelKey, generation: int) -> list[dict]:
        """Rebuild and flip one channel subdir (under its publishing lock)."""
        return self._exclusively("conda", key, lambda: self._publish_locked(key, generation))

    def _publish_locked(self, key: ChannelKey, generation: int) -> list[dict]:
        stages = _Stages(self.clock)
        with self.uow.begin() as repo:
            # read again under the lock (before the files it covers): another replica may have published the
            # listed generation meanwhile; then only a newer one is worth building
            latest, done = repo.generations(key)
            if done >= generation:
                if latest <= done:
                    return []
                generation = latest
            names = repo.dirty_names(key)      # read before the shard map: see ShardMixin / docs
            by_name = self._rows.get(key, repo.publish_state(key))
            if by_name is None:
                by_name = ChannelRows.group(repo.channel_rows(key))
            else:      # only the dirty names changed since the state cached: fetch just theirs
                by_name.replace(names, repo.channel_rows(key, names))
            if by_name.shards is None:     # the shard maps the current index lists, kept like the rows
                by_name.shards = {audience: repo.shard_map(key, audience) for audience in AUDIENCES}
            changed_at = repo.changed_at(key)
        stages.done("read")
        rows = by_name.rows(names)
        files = build_index_files(by_name.repodata(key.subdir))
        stages.done("build")
        updates = rebuild_shards(self.blobs, names, [(r[0], r[1], r[5], r[6], r[7]) for r in rows])
        shard_maps = merged_shard_maps(by_name.shards, updates)
        for audience, extra in shard_indexes(key, changed_at, shard_maps).items():
            files[audience].update(extra)    # shards first (stored above), then the index naming them
        stages.done("shards")
        pointers = store_index_files(self.blobs, files)
        stages.done("store")
        with self.uow.begin() as repo:
            if not repo.flip(key, generation, pointers, updates, replica=self.replica,
                             changed_at=changed_at["private"], shard_grace_ms=self.shard_grace_ms,
                             now_ms=self._now_ms()):
                metrics.PUBLISH_SKIPPED.labels("conda", "stale").inc()
                self._rows.drop(key)
                return []    # reset meanwhile, or another replica published this state or a newer one
        stages.done("flip")
        by_name.shards = shard_maps
        self._rows.put(key, (generation, pointers["private"][REPODATA]["sha256"],
                             pointers["public"][REPODATA]["sha256"]), by_name)
        metrics.PUBLISHES.labels("conda").inc()
        if changed_at["private"]:
            metrics.PUBLISH_LATENCY.labels("conda").observe(max(0.0, self.clock.time() - changed_at["private"] / 1000))
        data = [{"owner": key.owner, "label": key.label, "subdir": key.subdir,
                 "files": {event_file_name(aud, fn): p for fn, p in sorted(pointers[aud].items())}}
                for aud in AUDIENCES]
        self._announce(data, lambda repo: repo.mark_dirty([key]))
        log.info("published %s/%s/%s generation %d (%d files, %d shards rebuilt; %s)", *key, generation,
                 len(by_name), len(names), stages)
        return data

    def warm(self) -> int:
        """Read published channels into the rows cache (the most recently changed first, while the cache has
        room), each under its publishing lock, so that the first publish after a start costs the change too
        instead of a read of the whole subdir. A channel being published meanwhile is skipped. Returns how many
        channels were cached."""
        with self.uow.begin() as repo:
            keys = repo.published_channels()
        warmed = 0
        for key in keys:
            with self.uow.exclusive(f"conda:{key.owner}/{key.label}/{key.subdir}") as mine:   # _publish_one's
                if not mine:
                    continue
                with self.uow.begin() as repo:
                    state = repo.publish_state(key)
                    rows = ChannelRows.group(repo.channel_rows(key))
                    rows.shards = {audience: repo.shard_map(key, audience) for audience in AUDIENCES}
                if len(rows) > self._rows.room():
                    break
                rows.repodata(key.subdir)
                self._rows.offer(key, state, rows)
                warmed += 1
        log.info("rows cache warmed: %d of %d published channels", warmed, len(keys))
        return warmed

    def _publish_page(self, key: ProjectKey, generation: int) -> list[dict]:
        return self._exclusively("pypi", key, lambda: self._publish_page_locked(key, generation))

    def _publish_page_locked(self, key: ProjectKey, generation: int) -> list[dict]:
        with self.uow.begin() as repo:
            pages = build_pages(repo, key)
        pointers = store_index_files(self.blobs, pages)
        with self.uow.begin() as repo:
            if not repo.pypi_flip(key, generation, pointers):
                metrics.PUBLISH_SKIPPED.labels("pypi", "stale").inc()
                return []
        metrics.PUBLISHES.labels("pypi").inc()
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
        for ``audience`` lists it, or listed it until less than the shard grace period ago (a client may still
        hold that index); else None (a private shard is never readable through ``public``)."""
        _audience(audience)
        if not isinstance(sha256, str) or not _SHA256.match(sha256):
            return None
        since = self._now_ms() - self.shard_grace_ms if self.shard_grace_ms else None
        with self.uow.begin() as repo:
            return repo.get_shard(ChannelKey(owner.lower(), label, subdir), audience, sha256, since)

    def lookup_file(self, owner: str, label: str, subdir: str, filename: str, audience: str) -> dict | None:
        """The package file ``filename`` as the channel lists it for ``audience`` (the index a reader sees):
        ``{package, version, basename, sha256, size, blob_key, public}`` or None."""
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
        size, blob_key, core_metadata_key, core_metadata_sha256, public}`` (core metadata None for sdists) or None."""
        with self.uow.begin() as repo:
            return repo.lookup_pypi_file(owner.lower(), label, filename, _audience(audience) == "public")

    def verify_inventory(self) -> dict:
        """Read-only facts for ``wharf verify``: ``{pointers: [{kind: conda|pypi|shard, owner, label, place
        (subdir or project), audience, filename, key, sha256, size}], streams: {stream_id: last applied
        sequence}, pending: channels and pages still to publish}``."""
        with self.uow.begin() as repo:
            return repo.inventory()

    def blob_references(self, keys: list[str] | None = None) -> list[str]:
        """The blob keys the indexer still needs (``wharf gc``; with ``keys``, those of them): package blobs of the
        files its indexes list (they stay downloadable through channels until it applies a removal), index
        blobs its current pointers and shards name, and shards replaced less than the shard grace ago."""
        since = self._now_ms() - self.shard_grace_ms
        with self.uow.begin() as repo:
            return sorted(repo.blob_references(keys, since))

    def publication_log(self, owner: str | None = None, label: str | None = None,
                        subdir: str | None = None) -> list[dict]:
        """The publication log (every channel, or one): ``{id, owner, label, subdir, generation, replica,
        published_at, latency_ms}`` in publish order per channel."""
        key = ChannelKey(owner.lower(), label, subdir) if owner and label and subdir else None
        with self.uow.begin() as repo:
            return repo.publication_log(key)

    def reset(self) -> None:
        with self.uow.begin() as repo:
            repo.reset()
        self._rows.clear()
