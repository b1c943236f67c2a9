"""The dead-letter table (``indexer_dead_letters``, tables.py): per stream, the event the indexer is stopped at.
A mixin of ``SqlIndexRepository`` (its ``conn`` and ``_insert``), used inside the transaction that holds the
stream's position row locked."""
from __future__ import annotations

import json
import time

from sqlalchemy import delete, func, select

from .tables import dead_letters

_FIELDS = ("stream_id", "sequence", "event_type", "version", "event_id", "reason", "error", "parked_at",
           "tried_at", "attempts")


class DeadLetterMixin:
    def park(self, stream_id: str, sequence: int, event_type: str, version: int, event_id: str, reason: str,
             error: str, payload) -> bool:
        """Record that ``stream_id`` is stopped at ``sequence``; True when it was not parked there already (a
        new dead letter), False when this is another attempt of the same one (``attempts`` + 1)."""
        now = int(time.time() * 1000)
        text = payload if isinstance(payload, str) else json.dumps(payload, default=str)
        row = self.conn.execute(select(dead_letters.c.sequence).where(dead_letters.c.stream_id == stream_id)
                                ).scalar()
        values = {"sequence": int(sequence), "event_type": str(event_type)[:64], "version": int(version),
                  "event_id": str(event_id)[:64], "reason": reason, "error": str(error)[:4000],
                  "payload": text[:1_000_000], "tried_at": now}
        if row is None:
            self.conn.execute(self._insert(dead_letters).values(stream_id=stream_id, parked_at=now, attempts=1,
                                                                 **values))
            return True
        same = int(row) == int(sequence)
        values.update(attempts=dead_letters.c.attempts + 1 if same else 1)
        if not same:
            values["parked_at"] = now
        self.conn.execute(dead_letters.update().where(dead_letters.c.stream_id == stream_id).values(**values))
        return not same

    def parked_at(self, stream_id: str) -> int | None:
        """The sequence ``stream_id`` is stopped at, or None."""
        got = self.conn.execute(select(dead_letters.c.sequence).where(dead_letters.c.stream_id == stream_id)
                                ).scalar()
        return None if got is None else int(got)

    def unpark(self, stream_id: str) -> None:
        self.conn.execute(delete(dead_letters).where(dead_letters.c.stream_id == stream_id))

    def dead_letters(self, stream_id: str | None = None) -> list[dict]:
        """The parked events (every stream's, or one's), oldest first: their fields and the payload (JSON)."""
        q = select(dead_letters).order_by(dead_letters.c.parked_at, dead_letters.c.stream_id)
        if stream_id is not None:
            q = q.where(dead_letters.c.stream_id == stream_id)
        out = []
        for r in self.conn.execute(q):
            item = {f: r._mapping[f] for f in _FIELDS}
            try:
                item["payload"] = json.loads(r.payload)
            except ValueError:
                item["payload"] = r.payload
            out.append(item)
        return out

    def stuck_streams(self) -> int:
        return int(self.conn.execute(select(func.count()).select_from(dead_letters)).scalar_one())
