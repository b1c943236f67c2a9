"""The registry's unit of work on SQLAlchemy: one connection, one transaction.

``with uow_factory() as uow:`` opens the transaction; ``uow.repo`` reads the read tables, ``uow.append(events)``
writes events to the log AND applies them through the projector, ``uow.commit()`` commits; leaving the block
without commit rolls everything back. Vendor errors are translated on the way out: a unique violation of
(stream_id, sequence) in the log (someone else appended to the stream first: a lost race) -> ``StaleStream``,
which the facade retries; lost or refused connections -> ``Unavailable``. Any other integrity error (another
unique key, a foreign key, NOT NULL...) is a bug or corrupt data, not a race: it propagates as it is, at once.
"""
from __future__ import annotations

from sqlalchemy import delete, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from services.kernel.adapters.db import database_unavailable, unique_violation
from services.kernel.errors import Unavailable
from services.kernel.events import Event

from ..domain.errors import StaleStream
from . import projector
from .event_log import EventLog, page_events, row_to_event, row_to_wire
from .read_repository import ReadRepository
from .tables import READ_TABLES, metadata


def _translate(exc: BaseException) -> BaseException | None:
    if unique_violation(exc, "events", ("stream_id", "sequence"), "uq_events_stream_sequence"):
        return StaleStream("a concurrent change to the same namespace won; try again")
    # InterfaceError: the driver could not reach the server at all (pg8000: "Can't create a connection");
    # a server starting up or shutting down answers SQLSTATE 57P0x, which pg8000 raises as ProgrammingError
    if database_unavailable(exc):
        return Unavailable(f"registry database unavailable: {exc.__class__.__name__}")
    return None


class SqlUnitOfWork:
    def __init__(self, engine: Engine):
        self._engine = engine
        self.appended: list[Event] = []

    def __enter__(self) -> "SqlUnitOfWork":
        try:
            self.conn = self._engine.connect()
            self.tx = self.conn.begin()
        except DBAPIError as exc:
            raise (_translate(exc) or exc) from exc
        self.repo = ReadRepository(self.conn)
        self.log = EventLog(self.conn)
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if self.tx.is_active:
                self.tx.rollback()
        except DBAPIError:
            pass
        finally:
            self.conn.close()
        mapped = _translate(exc) if exc is not None else None
        if mapped is not None:
            raise mapped from exc

    # -------------------------------------------------------------------------------------------- writing
    def lock_stream(self, stream_id: str) -> None:
        self.log.lock_stream(stream_id)

    def append(self, new_events: list[Event]) -> list[Event]:
        """Append to the log and project, in order. Returns the events with their sequences."""
        out = []
        for ev in new_events:
            row = self.log.append(ev)
            stored = row_to_event(row).from_log()  # project exactly what a replay will read
            projector.apply(self.conn, stored, row.position)
            out.append(stored)
        self.appended.extend(out)
        return out

    def commit(self) -> None:
        try:
            self.tx.commit()
        except DBAPIError as exc:
            raise (_translate(exc) or exc) from exc

    # -------------------------------------------------------------------------------------------- log
    def read_stream(self, stream_id: str, after_sequence: int, limit: int) -> list[dict]:
        return [row_to_wire(r) for r in self.log.read_stream(stream_id, after_sequence, limit)]

    def read_stream_mentioning(self, stream_id: str, text: str) -> list[dict]:
        return [row_to_wire(r) for r in self.log.read_stream_mentioning(stream_id, text)]

    def read_log(self, after_position: int, limit: int) -> list[dict]:
        return [row_to_wire(r) for r in self.log.read_log(after_position, limit)]

    def claim_unpublished(self, limit: int) -> list[tuple[int, Event]]:
        return [(r.position, row_to_event(r)) for r in self.log.claim_unpublished(limit)]

    def mark_published(self, positions: list[int]) -> None:
        self.log.mark_published(positions)

    def count_unpublished(self) -> int:
        return self.log.count_unpublished()

    def stream_heads(self) -> dict[str, int]:
        return self.log.heads()

    @property
    def holds_database(self) -> bool:
        """Whether this transaction excludes every other one until it ends (SQLite: ``BEGIN IMMEDIATE``, even
        to read), so it must not wait for anything that reads the registry."""
        return self.conn.dialect.name == "sqlite"

    def rebuild(self, page: int = 5000, each_page=None) -> int:
        """Empty the read tables and re-apply every event in log order (same projector as ``append``).
        ``each_page(events, text)``, if given, receives every page of validated events once they are applied
        (replay feeds the indexer from the same read of the log), with ``text`` the page as the log gave it
        (``EventLog.read_page``: what lets replay hand a page to another process as one string, which
        ``replay_events`` turns into the same events)."""
        postgres = self.conn.dialect.name == "postgresql"
        if postgres:
            # commands lock rows of `streams`: keep them out until the replay commits
            self.conn.execute(text("LOCK TABLE streams IN EXCLUSIVE MODE"))
        for t in READ_TABLES:
            self.conn.execute(delete(t))
        known = projector.Known()       # the tables are empty now
        count, after = 0, 0
        while (got := self.log.read_page(after, page)) is not None:
            after, page_text = got
            items, verbatim = [], set()
            for pos, raw in page_events(page_text):
                ev = raw.from_log()
                items.append((ev, pos))
                if postgres and ev is raw:   # the server builds its file row from the log (_FILES_FROM_LOG)
                    verbatim.add(pos)
            projector.apply_many(self.conn, items, known, verbatim)
            if each_page is not None:
                each_page([ev for ev, _pos in items], page_text)
            count += len(items)
        return count


def replay_events(page_text: str) -> list[Event]:
    """The validated events of a page of the log, as ``SqlUnitOfWork.rebuild`` applies them."""
    return [raw.from_log() for _pos, raw in page_events(page_text)]


class SqlUnitOfWorkFactory:
    """Callable giving a fresh ``SqlUnitOfWork``; owns the engine."""

    def __init__(self, engine: Engine, create_tables: bool = True):
        self.engine = engine
        if create_tables:
            metadata.create_all(engine)

    def __call__(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine)

    def dispose(self) -> None:
        self.engine.dispose()
