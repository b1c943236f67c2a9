"""Unit of work: one database transaction around an ``SqlIndexRepository``; driver errors that mean "the
database is unreachable" become ``Unavailable`` (the message is requeued, the caller retries)."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from sqlalchemy.engine import Engine
from sqlalchemy.exc import InterfaceError, OperationalError

from services.kernel.errors import Unavailable

from .repository import SqlIndexRepository
from .tables import metadata


class SqlUnitOfWork:
    def __init__(self, engine: Engine):
        self.engine = engine

    def create_tables(self) -> None:
        metadata.create_all(self.engine)

    @contextmanager
    def begin(self) -> Iterator[SqlIndexRepository]:
        try:
            with self.engine.begin() as conn:
                yield SqlIndexRepository(conn)
        except (OperationalError, InterfaceError) as exc:
            raise Unavailable(f"indexer database unavailable: {exc.__class__.__name__}") from exc
