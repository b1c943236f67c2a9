"""Unit of work: one database transaction around an ``SqlIndexRepository``; driver errors that mean "the
database is unreachable" become ``Unavailable`` (the message is requeued, the caller retries)."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from sqlalchemy.engine import Engine
from sqlalchemy.exc import InterfaceError, OperationalError

from services.kernel.errors import Unavailable

from . import pypi_tables  # noqa: F401 - registers the PyPI tables on `metadata`
from .migrate import upgrade
from .repository import SqlIndexRepository
from .tables import metadata


class SqlUnitOfWork:
    def __init__(self, engine: Engine):
        self.engine = engine

    def create_tables(self) -> None:
        """Create missing tables; upgrade an older schema and then republish every channel (with shards)."""
        upgraded = upgrade(self.engine)
        metadata.create_all(self.engine)
        if upgraded:
            with self.begin() as repo:
                repo.mark_dirty(repo.known_channels() | repo.channels_with_files())
                repo.mark_names_dirty(k.shard for k in repo.conda.all_touched())

    @contextmanager
    def begin(self) -> Iterator[SqlIndexRepository]:
        try:
            with self.engine.begin() as conn:
                yield SqlIndexRepository(conn)
        except (OperationalError, InterfaceError) as exc:
            raise Unavailable(f"indexer database unavailable: {exc.__class__.__name__}") from exc
