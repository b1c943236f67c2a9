"""The event log (and outbox) on one SQLAlchemy connection inside a transaction.

Sequences: every command first locks its stream's row in ``streams`` (``SELECT ... FOR UPDATE``; on SQLite the
``BEGIN IMMEDIATE`` transaction already excludes other writers), so appends to one stream are serialised and
``sequence = last + 1`` never collides. The unique (stream_id, sequence) constraint is the safety net: a
collision raises IntegrityError, which the unit of work turns into ``StaleStream`` and the facade retries.
"""
from __future__ import annotations

import json

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from services.kernel.events import Event

from .tables import events, streams


def row_to_event(row) -> Event:
    return Event(type=row.type, data=json.loads(row.data), stream_id=row.stream_id, actor=row.actor,
                 sequence=row.sequence, version=row.version, event_id=row.event_id,
                 occurred_at=row.occurred_at, correlation_id=row.correlation_id)


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

    def stream_heads(self) -> dict[str, int]:
        """stream_id -> highest sequence in the log (``wharf verify`` compares consumers' positions)."""
        return {sid: int(seq) for sid, seq in self.conn.execute(
            select(events.c.stream_id, func.max(events.c.sequence)).group_by(events.c.stream_id))}
