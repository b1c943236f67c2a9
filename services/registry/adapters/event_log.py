"""The event log (and outbox) on one SQLAlchemy connection inside a transaction.

Sequences: every command first locks its stream's row in ``streams`` (``SELECT ... FOR UPDATE``; on SQLite the
``BEGIN IMMEDIATE`` transaction already excludes other writers), so appends to one stream are serialised and
``sequence = last + 1`` never collides. The unique (stream_id, sequence) constraint is the safety net: a
collision raises IntegrityError on ``uq_events_stream_sequence``, which the unit of work (and only for that
constraint) turns into ``StaleStream`` and the facade retries.
"""
from __future__ import annotations

import json

from sqlalchemy import func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from services.kernel.events import Event

from .tables import events, streams


def row_to_event(row) -> Event:
    return Event(type=row.type, data=json.loads(row.data), stream_id=row.stream_id, actor=row.actor,
                 sequence=row.sequence, version=row.version, event_id=row.event_id,
                 occurred_at=row.occurred_at, correlation_id=row.correlation_id)


# A page of the log as JSON text: [[position, type, stream_id, actor, sequence, version, event_id, occurred_at,
# correlation_id, data], ...] (the envelope in _ENVELOPE's order), with each event's data the log's own text of
# it (PostgreSQL does not parse it). A page also ends before its data passes PAGE_BYTES (a text value is at
# most 1 GB; large events, such as a package_received restating many files, make fewer per page); it always
# holds at least one event.
_ENVELOPE = ("position", "type", "stream_id", "actor", "sequence", "version", "event_id", "occurred_at",
             "correlation_id")
PAGE_BYTES = 64 * 1024 * 1024
_PAGE = text(
    "SELECT count(*), max(position), '[' || string_agg('[' || "
    + " || ',' || ".join(f"COALESCE(to_json({c})::text, 'null')" for c in _ENVELOPE)
    + " || ',' || data || ']', ',' ORDER BY position) || ']' "
    "FROM (SELECT *, sum(octet_length(data)) OVER (ORDER BY position) - octet_length(data) AS before "
    "FROM (SELECT * FROM events WHERE position > :after ORDER BY position LIMIT :limit) AS f) AS e "
    "WHERE before < :max_bytes")


def page_events(page: str) -> list[tuple[int, Event]]:
    """(position, event) of each event of a page (``EventLog.read_page``), as ``row_to_event`` reads a row."""
    try:
        items = json.loads(page)
    except ValueError as exc:
        raise ValueError(f"an event's data in the log is not JSON ({exc})") from None
    out = []
    for item in items:
        if not isinstance(item, list) or len(item) != 10:     # data that was more than one JSON value
            raise ValueError(f"an event's data in the log is not one JSON value (near {str(item)[:200]})")
        pos, etype, stream_id, actor, sequence, version, event_id, occurred_at, correlation_id, data = item  # _ENVELOPE
        out.append((pos, Event(type=etype, data=data, stream_id=stream_id, actor=actor, sequence=sequence,
                               version=version, event_id=event_id, occurred_at=occurred_at,
                               correlation_id=correlation_id)))
    return out


def row_to_wire(row) -> dict:
    wire = row_to_event(row).to_wire()
    wire["position"] = row.position
    return wire


class EventLog:
    def __init__(self, conn: Connection):
        self.conn = conn
        self._last: dict[str, int] = {}

    # ------------------------------------------------------------------------------------------ appending
    def lock_stream(self, stream_id: str) -> int:
        """Lock the stream for the rest of the transaction; return its last sequence."""
        if stream_id in self._last:
            return self._last[stream_id]
        dialect = self.conn.dialect.name
        ins = postgresql.insert if dialect == "postgresql" else sqlite.insert
        if dialect in ("postgresql", "sqlite"):
            self.conn.execute(ins(streams).values(stream_id=stream_id, last_sequence=0)
                              .on_conflict_do_nothing(index_elements=["stream_id"]))
        last = self.conn.execute(select(streams.c.last_sequence).where(streams.c.stream_id == stream_id)
                                 .with_for_update()).scalar_one()
        # the log itself is authoritative should the two ever disagree
        in_log = self.conn.execute(select(func.max(events.c.sequence))
                                   .where(events.c.stream_id == stream_id)).scalar() or 0
        self._last[stream_id] = max(last, in_log)
        return self._last[stream_id]

    def append(self, event: Event):
        """Insert one event with the next sequence of its stream; return the stored row."""
        seq = self.lock_stream(event.stream_id) + 1
        ev = event.with_sequence(seq)
        pos = self.conn.execute(events.insert().values(
            event_id=ev.event_id, stream_id=ev.stream_id, sequence=seq, type=ev.type, version=ev.version,
            occurred_at=ev.occurred_at, actor=ev.actor, correlation_id=ev.correlation_id,
            data=json.dumps(ev.data), published=False)).inserted_primary_key[0]
        self.conn.execute(update(streams).where(streams.c.stream_id == ev.stream_id)
                          .values(last_sequence=seq))
        self._last[ev.stream_id] = seq
        return self.conn.execute(select(events).where(events.c.position == pos)).one()

    # ------------------------------------------------------------------------------------------ reading
    def read_stream(self, stream_id: str, after_sequence: int, limit: int) -> list:
        return list(self.conn.execute(
            select(events).where(events.c.stream_id == stream_id, events.c.sequence > after_sequence)
            .order_by(events.c.sequence).limit(limit)))

    def read_stream_mentioning(self, stream_id: str, text: str) -> list:
        """Events of a stream whose JSON data contains ``text`` (a pre-filter; callers check exactly)."""
        return list(self.conn.execute(
            select(events).where(events.c.stream_id == stream_id, events.c.data.contains(text, autoescape=True))
            .order_by(events.c.sequence)))

    def read_log(self, after_position: int, limit: int) -> list:
        return list(self.conn.execute(
            select(events).where(events.c.position > after_position).order_by(events.c.position).limit(limit)))

    def read_page(self, after_position: int, limit: int) -> tuple[int, str] | None:
        """Up to ``limit`` events after ``after_position`` as one text (``page_events`` reads it) and the last
        position in it; None past the end. On PostgreSQL the server writes the text: one value through the
        driver instead of a row per event, each decoded column by column in Python, and one ``json.loads`` of
        the whole page instead of one per event."""
        if self.conn.dialect.name == "postgresql":
            n, last, page = self.conn.execute(_PAGE, {"after": after_position, "limit": limit,
                                                      "max_bytes": PAGE_BYTES}).one()
            return (last, page) if n else None
        rows, size = self.read_log(after_position, limit), 0
        if not rows:
            return None
        for n, r in enumerate(rows):
            if size >= PAGE_BYTES:
                rows = rows[:n]
                break
            size += len(r.data.encode())
        return rows[-1].position, "[" + ",".join(
            json.dumps([getattr(r, c) for c in _ENVELOPE])[:-1] + "," + r.data + "]" for r in rows) + "]"

    # ------------------------------------------------------------------------------------------ outbox
    def claim_unpublished(self, limit: int) -> list:
        """Lock the oldest unpublished events (skipping rows another relay holds) and keep only the run of them
        that no other relay's rows interrupt, so events leave in log order.

        Two relays scanning at once can interleave their row locks: one may lock 42, skip 43-49 (the other's) and
        go on to lock 50-55. Checking only that the batch starts at the oldest pending event would then publish
        42, 50-55 before 43-49 (seen once in CI). So the batch is cut at the first pending event it does not
        hold; what it holds beyond that is released at commit, unpublished, for the next round."""
        rows = list(self.conn.execute(
            select(events).where(events.c.published.is_(False)).order_by(events.c.position).limit(limit)
            .with_for_update(skip_locked=True)))
        if not rows:
            return []
        pending = self.conn.execute(
            select(events.c.position).where(events.c.published.is_(False),
                                            events.c.position <= rows[-1].position)
            .order_by(events.c.position)).scalars()
        run = []
        for row, position in zip(rows, pending):
            if row.position != position:
                break
            run.append(row)
        return run

    def mark_published(self, positions: list[int]) -> None:
        for i in range(0, len(positions), 500):
            self.conn.execute(update(events).where(events.c.position.in_(positions[i:i + 500]))
                              .values(published=True))

    def count_unpublished(self) -> int:
        return self.conn.execute(select(func.count()).select_from(events)
                                 .where(events.c.published.is_(False))).scalar_one()

    def heads(self) -> dict[str, int]:
        """stream_id -> last sequence, from ``streams`` (one row per stream, written with every append): the
        log's head without reading the log."""
        return {sid: int(seq) for sid, seq in self.conn.execute(
            select(streams.c.stream_id, streams.c.last_sequence).where(streams.c.last_sequence > 0))}

    def stream_heads(self) -> dict[str, int]:
        """stream_id -> highest sequence in the log (``wharf verify`` compares consumers' positions)."""
        return {sid: int(seq) for sid, seq in self.conn.execute(
            select(events.c.stream_id, func.max(events.c.sequence)).group_by(events.c.stream_id))}
